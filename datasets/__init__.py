"""Recorded-dataset format, loaders for recordings, videos, image folders and streams, and synthetic footage."""

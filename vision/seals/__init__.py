"""Seal state on container doors: a numpy classifier on door-handle crops (second stage after the detector)."""

from vision.seals.classifier import (
    DEFAULT_MODEL,
    HIGH,
    LOW,
    SealClassifier,
    SealModelError,
    SealState,
    state_of,
)
from vision.seals.doors import DoorRead, door_p_sealed, read_doors, seal_box_ratio
from vision.seals.features import crop_box, crop_handle

__all__ = ["DEFAULT_MODEL", "HIGH", "LOW", "DoorRead", "SealClassifier", "SealModelError", "SealState", "crop_box",
           "crop_handle", "door_p_sealed", "read_doors", "seal_box_ratio",
           "state_of"]

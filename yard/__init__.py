"""Yard layout, slot occupancy and container inventory (issue 5)."""

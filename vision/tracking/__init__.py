"""Vehicle tracking across frames: a ByteTrack-style tracker with time in seconds (issue 3)."""

from vision.tracking.assignment import hungarian, match
from vision.tracking.byte_tracker import ByteTracker, EndedTrack
from vision.tracking.config import TrackerConfig

__all__ = ["ByteTracker", "EndedTrack", "TrackerConfig", "hungarian", "match"]

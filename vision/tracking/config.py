"""Every threshold of the tracker in one place, with the reason for its default. Times are seconds, never frames."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """ByteTrack thresholds; the same config behaves the same at 4 fps and at 30 fps because time is in seconds."""

    high_score: float = 0.5
    """Detections at or above this score take part in the first association (ByteTrack's `track_thresh`)."""

    low_score: float = 0.1
    """Detections between `low_score` and `high_score` only extend confirmed tracks (second association): a
    partly hidden truck scores low but is still the same truck. Below `low_score` a detection is ignored."""

    new_track_score: float = 0.6
    """An unmatched detection starts a track only at or above this score, so that noise does not spawn ids."""

    match_iou: float = 0.2
    """Least IoU between a predicted track box and a high-score detection (ByteTrack's 1 - `match_thresh`)."""

    low_match_iou: float = 0.5
    """Least IoU for the low-score association: stricter, since those boxes are less certain."""

    tentative_match_iou: float = 0.3
    """Least IoU for a tentative (not yet confirmed) track to keep its detection."""

    confirm_s: float = 0.2
    """A track is confirmed once it has been matched for this long (and at least twice): its id is then shown."""

    max_lost_s: float = 1.0
    """A confirmed track unmatched for longer than this has ended (the vehicle left, or was hidden too long)."""

    alpha: float = 0.6
    """Alpha-beta filter position gain: share of the measurement residual taken into the box."""

    beta: float = 0.2
    """Alpha-beta filter velocity gain: share of the residual rate taken into the velocity."""

    max_dt_s: float = 2.0
    """A track's centre moves on with its velocity for at most this long after its last match, so a stalled
    stream does not fling boxes across the image (tracks still age by the full gap)."""

    size_coast_s: float = 0.5
    """A track's size changes with its rate for at most this long after its last match: a box growing as the
    truck enters the image edge stops growing once the truck is in, and extrapolated through missed frames the box
    outgrew the image, so the re-found truck became a new track."""

    max_size_rate: float = 0.7
    """Bound on a track's size rate, in log size per second (0.7: about doubling or halving in a second). A
    truck shrinks into the distance by a ratio; a measured rate of a box entering the image edge is larger and
    does not last."""

    def __post_init__(self) -> None:
        for name in ("high_score", "low_score", "new_track_score", "match_iou", "low_match_iou",
                     "tentative_match_iou", "alpha", "beta"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        for name in ("confirm_s", "max_lost_s", "max_dt_s", "size_coast_s", "max_size_rate"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0 seconds, got {value}")
        if self.low_score > self.high_score:
            raise ValueError(f"low_score {self.low_score} must not exceed high_score {self.high_score}")

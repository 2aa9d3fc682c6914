"""A ByteTrack-style multi-object tracker whose clock is in seconds, with tracks held as parallel numpy arrays.

ByteTrack (Zhang et al., 2022) associates in two stages: high-score detections first, then the low-score ones,
which keep confirmed tracks alive through partial occlusion instead of being thrown away. Differences from the
common port: every threshold sits in `TrackerConfig`; confirmation and expiry are measured in seconds of the
media clock, so 4 fps and 30 fps footage behave alike; tracks age on every call, including calls with no
detections; ids come from a counter and are never reused; ended tracks are handed out once by `pop_ended` and
forgotten, so memory stays bounded; the caller's `Detections` is never written to.

Motion is an alpha-beta filter on box centre and log size (a constant-velocity Kalman filter with fixed gains): it
is vectorised over tracks and needs no covariance bookkeeping, which a truck crossing a gate does not need. Each
track holds its filtered box at its last match and is predicted from there on demand. Size changes by a ratio per
second, bounded by `max_size_rate`, for at most `size_coast_s` after the last match: a truck driving away from a
camera shrinks by a ratio, and a box cut by the image edge grows fast for a moment; a linear size rate extrapolated
over a few missed frames collapsed the box to a pixel (or blew it up past the image), so the truck came back as a
new track and a second passage.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vision.detections import NO_TRACK, Detections, box_iou
from vision.tracking.assignment import match
from vision.tracking.config import TrackerConfig

log = logging.getLogger(__name__)

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
MAX_ENDED_QUEUE = 10_000
MAX_LOG_SIZE = float(np.log(1e5))


@dataclass(frozen=True, slots=True)
class EndedTrack:
    """A confirmed track that has ended: the vehicle left the view (or the stream was flushed)."""

    track_id: int
    class_id: int
    first_s: float
    last_s: float
    hits: int
    last_xyxy: tuple[float, float, float, float]
    """Where the track was predicted to be when it ended."""
    reason: str  # "lost" or "flushed"
    seen_xyxy: tuple[float, float, float, float] | None = None
    """Its filtered box at its last match: where the vehicle was last seen."""


class ByteTracker:
    """`update(detections, t_s) -> Detections` with `tracker_id` set; `pop_ended()` for tracks that ended.

    Returned detections are the input rows in the input order; `tracker_id` is -1 for a row that belongs to no
    confirmed track (low score, or a track still tentative), so the caller keeps its own indices.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._next_id = 1
        self._t: float | None = None
        self._ended: deque[EndedTrack] = deque()
        self.dropped_ended = 0
        self._ids = np.zeros(0, np.int64)
        self._box = np.zeros((0, 4))  # cx, cy, log w, log h at the last match
        self._vel = np.zeros((0, 4))  # per second (log size: ratio per second)
        self._state = np.zeros(0, np.int8)
        self._first = np.zeros(0)
        self._last = np.zeros(0)
        self._hits = np.zeros(0, np.int32)
        self._class = np.zeros(0, np.int32)

    @property
    def active_ids(self) -> npt.NDArray[np.int64]:
        """Ids of confirmed tracks, seen now or lost for less than `max_lost_s`."""
        ids: npt.NDArray[np.int64] = self._ids[self._state != TENTATIVE].copy()
        return ids

    @property
    def searching(self) -> bool:
        """Whether a confirmed track went unmatched at the last update (lost, not yet ended): look again soon."""
        return bool((self._state == LOST).any())

    def update(self, detections: Detections, t_s: float) -> Detections:
        """Advance the clock to `t_s` (seconds, never going back), age every track, associate, return ids."""
        self._advance(t_s)
        predicted = self._predicted(t_s)
        tracks, dets = self._associate(detections, _corners(predicted))
        self._correct(tracks, predicted[tracks], detections.xyxy[dets].astype(np.float64), t_s)
        keep = self._settle_states(tracks, t_s)
        out = np.full(len(detections), NO_TRACK, np.int64)
        confirmed = self._state[tracks] == CONFIRMED
        out[dets[confirmed]] = self._ids[tracks[confirmed]]
        self._keep(keep)  # an unmatched tentative track was noise: forgotten without an id ever shown
        self._expire(t_s)
        self._start_tracks(detections, np.setdiff1d(np.arange(len(detections)), dets), t_s)
        return detections.with_tracker_id(out)

    def pop_ended(self) -> list[EndedTrack]:
        """Tracks that ended since the last call, oldest first; each is returned once."""
        ended = list(self._ended)
        self._ended.clear()
        return ended

    def flush(self) -> list[EndedTrack]:
        """End every confirmed track now (end of stream) and return all ended tracks not yet popped."""
        ending = np.flatnonzero(self._state != TENTATIVE)
        self._end(ending, "flushed", self._t)
        self._keep(np.zeros(len(self._ids), bool))
        return self.pop_ended()

    # -- clock and motion ------------------------------------------------------------------------------------------

    def _advance(self, t_s: float) -> None:
        if not np.isfinite(t_s):
            raise ValueError(f"t_s must be a finite number of seconds, got {t_s!r}")
        if self._t is not None and t_s < self._t:
            raise ValueError(f"t_s must not go backwards: {t_s} s after {self._t} s")
        self._t = float(t_s)

    def _predicted(self, t_s: float | None) -> npt.NDArray[np.float64]:
        """Every track's state (cx, cy, log w, log h) at `t_s`, moved on from its last match: centre for up to
        `max_dt_s`, size for up to `size_coast_s`."""
        cfg = self.config
        since = np.zeros(len(self._ids)) if t_s is None else np.maximum(t_s - self._last, 0.0)
        coast = np.stack([np.minimum(since, cfg.max_dt_s)] * 2 + [np.minimum(since, cfg.size_coast_s)] * 2, axis=1)
        box: npt.NDArray[np.float64] = self._box + self._vel * coast
        box[:, 2:] = np.clip(box[:, 2:], 0.0, MAX_LOG_SIZE)
        return box

    def _correct(self, tracks: npt.NDArray[np.intp], predicted: npt.NDArray[np.float64],
                 measured_xyxy: npt.NDArray[np.float64], t_s: float) -> None:
        if tracks.size == 0:
            return
        residual = _to_state(measured_xyxy) - predicted
        since = np.maximum(t_s - self._last[tracks], 1e-3)[:, None]
        first_motion = (self._hits[tracks] == 1)[:, None]  # second sighting: take the velocity as measured
        gain = np.where(first_motion, 1.0, self.config.beta)
        self._vel[tracks] += gain * residual / since
        rate = self.config.max_size_rate
        self._vel[tracks, 2:] = np.clip(self._vel[tracks, 2:], -rate, rate)
        self._box[tracks] = predicted + np.where(first_motion, 1.0, self.config.alpha) * residual
        self._last[tracks] = t_s
        self._hits[tracks] += 1

    # -- association -----------------------------------------------------------------------------------------------

    def _associate(self, detections: Detections, track_boxes: npt.NDArray[np.float64],
                   ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """ByteTrack's three passes over the tracks' predicted corners; returns matched (track, detection) pairs."""
        cfg = self.config
        score = detections.confidence
        high = np.flatnonzero(score >= cfg.high_score)
        low = np.flatnonzero((score >= cfg.low_score) & (score < cfg.high_score))
        established = np.flatnonzero(self._state != TENTATIVE)
        t1, d1 = self._pairs(established, high, track_boxes, detections, cfg.match_iou)
        still_confirmed = np.setdiff1d(np.flatnonzero(self._state == CONFIRMED), t1)
        t2, d2 = self._pairs(still_confirmed, low, track_boxes, detections, cfg.low_match_iou)
        tentative = np.flatnonzero(self._state == TENTATIVE)
        t3, d3 = self._pairs(tentative, np.setdiff1d(high, d1), track_boxes, detections, cfg.tentative_match_iou)
        return np.concatenate([t1, t2, t3]), np.concatenate([d1, d2, d3])

    def _pairs(self, tracks: npt.NDArray[np.intp], dets: npt.NDArray[np.intp], track_boxes: npt.NDArray[Any],
               detections: Detections, threshold: float) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        if tracks.size == 0 or dets.size == 0:
            return np.zeros(0, np.intp), np.zeros(0, np.intp)
        iou = box_iou(track_boxes[tracks], detections.xyxy[dets])
        iou[self._class[tracks][:, None] != detections.class_id[dets][None, :]] = 0.0
        pairs = match(iou, max(threshold, 1e-6))
        return tracks[pairs[:, 0]], dets[pairs[:, 1]]

    # -- life cycle ------------------------------------------------------------------------------------------------

    def _settle_states(self, matched: npt.NDArray[np.intp], t_s: float) -> npt.NDArray[np.bool_]:
        """Promote, lose; returns which tracks to keep (indices stay valid until the caller applies it)."""
        was_matched = np.zeros(len(self._ids), bool)
        was_matched[matched] = True
        ripe = (self._hits >= 2) & (t_s - self._first >= self.config.confirm_s)
        promote = was_matched & ((self._state == LOST) | ((self._state == TENTATIVE) & ripe))
        self._state[promote] = CONFIRMED
        self._state[~was_matched & (self._state == CONFIRMED)] = LOST
        keep: npt.NDArray[np.bool_] = was_matched | (self._state != TENTATIVE)
        return keep

    def _expire(self, t_s: float) -> None:
        stale = (self._state == LOST) & (t_s - self._last > self.config.max_lost_s)
        self._end(np.flatnonzero(stale), "lost", t_s)
        self._keep(~stale)

    def _start_tracks(self, detections: Detections, unmatched: npt.NDArray[np.intp], t_s: float) -> None:
        fresh = unmatched[detections.confidence[unmatched] >= self.config.new_track_score]
        k = fresh.size
        if k == 0:
            return
        confirmed_at_once = self.config.confirm_s == 0.0
        self._ids = np.concatenate([self._ids, np.arange(self._next_id, self._next_id + k, dtype=np.int64)])
        self._next_id += k
        self._box = np.concatenate([self._box, _to_state(detections.xyxy[fresh].astype(np.float64))])
        self._vel = np.concatenate([self._vel, np.zeros((k, 4))])
        self._state = np.concatenate([self._state, np.full(k, CONFIRMED if confirmed_at_once else TENTATIVE, np.int8)])
        self._first = np.concatenate([self._first, np.full(k, t_s)])
        self._last = np.concatenate([self._last, np.full(k, t_s)])
        self._hits = np.concatenate([self._hits, np.ones(k, np.int32)])
        self._class = np.concatenate([self._class, detections.class_id[fresh]])

    def _end(self, indices: npt.NDArray[np.intp], reason: str, t_s: float | None) -> None:
        boxes, seen = _corners(self._predicted(t_s)), _corners(self._box)
        for i in indices:
            if len(self._ended) >= MAX_ENDED_QUEUE:  # nobody pops: drop the oldest, count it
                self._ended.popleft()
                self.dropped_ended += 1
            box = boxes[i]
            self._ended.append(EndedTrack(
                track_id=int(self._ids[i]), class_id=int(self._class[i]), first_s=float(self._first[i]),
                last_s=float(self._last[i]), hits=int(self._hits[i]),
                last_xyxy=_tuple(box), reason=reason, seen_xyxy=_tuple(seen[i])))
            log.debug("track %d ended (%s) after %.2f s", self._ids[i], reason, self._last[i] - self._first[i])

    def _keep(self, mask: npt.NDArray[np.bool_]) -> None:
        if mask.all():
            return
        self._ids, self._box, self._vel = self._ids[mask], self._box[mask], self._vel[mask]
        self._state, self._first, self._last = self._state[mask], self._first[mask], self._last[mask]
        self._hits, self._class = self._hits[mask], self._class[mask]


def _tuple(box: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def _corners(state: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    half = np.exp(state[:, 2:]) / 2
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], axis=1)


def _to_state(xyxy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Boxes as the filter holds them: centre, and log size (floored at one pixel)."""
    size = np.maximum(xyxy[:, 2:] - xyxy[:, :2], 1.0)
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, np.log(size)], axis=1)

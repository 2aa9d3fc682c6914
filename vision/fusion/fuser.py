"""Per-lane fusion: vehicle tracks of all cameras become passages; reads join them; ended passages are published.

Association, and its limits:

* A vehicle track of camera C joins the open passage that has never had a track on C (the oldest such one), else
  it opens a new passage. So one truck seen by the front, side and rear cameras is one passage, and the next truck
  entering the front camera while the first is still in the rear one is a new passage. Limit: a camera that never
  tracks truck A will give truck B's track to A's passage if A is still open; a tracker that splits one truck
  into two tracks on one camera (an occlusion longer than `max_lost_s`) would split the passage, so a new track
  that starts where a track of a still-open passage was last seen on the same camera (within `rejoin_s`, its box
  mostly inside the lost one: `rejoin_overlap`) rejoins that passage instead. Limit: a second truck that enters
  exactly where the first was lost a moment ago joins the first truck's passage.
* A read whose box lies inside a tracked vehicle box of the same frame belongs to that vehicle's passage. A read
  with no vehicle around it (a rear or top camera whose vehicle box is not tracked, a plate seen before the track
  is confirmed) goes by time: to an open passage with a live track on that camera, else to the oldest open passage
  whose time window (`pre_window_s` before its first sighting to `post_window_s` after its last) holds it, else
  it waits up to `pre_window_s` for a passage to open. Limit: with two trucks in the lane at once, a read that no
  vehicle box covers is given to the older truck.
* A passage is published once all its tracks have ended and `exit_grace_s` has passed without a new one (or it
  went `stale_s` without a sighting, or lasted `max_passage_s`). A passage with no read that was sighted for less
  than `min_fragment_s` is a fragment of a split track: counted (`fragments_dropped`), not published.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bus.messages import EvidenceRef, VehiclePassage
from vision.detections import Detections, box_ioa, class_index
from vision.evidence import EvidenceError, EvidenceStore, crop
from vision.fusion.ballot import Candidate
from vision.fusion.observations import (
    CameraFrame,
    ContainerObservation,
    Observation,
    PlateObservation,
    SealObservation,
    Sighting,
)
from vision.fusion.passage_evidence import FieldRules, PassageEvidence

log = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,40}$")
TrackKey = tuple[str, int]


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    vehicle_class: int = class_index("vehicle")
    """Class id of the tracked vehicles that define a passage."""
    read_in_vehicle: float = 0.5
    """Least share of a read's box inside a vehicle box for the read to belong to that vehicle."""
    pre_window_s: float = 2.0
    """Reads up to this long before a passage's first sighting still join it (plates seen before confirmation)."""
    post_window_s: float = 1.0
    """Reads up to this long after a passage's last sighting still join it."""
    exit_grace_s: float = 1.0
    """Wait after a passage's last track ended before publishing, in case another camera picks the truck up."""
    stale_s: float = 10.0
    """A passage not sighted for this long is published even if a track never ended (a camera went silent)."""
    max_passage_s: float = 600.0
    """A passage is published after this long whatever happens (a parked truck must not hold the lane forever)."""
    rejoin_s: float = 2.0
    """A new track this soon after a passage's track ended on the same camera may be the same truck, re-found."""
    rejoin_overlap: float = 0.7
    """Least share of the new track's first box inside the lost track's last box to rejoin the passage: a truck
    re-found after an occlusion shows up where it was (often smaller, partly hidden), so IoU would be too strict;
    the other way round (the lost box inside a big new one) is the next truck driving over the spot, not a rejoin."""
    fragment_frames: int = 4
    """A passage seen in this few frames may be a piece of a truck whose track broke (frames dropped, an
    occlusion). If it shares a plate or container number with a passage published within `fragment_hold_s`, it is
    that truck's tail and is dropped (counted); else it is held up to `fragment_hold_s` and merged into the next
    passage that shares one with it (the truck's head), or published as it is."""
    fragment_hold_s: float = 8.0
    min_fragment_s: float = 1.0
    """A passage with no plate or container number read, sighted for less than this, is a tracker fragment (one
    truck's track split by an occlusion, a passer-by at the frame edge): dropped and counted, not a truck."""
    max_pending_reads: int = 256
    """Reads waiting for a passage; older ones are dropped and counted."""
    rules: FieldRules = field(default_factory=FieldRules)


@dataclass
class _Open:
    seq: int
    first_t: float
    last_t: float
    first_utc: float
    last_utc: float
    evidence: PassageEvidence
    live: set[TrackKey] = field(default_factory=set)
    cameras: set[str] = field(default_factory=set)
    frames: set[tuple[str, int]] = field(default_factory=set)
    ended_t: float | None = None
    last_boxes: dict[TrackKey, tuple[float, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pending:
    read: Observation
    sighting: Sighting
    crop: np.ndarray | None


class PassageFuser:
    """`update(frame) -> [VehiclePassage]`: feed every camera frame of one lane; get passages as trucks leave."""

    def __init__(self, lane_id: str, direction: str, *, config: FusionConfig | None = None,
                 evidence: EvidenceStore | None = None, passage_id: Callable[[str, float, int], str] | None = None):
        if not _ID.match(lane_id):
            raise ValueError(f"lane_id must be 1-40 characters of [A-Za-z0-9_.:-], got {lane_id!r}")
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")
        self.lane_id, self.direction = lane_id, direction
        self.config = config or FusionConfig()
        self.evidence = evidence
        self._passage_id = passage_id or _default_passage_id
        self._open: list[_Open] = []
        self._owner: dict[TrackKey, _Open] = {}
        self._pending: deque[_Pending] = deque()
        self._fragments: list[tuple[_Open, float]] = []   # short passages held for a merge, with their hold time
        self._recent: deque[tuple[set[str], float]] = deque()  # identities of passages published lately
        self._seq = 0
        self._now = float("-inf")
        self.counters = {"frames": 0, "reads": 0, "reads_dropped": 0, "passages": 0, "bad_frames": 0,
                         "fragments_dropped": 0, "tracks_rejoined": 0,
                         "fragments_merged": 0}

    def update(self, frame: CameraFrame) -> list[VehiclePassage]:
        """Take one camera frame; return the passages that are complete as of its time."""
        if not frame.camera or not np.isfinite(frame.t_s) or not np.isfinite(frame.ts_utc):
            self.counters["bad_frames"] += 1
            log.warning("fusion: frame with camera %r, t_s %r, ts_utc %r refused", frame.camera, frame.t_s,
                        frame.ts_utc)
            return []
        self.counters["frames"] += 1
        self._now = max(self._now, frame.t_s)
        vehicles = frame.vehicles[(frame.vehicles.class_id == self.config.vehicle_class)
                                  & (frame.vehicles.tracker_id >= 0)]
        owners = [self._sighted(frame, int(tid), box)
                  for tid, box in zip(vehicles.tracker_id, vehicles.xyxy, strict=True)]
        for ended in frame.ended:
            self._track_ended((frame.camera, ended.track_id), frame.t_s)
        self._assign_reads(frame, vehicles, owners)
        return self._ready(self._now)

    def flush(self) -> list[VehiclePassage]:
        """Publish every open passage now (end of the stream), and every held fragment."""
        done = list(self._open)
        self._open.clear()
        self._owner.clear()
        published = self._publish_all(done)
        held, self._fragments = self._fragments, []
        return published + [self._publish(fragment) for fragment, _ in held]

    # -- passages --------------------------------------------------------------------------------------------------

    def _sighted(self, frame: CameraFrame, track_id: int, box: np.ndarray) -> _Open:
        key = (frame.camera, track_id)
        passage = self._owner.get(key)
        if passage is None:
            passage = self._rejoined(frame, box)
            if passage is not None:
                self.counters["tracks_rejoined"] += 1
            else:
                passage = next((p for p in self._open if frame.camera not in p.cameras), None)
            if passage is None:
                passage = self._new_passage(frame)
            self._owner[key] = passage
            passage.cameras.add(frame.camera)
            passage.live.add(key)
        passage.last_t = max(passage.last_t, frame.t_s)
        if len(passage.last_boxes) < 256 or key in passage.last_boxes:
            passage.last_boxes[key] = (frame.t_s, box)
        passage.last_utc = max(passage.last_utc, frame.ts_utc)
        passage.first_utc = min(passage.first_utc, frame.ts_utc)
        if len(passage.frames) < 100_000:
            passage.frames.add((frame.camera, frame.frame))
        return passage

    def _rejoined(self, frame: CameraFrame, box: np.ndarray) -> _Open | None:
        """The open passage whose track on this camera was lost (or just ended) where this new track starts."""
        cfg = self.config
        new = np.asarray(box, np.float32).reshape(1, 4)
        for passage in self._open:
            for (camera, _), (t_s, last) in passage.last_boxes.items():
                if camera != frame.camera or not 0.0 < frame.t_s - t_s <= cfg.rejoin_s:
                    continue
                if float(box_ioa(new, np.asarray([last], np.float32))[0, 0]) >= cfg.rejoin_overlap:
                    return passage
        return None

    def _new_passage(self, frame: CameraFrame) -> _Open:
        self._seq += 1
        passage = _Open(self._seq, frame.t_s, frame.t_s, frame.ts_utc, frame.ts_utc,
                        PassageEvidence(self.config.rules))
        self._open.append(passage)
        waiting, self._pending = self._pending, deque()
        for item in waiting:
            if item.sighting.t_s >= frame.t_s - self.config.pre_window_s:
                self._add(passage, item.read, item.sighting, _held(item.crop))
            else:
                self.counters["reads_dropped"] += 1
        return passage

    def _track_ended(self, key: TrackKey, t_s: float) -> None:
        passage = self._owner.pop(key, None)
        if passage is not None:
            passage.live.discard(key)
            passage.ended_t = t_s

    def _ready(self, now: float) -> list[VehiclePassage]:
        cfg = self.config
        done = [p for p in self._open
                if (not p.live and p.ended_t is not None and now - p.ended_t >= cfg.exit_grace_s)
                or now - p.last_t >= cfg.stale_s or now - p.first_t >= cfg.max_passage_s]
        for passage in done:
            self._open.remove(passage)
            for key in [k for k, owner in self._owner.items() if owner is passage]:
                del self._owner[key]
        published = self._publish_all(done)   # first, so that a fragment can still join its truck
        expired = [f for f, held in self._fragments if now - held >= cfg.fragment_hold_s]
        self._fragments = [(f, held) for f, held in self._fragments if now - held < cfg.fragment_hold_s]
        return [self._publish(fragment) for fragment in expired] + published

    # -- reads -----------------------------------------------------------------------------------------------------

    def _assign_reads(self, frame: CameraFrame, vehicles: Detections, owners: list[_Open]) -> None:
        reads = frame.reads()
        if not reads:
            return
        inside = None
        if len(vehicles):
            boxes = np.array([r.box for r in reads], np.float32).reshape(-1, 4)
            inside = box_ioa(boxes, vehicles.xyxy)
        for i, read in enumerate(reads):
            sighting = Sighting(frame.camera, frame.frame, frame.t_s, frame.ts_utc, _box(read.box))
            passage = None
            if inside is not None and inside[i].max() >= self.config.read_in_vehicle:
                passage = owners[int(inside[i].argmax())]
            passage = passage or self._by_time(frame.camera, frame.t_s)
            take_crop = self._cropper(frame, sighting.box)
            if passage is None:
                self._hold(_Pending(read, sighting, take_crop()))
            else:
                self._add(passage, read, sighting, take_crop)

    def _by_time(self, camera: str, t_s: float) -> _Open | None:
        cfg = self.config
        for passage in self._open:
            if any(key[0] == camera for key in passage.live):
                return passage
        return next((p for p in self._open
                     if p.first_t - cfg.pre_window_s <= t_s <= p.last_t + cfg.post_window_s), None)

    def _add(self, passage: _Open, read: Observation, sighting: Sighting,
             take_crop: Callable[[], np.ndarray | None]) -> None:
        self.counters["reads"] += 1
        if isinstance(read, PlateObservation):
            passage.evidence.add_plate(read, sighting, take_crop)
        elif isinstance(read, ContainerObservation):
            passage.evidence.add_container(read, sighting, take_crop)
        elif isinstance(read, SealObservation):
            passage.evidence.add_seal(read, sighting, take_crop)

    def _hold(self, item: _Pending) -> None:
        self._pending.append(item)
        while len(self._pending) > self.config.max_pending_reads or (
                self._pending and self._pending[0].sighting.t_s < self._now - self.config.pre_window_s):
            self._pending.popleft()
            self.counters["reads_dropped"] += 1

    def _cropper(self, frame: CameraFrame, box: tuple[float, float, float, float]) -> Callable[[], np.ndarray | None]:
        def take() -> np.ndarray | None:
            if self.evidence is None or frame.image is None:
                return None
            try:
                return crop(frame.image, box)
            except EvidenceError as exc:
                log.debug("no evidence crop: %s", exc)
                return None
        return take

    # -- publishing ------------------------------------------------------------------------------------------------

    def _publish_all(self, done: list[_Open]) -> list[VehiclePassage]:
        cfg = self.config
        kept = [p for p in done if p.evidence.identities() or p.last_t - p.first_t >= cfg.min_fragment_s]
        self.counters["fragments_dropped"] += len(done) - len(kept)
        published: list[VehiclePassage] = []
        for passage in kept:
            if len(passage.frames) <= cfg.fragment_frames:
                if self._seen_lately(passage):
                    self.counters["fragments_dropped"] += 1  # the tail of a truck already published
                    continue
                self._fragments.append((passage, self._now))
                continue
            self._absorb_fragments(passage)
            self._recent.append((passage.evidence.identities(), self._now))
            published.append(self._publish(passage))
        return published

    def _seen_lately(self, fragment: _Open) -> bool:
        """Whether a passage published within `fragment_hold_s` shares a plate or container number with it."""
        while self._recent and self._now - self._recent[0][1] > self.config.fragment_hold_s:
            self._recent.popleft()
        mine = fragment.evidence.identities()
        return any(mine & identities for identities, _ in self._recent)

    def _absorb_fragments(self, passage: _Open) -> None:
        """Merge into `passage` the held fragments that share a plate or container number with it."""
        mine = passage.evidence.identities()
        keep: list[tuple[_Open, float]] = []
        for fragment, held in self._fragments:
            if mine & fragment.evidence.identities():
                passage.evidence.merge(fragment.evidence)
                passage.frames |= fragment.frames
                passage.first_utc = min(passage.first_utc, fragment.first_utc)
                passage.seq = min(passage.seq, fragment.seq)
                self.counters["fragments_merged"] += 1
            else:
                keep.append((fragment, held))
        self._fragments = keep

    def _publish(self, passage: _Open) -> VehiclePassage:
        passage_id = self._passage_id(self.lane_id, passage.first_utc, passage.seq)

        def refs(name: str, candidate: Candidate) -> tuple[EvidenceRef, ...]:
            best = candidate.best
            if best is None:
                return ()
            if self.evidence is not None and candidate.best_crop is not None:
                return (self.evidence.save(passage_id=passage_id, field=name, camera=best.camera, frame=best.frame,
                                           ts_utc=best.ts_utc, box=best.box, image=candidate.best_crop),)
            return (EvidenceRef(camera=best.camera[:64], frame=best.frame, ts_utc=best.ts_utc, box=best.box),)

        evidence = passage.evidence
        self.counters["passages"] += 1
        return VehiclePassage(
            passage_id=passage_id, lane_id=self.lane_id, direction=self.direction,  # type: ignore[arg-type]
            first_seen_utc=passage.first_utc, last_seen_utc=passage.last_utc,
            plates=tuple(evidence.plates(refs)[:64]), containers=tuple(evidence.containers(refs)),
            seals=tuple(evidence.seals(refs)[:64]), frames_seen=len(passage.frames))


def _held(image: np.ndarray | None) -> Callable[[], np.ndarray | None]:
    return lambda: image


def _default_passage_id(lane_id: str, first_utc: float, seq: int) -> str:
    return f"{lane_id}-{round(first_utc * 1000)}-{seq}"


def _box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)

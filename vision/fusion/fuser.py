"""Per-lane fusion: vehicle tracks of all cameras become passages; reads join them; ended passages are published.

Association, and its limits:

* A vehicle track of camera C joins the open passage that has never had a track on C (the oldest such one); else
  the open passage whose track on C ended less than `rejoin_s` ago where the new track's box overlaps that track's
  last seen or predicted box (IoU at least `rejoin_iou`: the tracker lost the truck filling the view, or
  mispredicted a box entering the image edge, and found it again); else it opens a new passage. So one truck seen
  by the front, side and rear cameras is one passage, and the next truck entering the front camera while the
  first is still in the rear one is a new passage (it enters far from where the first left). Limit: a camera that
  never tracks truck A will give truck B's track to A's passage if A is still open; a truck lost on one camera for
  longer than `rejoin_s` splits the passage. Before all that, a new track whose box overlaps, from behind, the box
  of a live track moving across the same camera joins that track's passage: a side camera sees a tractor and its
  trailer as two vehicle boxes at once (a right-side camera split passages so, `benchmarks/RESULTS.md`).
* A read whose box lies inside a tracked vehicle box of the same frame belongs to that vehicle's passage. A read
  with no vehicle around it (a rear or top camera whose vehicle box is not tracked, a plate seen before the track
  is confirmed) goes by time: to an open passage with a live track on that camera, else to the oldest open passage
  whose time window (`pre_window_s` before its first sighting to `post_window_s` after its last) holds it, else
  it waits up to `pre_window_s` for a passage to open. Limit: with two trucks in the lane at once, a read that no
  vehicle box covers is given to the older truck.
* A passage of a few frames (`fragment_frames`) that lies in time inside a longer one and read nothing that one did
  not read (a second box on one camera for a moment; a plate that fits no format, read in so few frames, counts as
  nothing) joins it instead of being published: a phantom passage would hold the barrier behind the truck. If that
  passage was published already, the fragment adds nothing to it and is dropped (counted), unless it read a
  door's seal. Limit: a truck the detector saw in only that many frames, while another truck was in the lane, with
  no read of its own, is taken as part of the other.
* A longer passage that lies wholly inside an open one's sightings, with far fewer frames, and would publish no
  plate or number that one did not read (a trailer tracked apart from its tractor when frames are dropped) joins
  it with its door reads (`piece_share`). Limit: a second truck wholly inside the first one's time in the lane,
  with no read of its own, would be taken for a part of it; in one lane, trucks pass one after the other.
* Two container boxes inside one vehicle box (a side or roof view of two 20 ft boxes) tell the passage that the
  truck carries two; where the truck moves across the camera, the box further along its motion is the front one,
  and a number read inside a box gets that box's place as its position hint. Limit: a camera that sees the truck
  only coming or going (front, rear) gives no place; a 40 ft box the detector splits in two is taken for two only
  while its size code does not say 40 ft.
* A passage is published once all its tracks have ended and `exit_grace_s` has passed without a new one (or it
  went `stale_s` without a sighting, or lasted `max_passage_s`).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bus.messages import EvidenceRef, VehiclePassage
from vision.detections import Detections, box_ioa, box_iou, class_index
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
from vision.grammar.alphabet import plain

log = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,40}$")
TrackKey = tuple[str, int]
RECENT_PASSAGES = 8


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    vehicle_class: int = class_index("vehicle")
    """Class id of the tracked vehicles that define a passage."""
    container_class: int = class_index("container")
    """Class id of container boxes: two inside one vehicle box say the truck carries two (`saw_two_boxes`)."""
    motion_px: float = 40.0
    """A truck that moved this far across a camera's image since its track began shows which of its two container
    boxes is the front one (`_two_boxes`)."""
    read_in_vehicle: float = 0.5
    """Least share of a read's box inside a vehicle box for the read to belong to that vehicle."""
    pre_window_s: float = 2.0
    """Reads up to this long before a passage's first sighting still join it (plates seen before confirmation)."""
    post_window_s: float = 1.0
    """Reads up to this long after a passage's last sighting still join it."""
    rejoin_s: float = 2.0
    """A new track on a camera may continue a passage whose track on that camera ended this recently."""
    rejoin_iou: float = 0.2
    """...if its first box overlaps the ended track's last seen or predicted box at least this much."""
    fragment_frames: int = 3
    """A passage of at most this many frames that lies, in time, inside another one and read nothing that one did
    not read is a fragment of that truck (a second box on one camera for a moment); it joins that passage."""
    piece_share: float = 0.5
    """A longer passage lying wholly inside an open one's sightings, with fewer than this share of its frames, that
    read no plate or number that one did not read and no door of another container, is a piece of the same truck
    (a trailer tracked apart from its tractor when frames are dropped): it joins that passage, door reads included."""
    exit_grace_s: float = 1.0
    """Wait after a passage's last track ended before publishing, in case another camera picks the truck up."""
    stale_s: float = 10.0
    """A passage not sighted for this long is published even if a track never ended (a camera went silent)."""
    max_passage_s: float = 600.0
    """A passage is published after this long whatever happens (a parked truck must not hold the lane forever)."""
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
    gone: dict[str, tuple[float, np.ndarray]] = field(default_factory=dict)
    """Camera → when its last track of this passage ended, and that track's last seen and predicted boxes."""
    starts: dict[TrackKey, np.ndarray] = field(default_factory=dict)
    """Where (box centre) each of its tracks was first seen: the truck's motion across that camera since."""


@dataclass(frozen=True)
class _Span:
    """A passage as the fragment rule sees it (a published one is kept as this, without its reads and crops)."""

    seq: int
    first_t: float
    last_t: float
    frames: int
    texts: frozenset[str]

    @classmethod
    def of(cls, passage: _Open) -> _Span:
        return cls(passage.seq, passage.first_t, passage.last_t, len(passage.frames),
                   frozenset(passage.evidence.texts()))


def _covered(text: str, read: frozenset[str]) -> bool:
    """Whether `text` is one of `read` or a part of one (`2872` of `琼D·2872挂`, its trailer plate read whole)."""
    part = plain(text)
    return text in read or (bool(part) and any(part in plain(whole) for whole in read))


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
        self._published: deque[_Span] = deque(maxlen=RECENT_PASSAGES)
        """The last passages published: a fragment found after its truck's passage left still belongs to it."""
        self._seq = 0
        self._now = float("-inf")
        self.counters = {"frames": 0, "reads": 0, "reads_dropped": 0, "passages": 0, "bad_frames": 0,
                         "fragments_joined": 0, "fragments_dropped": 0, "pieces_joined": 0}

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
        owners = [self._sighted(frame, int(tid), box, vehicles)
                  for tid, box in zip(vehicles.tracker_id, vehicles.xyxy, strict=True)]
        for ended in frame.ended:
            self._track_ended((frame.camera, ended.track_id), frame.t_s,
                              np.asarray([ended.seen_xyxy or ended.last_xyxy, ended.last_xyxy], np.float32))
        places = self._two_boxes(frame, vehicles, owners)
        self._assign_reads(frame, vehicles, owners, places)
        return self._ready(self._now)

    def flush(self) -> list[VehiclePassage]:
        """Publish every open passage now (end of the stream)."""
        done = [self._publish(p) for p in list(self._open)]
        self._open.clear()
        self._owner.clear()
        return done

    # -- passages --------------------------------------------------------------------------------------------------

    def _sighted(self, frame: CameraFrame, track_id: int, box: np.ndarray, vehicles: Detections) -> _Open:
        key = (frame.camera, track_id)
        passage = self._owner.get(key)
        if passage is None:
            passage = self._coupled(frame, box, vehicles)
            passage = passage or next((p for p in self._open if frame.camera not in p.cameras), None)
            passage = passage or self._rejoined(frame, box) or self._new_passage(frame)
            self._owner[key] = passage
            passage.cameras.add(frame.camera)
            passage.live.add(key)
            passage.starts[key] = _centre(box)
        passage.last_t = max(passage.last_t, frame.t_s)
        passage.last_utc = max(passage.last_utc, frame.ts_utc)
        passage.first_utc = min(passage.first_utc, frame.ts_utc)
        if len(passage.frames) < 100_000:
            passage.frames.add((frame.camera, frame.frame))
        return passage

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

    def _coupled(self, frame: CameraFrame, box: np.ndarray, vehicles: Detections) -> _Open | None:
        """The open passage of a live track on this camera, moving across the image, whose box in this frame the new
        box overlaps from behind: one truck seen as two vehicle boxes (a side view of the tractor and, coming into
        view after it, its trailer). A truck queued behind is metres away, not overlapping."""
        for track_id, other in zip(vehicles.tracker_id, vehicles.xyxy, strict=True):
            key = (frame.camera, int(track_id))
            owner = self._owner.get(key)
            way = self._across(owner, key, other) if owner is not None else 0.0
            if not way:
                continue  # not moving across this camera: no behind to tell
            overlaps = box_iou(np.asarray([box], np.float32), np.asarray([other], np.float32))[0, 0] > 0
            if overlaps and way * (_centre(box)[0] - _centre(other)[0]) < 0:
                return owner
        return None

    def _across(self, passage: _Open, key: TrackKey, box: np.ndarray) -> float:
        """+1 or -1, the way a track of `passage` moves across its camera's image since it began (at least
        `motion_px`, more sideways than up or down); 0 if it does not (a front or rear camera, or not moved yet)."""
        start = passage.starts.get(key)
        if start is None:
            return 0.0
        dx, dy = _centre(box) - start
        return float(np.sign(dx)) if abs(dx) >= self.config.motion_px and abs(dx) >= abs(dy) else 0.0

    def _rejoined(self, frame: CameraFrame, box: np.ndarray) -> _Open | None:
        """The open passage whose lost track on this camera the new track continues, if any (oldest first)."""
        cfg = self.config
        for passage in self._open:
            gone = passage.gone.get(frame.camera)
            if gone is None or frame.t_s - gone[0] > cfg.rejoin_s:
                continue
            if any(key[0] == frame.camera for key in passage.live):
                continue
            if box_iou(np.asarray([box], np.float32), gone[1]).max() >= cfg.rejoin_iou:
                return passage
        return None

    def _track_ended(self, key: TrackKey, t_s: float, last_boxes: np.ndarray) -> None:
        passage = self._owner.pop(key, None)
        if passage is not None:
            passage.live.discard(key)
            passage.ended_t = t_s
            passage.gone[key[0]] = (t_s, last_boxes)

    def _ready(self, now: float) -> list[VehiclePassage]:
        cfg = self.config
        done = [p for p in self._open
                if (not p.live and p.ended_t is not None and now - p.ended_t >= cfg.exit_grace_s)
                or now - p.last_t >= cfg.stale_s or now - p.first_t >= cfg.max_passage_s]
        for passage in done:
            self._open.remove(passage)
            for key in [k for k, owner in self._owner.items() if owner is passage]:
                del self._owner[key]
        for part in list(done):
            short = len(part.frames) <= cfg.fragment_frames
            texts = (part.evidence.claims(cfg.rules.min_evidence) if short
                     else part.evidence.published_texts() | part.evidence.door_numbers())
            host = next((p for p in [*self._open, *done] if p is not part and self._part_of(_Span.of(p), part, texts)),
                        None)
            if host is not None:
                done.remove(part)
                self._join(part, host, "fragments_joined" if short else "pieces_joined")
            elif short and part.evidence.has_seal_reads():
                continue  # a door's seal seen for a moment is news: kept, not dropped, when its truck has left
            elif short and (sent := next((s for s in self._published if self._part_of(s, part, texts)), None)):
                done.remove(part)  # it read nothing its passage did not publish already
                self.counters["fragments_dropped"] += 1
                log.info("fusion: a %d-frame passage is a piece of passage %d, published already",
                         len(part.frames), sent.seq)
        self._published.extend(_Span.of(p) for p in done)
        return [self._publish(p) for p in done]

    def _part_of(self, span: _Span, part: _Open, texts: set[str]) -> bool:
        """Whether `part`, which would publish `texts`, is a piece of the truck of the passage `span`: that one read
        each of `texts` or a whole it is a part of, and holds `part` in time. A fragment (`fragment_frames`) may lie
        in its read windows and be any shorter; a longer piece must lie within its sightings with under
        `piece_share` of its frames."""
        cfg = self.config
        if len(part.frames) <= cfg.fragment_frames:
            inside = span.first_t - cfg.pre_window_s <= part.first_t and part.last_t <= span.last_t + cfg.post_window_s
            fewer = len(part.frames) < span.frames
        else:
            inside = span.first_t <= part.first_t and part.last_t <= span.last_t
            fewer = len(part.frames) < cfg.piece_share * span.frames
        return inside and fewer and all(_covered(text, span.texts) for text in texts)

    def _join(self, part: _Open, host: _Open, counter: str) -> None:
        """Fold a fragment or a piece into the open passage of its truck."""
        host.evidence.absorb(part.evidence)
        host.frames |= part.frames
        host.first_utc, host.last_utc = min(host.first_utc, part.first_utc), max(host.last_utc, part.last_utc)
        self.counters[counter] += 1
        log.info("fusion: a %d-frame passage joined the passage it is a piece of (seq %d → %d)", len(part.frames),
                 part.seq, host.seq)

    def _two_boxes(self, frame: CameraFrame, vehicles: Detections, owners: list[_Open]) -> dict[int, str]:
        """Container boxes of this frame that are the front or the rear one of two inside a vehicle box (a side or
        roof view of two 20 ft boxes), by row of `frame.vehicles`; each such passage is told it carries two.

        Of the two, the front one is further along the truck's motion across the image since its track began: a
        number read inside it is the front box's, whatever the time order of the reads (`hinted`)."""
        rows = np.flatnonzero(frame.vehicles.class_id == self.config.container_class)
        if len(rows) < 2 or not len(vehicles):
            return {}
        inside = box_ioa(frame.vehicles.xyxy[rows], vehicles.xyxy) >= self.config.read_in_vehicle
        places: dict[int, str] = {}
        for j in np.flatnonzero(inside.sum(axis=0) >= 2):
            owner = owners[int(j)]
            owner.evidence.saw_two_boxes()
            pair = rows[inside[:, j]]
            way = self._across(owner, (frame.camera, int(vehicles.tracker_id[j])), vehicles.xyxy[j])
            if len(pair) != 2 or not way:
                continue  # not moving across this camera (a front or rear camera): no side to tell
            ahead = way * _centre(frame.vehicles.xyxy[pair])[:, 0]
            front = int(np.argmax(ahead))
            places[int(pair[front])], places[int(pair[1 - front])] = "front", "rear"
        return places

    # -- reads -----------------------------------------------------------------------------------------------------

    def _assign_reads(self, frame: CameraFrame, vehicles: Detections, owners: list[_Open],
                      places: dict[int, str]) -> None:
        reads = hinted(frame.reads(), frame.vehicles, places, self.config.read_in_vehicle)
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


def hinted(reads: list[Observation], detections: Detections, places: dict[int, str],
           min_share: float) -> list[Observation]:
    """`reads` with each container-number read of no position that lies in a container box of known place
    (front or rear of two, `PassageFuser._two_boxes`) given that place."""
    if not places:
        return reads
    rows = list(places)
    out: list[Observation] = []
    for read in reads:
        if isinstance(read, ContainerObservation) and read.position == "unknown":
            share = box_ioa(np.asarray([read.box], np.float32), detections.xyxy[rows])[0]
            if share.max() >= min_share:
                read = replace(read, position=places[rows[int(share.argmax())]])  # type: ignore[arg-type]
        out.append(read)
    return out


def _centre(boxes: np.ndarray) -> np.ndarray:
    """Centre (x, y) of a box, or of each row of boxes."""
    corners = np.asarray(boxes, np.float64)
    centre: np.ndarray = (corners[..., :2] + corners[..., 2:]) / 2.0
    return centre


def _held(image: np.ndarray | None) -> Callable[[], np.ndarray | None]:
    return lambda: image


def _default_passage_id(lane_id: str, first_utc: float, seq: int) -> str:
    return f"{lane_id}-{round(first_utc * 1000)}-{seq}"


def _box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)

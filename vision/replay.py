"""`smartgate replay DATASET`: a recording through the lane pipeline, scored against its truth.

All cameras of the recording are merged in media-time order (as a lane sees them), at full speed or paced to the
recorded time. Emitted passages are matched one-to-one to truth passages by the overlap of their media-time spans
(truth: `[t_enter, t_exit]`; emitted: first/last seen UTC less the recording's epoch, the `ts_utc - t` of its
frames), largest overlap first. Scores are over the truth passages that entered before the last frame replayed
(`--max-frames` cuts the recording short); a truth passage with no match counts as wrong in every score.

* plate: the tractor plate read exactly, separators aside (the passage's `tractor` plate, else its role-less
  one).
* container: per truth container, its number exactly among the matched passage's container reads.
* readable plate and container: the same over the plates and numbers the truth does not mark hidden (the generator's
  `occlusion` covers part of every whole copy the cameras show, so no single view reads them), to tell reading
  errors apart.
* seal: per truth container whose doors a camera can see, the seal read for that number (or, unlinked, in the
  order of those containers) has the truth state. The front box of two 20 ft boxes has its doors against the
  rear box: no camera sees them, so its seal is scored apart (`seal_unseen_unknown`: the share of those reported
  `unknown`, or of which nothing was said, the only honest answers; unnamed reads serve the seen doors first).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bus.messages import SealRead, VehiclePassage
from datasets.recording import ContainerTruth, PassageTruth, Recording
from datasets.sources import Frame, RecordingSource, SourceError
from vision.grammar.alphabet import plain
from vision.pipeline import LanePipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayReport:
    recording: str
    passages_truth: int
    passages_found: int
    passages_emitted: int
    plate_accuracy: float
    container_accuracy: float
    seal_accuracy: float
    frames: int
    corrupt_frames: int
    wall_s: float
    fps: float
    latency_ms: dict[str, float | None]
    stage_ms: dict[str, float]
    counters: dict[str, int] = field(default_factory=dict)
    seals_unseen: int = 0
    """Truth containers whose doors no camera sees (not in `seal_accuracy`)."""
    seal_unseen_unknown: float = 0.0
    plate_accuracy_readable: float = 0.0
    """`plate_accuracy` over the truth passages whose tractor plate is not hidden."""
    container_accuracy_readable: float = 0.0
    """`container_accuracy` over the truth containers whose number is not hidden."""
    plates_hidden: int = 0
    """Truth tractor plates hidden by occlusion (left out of `plate_accuracy_readable`)."""
    containers_hidden: int = 0
    """Truth container numbers hidden by occlusion (left out of `container_accuracy_readable`)."""
    passages: tuple[VehiclePassage, ...] = ()
    """The passages emitted, in order (not part of the JSON)."""
    misses: tuple[dict[str, Any], ...] = ()
    """One entry per truth passage with any field wrong: truth beside what was read (see `passage_misses`)."""
    confidence: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Per field, per threshold: [right reads, wrong reads] at or above it (`confidence_table`), to set the
    clearance engine's thresholds from data."""

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-able dict: the keys of issue 3 and a few more."""
        return {
            "recording": self.recording, "passages_truth": self.passages_truth,
            "passages_found": self.passages_found, "passages_emitted": self.passages_emitted,
            "plate_accuracy": self.plate_accuracy, "container_accuracy": self.container_accuracy,
            "seal_accuracy": self.seal_accuracy, "seals_unseen": self.seals_unseen,
            "seal_unseen_unknown": self.seal_unseen_unknown,
            "plate_accuracy_readable": self.plate_accuracy_readable,
            "container_accuracy_readable": self.container_accuracy_readable,
            "plates_hidden": self.plates_hidden, "containers_hidden": self.containers_hidden, "frames": self.frames,
            "corrupt_frames": self.corrupt_frames,
            "wall_s": round(self.wall_s, 3), "fps": round(self.fps, 3), "latency_ms": self.latency_ms,
            "stage_ms": {k: round(v, 3) for k, v in self.stage_ms.items()}, "counters": self.counters,
            "misses": list(self.misses), "confidence": self.confidence,
        }

    def summary(self) -> str:
        """A few lines for a person."""
        lat = self.latency_ms
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        return "\n".join([
            f"replay {self.recording}: {self.frames} frames ({self.corrupt_frames} corrupt"
            f"{_dropped(self.counters.get('replay_dropped', 0))}) in {self.wall_s:.1f} s,"
            f" {self.fps:.2f} frames/s",
            f"passages: {self.passages_found} of {self.passages_truth} found, {self.passages_emitted} emitted",
            f"accuracy: plate {self.plate_accuracy:.1%}, container {self.container_accuracy:.1%},"
            f" seal {self.seal_accuracy:.1%} ({self.seals_unseen} containers with doors out of sight:"
            f" {self.seal_unseen_unknown:.0%} reported unknown)",
            f"readable only ({self.plates_hidden} plates, {self.containers_hidden} numbers hidden by occlusion):"
            f" plate {self.plate_accuracy_readable:.1%}, container {self.container_accuracy_readable:.1%}",
            f"latency ms: p50 {_ms(lat['p50'])}, p99 {_ms(lat['p99'])}",
            f"stage ms/frame: {stages}",
            *(f"  miss {m['passage']} ({', '.join(m['conditions']) or 'clear'}): {_wrong_fields(m)}"
              for m in self.misses),
        ])


def replay(recording_dir: str | Path, *, realtime: bool = False, max_frames: int | None = None,
           evidence_dir: str | Path | None = None, pipeline: LanePipeline | None = None,
           threads: int | None = None, drop_frames: float = 0.0, seed: int = 0) -> ReplayReport:
    """Run the lane pipeline over a recording and score it (`SourceError` if the recording cannot be opened).

    `drop_frames` leaves that share of the frames out at random (seeded), as a live lane that cannot keep up with
    its cameras drops stale frames: tracking and fusion see the gaps they see at a busy gate."""
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0, got {max_frames}")
    if not 0.0 <= drop_frames < 1.0:
        raise ValueError(f"drop_frames must lie in [0, 1), got {drop_frames}")
    dropper = np.random.default_rng(seed)
    dropped = 0
    recording = _open(recording_dir)
    meta = recording.meta
    views = {camera: cam.view for camera, cam in meta.cameras.items()}
    lane = pipeline or LanePipeline.load(meta.lane_id, meta.direction, threads=threads, evidence_dir=evidence_dir,
                                         views=views)
    sources = [RecordingSource(recording_dir, camera, realtime=realtime) for camera in sorted(meta.cameras)]
    emitted: list[VehiclePassage] = []
    epoch: float | None = None
    last_t = float("-inf")
    frames = undecodable = 0
    started = time.monotonic()
    try:
        for frame in merged_frames(sources):
            if max_frames is not None and frames >= max_frames:
                break
            frames += 1
            epoch = frame.ts_utc - frame.t if epoch is None else epoch
            last_t = max(last_t, frame.t)
            if drop_frames and dropper.random() < drop_frames:
                dropped += 1
                continue
            emitted.extend(lane.process(frame))
            undecodable += frame.error is not None and frame.encoded is not None  # (found when it was decoded)
        emitted.extend(lane.flush())
    finally:
        for source in sources:
            source.close()
    wall = time.monotonic() - started
    truth = [p for p in recording.passages() if p.t_enter <= last_t]
    pairs = match_passages(truth, emitted, epoch or 0.0)
    unseen = seal_hits(truth, pairs, seen=False)
    plates, numbers = plate_hits(truth, pairs), container_hits(truth, pairs)
    return ReplayReport(
        recording=str(recording_dir), passages_truth=len(truth), passages_found=len(pairs),
        passages_emitted=len(emitted), plate_accuracy=share(plates),
        container_accuracy=share(numbers), seal_accuracy=share(seal_hits(truth, pairs)),
        seals_unseen=len(unseen), seal_unseen_unknown=share(unseen),
        plate_accuracy_readable=share(readable(plates, plate_hidden(truth))),
        container_accuracy_readable=share(readable(numbers, number_hidden(truth))),
        plates_hidden=sum(plate_hidden(truth)), containers_hidden=sum(number_hidden(truth)),
        frames=frames, corrupt_frames=undecodable + sum(s.stats.corrupt + s.stats.missing for s in sources),
        wall_s=wall,
        fps=frames / wall if wall > 0 else 0.0, latency_ms=_percentiles(lane.latencies_ms),
        stage_ms=lane.stage_means_ms(), counters={**lane.counters, "replay_dropped": dropped},
        passages=tuple(emitted),
        misses=tuple(passage_misses(truth, pairs)), confidence=confidence_table(truth, pairs))


def match_passages(truth: Sequence[PassageTruth], emitted: Sequence[VehiclePassage],
                   epoch_utc: float) -> dict[int, VehiclePassage]:
    """Truth index → emitted passage, one-to-one, by the largest overlap of media-time spans first."""
    overlaps: list[tuple[float, int, int]] = []
    for i, t in enumerate(truth):
        for j, p in enumerate(emitted):
            start, end = p.first_seen_utc - epoch_utc, p.last_seen_utc - epoch_utc
            overlap = min(t.t_exit, end) - max(t.t_enter, start)
            if overlap >= 0:
                overlaps.append((overlap, i, j))
    pairs: dict[int, VehiclePassage] = {}
    used: set[int] = set()
    for _overlap, i, j in sorted(overlaps, key=lambda o: -o[0]):
        if i not in pairs and j not in used:
            pairs[i] = emitted[j]
            used.add(j)
    return pairs


def _open(recording_dir: str | Path) -> Recording:
    try:
        return Recording.open(recording_dir)
    except (ValueError, OSError) as exc:
        raise SourceError(str(exc)) from None


def merged_frames(sources: list[RecordingSource]) -> Iterator[Frame]:
    """All cameras' frames in media-time order; ties keep the camera order."""
    return heapq.merge(*sources, key=lambda frame: frame.t)


def plate_hits(truth: Sequence[PassageTruth], pairs: dict[int, VehiclePassage]) -> list[bool]:
    """Per truth passage: its matched passage's tractor plate (or unknown-role plate) reads as the truth plate."""
    hits: list[bool] = []
    for i, t in enumerate(truth):
        passage = pairs.get(i)
        plates = {p.role: p.text for p in passage.plates} if passage else {}
        read = plates.get("tractor", plates.get("unknown"))
        hits.append(read is not None and plain(read) == plain(t.tractor_plate.text))
    return hits


def container_hits(truth: Sequence[PassageTruth], pairs: dict[int, VehiclePassage]) -> list[bool]:
    """Per truth container: its number is among its matched passage's container numbers."""
    hits: list[bool] = []
    for i, t in enumerate(truth):
        passage = pairs.get(i)
        read = {c.number for c in passage.containers} if passage else set()
        hits.extend(c.number in read for c in t.containers)
    return hits


def seal_hits(truth: Sequence[PassageTruth], pairs: dict[int, VehiclePassage], *, seen: bool = True) -> list[bool]:
    """Per truth container with doors `seen` (or not): its seal read has the truth state (unseen: `unknown`).

    A seal read of no container (a door whose box's number went unread) is a seen door's: the seen containers not
    named by a read take the unnamed reads in order, and an unseen container takes only what is left of them. An
    unseen container with no read at all is right: nothing was said of doors no camera saw."""
    hits: list[bool] = []
    for i, t in enumerate(truth):
        passage = pairs.get(i)
        seals: Sequence[SealRead] = passage.seals if passage else ()
        by_number = {s.container_number: s for s in seals if s.container_number}
        unlinked = iter([s for s in seals if not s.container_number])
        read = {id(c): by_number.get(c.number) for c in t.containers}
        for container in sorted(t.containers, key=lambda c: not doors_seen(c)):  # seen doors take unnamed reads first
            read[id(container)] = read[id(container)] or next(unlinked, None)
        for container in t.containers:
            if doors_seen(container) == seen:
                seal = read[id(container)]
                want = ("present" if container.seal.present else "absent") if seen else "unknown"
                hits.append(seal.state == want if seal is not None else not seen)
    return hits


def plate_hidden(truth: Sequence[PassageTruth]) -> list[bool]:
    """Per truth passage, as `plate_hits`: its tractor plate is hidden (no single view reads it)."""
    return [t.tractor_plate.hidden for t in truth]


def number_hidden(truth: Sequence[PassageTruth]) -> list[bool]:
    """Per truth container, as `container_hits`: its number is hidden (no single view reads it)."""
    return [c.number_hidden for t in truth for c in t.containers]


def readable(hits: Sequence[bool], hidden: Sequence[bool]) -> list[bool]:
    """The hits of the fields that are not hidden: what a perfect reader could get right."""
    return [hit for hit, gone in zip(hits, hidden, strict=True) if not gone]


def passage_misses(truth: Sequence[PassageTruth], pairs: dict[int, VehiclePassage]) -> list[dict[str, Any]]:
    """Per truth passage that any score counts wrong: which fields, the truth, and what the matched passage read.
    The scores above decide what is wrong; this only lays it out, so a person can see why. `hidden` names the wrong
    fields that occlusion explains: the plate, hidden; the containers, every number missed hidden."""
    plates, numbers, seals = plate_hits(truth, pairs), iter(container_hits(truth, pairs)), iter(seal_hits(truth, pairs))
    misses = []
    for i, t in enumerate(truth):
        passage = pairs.get(i)
        wrong = [] if passage else ["not found"]
        hidden: list[str] = []
        if not plates[i]:
            wrong.append("plate")
            if t.tractor_plate.hidden:
                hidden.append("plate")
        missed = [c for c in t.containers if not next(numbers)]
        if missed:
            wrong.append("container")
            if all(c.number_hidden for c in missed):
                hidden.append("container")
        if not all([next(seals) for c in t.containers if doors_seen(c)]):
            wrong.append("seal")
        if wrong:
            misses.append({
                "passage": t.passage_id, "t_enter": round(t.t_enter, 2), "conditions": list(t.conditions),
                "wrong": wrong, "hidden": hidden, "plate": t.tractor_plate.text,
                "plates_read": [p.text for p in passage.plates] if passage else [],
                "containers": [c.number for c in t.containers],
                "containers_read": [c.number for c in passage.containers] if passage else [],
                "seals": ["present" if c.seal.present else "absent" for c in t.containers if doors_seen(c)],
                "seals_read": [s.state for s in passage.seals] if passage else [],
            })
    return misses


def _wrong_fields(miss: dict[str, Any]) -> str:
    """A miss's wrong fields for a person, those no reader could read marked."""
    return ", ".join(f"{field} (hidden)" if field in miss.get("hidden", ()) else field for field in miss["wrong"])


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def confidence_table(truth: Sequence[PassageTruth], pairs: dict[int, VehiclePassage],
                     thresholds: Sequence[float] = THRESHOLDS) -> dict[str, dict[str, list[int]]]:
    """How the fused confidence separates right reads from wrong ones: per field (tractor plate, container number,
    seal state of a visible door) and threshold, the right and the wrong reads at or above it."""
    reads: dict[str, list[tuple[float, bool]]] = {"plate": [], "container": [], "seal": []}
    for i, t in enumerate(truth):
        passage = pairs.get(i)
        if passage is None:
            continue
        reads["plate"] += [(p.confidence, plain(p.text) == plain(t.tractor_plate.text))
                           for p in passage.plates if p.role in ("tractor", "unknown")]
        numbers = {c.number for c in t.containers}
        reads["container"] += [(c.confidence, c.number in numbers) for c in passage.containers]
        states = {c.number: "present" if c.seal.present else "absent" for c in t.containers if doors_seen(c)}
        reads["seal"] += [(s.confidence, s.state == states[s.container_number]) for s in passage.seals
                          if s.container_number in states and s.state != "unknown"]
    return {field: {f"{t:.2f}": [sum(c >= t and ok for c, ok in rows), sum(c >= t and not ok for c, ok in rows)]
                    for t in thresholds} for field, rows in reads.items()}


def doors_seen(container: ContainerTruth) -> bool:
    """The rear of a truck shows the doors of its single or rear box; the front box's doors face the rear box."""
    return container.position != "front"


def share(hits: list[bool]) -> float:
    """The fraction of hits, rounded for reports; 0 when there is nothing to score."""
    return round(sum(hits) / len(hits), 4) if hits else 0.0


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    p50, p99 = np.percentile(np.asarray(values), [50, 99])
    return {"p50": round(float(p50), 2), "p99": round(float(p99), 2)}


def _dropped(count: int) -> str:
    return f", {count} dropped on purpose" if count else ""


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"

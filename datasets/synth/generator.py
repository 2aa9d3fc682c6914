"""The generator's main loop: plan the passages, render them in worker processes, write the recording.

Each passage's sprites are drawn once, then every frame only warps them into each camera's cached background and
applies cheap effects. Frames with no truck reuse one JPEG per camera and ambient. Work is split by passage, each
rendered with seeds derived from (seed, passage, camera, frame), so the output is the same whatever the number of
workers; the main process writes everything in frame order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from datasets.recording import CameraMeta, ObjectTruth, Recording, RecordingMeta, RecordingWriter, View
from datasets.synth.background import render_background
from datasets.synth.cameras import VIEWS, Camera, lane_camera
from datasets.synth.conditions import TEXT_CLASSES, FrameEffects, NoiseBank, add_light_glows, motion_blur
from datasets.synth.render import Pose, render_view, visible_faces
from datasets.synth.scenario import PlannedPassage, TextId, plan, with_hidden
from datasets.synth.sprites import Sprite
from datasets.synth.truck import build_face, face_frames

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
#: 2026-09-01 00:00 UTC, the start of the pilot; recordings are dated from it unless told otherwise.
DEFAULT_START_UTC = 1_788_220_800.0
DEFAULT_CAMERAS: tuple[str, ...] = ("front", "rear", "side_left", "top")
DEMO_DURATION_S, DEMO_TRUCKS_PER_HOUR, DEMO_SEED, DEMO_LANE = 90.0, 240.0, 2026, "in-1"
BASE_JPEG_QUALITY = 85
Ambient = tuple[bool, bool]  # (night, wet)


class GeneratorError(ValueError):
    """Generator settings that cannot produce a recording."""


@dataclass(frozen=True)
class Settings:
    lane_id: str
    direction: Literal["in", "out"]
    duration_s: float
    fps: float
    trucks_per_hour: float
    seed: int
    cameras: tuple[str, ...]
    size: tuple[int, int]
    mismatch_share: float
    storage: Literal["frames", "video"]
    conditions_share: float
    start_utc: float

    @property
    def frame_count(self) -> int:
        return int(np.floor(self.duration_s * self.fps + 1e-9))


@dataclass
class _Lane:
    """What each process needs to render frames: cameras, backgrounds per ambient, noise."""

    settings: Settings
    passages: list[PlannedPassage]
    cameras: list[Camera]
    noise: NoiseBank
    backgrounds: dict[tuple[int, Ambient], np.ndarray] = field(default_factory=dict)
    idle_jpegs: dict[tuple[int, Ambient], bytes] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, passages: list[PlannedPassage]) -> _Lane:
        cameras = [lane_camera(name, _view(name), settings.size, np.random.default_rng([settings.seed, 11, i]))
                   for i, name in enumerate(settings.cameras)]
        return cls(settings, passages, cameras, NoiseBank(settings.size, settings.seed + 5))

    def background(self, cam: int, ambient: Ambient) -> np.ndarray:
        key = (cam, ambient)
        image = self.backgrounds.get(key)
        if image is None:
            image = render_background(self.cameras[cam], self.settings.seed, night=ambient[0], wet=ambient[1])
            self.backgrounds[key] = image
        return image

    def idle_jpeg(self, cam: int, ambient: Ambient) -> bytes:
        key = (cam, ambient)
        data = self.idle_jpegs.get(key)
        if data is None:
            frame = self.background(cam, ambient).copy()
            self.noise.add(frame, 7.0 if ambient[0] else 2.5, np.random.default_rng([self.settings.seed, cam, 99]))
            data = _encode(frame, BASE_JPEG_QUALITY)
            self.idle_jpegs[key] = data
        return data


FrameOut = tuple[int, list[tuple[str, bytes, list[ObjectTruth]]]]


def _view(name: str) -> View:
    for view in VIEWS:
        if name == view:
            return view
    raise GeneratorError(f"unknown camera view {name!r}; expected some of {', '.join(VIEWS)}")


def _encode(frame: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise GeneratorError("a frame could not be JPEG-encoded")
    return bytes(buffer.tobytes())


def ambient_of(passage: PlannedPassage) -> Ambient:
    conditions = passage.spec.conditions
    return ("night" in conditions, "rain" in conditions)


def frame_range(passage: PlannedPassage, fps: float, frame_count: int) -> range:
    """Frames whose time lies within the passage."""
    first = int(np.ceil(passage.t_enter * fps - 1e-9))
    last = int(np.floor(passage.t_exit * fps + 1e-9))
    return range(max(0, first), min(frame_count, last + 1))


def render_passage(lane: _Lane, passage: PlannedPassage) -> list[FrameOut]:
    """Every camera frame of one passage: sprites drawn once (lazily, per face actually seen), then warped."""
    spec = passage.spec
    sprites: dict[str, Sprite] = {}

    def sprite(name: str) -> Sprite:
        if name not in sprites:
            sprites[name] = build_face(spec, name)
        return sprites[name]

    settings = lane.settings
    frames = face_frames(spec)
    ambient = ambient_of(passage)
    effects = [FrameEffects.build(spec.conditions, settings.size,
                                  np.random.default_rng([settings.seed, passage.index, cam, 1]), BASE_JPEG_QUALITY)
               for cam in range(len(lane.cameras))]
    passage_id = passage.truth.passage_id
    out: list[FrameOut] = []
    for index in frame_range(passage, settings.fps, settings.frame_count):
        t = index / settings.fps - passage.t_enter
        pose = Pose(passage.motion.at(t), spec.lateral_m, spec.yaw_rad)
        views = []
        for cam, camera in enumerate(lane.cameras):
            frame = lane.background(cam, ambient).copy()
            faces = visible_faces(camera, pose, frames)
            result = render_view(frame, camera, pose, faces, sprite, passage_id)
            effect = effects[cam]
            if result.vehicle_box is not None:
                ahead = Pose(passage.motion.at(t + 0.05), spec.lateral_m, spec.yaw_rad)
                centre = np.array([[-spec.length_m / 2, 0.0, spec.height_m / 2]])
                now_px, _ = camera.project(pose.to_world(centre))
                next_px, _ = camera.project(ahead.to_world(centre))
                motion_blur(frame, result.vehicle_box, (next_px[0] - now_px[0]) / 0.05, effect.blur_exposure_s)
            if effect.night and result.lights:
                lights = np.array([[x, y] for x, y, _, _ in result.lights])
                add_light_glows(frame, lights, np.array([r for _, _, r, _ in result.lights]),
                                [c for _, _, _, c in result.lights])
            effect.apply(frame, index, lane.noise, np.random.default_rng([settings.seed, passage.index, cam, index]))
            views.append((camera.name, _encode(frame, effect.quality), result.objects))
        out.append((index, views))
    return out


# --- worker processes -----------------------------------------------------------------------------------------

_WORKER: _Lane | None = None


def _init_worker(settings: Settings, passages: list[PlannedPassage]) -> None:
    global _WORKER
    cv2.setNumThreads(1)
    _WORKER = _Lane.build(settings, passages)


def _work(index: int) -> list[FrameOut]:
    if _WORKER is None:
        raise RuntimeError("worker used before its initialiser ran")
    return render_passage(_WORKER, _WORKER.passages[index])


def _rendered(lane: _Lane, workers: int) -> Iterator[list[FrameOut]]:
    """Rendered passages in order, from a process pool or in this process."""
    settings, passages = lane.settings, lane.passages
    if workers <= 1 or len(passages) < 2:
        for passage in passages:
            yield render_passage(lane, passage)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(settings, passages)) as pool:
        yield from pool.imap(_work, range(len(passages)), chunksize=1)


# --- the public entry points ----------------------------------------------------------------------------------

def generate(out_dir: str | Path, *, lane_id: str = "in-1", direction: Literal["in", "out"] = "in",
             duration_s: float = 60.0, fps: float = 4.0, trucks_per_hour: float = 150, seed: int = 0,
             cameras: Sequence[str] = DEFAULT_CAMERAS, size: tuple[int, int] = (960, 540),
             mismatch_share: float = 0.2, storage: Literal["frames", "video"] = "frames",
             conditions_share: float = 0.5, start_utc: float = DEFAULT_START_UTC,
             workers: int | None = None, name: str | None = None) -> RecordingMeta:
    """Render a synthetic recording of one gate lane into out_dir; the same seed gives the same files.

    `workers` processes render passages in parallel (default: the CPU count, up to 4); `name` defaults to the
    directory's name.
    """
    settings = _settings(lane_id, direction, duration_s, fps, trucks_per_hour, seed, cameras, size, mismatch_share,
                         storage, conditions_share, start_utc)
    passages = plan(duration_s=settings.duration_s, trucks_per_hour=settings.trucks_per_hour, seed=seed,
                    lane_id=lane_id, direction=direction, mismatch_share=mismatch_share,
                    conditions_share=conditions_share, start_utc=start_utc)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(passages) >= 3 else 1
    root = Path(out_dir)
    meta = _meta(name or root.name or "synthetic", settings, passages)
    started = time.monotonic()
    with RecordingWriter(root, meta, jpeg_quality=BASE_JPEG_QUALITY) as writer:
        for passage in passages:
            if passage.declaration is not None:
                writer.add_declaration(passage.declaration)
        shown = _write_frames(writer, settings, passages, max(1, workers))
        for passage in passages:
            writer.add_passage(with_hidden(passage.truth, shown.get(passage.truth.passage_id, set())))
    log.info("generated %s: %d frames x %d cameras, %d passages in %.1f s", root, settings.frame_count,
             len(settings.cameras), len(passages), time.monotonic() - started)
    return meta


def _write_frames(writer: RecordingWriter, settings: Settings, passages: list[PlannedPassage],
                  workers: int) -> dict[str, set[TextId]]:
    """Write every frame in order; return, per passage, the plates and numbers some frame shows whole and uncovered
    (what `with_hidden` needs)."""
    shown: dict[str, set[TextId]] = {}
    lane = _Lane.build(settings, passages)
    rendered = _rendered(lane, workers)
    ambient: Ambient = (False, False)
    upcoming = iter(passages)
    current = next(upcoming, None)
    index = 0
    while index < settings.frame_count:
        span = frame_range(current, settings.fps, settings.frame_count) if current is not None else range(0)
        if current is not None and index >= span.start and len(span):
            for frame_index, views in next(rendered):
                t = frame_index / settings.fps
                for camera, data, objects in views:
                    writer.write_encoded_frame(camera, frame_index, t, data, objects)
                    for passage_id, text in _whole_texts(objects):
                        shown.setdefault(passage_id, set()).add(text)
            ambient = ambient_of(current)
            index = span.stop
            current = next(upcoming, None)
            continue
        if current is not None and not len(span):
            next(rendered)
            current = next(upcoming, None)
            continue
        for cam, view_camera in enumerate(lane.cameras):
            writer.write_encoded_frame(view_camera.name, index, index / settings.fps, lane.idle_jpeg(cam, ambient),
                                       [])
        index += 1
    return shown


def _whole_texts(objects: Sequence[ObjectTruth]) -> Iterator[tuple[str, TextId]]:
    """(passage, text) of each plate and number a frame shows whole (not cut by the frame's edge) and uncovered."""
    for o in objects:
        if (o.cls in TEXT_CLASSES and o.text and o.passage_id and not o.attrs.get("occluded")
                and not o.attrs.get("truncated")):
            yield o.passage_id, (o.cls, str(o.attrs.get("role", "")), o.text)


def _settings(lane_id: str, direction: str, duration_s: float, fps: float, trucks_per_hour: float, seed: int,
              cameras: Sequence[str], size: tuple[int, int], mismatch_share: float, storage: str,
              conditions_share: float, start_utc: float) -> Settings:
    problems = []
    if direction not in ("in", "out"):
        problems.append(f"direction must be 'in' or 'out', got {direction!r}")
    if not 0 <= duration_s <= 7 * 24 * 3600:
        problems.append(f"duration must be 0 to 604800 s, got {duration_s}")
    if not 0 < fps <= 60:
        problems.append(f"fps must be in (0, 60], got {fps}")
    if not 0 <= trucks_per_hour <= 3600:
        problems.append(f"trucks per hour must be 0 to 3600, got {trucks_per_hour}")
    if not cameras or len(set(cameras)) != len(cameras):
        problems.append(f"cameras must be distinct and at least one, got {list(cameras)}")
    if len(size) != 2 or not (64 <= size[0] <= 4096 and 64 <= size[1] <= 4096):
        problems.append(f"size must be two numbers 64..4096, got {size}")
    for name, share in (("mismatch share", mismatch_share), ("conditions share", conditions_share)):
        if not 0 <= share <= 1:
            problems.append(f"{name} must be 0 to 1, got {share}")
    if storage not in ("frames", "video"):
        problems.append(f"storage must be 'frames' or 'video', got {storage!r}")
    if problems:
        raise GeneratorError("; ".join(problems))
    for name in cameras:
        _view(name)
    return Settings(lane_id=lane_id, direction="in" if direction == "in" else "out", duration_s=float(duration_s),
                    fps=float(fps), trucks_per_hour=float(trucks_per_hour), seed=int(seed), cameras=tuple(cameras),
                    size=(int(size[0]), int(size[1])), mismatch_share=float(mismatch_share),
                    storage="video" if storage == "video" else "frames", conditions_share=float(conditions_share),
                    start_utc=float(start_utc))


def _meta(name: str, settings: Settings, passages: list[PlannedPassage]) -> RecordingMeta:
    width, height = settings.size
    cams = {name: CameraMeta(view=_view(name), width=width, height=height, storage=settings.storage)
            for name in settings.cameras}
    return RecordingMeta(
        name=name, lane_id=settings.lane_id, direction=settings.direction, fps=settings.fps,
        duration_s=settings.frame_count / settings.fps, cameras=cams, seed=settings.seed, created_utc=time.time(),
        generator={"name": "smartgate-synth", "version": GENERATOR_VERSION, "trucks_per_hour": settings.trucks_per_hour,
                   "mismatch_share": settings.mismatch_share, "conditions_share": settings.conditions_share,
                   "start_utc": settings.start_utc, "passages": len(passages), "frames": settings.frame_count},
    )


def rendered(target: str | Path, *, seed: int, duration_s: float, fps: float, trucks_per_hour: float,
             size: tuple[int, int], lane_id: str = "in-1", direction: Literal["in", "out"] = "in") -> Path:
    """The recording at `target` rendered with these settings: reused when it is one (a rerun into the same folder),
    rendered again when it is missing, broken or was rendered with other settings. One process (no pool: training
    renders its seeds in parallel processes already)."""
    root = Path(target)
    try:
        meta = Recording.open(root).meta
        same = (meta.seed == seed and meta.fps == fps and meta.duration_s == duration_s
                and {(c.width, c.height) for c in meta.cameras.values()} == {size}
                and meta.generator.get("trucks_per_hour") == trucks_per_hour)
    except (OSError, ValueError):
        same = False
    if not same:
        shutil.rmtree(root, ignore_errors=True)
        generate(root, seed=seed, duration_s=duration_s, fps=fps, trucks_per_hour=trucks_per_hour, size=size,
                 workers=1, lane_id=lane_id, direction=direction)
    return root


def ensure_demo_recording(path: str | Path, *, lane_id: str = DEMO_LANE, direction: Literal["in", "out"] = "in",
                          seed: int = DEMO_SEED) -> Path:
    """The small default recording (90 s of one lane, a handful of trucks) at `path`, generated if missing."""
    root = Path(path)
    if (root / "recording.json").is_file():
        return root
    if root.exists() and any(root.iterdir()):
        raise GeneratorError(f"{root} exists, is not empty and holds no recording.json; not overwriting it")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    generate(staging, lane_id=lane_id, direction=direction, duration_s=DEMO_DURATION_S, fps=4.0,
             trucks_per_hour=DEMO_TRUCKS_PER_HOUR, seed=seed, name=root.name)
    try:
        if root.exists():
            root.rmdir()
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (root / "recording.json").is_file():
            raise
    return root

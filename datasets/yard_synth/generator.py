"""Writing a synthetic yard recording: simulate, survey and calibrate, render every camera, write truth.

One process does it all in frame order (about 40 ms per camera frame), so the output depends only on the seed and
the options. The recording's metadata is written last, atomically: a generation that fails half-way leaves no
directory that opens as a valid recording.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import cv2
import msgspec
import numpy as np

from calibration.errors import CalibrationError
from datasets.yard_synth.cameras import IMAGE_SIZE, YardCamera, yard_cameras
from datasets.yard_synth.recording import (
    BACKGROUND_FILE,
    FORMAT_NAME,
    META_FILE,
    TRUTH_FILE,
    YardCameraMeta,
    YardRecordingMeta,
)
from datasets.yard_synth.render import FrameNoise, Lighting, background, draw_objects, ground_texture
from datasets.yard_synth.scenario import ScenarioSettings, YardScenario
from datasets.yard_synth.scene import YardObject
from datasets.yard_synth.survey import calibrate_cameras
from datasets.yard_synth.truth import TruthIndex
from yard.layout import LayoutError, YardLayout, load_layout

log = logging.getLogger(__name__)

GENERATOR_NAME = "smartgate-yard-synth"
GENERATOR_VERSION = 1
DEFAULT_LAYOUT = Path(__file__).resolve().parents[2] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"
#: 2026-09-01 00:00 UTC, as the gate footage generator.
DEFAULT_START_UTC = 1_788_220_800.0
JPEG_QUALITY = 85
MAX_DURATION_S = 3600.0
MAX_FPS = 30.0
_OWNED = (META_FILE, TRUTH_FILE, "layout.yaml", "cameras", "calibration")


class YardGeneratorError(ValueError):
    """Options or inputs that cannot produce a yard recording."""


def write_yard_recording(out_dir: str | Path, seed: int, duration_s: float, fps: float, *,
                         layout_path: str | Path = DEFAULT_LAYOUT, size: tuple[int, int] = IMAGE_SIZE,
                         settings: ScenarioSettings | None = None,
                         start_utc: float = DEFAULT_START_UTC) -> Path:
    """Generate a yard recording into `out_dir` (replacing a previous yard recording there) and return its path."""
    _check_options(duration_s, fps, size)
    try:
        layout = load_layout(Path(layout_path))
    except LayoutError as exc:
        raise YardGeneratorError(str(exc)) from None
    root = _prepare(Path(out_dir))
    shutil.copyfile(layout_path, root / "layout.yaml")
    cameras = yard_cameras(layout, seed, size)
    try:
        calibrate_cameras(cameras, layout, root / "calibration", seed, start_utc)
    except CalibrationError as exc:
        raise YardGeneratorError(f"could not calibrate the cameras over this layout: {exc}") from None
    frames = int(np.floor(duration_s * fps + 1e-9))
    _render(root, layout=layout, cameras=cameras, seed=seed, fps=fps, frames=frames,
            settings=settings or ScenarioSettings())
    meta = YardRecordingMeta(
        name=f"yard-seed{seed}", fps=fps, duration_s=frames / fps, frames=frames,
        cameras={c.name: YardCameraMeta(view=c.view, width=c.size[0], height=c.size[1]) for c in cameras},
        layout="layout.yaml", seed=seed, created_utc=start_utc,
        generator={"name": GENERATOR_NAME, "version": GENERATOR_VERSION, "layout_source": Path(layout_path).name})
    tmp = root / (META_FILE + ".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(meta), indent=2) + b"\n")
    tmp.replace(root / META_FILE)
    return root


def _check_options(duration_s: float, fps: float, size: tuple[int, int]) -> None:
    if not 0 < duration_s <= MAX_DURATION_S:
        raise YardGeneratorError(f"duration must be in (0, {MAX_DURATION_S:g}] s, got {duration_s}")
    if not 0 < fps <= MAX_FPS:
        raise YardGeneratorError(f"fps must be in (0, {MAX_FPS:g}], got {fps}")
    if not (64 <= size[0] <= 4096 and 64 <= size[1] <= 4096):
        raise YardGeneratorError(f"frame size must be 64..4096 px each way, got {size[0]}x{size[1]}")


def _prepare(root: Path) -> Path:
    """An empty output directory, or one holding an earlier yard recording whose files are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    entries = {entry.name for entry in root.iterdir()}
    if entries and META_FILE not in entries:
        raise YardGeneratorError(f"{root} is not empty and holds no yard recording; refusing to write into it")
    for name in _OWNED:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    return root


def _render(root: Path, *, layout: YardLayout, cameras: list[YardCamera], seed: int, fps: float, frames: int,
            settings: ScenarioSettings) -> None:
    texture, scale = ground_texture(layout, seed)
    backgrounds = [background(camera, texture, scale) for camera in cameras]
    lighting = Lighting.draw(np.random.default_rng([seed, 61]))
    noise = FrameNoise(cameras[0].size, seed)
    rng = np.random.default_rng([seed, 71])
    scenario = YardScenario(layout, seed, settings)
    index = TruthIndex(layout)
    for i, (camera, empty) in enumerate(zip(cameras, backgrounds, strict=True)):
        folder = root / "cameras" / camera.name
        folder.mkdir(parents=True, exist_ok=True)
        quiet = noise.apply(empty, 0.0, np.random.default_rng([seed, 72, i]))
        _write_jpeg(folder / BACKGROUND_FILE, quiet)
    encoder = msgspec.json.Encoder()
    stack_version = -1
    stacked: list[YardObject] = []
    static: list[np.ndarray] = []
    with (root / TRUTH_FILE).open("wb") as truth_file:
        for frame in range(frames):
            if frame:
                scenario.advance(1.0 / fps)
            if scenario.stack_version != stack_version:
                stacked, stack_version = scenario.stacked_objects(), scenario.stack_version
                static = [_draw(empty, camera, stacked, lighting) for camera, empty in zip(cameras, backgrounds,
                                                                                        strict=True)]
            vehicles = scenario.vehicles()
            t = frame / fps
            for camera, still in zip(cameras, static, strict=True):
                image = _draw(still, camera, vehicles, lighting)
                image = noise.apply(image, t, rng)
                _write_jpeg(root / "cameras" / camera.name / f"{frame:06d}.jpg", image)
            truth_file.write(encoder.encode(index.truth(frame, t, stacked + vehicles)) + b"\n")
            truth_file.flush()


def _draw(base: np.ndarray, camera: YardCamera, objects: list[YardObject], lighting: Lighting) -> np.ndarray:
    """`base` with `objects` drawn over it (stacked containers are drawn once per stack change, vehicles over
    them every frame: vehicles never stand under a stack, so the painter's order holds)."""
    image = base.copy()
    draw_objects(image, camera, objects, lighting)
    return image


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise YardGeneratorError(f"{path}: the frame could not be JPEG-encoded")
    path.write_bytes(jpeg.tobytes())


def run_generate_yard(out: Path, seed: int, duration_s: float, fps: float) -> int:
    """`smartgate generate-yard`: write a yard recording and print a one-line JSON summary; 2 on bad options."""
    started = time.monotonic()
    try:
        root = write_yard_recording(out, seed, duration_s, fps)
    except (YardGeneratorError, OSError) as exc:
        print(f"smartgate generate-yard: {exc}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    frames = int(np.floor(duration_s * fps + 1e-9))
    summary = {"format": FORMAT_NAME, "out": str(root), "frames": frames, "cameras": 2, "seconds": round(seconds, 2)}
    print(json.dumps(summary))
    return 0

"""The benchmark's lane recording: 1280×720 synthetic footage of one lane, rendered once and cached.

Seed 9315 is used by no training recipe (detector seeds 1–64 and 9001–9004, seal seeds 11–15 and 101), and
1280×720 is not the size the detector was trained at (960×540). In 36 s it holds two trucks, both entering and
leaving inside the recording, with four containers between them. The recording is cached under `var/bench/`
(ignored by git) and rendered again when it is missing, incomplete, or was made by another generator version or
with other settings.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from datasets.recording import Recording, RecordingError
from datasets.synth.generator import GENERATOR_VERSION, generate

log = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"


@dataclass(frozen=True)
class LaneRecordingSpec:
    seed: int = 9315
    duration_s: float = 36.0
    fps: float = 4.0
    trucks_per_hour: float = 900.0
    size: tuple[int, int] = (1280, 720)
    lane_id: str = "in-1"

    @property
    def frames(self) -> int:
        """Frames per camera."""
        return int(self.duration_s * self.fps + 1e-9)

    @property
    def name(self) -> str:
        width, height = self.size
        return f"lane-s{self.seed}-{width}x{height}-{self.duration_s:g}s-{self.fps:g}fps-g{GENERATOR_VERSION}"


BENCH_LANE = LaneRecordingSpec()


def lane_recording(spec: LaneRecordingSpec = BENCH_LANE, cache_dir: Path = CACHE_DIR) -> Path:
    """The recording's directory, rendered first if the cache does not hold a current one."""
    root = cache_dir / spec.name
    if _is_current(root, spec):
        return root
    log.info("rendering the benchmark recording %s", root)
    staging = cache_dir / f".{spec.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    generate(staging, lane_id=spec.lane_id, direction="in", duration_s=spec.duration_s, fps=spec.fps,
             trucks_per_hour=spec.trucks_per_hour, seed=spec.seed, size=spec.size, workers=2, name=spec.name)
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)  # the cached name appears only once the recording is whole
    return root


def _is_current(root: Path, spec: LaneRecordingSpec) -> bool:
    """True when `root` holds a whole recording rendered by this generator version with these settings."""
    try:
        meta = Recording.open(root).meta
    except (RecordingError, OSError, ValueError):
        return False
    frames = spec.frames
    return (meta.seed == spec.seed and meta.generator.get("version") == GENERATOR_VERSION
            and meta.generator.get("frames") == frames and meta.fps == spec.fps
            and all((cam.width, cam.height) == spec.size for cam in meta.cameras.values())
            and all(len(list((root / "cameras" / name).glob("*.jpg"))) == frames for name in meta.cameras))

"""Frame decoding rate at 960x540: a recording stored as JPEG frames against one stored as an MJPG video.

Each round reads a whole 30-frame clip through its source and decodes every frame (open, read, validate, decode,
close; a recording hands its frames over encoded and `Frame.image` decodes them), so the figure is what a lane
pipeline that looks at every frame gets; `frames_per_s` is the clip length over the median round.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.recording import CameraMeta, RecordingMeta, RecordingWriter
from datasets.sources import RecordingSource, VideoFileSource

W, H, COUNT, FPS = 960, 540, 30, 25.0


def gate_scene(index: int, rng: np.random.Generator) -> np.ndarray:
    """A lane-like frame (sky-to-road gradient, a moving box truck, a plate, sensor noise): JPEG sizes as in life."""
    rows = np.linspace(170, 60, H).astype(np.uint8)[:, None, None]
    image = np.ascontiguousarray(np.broadcast_to(rows, (H, W, 3)))
    x = 40 + index * 25
    cv2.rectangle(image, (x, 150), (x + 420, 430), (40, 60, 150), -1)
    cv2.rectangle(image, (x + 430, 240), (x + 560, 430), (200, 200, 200), -1)
    cv2.putText(image, "51C-123.45", (x + 440, 420), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (10, 10, 10), 2)
    noisy = image.astype(np.int16) + rng.normal(0, 4, image.shape).astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench-sources")
    rng = np.random.default_rng(1)
    frames = [gate_scene(i, rng) for i in range(COUNT)]
    meta = RecordingMeta(name="bench", lane_id="L1", direction="in", fps=FPS, duration_s=COUNT / FPS,
                         cameras={"front": CameraMeta(view="front", width=W, height=H, storage="frames")})
    with RecordingWriter(root / "recording", meta) as writer:
        for i, image in enumerate(frames):
            writer.write_frame("front", i, i / FPS, image, [])
    video = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    for image in frames:
        video.write(image)
    video.release()
    return {"recording": root / "recording", "video": root / "clip.avi"}


def _record_rate(benchmark, count: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["frames_per_s"] = count / stats.stats.median


@pytest.mark.benchmark(group="sources-decode-960x540")
def test_decode_recording_frames(benchmark, clips: dict[str, Path]) -> None:
    def read_all() -> int:
        with RecordingSource(clips["recording"], "front") as source:
            return sum(frame.image is not None for frame in source)

    assert benchmark.pedantic(read_all, rounds=5, warmup_rounds=1) == COUNT
    _record_rate(benchmark, COUNT)


@pytest.mark.benchmark(group="sources-decode-960x540")
def test_decode_mjpg_video(benchmark, clips: dict[str, Path]) -> None:
    def read_all() -> int:
        with VideoFileSource(clips["video"], "front") as source:
            return sum(frame.image is not None for frame in source)

    assert benchmark.pedantic(read_all, rounds=5, warmup_rounds=1) == COUNT
    _record_rate(benchmark, COUNT)

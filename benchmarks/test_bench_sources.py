"""Frame decoding rate at 960x540: a recording stored as JPEG frames against one stored as an MJPG video; and a live
HTTP MJPEG camera at 1280x720, its frames handed over encoded against each one decoded.

Each file round reads a whole 30-frame clip through its source and decodes every frame (open, read, validate,
decode, close; a recording hands its frames over encoded and `Frame.image` decodes them), so the figure is what a
lane pipeline that looks at every frame gets; `frames_per_s` is the clip length over the median round. The stream
rounds take 30 frames each from one open connection to a local camera that sends as fast as it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets import stream
from datasets.recording import CameraMeta, RecordingMeta, RecordingWriter
from datasets.sources import RecordingSource, VideoFileSource
from tests.mjpeg_camera import MjpegCamera

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


STREAM_W, STREAM_H, STREAM_ROUND = 1280, 720, 30


@pytest.fixture(scope="module")
def live_camera() -> Iterator[MjpegCamera]:
    """A local HTTP MJPEG camera sending 1280x720 gate scenes as fast as they are read."""
    rng = np.random.default_rng(2)
    scenes = [cv2.resize(gate_scene(i, rng), (STREAM_W, STREAM_H)) for i in range(COUNT)]
    jpegs = [cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for image in scenes]
    camera = MjpegCamera(fps=None, picture=lambda n: jpegs[n % len(jpegs)])
    camera.start()
    yield camera
    camera.stop()


def _read_stream(benchmark, camera: MjpegCamera, *, decode: bool) -> None:
    """Rounds of 30 frames from one open stream; `decode`: look at every frame's pixels, as the source did before
    it handed MJPEG frames over encoded (FFmpeg decoded each one)."""
    with stream.StreamSource(camera.url, "front") as source:
        frames = iter(source)

        def take() -> int:
            batch = [next(frames) for _ in range(STREAM_ROUND)]
            return sum(frame.ok and (not decode or frame.image is not None) for frame in batch)

        assert benchmark.pedantic(take, rounds=5, warmup_rounds=1) == STREAM_ROUND
    _record_rate(benchmark, STREAM_ROUND)


@pytest.mark.benchmark(group="sources-stream-1280x720")
def test_stream_frames_handed_over_encoded(benchmark, live_camera: MjpegCamera) -> None:
    _read_stream(benchmark, live_camera, decode=False)


@pytest.mark.benchmark(group="sources-stream-1280x720")
def test_stream_frames_decoded_each(benchmark, live_camera: MjpegCamera) -> None:
    _read_stream(benchmark, live_camera, decode=True)


@pytest.mark.benchmark(group="sources-stream-1280x720")
def test_stream_frames_decoded_by_ffmpeg_as_before(benchmark, live_camera: MjpegCamera,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The source as it was: the capture not switched to raw packets, so FFmpeg decodes every frame."""
    monkeypatch.setattr(stream, "_MJPEG", -1)
    _read_stream(benchmark, live_camera, decode=False)

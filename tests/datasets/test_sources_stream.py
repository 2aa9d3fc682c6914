"""StreamSource against a real HTTP MJPEG camera served from a thread: drops, stalls, restarts and give-ups."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from datasets.sources import Frame, SourceError, open_source
from datasets.stream import Backoff, StreamSource, redact_url
from tests.mjpeg_camera import MjpegCamera


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    cam = MjpegCamera()
    cam.start()
    yield cam
    cam.stop()


def fast_source(url: str, *, open_timeout_s: float = 2.0, read_timeout_s: float = 1.0, backoff_base_s: float = 0.05,
                backoff_max_s: float = 0.2, give_up_after_s: float = 10.0) -> StreamSource:
    """Short timeouts and backoff, so that every test is bounded to a few seconds."""
    return StreamSource(url, "gate-in", open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s,
                        backoff_base_s=backoff_base_s, backoff_max_s=backoff_max_s, give_up_after_s=give_up_after_s)


def check_counts(source: StreamSource, frames: list[Frame]) -> None:
    """Every yielded frame is counted once, and indices never repeat."""
    stats = source.stats
    assert stats.frames + stats.corrupt + stats.missing == len(frames)
    assert stats.frames == sum(f.ok for f in frames)
    assert [f.index for f in frames] == sorted({f.index for f in frames})


def test_reads_frames_from_an_http_mjpeg_camera(camera: MjpegCamera) -> None:
    with fast_source(camera.url) as source:
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == 10:
                break
    assert all(f.ok for f in frames)
    assert all(f.image is not None and f.image.shape == (48, 64, 3) for f in frames)
    assert all(f.camera == "gate-in" and f.error is None for f in frames)
    assert [f.t for f in frames] == sorted(f.t for f in frames)
    assert abs(frames[0].ts_utc - time.time()) < 10
    check_counts(source, frames)


def test_an_mjpeg_camera_s_frames_come_encoded_and_are_decoded_on_first_use(camera: MjpegCamera) -> None:
    """The pipeline never looks at most frames' pixels: a JPEG stream's frames are not decoded in the source."""
    with fast_source(camera.url) as source:
        frames = [frame for _, frame in zip(range(5), source, strict=False)]
    assert all(f.ok and f.encoded is not None and f.encoded.startswith(b"\xff\xd8") for f in frames)
    assert all("encoded" in repr(f) for f in frames)
    shades = [int(f.image.mean()) for f in frames if f.image is not None]
    assert len(shades) == 5
    assert shades == sorted(shades)
    assert all("decoded" in repr(f) for f in frames)


def test_broken_and_oversized_jpeg_frames_are_counted_and_the_stream_goes_on(camera: MjpegCamera) -> None:
    camera.cut_every = 3
    with fast_source(camera.url) as source:
        frames = [frame for _, frame in zip(range(12), source, strict=False)]
    broken = [f for f in frames if not f.ok]
    assert len(broken) == 4
    assert all("truncated JPEG" in (f.error or "") for f in broken)
    assert source.stats.corrupt == 4
    assert source.stats.reconnects == 0
    assert all(f.image is not None for f in frames if f.ok)
    check_counts(source, frames)
    camera.cut_every = 0
    small = StreamSource(camera.url, "gate-in", read_timeout_s=1.0, max_pixels=48 * 64 - 1)
    with small:
        frames = [frame for _, frame in zip(range(3), small, strict=False)]
    assert all(not f.ok and "larger than the 3071-pixel limit" in (f.error or "") for f in frames)
    assert small.stats.corrupt == 3


def test_reconnects_when_the_camera_restarts(camera: MjpegCamera) -> None:
    source = fast_source(camera.url)
    frames: list[Frame] = []
    good_before = good_after = 0
    stopped = restarted = False
    deadline = time.monotonic() + 20
    for frame in source:
        frames.append(frame)
        if frame.ok and not restarted:
            good_before += 1
            if good_before == 5 and not stopped:
                camera.stop()
                stopped = True
        elif frame.ok:
            good_after += 1
        elif sum(not f.ok for f in frames) >= 2 and not restarted:  # the drop, then a refused reconnect
            camera.start()
            restarted = True
        if good_after >= 5 or time.monotonic() > deadline:
            break
    source.close()
    assert good_after >= 5, f"no frames after the restart: {source.stats}"
    assert source.stats.reconnects >= 1
    errors = [f.error or "" for f in frames if not f.ok]
    assert any("stream dropped" in e for e in errors)
    assert any("cannot open stream" in e and "retrying in" in e for e in errors)
    check_counts(source, frames)


def test_reconnects_after_a_stall_times_out(camera: MjpegCamera) -> None:
    source = fast_source(camera.url, read_timeout_s=0.4)
    frames: list[Frame] = []
    start = time.monotonic()
    for frame in source:
        frames.append(frame)
        if len(frames) == 3:
            camera.stalled.set()  # connection open, no data: only the read timeout can notice
        if not frame.ok:
            camera.stalled.clear()
        if sum(f.ok for f in frames[3:]) >= 3 or time.monotonic() - start > 15:
            break
    source.close()
    assert any(not f.ok for f in frames)
    assert sum(f.ok for f in frames[3:]) >= 3
    assert source.stats.reconnects == 1
    check_counts(source, frames)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gives_up_after_the_configured_outage() -> None:
    source = fast_source(f"rtsp://127.0.0.1:{_closed_port()}/live", give_up_after_s=0.5, open_timeout_s=0.5)
    start = time.monotonic()
    frames = list(source)
    assert time.monotonic() - start < 5
    assert frames
    assert not any(f.ok for f in frames)
    assert frames[-1].error is not None
    assert "giving up after 0.5 s" in frames[-1].error
    assert source.stats.missing == len(frames)
    assert source.stats.reconnects == 0
    check_counts(source, frames)


def test_close_from_another_thread_ends_a_backoff_wait() -> None:
    source = fast_source(f"http://127.0.0.1:{_closed_port()}/", backoff_base_s=30, backoff_max_s=30)
    threading.Timer(0.3, source.close).start()
    start = time.monotonic()
    frames = list(source)
    assert time.monotonic() - start < 3
    assert len(frames) == 1  # one refused connection, then the 30 s wait cut short by close()


def test_close_from_another_thread_during_a_stalled_read(camera: MjpegCamera) -> None:
    source = fast_source(camera.url, read_timeout_s=1.0)
    frames = []
    start = time.monotonic()
    for frame in source:
        frames.append(frame)
        if len(frames) == 2:
            camera.stalled.set()
            threading.Timer(0.2, source.close).start()
    assert time.monotonic() - start < 5
    assert all(f.ok for f in frames)  # closing is not an outage: no error frame


@pytest.mark.parametrize(("base", "maximum", "expected"), [
    (1.0, 32.0, [1, 2, 4, 8, 16, 32, 32, 32]),
    (0.05, 0.2, [0.05, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]),
    (3.0, 3.0, [3.0] * 8),
])
def test_backoff_doubles_to_its_cap(base: float, maximum: float, expected: list[float]) -> None:
    backoff = Backoff(base, maximum)
    assert [backoff.next() for _ in expected] == pytest.approx(expected)
    backoff.reset()
    assert backoff.next() == base


@pytest.mark.parametrize(("base", "maximum"), [(0, 1), (-1, 1), (2, 1)])
def test_backoff_refuses_bad_bounds(base: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="0 < base <= maximum"):
        Backoff(base, maximum)


@pytest.mark.parametrize(("url", "shown"), [
    ("rtsp://admin:secret@10.0.0.5:554/Streaming/1", "rtsp://admin:***@10.0.0.5:554/Streaming/1"),
    ("rtsp://admin:secret@cam.local/s", "rtsp://admin:***@cam.local/s"),
    ("rtsp://10.0.0.5/s", "rtsp://10.0.0.5/s"),
    ("http://user@cam/x.mjpg", "http://user@cam/x.mjpg"),
])
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/dev/video0", "rtsp://", "ftp://cam/x", "rtsp:///nohost"])
def test_refuses_non_stream_urls(url: str) -> None:
    with pytest.raises(SourceError, match="not a stream URL"):
        StreamSource(url, "gate-in")


def test_error_messages_never_carry_the_password() -> None:
    url = f"rtsp://admin:hunter2@127.0.0.1:{_closed_port()}/live"
    source = StreamSource(url, "gate-in", open_timeout_s=0.5, backoff_base_s=0.05, give_up_after_s=0.2)
    frames = list(source)
    assert all("hunter2" not in (f.error or "") for f in frames)
    assert "admin:***@" in (source.stats.last_error or "")


def test_open_source_opens_a_stream(camera: MjpegCamera) -> None:
    source = open_source({"kind": "rtsp", "url": camera.url, "camera": "gate-in"})
    assert isinstance(source, StreamSource)
    with source:
        first = next(iter(source))
    assert first.ok

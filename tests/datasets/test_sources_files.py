"""Video files, image folders, the image checks and `open_source`, on real files written with OpenCV."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.recording import CameraMeta, RecordingMeta, RecordingWriter
from datasets.sources import (
    MAX_IMAGE_PIXELS,
    Frame,
    FrameSource,
    ImageFileError,
    ImageFolderSource,
    RecordingSource,
    SourceError,
    SourceSpec,
    VideoFileSource,
    decode_image,
    image_size,
    open_source,
)
from datasets.stream import StreamSource

W, H = 64, 48


def flat(value: int, width: int = W, height: int = H) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def jpeg(value: int, width: int = W, height: int = H) -> bytes:
    ok, data = cv2.imencode(".jpg", flat(value, width, height), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def png(value: int) -> bytes:
    ok, data = cv2.imencode(".png", flat(value))
    assert ok
    return data.tobytes()


def brightness(frame: Frame) -> int:
    assert frame.image is not None
    return round(float(frame.image.mean()))


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its start-of-frame header claiming another size."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[sof + 9 :]


def write_video(path: Path, count: int = 10, fps: float = 10.0, noisy: bool = False) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (W, H))
    rng = np.random.default_rng(0)
    for i in range(count):
        image = flat(20 * i)
        if noisy:  # noise makes the frames, not the header, most of the file, so cutting it cuts frames
            image = np.clip(image + rng.integers(0, 8, image.shape), 0, 255).astype(np.uint8)
        writer.write(image)
    writer.release()


# --- image checks --------------------------------------------------------------------------------------------------

GOOD = jpeg(100)


@pytest.mark.parametrize(("data", "error"), [
    (b"", "empty file"),
    (b"hello, I am a text file\n", "not a JPEG or PNG image"),
    (GOOD[: len(GOOD) // 2], "truncated JPEG"),
    (GOOD[:-2], "truncated JPEG"),
    (b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9", "corrupt JPEG header"),
    (b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 64 + b"\xff\xd9", "corrupt JPEG header"),
    (with_jpeg_size(GOOD, 0, 48), "corrupt JPEG header"),
    (with_jpeg_size(GOOD, 60000, 60000), f"60000x60000 is larger than the {MAX_IMAGE_PIXELS}-pixel limit"),
    (png(50)[:-20], "truncated PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30 + b"IEND\xaeB`\x82", "corrupt PNG header"),
])
def test_decode_image_refuses_bad_bytes(data: bytes, error: str) -> None:
    with pytest.raises(ImageFileError, match=re.escape(error)):
        decode_image(data, "x.jpg")


@pytest.mark.parametrize(("data", "size"), [
    (jpeg(1, 64, 48), (64, 48)),
    (jpeg(1, 33, 17), (33, 17)),
    (png(1), (W, H)),
    (GOOD + b"\x00\x00\r\n", (W, H)),  # padding after the end marker is tolerated
])
def test_image_size_reads_the_header(data: bytes, size: tuple[int, int]) -> None:
    assert image_size(data, "x") == size
    assert decode_image(data, "x").shape == (size[1], size[0], 3)


# --- image folders -------------------------------------------------------------------------------------------------


def test_image_folder_reports_bad_files_and_goes_on(tmp_path: Path) -> None:
    files: dict[str, bytes] = {
        "000.jpg": jpeg(10),
        "001.jpg": b"\xff\xd8" + bytes(range(256)) * 8 + b"\xff\xd9",  # corrupt
        "002.JPG": jpeg(30),
        "003.jpg": jpeg(40)[:300],  # truncated
        "004.png": png(50),
        "005.jpg": b"",  # zero bytes
        "006.jpg": b"not an image at all\n",  # text named .jpg
        "007.jpeg": jpeg(70),
        "008.jpg": with_jpeg_size(jpeg(80), 50000, 50000),  # claims an absurd size
        "009.jpg": jpeg(90),
        "notes.txt": b"ignored",
        "thumbs.db": b"ignored",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "010.jpg").mkdir()  # a folder with an image's name
    source = ImageFolderSource(tmp_path, "side", fps=5.0)
    frames = list(source)
    assert [f.index for f in frames] == list(range(11))
    assert [f.ok for f in frames] == [True, False, True, False, True, False, False, True, False, True, False]
    assert all("encoded" in repr(f) for f in frames if f.ok)  # checked, handed over, decoded when asked
    assert [brightness(f) for f in frames if f.ok] == pytest.approx([10, 30, 50, 70, 90], abs=2)
    assert [f.t for f in frames] == pytest.approx([i / 5.0 for i in range(11)])
    errors = {f.index: f.error or "" for f in frames if not f.ok}
    assert "corrupt" in errors[1]
    assert "truncated JPEG" in errors[3]
    assert "empty file" in errors[5]
    assert "not a JPEG or PNG" in errors[6]
    assert "pixel limit" in errors[8]
    assert "is a directory" in errors[10]
    assert all(str(tmp_path) in e for e in errors.values())
    assert (source.stats.frames, source.stats.corrupt, source.stats.missing) == (5, 5, 1)
    assert source.stats.last_error == errors[10]


def test_image_folder_refuses_files_over_the_byte_limit(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(10))
    (tmp_path / "b.jpg").write_bytes(jpeg(20, 640, 480))
    source = ImageFolderSource(tmp_path, "side", 10.0, max_bytes=len(jpeg(10)) + 10)
    frames = list(source)
    assert [f.ok for f in frames] == [True, False]
    assert frames[1].error is not None
    assert "larger than the" in frames[1].error
    assert source.stats.corrupt == 1


def test_image_folder_reports_a_file_deleted_after_open(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg(10 * i))
    source = ImageFolderSource(tmp_path, "side", 10.0)
    (tmp_path / "1.jpg").unlink()
    frames = list(source)
    assert [f.ok for f in frames] == [True, False, True]
    assert source.stats.missing == 1


@pytest.mark.parametrize(("setup", "fps", "error"), [
    ("missing", 10.0, "image folder not found"),
    ("file", 10.0, "image folder not found"),
    ("dir", 0.0, "fps must be in (0, 1000]"),
    ("dir", -5.0, "fps must be in (0, 1000]"),
])
def test_image_folder_refuses_bad_arguments(tmp_path: Path, setup: str, fps: float, error: str) -> None:
    path = tmp_path / "images"
    if setup == "file":
        path.write_bytes(b"x")
    elif setup == "dir":
        path.mkdir()
    with pytest.raises(SourceError, match=re.escape(error)):
        ImageFolderSource(path, "side", fps)


def test_close_stops_an_image_folder(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"{i}.jpg").write_bytes(jpeg(10))
    source = ImageFolderSource(tmp_path, "side", 10.0)
    seen = []
    with source:
        for frame in source:
            seen.append(frame)
            source.close()
    assert len(seen) == 1


# --- video files ---------------------------------------------------------------------------------------------------


def test_video_file_reads_every_frame(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", count=10, fps=10.0)
    with VideoFileSource(tmp_path / "clip.avi", "front") as source:
        frames = list(source)
    assert source.frame_count == 10
    assert source.fps == 10.0
    assert [f.index for f in frames] == list(range(10))
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in range(10)])
    assert [brightness(f) for f in frames] == pytest.approx([20 * i for i in range(10)], abs=2)
    assert all(f.image is not None and f.image.shape == (H, W, 3) for f in frames)
    assert (source.stats.frames, source.stats.corrupt, source.stats.missing) == (10, 0, 0)


def test_video_file_reports_the_frames_a_truncated_file_lost(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", count=10, noisy=True)
    data = (tmp_path / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * 0.9)])
    source = VideoFileSource(tmp_path / "cut.avi", "front")
    frames = list(source)
    assert len(frames) == 10
    assert 0 < source.stats.missing < 10
    assert source.stats.frames + source.stats.missing == 10
    assert all(f.ok for f in frames[: source.stats.frames])
    assert all("could not be decoded" in (f.error or "") for f in frames[source.stats.frames :])


def test_video_file_override_fps(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", count=3, fps=10.0)
    frames = list(VideoFileSource(tmp_path / "clip.avi", "front", fps=2.0))
    assert [f.t for f in frames] == [0.0, 0.5, 1.0]


@pytest.mark.parametrize(("content", "error"), [
    (None, "video file not found"),
    (b"", "cannot open as a video"),
    (b"this is not a video" * 100, "cannot open as a video"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", "cannot open as a video"),
])
def test_video_file_refuses_unopenable_files(tmp_path: Path, content: bytes | None, error: str) -> None:
    path = tmp_path / "clip.avi"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=re.escape(f"{path}: {error}")):
        VideoFileSource(path, "front")


# --- open_source ---------------------------------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """One of each source kind under tmp_path: rec/, clip.avi, images/."""
    meta = RecordingMeta(name="m", lane_id="L1", direction="in", fps=10.0, duration_s=0.2,
                         cameras={"front": CameraMeta(view="front", width=W, height=H)})
    with RecordingWriter(tmp_path / "rec", meta) as writer:
        for i in range(2):
            writer.write_frame("front", i, i / 10, flat(50), [])
    write_video(tmp_path / "clip.avi", count=2)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "0.jpg").write_bytes(jpeg(50))
    return tmp_path


@pytest.mark.parametrize(("spec", "kind"), [
    ({"kind": "recording", "path": "rec", "camera": "front"}, RecordingSource),
    ({"kind": "recording", "path": "rec", "camera": "front", "realtime": True}, RecordingSource),
    ({"kind": "video", "path": "clip.avi", "camera": "front"}, VideoFileSource),
    ({"kind": "video", "path": "clip.avi", "camera": "front", "fps": 5}, VideoFileSource),
    ({"kind": "images", "path": "images", "camera": "front", "fps": 5}, ImageFolderSource),
    (SourceSpec(kind="images", path="images", camera="front", fps=5), ImageFolderSource),
    ({"kind": "rtsp", "url": "rtsp://cam.local/live", "camera": "front"}, StreamSource),
    ({"kind": "mjpeg", "url": "http://cam.local/video.mjpg", "camera": "front"}, StreamSource),
])
def test_open_source_opens_each_kind(media: Path, monkeypatch: pytest.MonkeyPatch, spec: object,
                                     kind: type) -> None:
    monkeypatch.chdir(media)
    source = open_source(spec)  # type: ignore[arg-type]
    assert isinstance(source, kind)
    assert isinstance(source, FrameSource)
    assert source.camera == "front"
    if kind is not StreamSource:
        with source:
            assert all(f.ok for f in source)
        assert source.stats.frames > 0


@pytest.mark.parametrize(("spec", "error"), [
    ({"kind": "webcam", "camera": "front"}, "unknown source kind 'webcam' (expected one of recording, video, "
                                            "images, rtsp, mjpeg)"),
    ({"camera": "front", "path": "x"}, "unknown source kind None"),
    ({"kind": "video", "camera": "front"}, "camera 'front': a video source needs path"),
    ({"kind": "rtsp", "camera": "front", "path": "x"}, "a rtsp source needs url"),
    ({"kind": "images", "camera": "front", "path": "images"}, "an image folder source needs fps"),
    ({"kind": "video", "camera": "front", "path": "x", "colour": "red"}, "Object contains unknown field `colour`"),
    ({"kind": "video", "path": "x"}, "Object missing required field `camera`"),
    ({"kind": "video", "camera": 3, "path": "x"}, "Expected `str`, got `int` - at `$.camera`"),
    ({"kind": "video", "camera": "front", "path": "missing.avi"}, "missing.avi: video file not found"),
    ({"kind": "recording", "camera": "front", "path": "nowhere"}, "recording.json: not found"),
    ({"kind": "images", "camera": "front", "path": "nowhere", "fps": 5}, "nowhere: image folder not found"),
    ({"kind": "rtsp", "camera": "front", "url": "file:///etc/passwd"}, "not a stream URL"),
    ({"kind": "mjpeg", "camera": "front"}, "a mjpeg source needs url"),
    (["kind", "video"], "must be a mapping or SourceSpec, got list"),
])
def test_open_source_explains_bad_specs(media: Path, monkeypatch: pytest.MonkeyPatch, spec: object,
                                        error: str) -> None:
    monkeypatch.chdir(media)
    with pytest.raises(SourceError, match=re.escape(error)):
        open_source(spec)  # type: ignore[arg-type]

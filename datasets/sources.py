"""Frame sources: recordings, video files, image folders and live streams, all read as one stream of `Frame`s.

Every source is an iterable of `Frame` with `close()`, a context manager and `stats`. A frame that cannot be had
(a missing file, a corrupt JPEG, a dropped stream) is *reported*, not raised: it comes out as a `Frame` whose
`image` is None and whose `error` says why, and it is counted in `stats`. Only a source that cannot be opened at
all (a missing path, an unreadable recording, a bad spec) raises `SourceError`, and it does so at open time.

Invariant: ``stats.frames + stats.corrupt + stats.missing`` equals the number of frames yielded. A recording or an
image folder hands its frames over encoded (`Frame`); one whose checked bytes the decoder refuses later is counted
by whoever decodes it (the lane pipeline's `corrupt`, the replay report's `corrupt_frames`).
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, Self, runtime_checkable

import cv2
import msgspec
import numpy as np

from datasets.recording import FrameTruth, Recording, RecordingError

log = logging.getLogger(__name__)

#: Files larger than this are refused unread (an image folder or a recording is not trusted).
MAX_IMAGE_BYTES = 64 * 1024 * 1024
#: Images larger than this are refused before decoding (a decompression bomb would allocate gigabytes).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"
#: JPEG start-of-frame markers, which carry the image size (not DHT C4, JPG C8 or DAC CC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class SourceError(Exception):
    """A source that cannot be opened: names the path, URL or spec and what is wrong with it."""


class Frame:
    """One camera frame, or the report of one that could not be had (`image` None, `error` set).

    `t` is seconds from the source's start: media time for recordings, videos and image folders, monotonic time
    since open for live streams. `ts_utc` is the UTC capture time in seconds since the epoch.

    A recording's, an image folder's or an MJPEG stream's frame comes *encoded* (its checked JPEG or PNG bytes in
    `encoded`) and is decoded on the first use of `image`: the lane pipeline skips or reuses most frames without
    looking at their pixels, and decoding a 1280x720 JPEG (about 3 ms here) costs more than all its other work on
    such a frame. Bytes that passed the source's checks but that the decoder refuses make it an error frame then
    (`image` None, `error` set).
    """

    __slots__ = ("_encoded", "_image", "camera", "error", "index", "t", "ts_utc")

    def __init__(self, camera: str, index: int, t: float, ts_utc: float, image: np.ndarray | None,
                 error: str | None = None, *, encoded: bytes | None = None) -> None:
        self.camera = camera
        self.index = index
        self.t = t
        self.ts_utc = ts_utc
        self.error = error
        self._image = image
        self._encoded = encoded

    @property
    def image(self) -> np.ndarray | None:
        """The BGR pixels, decoded now if the frame came encoded."""
        if self._image is None and self._encoded is not None and self.error is None:
            try:
                self._image = _decoded(self._encoded, f"camera {self.camera} frame {self.index}")
            except ImageFileError as exc:
                self.error = str(exc)
        return self._image

    @property
    def encoded(self) -> bytes | None:
        """The JPEG or PNG bytes the frame came as (None for a decoded source: a video, an RTSP stream)."""
        return self._encoded

    @property
    def ok(self) -> bool:
        return self.error is None and (self._image is not None or self._encoded is not None)

    def moved(self, *, camera: str, t: float, ts_utc: float) -> Frame:
        """The same picture under another camera id and clock (a recording played as a site's live camera)."""
        return Frame(camera, self.index, t, ts_utc, self._image, self.error, encoded=self._encoded)

    def __repr__(self) -> str:
        state = f"error={self.error!r}" if not self.ok else "decoded" if self._image is not None else "encoded"
        return f"Frame(camera={self.camera!r}, index={self.index}, t={self.t:.3f}, {state})"


@dataclass(slots=True)
class SourceStats:
    """What a source has delivered so far; error frames are counted as corrupt (bad bytes) or missing (no bytes)."""

    frames: int = 0
    corrupt: int = 0
    missing: int = 0
    reconnects: int = 0
    last_error: str | None = None


@runtime_checkable
class FrameSource(Protocol):
    """An iterable of `Frame`s that owns a file, capture or connection; iterate it once."""

    camera: str
    stats: SourceStats

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class BaseSource(abc.ABC):
    """Shared plumbing: the stats, the close flag (an Event, so a paced or backing-off source wakes at once)."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self.stats = SourceStats()
        self._closed = threading.Event()

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """The frames, each a good image or an error frame; subclasses say how they are read."""

    def close(self) -> None:
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _good(self, index: int, t: float, ts_utc: float, image: np.ndarray | None, *,
              encoded: bytes | None = None) -> Frame:
        """A frame with its pixels, or with its checked bytes (`encoded`) to decode on first use."""
        self.stats.frames += 1
        return Frame(self.camera, index, t, ts_utc, image, encoded=encoded)

    def _bad(self, index: int, t: float, ts_utc: float, error: str, *, missing: bool) -> Frame:
        """An error frame: counted, logged, and kept as the last error."""
        if missing:
            self.stats.missing += 1
        else:
            self.stats.corrupt += 1
        self.stats.last_error = error
        log.warning("camera %s frame %d: %s", self.camera, index, error)
        return Frame(self.camera, index, t, ts_utc, None, error)


# --- image files ---------------------------------------------------------------------------------------------------


class ImageFileError(ValueError):
    """An image file that is not a complete, sane JPEG or PNG; `missing` when there was nothing to read."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def read_image_file(path: Path, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read and decode one JPEG/PNG as BGR uint8, refusing empty, truncated, non-image and oversized files.

    The size is read from the header before decoding, so a small file that claims a huge image costs nothing.
    """
    data, _size = read_image_bytes(path, max_bytes=max_bytes, max_pixels=max_pixels)
    return _decoded(data, str(path))


def read_image_bytes(path: Path, *, max_bytes: int = MAX_IMAGE_BYTES,
                     max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[bytes, tuple[int, int]]:
    """One JPEG/PNG file's bytes and its (width, height), checked as `read_image_file` checks them, not decoded."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageFileError(f"{path}: {size} bytes is larger than the {max_bytes}-byte limit")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageFileError(f"{path}: not found", missing=True) from None
    except IsADirectoryError:
        raise ImageFileError(f"{path}: is a directory", missing=True) from None
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot read: {exc.strerror or exc}", missing=True) from None
    return data, checked_size(data, str(path), max_pixels=max_pixels)


def decode_image(data: bytes, name: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG bytes to BGR uint8 after checking the header, the size and that the file is complete."""
    checked_size(data, name, max_pixels=max_pixels)
    return _decoded(data, name)


def checked_size(data: bytes, name: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(width, height) of JPEG/PNG bytes that are not empty, complete, and within `max_pixels`."""
    if not data:
        raise ImageFileError(f"{name}: empty file")
    width, height = image_size(data, name)
    if width * height > max_pixels:
        raise ImageFileError(f"{name}: {width}x{height} is larger than the {max_pixels}-pixel limit")
    return width, height


def _decoded(data: bytes, name: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageFileError(f"{name}: corrupt image data (decoder refused it)")
    return image


def image_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header; refuses other formats and files cut short."""
    end = data.rstrip(b"\x00\r\n\t ")
    if data.startswith(_PNG_SIGNATURE):
        if not end.endswith(_PNG_IEND):
            raise ImageFileError(f"{name}: truncated PNG (no IEND chunk at the end)")
        if data[12:16] != b"IHDR" or len(data) < 24:
            raise ImageFileError(f"{name}: corrupt PNG header")
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(_JPEG_SOI):
        if not end.endswith(_JPEG_EOI):
            raise ImageFileError(f"{name}: truncated JPEG (no end-of-image marker)")
        return _jpeg_size(data, name)
    raise ImageFileError(f"{name}: not a JPEG or PNG image (starts with {data[:8]!r})")


def _jpeg_size(data: bytes, name: str) -> tuple[int, int]:
    """Walk the JPEG marker segments up to the start-of-frame that holds the size."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            if width == 0 or height == 0:
                break
            return width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header, or a broken length
            break
        pos += 2 + length
    raise ImageFileError(f"{name}: corrupt JPEG header (no frame size)")


# --- recordings ----------------------------------------------------------------------------------------------------


class RecordingSource(BaseSource):
    """One camera of a recording; `with_truth()` pairs every frame with its `FrameTruth`.

    Frames come in frames.jsonl order with the recorded media time; `realtime=True` paces them to that time on
    the monotonic clock (for a live-like replay). Bad truth lines are skipped and counted in `recording.errors`.
    """

    def __init__(self, recording_dir: str | Path, camera: str, *, realtime: bool = False) -> None:
        super().__init__(camera)
        try:
            self.recording = Recording.open(recording_dir)
        except (RecordingError, OSError) as exc:
            raise SourceError(str(exc)) from None
        cameras = self.recording.meta.cameras
        if camera not in cameras:
            raise SourceError(f"{self.recording.root}: no camera {camera!r} (cameras: {', '.join(sorted(cameras))})")
        self.meta = cameras[camera]
        self.realtime = realtime
        created = self.recording.meta.created_utc
        self._epoch_utc = created if created > 0 else time.time()
        self._video: _VideoCursor | None = None

    def __iter__(self) -> Iterator[Frame]:
        for frame, _truth in self.with_truth():
            yield frame

    def with_truth(self) -> Iterator[tuple[Frame, FrameTruth]]:
        start: float | None = None
        first_t = 0.0
        try:
            for truth in self.recording.frames(self.camera):
                if self.closed:
                    return
                if self.realtime:
                    if start is None:
                        start, first_t = time.monotonic(), truth.t
                    if self._closed.wait(max(0.0, start + truth.t - first_t - time.monotonic())):
                        return
                yield self._frame(truth), truth
        finally:
            self._release()

    def close(self) -> None:
        super().close()
        self._release()

    def _frame(self, truth: FrameTruth) -> Frame:
        """A frame file is checked and handed over encoded (decoded on first use); a video frame is decoded."""
        ts_utc = self._epoch_utc + truth.t
        try:
            image, data, (width, height) = self._load(truth)
        except ImageFileError as exc:
            return self._bad(truth.frame, truth.t, ts_utc, str(exc), missing=exc.missing)
        if (height, width) != (self.meta.height, self.meta.width):
            return self._bad(truth.frame, truth.t, ts_utc, f"{truth.file}: frame is {width}x{height}, "
                             f"recording declares {self.meta.width}x{self.meta.height}", missing=False)
        return self._good(truth.frame, truth.t, ts_utc, image, encoded=data)

    def _load(self, truth: FrameTruth) -> tuple[np.ndarray | None, bytes | None, tuple[int, int]]:
        """(pixels, bytes, (width, height)): bytes for a frame file, pixels for a video frame."""
        file, _, position = truth.file.partition("#")
        try:
            path = self.recording.frame_path(msgspec.structs.replace(truth, file=file))
        except RecordingError as exc:
            raise ImageFileError(str(exc)) from None
        if self.meta.storage == "frames":
            data, size = read_image_bytes(path)
            return None, data, size
        if not position.isdigit():
            raise ImageFileError(f"{truth.file}: video frame reference needs '#<position>'")
        if self._video is None or self._video.path != path:
            self._release()
            self._video = _VideoCursor(path)
        image = self._video.read(int(position))
        return image, None, (image.shape[1], image.shape[0])

    def _release(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None


class _VideoCursor:
    """Random access by frame position into a video file, reading sequentially when frames come in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._capture: cv2.VideoCapture | None = None
        self._next = 0

    def read(self, position: int) -> np.ndarray:
        if self._capture is None:
            if not self.path.is_file():
                raise ImageFileError(f"{self.path}: video not found", missing=True)
            self._capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            if not self._capture.isOpened():
                raise ImageFileError(f"{self.path}: cannot open video")
        if position != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, position)
        ok, image = self._capture.read()
        if not ok or image is None:
            self._next = -1  # unknown position: seek before the next read
            raise ImageFileError(f"{self.path}: frame {position} missing from the video", missing=True)
        self._next = position + 1
        return np.asarray(image)

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


# --- plain video files and image folders ---------------------------------------------------------------------------


class VideoFileSource(BaseSource):
    """A video file through OpenCV's FFmpeg backend; a frame that fails to decode before the end is reported.

    OpenCV cannot tell a corrupt frame from the end of the file, so a failed read before the container's frame
    count is reported as missing and reading goes on, up to `max_consecutive_failures` in a row.
    """

    def __init__(self, path: str | Path, camera: str, *, fps: float | None = None,
                 max_consecutive_failures: int = 10) -> None:
        super().__init__(camera)
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: video file not found")
        self._capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"{self.path}: cannot open as a video (unknown format, corrupt or truncated)")
        self.fps = fps or self._capture.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.max_consecutive_failures = max_consecutive_failures
        self._epoch_utc = time.time()

    def __iter__(self) -> Iterator[Frame]:
        index, failures = 0, 0
        try:
            while not self.closed:
                ok, image = self._capture.read()
                t = index / self.fps
                if ok and image is not None:
                    failures = 0
                    yield self._good(index, t, self._epoch_utc + t, np.asarray(image))
                elif index < self.frame_count and failures < self.max_consecutive_failures:
                    failures += 1
                    yield self._bad(index, t, self._epoch_utc + t,
                                    f"{self.path}: frame {index} of {self.frame_count} could not be decoded",
                                    missing=True)
                else:
                    return
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._capture.release()


class ImageFolderSource(BaseSource):
    """The JPEG/PNG files of a folder in name order, played at `fps`; bad files become error frames. Frames come
    encoded, as a recording's do (`Frame`)."""

    def __init__(self, path: str | Path, camera: str, fps: float, *, max_bytes: int = MAX_IMAGE_BYTES,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        super().__init__(camera)
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: image folder not found")
        if not 0 < fps <= 1000:
            raise SourceError(f"{self.path}: fps must be in (0, 1000], got {fps}")
        self.fps = fps
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self._epoch_utc = time.time()

    def __iter__(self) -> Iterator[Frame]:
        for index, file in enumerate(self.files):
            if self.closed:
                return
            t = index / self.fps
            try:
                data, _size = read_image_bytes(file, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
            except ImageFileError as exc:
                yield self._bad(index, t, self._epoch_utc + t, str(exc), missing=exc.missing)
                continue
            yield self._good(index, t, self._epoch_utc + t, None, encoded=data)


# --- opening a source from the site configuration ------------------------------------------------------------------

SourceKind = Literal["recording", "video", "images", "rtsp", "mjpeg"]
SOURCE_KINDS: tuple[str, ...] = ("recording", "video", "images", "rtsp", "mjpeg")


class SourceSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A camera's source as the site configuration states it; `url` for rtsp and mjpeg (HTTP), `path` otherwise."""

    kind: SourceKind
    camera: str
    path: str | None = None
    url: str | None = None
    fps: float | None = None
    realtime: bool = False


def open_source(spec: SourceSpec | Mapping[str, Any]) -> FrameSource:
    """Open the source a spec describes: {kind: recording|video|images|rtsp|mjpeg, path|url, camera, fps}."""
    spec = parse_spec(spec)
    if spec.kind in ("rtsp", "mjpeg"):
        from datasets.stream import StreamSource  # stream.py builds on this module's types

        return StreamSource(_required(spec, "url"), spec.camera)
    path = _required(spec, "path")
    if spec.kind == "recording":
        return RecordingSource(path, spec.camera, realtime=spec.realtime)
    if spec.kind == "video":
        return VideoFileSource(path, spec.camera, fps=spec.fps)
    if spec.fps is None:
        raise SourceError(f"camera {spec.camera!r}: an image folder source needs fps")
    return ImageFolderSource(path, spec.camera, spec.fps)


def parse_spec(spec: SourceSpec | Mapping[str, Any]) -> SourceSpec:
    """Validate a mapping (from YAML or settings) into a `SourceSpec`, with an error naming the bad field."""
    if isinstance(spec, SourceSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise SourceError(f"a source spec must be a mapping or SourceSpec, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"unknown source kind {kind!r} (expected one of {', '.join(SOURCE_KINDS)})")
    try:
        return msgspec.convert(dict(spec), SourceSpec)
    except msgspec.ValidationError as exc:
        raise SourceError(f"bad {kind} source spec: {exc}") from None


def _required(spec: SourceSpec, name: Literal["path", "url"]) -> str:
    value = getattr(spec, name)
    if not value:
        raise SourceError(f"camera {spec.camera!r}: a {spec.kind} source needs {name}")
    return str(value)

"""The recorded-dataset format: what a lane's cameras saw, with ground truth, on disk.

A recording is a directory (documented in `datasets/README.md`)::

    recording.json        RecordingMeta: lane, fps, cameras and how their frames are stored
    cameras/<camera>/     000000.jpg, 000001.jpg ... (storage "frames"), or cameras/<camera>.avi (storage "video")
    frames.jsonl          FrameTruth per camera frame: time, file, labelled objects (boxes and texts)
    passages.jsonl        PassageTruth per truck: plates, containers, seals, hard conditions, expected mismatch
    declarations.jsonl    Declaration per truck: the pre-arrival declaration the gate will receive

Truth files are JSON Lines so that a truncated recording (a crash mid-write) loses only its last line, and a
reader reports bad lines instead of refusing the whole recording.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, Literal, TypeVar

import cv2
import msgspec
import numpy as np
from msgspec import Meta

log = logging.getLogger(__name__)

FORMAT_NAME = "smartgate-recording"
FORMAT_VERSION = 1
MAX_META_BYTES = 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024

#: Classes labelled in frame truth; also the detector's class list (issue 3).
OBJECT_CLASSES: tuple[str, ...] = (
    "vehicle", "plate", "container", "container_number", "size_type", "seal", "door_handle",
)
ObjectClass = Literal["vehicle", "plate", "container", "container_number", "size_type", "seal", "door_handle"]
View = Literal["front", "rear", "side_left", "side_right", "top"]
Box = tuple[float, float, float, float]


class RecordingError(ValueError):
    """A recording that cannot be opened or read: names the file and the problem."""


class CameraMeta(msgspec.Struct, frozen=True, kw_only=True):
    view: View
    width: Annotated[int, Meta(gt=0, le=16384)]
    height: Annotated[int, Meta(gt=0, le=16384)]
    storage: Literal["frames", "video"] = "frames"


class RecordingMeta(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["smartgate-recording"] = "smartgate-recording"
    version: int = FORMAT_VERSION
    name: str
    lane_id: str
    direction: Literal["in", "out"]
    fps: Annotated[float, Meta(gt=0, le=240)]
    duration_s: Annotated[float, Meta(ge=0)]
    cameras: dict[str, CameraMeta]
    seed: int | None = None
    created_utc: float = 0.0
    generator: dict[str, Any] = {}


class ObjectTruth(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    cls: ObjectClass
    box: Box
    text: str | None = None
    passage_id: str | None = None
    attrs: dict[str, str | float | bool] = {}


class FrameTruth(msgspec.Struct, frozen=True, kw_only=True):
    camera: str
    frame: Annotated[int, Meta(ge=0)]
    t: Annotated[float, Meta(ge=0)]
    file: str
    objects: list[ObjectTruth] = []


class PlateTruth(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    format: Literal["vn", "cn"]
    color: Literal["white", "yellow", "blue", "green"]
    lines: Literal[1, 2]
    hidden: bool = False
    """True when occlusion covers part of every whole copy of this text that the cameras show (or none is shown
    whole), so no single view reads it; fusing copies covered in different places sometimes can. Scored apart by
    replay. Absent in older recordings."""


class SealTruth(msgspec.Struct, frozen=True, kw_only=True):
    present: bool
    number: str | None = None


class ContainerTruth(msgspec.Struct, frozen=True, kw_only=True):
    number: str
    size_type: str
    length_ft: Literal[20, 40, 45]
    position: Literal["single", "front", "rear"]
    vertical: bool = False
    seal: SealTruth
    number_hidden: bool = False
    """As `PlateTruth.hidden`, for the container number."""


Mismatch = Literal["none", "wrong_container", "missing_seal", "unknown_truck", "wrong_seal_number"]


class PassageTruth(msgspec.Struct, frozen=True, kw_only=True):
    passage_id: str
    lane_id: str
    direction: Literal["in", "out"]
    t_enter: float
    t_exit: float
    tractor_plate: PlateTruth
    trailer_plate: PlateTruth | None = None
    containers: list[ContainerTruth] = []
    conditions: list[str] = []
    declaration_id: str | None = None
    mismatch: Mismatch = "none"


class DeclaredContainer(msgspec.Struct, frozen=True, kw_only=True):
    number: str
    seal_number: str | None = None


class Declaration(msgspec.Struct, frozen=True, kw_only=True):
    """A pre-arrival declaration as the single-window feed delivers it."""

    declaration_id: str
    customs_declaration_no: str
    tractor_plate: str
    trailer_plate: str | None = None
    driver: str = ""
    containers: list[DeclaredContainer] = []
    channel: Literal["green", "yellow", "red"] = "green"
    valid_from_utc: float
    valid_until_utc: float
    direction: Literal["export", "import"] = "export"


T = TypeVar("T")


@dataclass
class LineErrors:
    """Bad lines met while reading a truth file: counted and kept for the report, never fatal."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, problem: str) -> None:
        self.count += 1
        if len(self.examples) < 10:
            self.examples.append(f"{where}: {problem}")


class Recording:
    """A recording opened for reading. Truth files are streamed; frames are decoded only when asked for."""

    def __init__(self, root: Path, meta: RecordingMeta) -> None:
        self.root = root
        self.meta = meta
        self.errors = LineErrors()

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        root = Path(path)
        meta_file = root / "recording.json"
        if not meta_file.is_file():
            raise RecordingError(f"{meta_file}: not found (is {root} a SmartGate recording?)")
        size = meta_file.stat().st_size
        if size > MAX_META_BYTES:
            raise RecordingError(f"{meta_file}: {size} bytes is too large for recording metadata")
        data = meta_file.read_bytes()
        try:
            meta = msgspec.json.decode(data, type=RecordingMeta)
        except msgspec.MsgspecError as exc:
            raise RecordingError(f"{meta_file}: {exc}") from None
        if meta.version != FORMAT_VERSION:
            raise RecordingError(f"{meta_file}: format version {meta.version} is not {FORMAT_VERSION}")
        return cls(root, meta)

    def frames(self, camera: str | None = None) -> Iterator[FrameTruth]:
        """Frame truth in file order (frame-major across cameras), optionally for one camera."""
        for truth in self._lines("frames.jsonl", FrameTruth):
            if camera is None or truth.camera == camera:
                yield truth

    def passages(self) -> Iterator[PassageTruth]:
        return self._lines("passages.jsonl", PassageTruth)

    def declarations(self) -> Iterator[Declaration]:
        return self._lines("declarations.jsonl", Declaration)

    def frame_path(self, truth: FrameTruth) -> Path:
        """The image file of a frame, refusing paths that climb out of the recording."""
        path = (self.root / truth.file).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise RecordingError(f"{self.root / 'frames.jsonl'}: frame file {truth.file!r} is outside the recording")
        return path

    def video_path(self, camera: str) -> Path:
        return self.root / "cameras" / f"{camera}.avi"

    def _lines(self, name: str, kind: type[T]) -> Iterator[T]:
        path = self.root / name
        if not path.is_file():
            return
        decoder = msgspec.json.Decoder(kind)
        with path.open("rb") as handle:
            for number, line in enumerate(bounded_lines(handle, MAX_LINE_BYTES), start=1):
                if line is None:
                    self.errors.add(f"{path}:{number}", "line too long")
                    continue
                if not line.strip():
                    continue
                try:
                    yield decoder.decode(line)
                except msgspec.MsgspecError as exc:
                    self.errors.add(f"{path}:{number}", str(exc))
                    log.warning("%s:%d: skipped bad line: %s", path, number, exc)


def bounded_lines(handle: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Lines of at most `limit` bytes; None for a longer one, skipped without ever holding it in memory."""
    while line := handle.readline(limit + 1):
        if len(line) <= limit:
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = handle.readline(limit)
        yield None


class RecordingWriter:
    """Writes a recording; truth lines are flushed as they are written so a crash loses at most one line."""

    def __init__(self, root: str | Path, meta: RecordingMeta, *, jpeg_quality: int = 85) -> None:
        self.root = Path(root)
        self.meta = meta
        self.jpeg_quality = jpeg_quality
        self.root.mkdir(parents=True, exist_ok=True)
        self._encoder = msgspec.json.Encoder()
        self._files: dict[str, IO[bytes]] = {}
        self._videos: dict[str, cv2.VideoWriter] = {}
        self._video_frames: dict[str, int] = {}
        self._write_meta(meta)

    def write_frame(self, camera: str, index: int, t: float, image: np.ndarray,
                    objects: Sequence[ObjectTruth]) -> FrameTruth:
        cam = self.meta.cameras.get(camera)
        if cam is None:
            raise RecordingError(f"camera {camera!r} is not declared in the recording metadata")
        if image.shape[:2] != (cam.height, cam.width):
            raise RecordingError(f"camera {camera!r}: frame is {image.shape[1]}x{image.shape[0]}, "
                                 f"declared {cam.width}x{cam.height}")
        file = self._store_image(camera, cam, index, image)
        truth = FrameTruth(camera=camera, frame=index, t=round(t, 4), file=file, objects=list(objects))
        self._append("frames.jsonl", truth)
        return truth

    def write_encoded_frame(self, camera: str, index: int, t: float, jpeg: bytes,
                            objects: Sequence[ObjectTruth]) -> FrameTruth:
        """Like `write_frame` for a frame already JPEG-encoded (the synthetic generator encodes in its workers):
        stored as is, decoded only for video storage."""
        cam = self.meta.cameras.get(camera)
        if cam is None:
            raise RecordingError(f"camera {camera!r} is not declared in the recording metadata")
        if cam.storage == "video":
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise RecordingError(f"camera {camera!r}: frame {index} is not a decodable JPEG")
            return self.write_frame(camera, index, t, image, objects)
        folder = self.root / "cameras" / camera
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{index:06d}.jpg"
        (folder / name).write_bytes(jpeg)
        truth = FrameTruth(camera=camera, frame=index, t=round(t, 4), file=f"cameras/{camera}/{name}",
                           objects=list(objects))
        self._append("frames.jsonl", truth)
        return truth

    def add_passage(self, passage: PassageTruth) -> None:
        self._append("passages.jsonl", passage)

    def add_declaration(self, declaration: Declaration) -> None:
        self._append("declarations.jsonl", declaration)

    def close(self, meta: RecordingMeta | None = None) -> None:
        """Finish: close files and rewrite the metadata (for example with the final duration)."""
        for handle in self._files.values():
            handle.close()
        for video in self._videos.values():
            video.release()
        self._files.clear()
        self._videos.clear()
        self._video_frames.clear()
        if meta is not None:
            self.meta = meta
            self._write_meta(meta)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _store_image(self, camera: str, cam: CameraMeta, index: int, image: np.ndarray) -> str:
        if cam.storage == "video":
            video = self._videos.get(camera)
            if video is None:
                path = self.root / "cameras" / f"{camera}.avi"
                path.parent.mkdir(parents=True, exist_ok=True)
                fourcc = cv2.VideoWriter.fourcc(*"MJPG")
                video = cv2.VideoWriter(str(path), fourcc, self.meta.fps, (cam.width, cam.height))
                self._videos[camera] = video
            video.write(image)
            position = self._video_frames.get(camera, 0)  # the frame's place in the video, whatever its index
            self._video_frames[camera] = position + 1
            return f"cameras/{camera}.avi#{position}"
        folder = self.root / "cameras" / camera
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{index:06d}.jpg"
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RecordingError(f"camera {camera!r}: frame {index} could not be JPEG-encoded")
        (folder / name).write_bytes(buffer.tobytes())
        return f"cameras/{camera}/{name}"

    def _append(self, name: str, record: msgspec.Struct) -> None:
        handle = self._files.get(name)
        if handle is None:
            handle = (self.root / name).open("ab")
            self._files[name] = handle
        handle.write(self._encoder.encode(record) + b"\n")
        handle.flush()

    def _write_meta(self, meta: RecordingMeta) -> None:
        tmp = self.root / "recording.json.tmp"
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(meta), indent=2) + b"\n")
        tmp.replace(self.root / "recording.json")

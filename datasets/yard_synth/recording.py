"""The yard recording format ("smartgate-yard-recording"): fixed yard cameras, a layout, calibrations and truth.

A directory (documented in `datasets/README.md`)::

    yard_recording.json         YardRecordingMeta: name, fps, duration, frames, cameras (view, size), layout file
    layout.yaml                 the yard layout the recording was made over
    calibration/<camera>/r0001.json   the fitted calibration of each camera (`calibration.files`)
    cameras/<camera>/000000.jpg one JPEG per frame and camera
    cameras/<camera>/background.jpg   the empty yard as the camera sees it (a detector's background)
    truth.jsonl                 one YardTruth per time step: slot states, queue lengths, objects

Nothing in a recording is trusted: the metadata is bounded and validated, truth lines that are cut, corrupt or too
long are skipped and counted, and frame files are size-checked, confined to the recording and decoded defensively.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import msgspec
import numpy as np
from msgspec import Meta

from datasets.recording import MAX_LINE_BYTES, LineErrors, bounded_lines
from datasets.yard_synth.truth import YardTruth

log = logging.getLogger(__name__)

FORMAT_NAME = "smartgate-yard-recording"
FORMAT_VERSION = 1
META_FILE = "yard_recording.json"
TRUTH_FILE = "truth.jsonl"
BACKGROUND_FILE = "background.jpg"
MAX_META_BYTES = 256 * 1024
MAX_TRUTH_LINE_BYTES = 4 * MAX_LINE_BYTES
MAX_FRAME_BYTES = 16 * 1024 * 1024
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

Name = Annotated[str, Meta(pattern="^" + _PLAIN_NAME.pattern + "$", max_length=64)]


class YardRecordingError(ValueError):
    """A yard recording that cannot be opened: names the file and the problem."""


class YardCameraMeta(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    view: Literal["top", "oblique"]
    width: Annotated[int, Meta(gt=0, le=8192)]
    height: Annotated[int, Meta(gt=0, le=8192)]


class YardRecordingMeta(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["smartgate-yard-recording"] = "smartgate-yard-recording"
    version: int = FORMAT_VERSION
    name: Annotated[str, Meta(max_length=200)]
    fps: Annotated[float, Meta(gt=0, le=60)]
    duration_s: Annotated[float, Meta(ge=0, le=86_400)]
    frames: Annotated[int, Meta(ge=0, le=1_000_000)]
    cameras: Annotated[dict[Name, YardCameraMeta], Meta(min_length=1, max_length=16)]
    layout: Name = "layout.yaml"
    seed: int | None = None
    created_utc: Annotated[float, Meta(ge=0)] = 0.0
    generator: dict[str, Any] = {}


class YardRecording:
    """A yard recording opened for reading; truth is streamed, frames decoded when asked for."""

    def __init__(self, root: Path, meta: YardRecordingMeta) -> None:
        self.root = root
        self.meta = meta
        self.errors = LineErrors()          # truth lines skipped (corrupt, cut, too long)
        self.frame_errors = LineErrors()    # frame files missing or unreadable

    @classmethod
    def open(cls, path: str | Path) -> YardRecording:
        root = Path(path)
        meta_file = root / META_FILE
        if not meta_file.is_file():
            raise YardRecordingError(f"{meta_file}: not found (is {root} a SmartGate yard recording?)")
        size = meta_file.stat().st_size
        if size > MAX_META_BYTES:
            raise YardRecordingError(f"{meta_file}: {size} bytes is too large for yard recording metadata")
        try:
            meta = msgspec.json.decode(meta_file.read_bytes(), type=YardRecordingMeta)
        except msgspec.MsgspecError as exc:
            raise YardRecordingError(f"{meta_file}: {exc}") from None
        if meta.version != FORMAT_VERSION:
            raise YardRecordingError(f"{meta_file}: format version {meta.version} is not {FORMAT_VERSION}")
        recording = cls(root, meta)
        if not recording.layout_path.is_file():
            raise YardRecordingError(f"{recording.layout_path}: layout file missing")
        return recording

    @property
    def layout_path(self) -> Path:
        return self.root / self.meta.layout

    @property
    def calibration_root(self) -> Path:
        """Where the cameras' calibration revisions are (open with `calibration.files.CalibrationStore`)."""
        return self.root / "calibration"

    def frame_path(self, camera: str, frame: int) -> Path:
        if camera not in self.meta.cameras:
            raise YardRecordingError(f"camera {camera!r} is not in the recording")
        return self.root / "cameras" / camera / f"{frame:06d}.jpg"

    def background(self, camera: str) -> np.ndarray | None:
        """The camera's image of the empty yard, or None (counted in `frame_errors`) when missing or unreadable."""
        return self._read_image(camera, self.frame_path(camera, 0).with_name(BACKGROUND_FILE))

    def read_frame(self, camera: str, frame: int) -> np.ndarray | None:
        """The BGR image of one frame, or None (counted in `frame_errors`) when missing or unreadable."""
        return self._read_image(camera, self.frame_path(camera, frame))

    def _read_image(self, camera: str, path: Path) -> np.ndarray | None:
        problem = _frame_problem(path)
        image = None
        if problem is None:
            image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
            cam = self.meta.cameras[camera]
            if image is None:
                problem = "not a decodable JPEG"
            elif image.shape[:2] != (cam.height, cam.width):
                problem = f"{image.shape[1]}x{image.shape[0]} frame, declared {cam.width}x{cam.height}"
                image = None
        if problem is not None:
            self.frame_errors.add(str(path), problem)
        return image

    def truths(self) -> Iterator[YardTruth]:
        """Truth lines in file order; bad lines are skipped and counted in `errors`."""
        path = self.root / TRUTH_FILE
        if not path.is_file():
            raise YardRecordingError(f"{path}: not found")
        decoder = msgspec.json.Decoder(YardTruth)
        with path.open("rb") as handle:
            for number, line in enumerate(bounded_lines(handle, MAX_TRUTH_LINE_BYTES), start=1):
                if line is None:
                    self.errors.add(f"{path}:{number}", "line too long")
                elif line.strip():
                    try:
                        yield decoder.decode(line)
                    except msgspec.MsgspecError as exc:
                        self.errors.add(f"{path}:{number}", str(exc))
                        log.warning("%s:%d: skipped bad truth line: %s", path, number, exc)

    def __iter__(self) -> Iterator[tuple[float, dict[str, np.ndarray | None], YardTruth]]:
        """(t, {camera: image or None}, truth) per time step, in order."""
        frames = 0
        for truth in self.truths():
            if not 0 <= truth.frame < max(self.meta.frames, 1):
                self.errors.add(f"{self.root / TRUTH_FILE}", f"frame {truth.frame} outside 0..{self.meta.frames - 1}")
                continue
            frames += 1
            images = {camera: self.read_frame(camera, truth.frame) for camera in self.meta.cameras}
            yield truth.t, images, truth
        if frames < self.meta.frames:
            log.warning("%s: %d of %d time steps read", self.root, frames, self.meta.frames)


def open_yard_recording(path: str | Path) -> YardRecording:
    """Open a yard recording for reading; `YardRecordingError` if its metadata or layout is missing or invalid."""
    return YardRecording.open(path)


def _frame_problem(path: Path) -> str | None:
    if path.is_symlink():
        return "a symbolic link"
    try:
        size = path.stat().st_size
    except OSError:
        return "missing"
    if size == 0:
        return "empty"
    if size > MAX_FRAME_BYTES:
        return f"{size} bytes is too large"
    with path.open("rb") as handle:
        handle.seek(-2, 2)
        if handle.read(2) != b"\xff\xd9":
            return "truncated JPEG (no end-of-image marker)"
    return None

"""Evidence crops for the operator: the image region behind each fused read, saved as a small JPEG.

Files go to ``<root>/<passage_id>/<field>-<camera>-<frame>.jpg``. Every name part is reduced to a safe alphabet
and the final path is checked to lie inside `root`, so a hostile camera name or passage id cannot write
elsewhere. Crops are bounded in size (longest side `max_side`) so a passage costs kilobytes, not megabytes.
A failed write is logged and counted and yields a reference without a path: losing a crop never loses a read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from bus.messages import EvidenceRef

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
MAX_NAME = 48
Box = tuple[float, float, float, float]


class EvidenceError(ValueError):
    """A crop that cannot be taken: an empty image or a box outside it."""


def safe_name(text: str) -> str:
    """A file-name part made only of ``[A-Za-z0-9_.-]``, never empty, never ``.`` or ``..``."""
    cleaned = _UNSAFE.sub("_", text)[:MAX_NAME].strip(".")
    return cleaned or "_"


def crop(image: npt.NDArray[np.uint8], box: Sequence[float], *, margin: float = 0.15,
         max_side: int = 480) -> npt.NDArray[np.uint8]:
    """The box grown by `margin` of its size on each side, clipped to the image, shrunk to `max_side`."""
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise EvidenceError(f"image must be a non-empty HxW or HxWxC array, got shape {image.shape}")
    if len(box) != 4 or not all(np.isfinite(box)):
        raise EvidenceError(f"box must be 4 finite numbers, got {tuple(box)}")
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    grow_x, grow_y = (x1 - x0) * margin, (y1 - y0) * margin
    left, top = max(int(x0 - grow_x), 0), max(int(y0 - grow_y), 0)
    right, bottom = min(int(np.ceil(x1 + grow_x)), width), min(int(np.ceil(y1 + grow_y)), height)
    if right <= left or bottom <= top:
        raise EvidenceError(f"box {tuple(box)} lies outside the {width}x{height} image")
    region = image[top:bottom, left:right]
    scale = max_side / max(region.shape[:2])
    if scale < 1.0:
        size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        return np.ascontiguousarray(cv2.resize(region, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return np.ascontiguousarray(region)


class EvidenceStore:
    """Writes crops under one root directory and returns the `EvidenceRef` to put in a message."""

    def __init__(self, root: str | Path, *, jpeg_quality: int = 85) -> None:
        self.root = Path(root).resolve()
        self.jpeg_quality = jpeg_quality
        self.saved = 0
        self.failed = 0

    def save(self, *, passage_id: str, field: str, camera: str, frame: int, ts_utc: float, box: Box,
             image: npt.NDArray[np.uint8]) -> EvidenceRef:
        """Save `image` (already a crop) and return its reference; `path` is relative to the root."""
        ref = EvidenceRef(camera=camera[:64] or "_", frame=frame, ts_utc=ts_utc, box=box)
        name = f"{safe_name(field)}-{safe_name(camera)}-{int(frame)}.jpg"
        path = (self.root / safe_name(passage_id) / name).resolve()
        if not path.is_relative_to(self.root):
            log.error("evidence path %s escapes %s; not saved", path, self.root)
            self.failed += 1
            return ref
        try:
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise EvidenceError("JPEG encoding failed")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(encoded.tobytes())
            tmp.replace(path)
        except (OSError, cv2.error, EvidenceError) as exc:
            log.warning("evidence crop %s not saved: %s", path, exc)
            self.failed += 1
            return ref
        self.saved += 1
        return EvidenceRef(camera=ref.camera, frame=frame, ts_utc=ts_utc, box=box,
                           path=str(path.relative_to(self.root)))

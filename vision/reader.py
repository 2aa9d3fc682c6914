"""Reading one still image: detector → crops → OCR and grammars → plates, container numbers, seals.

This is what `smartgate read IMAGE...` runs; the lane pipeline fuses reads over frames instead. Each image gives
one `ImageRead`, whose `as_dict()` is the JSON object of issue 3: plates, containers and seals with boxes in the
image's own pixels, or ``{"image", "error"}`` for a missing, oversized or corrupt file. One bad image never stops
the others.

The detector was trained on synthetic footage only and finds few container-number boxes on real 1920×1080 gate
photos (see `vision/models/MODEL_CARD.md`). Where it gives no number that validates, `read` looks for text lines
in the whole image with a real-trained text detector and lets the ISO 6346 grammar pick and join them
(`vision.ocr.number_finder`). The lane pipeline does not take that path: it reads the detector's boxes only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detections import Detections, class_index
from vision.detector import Detector, ImageError, check_image
from vision.grammar import ContainerNumberRead, Evidence, read_container_number
from vision.grammar.alphabet import plain
from vision.ocr import TextReader
from vision.ocr.deblur import DeblurConfig, unsmeared_crop
from vision.ocr.number_finder import FoundNumber, NumberFinder
from vision.ocr.padding import NUMBER_PAD, PLATE_PAD
from vision.ocr.text_detector import TextDetectionError, TextDetector
from vision.seals import SealClassifier, read_doors

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024
#: A container-number read that fits no template is kept as a part only with at least this many characters.
MIN_PART_CHARS = 4
Box = list[float]
NumberEvidence = tuple[Evidence | None, ContainerNumberRead | None]


@dataclass(frozen=True)
class ReaderConfig:
    """Crop padding (share of the box's width, height) and how near a size-type or seal box must be."""

    plate_pad: tuple[float, float] = PLATE_PAD
    number_pad: tuple[float, float] = NUMBER_PAD
    size_type_max_gap: float = 3.0  # in heights of the number box, centre to centre
    seal_near: float = 0.5  # share of a seal box that must lie in the handle's (grown) crop region
    deblur: DeblurConfig | None = field(default_factory=DeblurConfig)
    """A number crop smeared by the truck's motion is read once more with the smear undone (`vision.ocr.deblur`);
    None reads crops as they are."""

    def text_pad(self, kind: str) -> tuple[float, float]:
        """The padding of a text box of this class: plates have their own, numbers and size-type codes share one."""
        return self.plate_pad if kind == "plate" else self.number_pad


@dataclass(frozen=True)
class PlateResult:
    text: str
    format: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class ContainerResult:
    number: str
    check_digit_ok: bool
    size_type: str | None
    confidence: float
    box: Box


@dataclass(frozen=True)
class NumberPart:
    """What was read of a container number that fits no ISO 6346 template (`text`: capital letters and digits)."""

    text: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class SealResult:
    state: str
    number: str | None
    confidence: float
    box: Box


@dataclass(frozen=True)
class ImageRead:
    """Everything read from one image, or the reason it could not be read."""

    image: str
    plates: list[PlateResult] = field(default_factory=list)
    containers: list[ContainerResult] = field(default_factory=list)
    seals: list[SealResult] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of `smartgate read`."""
        if self.error is not None:
            return {"image": self.image, "error": self.error}
        return {"image": self.image,
                "plates": [vars(p) for p in self.plates],
                "containers": [vars(c) for c in self.containers],
                "seals": [vars(s) for s in self.seals]}


class ImageReadError(ValueError):
    """An image file that is missing, too large or not a decodable picture."""


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR uint8, refusing missing, oversized and undecodable files."""
    file = Path(path)
    if not file.is_file():
        raise ImageReadError(f"{file}: no such file")
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageReadError(f"{file}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit")
    data = np.frombuffer(file.read_bytes(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageReadError(f"{file}: not a decodable image")
    return image


class ImageReader:
    """Detector, OCR and seal classifier composed for still images; load once, read many."""

    def __init__(self, detector: Detector, text: TextReader, seals: SealClassifier,
                 config: ReaderConfig | None = None, finder: NumberFinder | None = None) -> None:
        self.detector, self.text, self.seals, self.finder = detector, text, seals, finder
        self.config = config or ReaderConfig()
        self.failed = 0

    @classmethod
    def load(cls, model: str | Path | None = None, threads: int | None = None) -> ImageReader:
        detector = Detector.load(threads=threads) if model is None else Detector.load(model, threads=threads)
        text = TextReader(threads=threads)
        finder = NumberFinder(TextDetector(threads=threads), text)
        return cls(detector, text, SealClassifier.load(), finder=finder)

    def read_files(self, paths: Sequence[str | Path]) -> list[ImageRead]:
        return [self.read_file(path) for path in paths]

    def read_file(self, path: str | Path) -> ImageRead:
        """One image file; a missing or corrupt file gives an `ImageRead` with `error` set."""
        try:
            image = load_image(path)
            return self.read(image, str(path))
        except (ImageReadError, ImageError, OSError) as exc:
            self.failed += 1
            log.warning("cannot read %s: %s", path, exc)
            return ImageRead(str(path), error=str(exc))

    def read(self, image: np.ndarray, name: str = "") -> ImageRead:
        """Read one BGR frame (raises `ImageError` for a frame the detector cannot take)."""
        frame = check_image(image)
        detections, _ = self.detector.detect_one(frame)
        containers = self.read_containers(frame, detections)
        if self.finder is not None and not any(c.check_digit_ok and c.size_type for c in containers):
            containers = self.find_containers(frame, containers)
        return ImageRead(name, self.read_plates(frame, detections), containers, self.read_seals(frame, detections))

    def find_containers(self, frame: np.ndarray, detected: list[ContainerResult]) -> list[ContainerResult]:
        """Container numbers from text lines anywhere in the frame, for when the detector's boxes gave none that
        validates, or no size-type code beside it (an operator and the customs record want both). The whole frame,
        not the detected container boxes: on real close-up views those are loose and sometimes miss the number.
        Numbers that validate win, each with the size type either path read for it, and the detector's validated
        numbers the search missed are kept; with none validated, the detector's reads, else the finder's best."""
        if self.finder is None:
            return detected
        try:
            found = [_container_result(f) for f in self.finder.find(frame).numbers]
        except TextDetectionError as exc:
            log.warning("text detection failed: %s", exc)
            return detected
        if not any(c.check_digit_ok for c in found):
            return detected or found
        sizes = {c.number: c.size_type for c in (*detected, *found) if c.size_type and c.check_digit_ok}
        numbers = {c.number for c in found}
        return [replace(c, size_type=c.size_type or sizes.get(c.number)) for c in found] + \
            [c for c in detected if c.check_digit_ok and c.number not in numbers]

    # The three steps below are public so that the lane pipeline reads its frames the same way, after it has
    # dropped the rows it need not read again; each batches all its crops of the frame into one OCR call.

    def read_plates(self, frame: np.ndarray, dets: Detections) -> list[PlateResult]:
        plates = dets[dets.class_id == class_index("plate")]
        crops = [padded_crop(frame, box, self.config.text_pad("plate")) for box in plates.xyxy]
        reads = self.text.read_plates(crops) if crops else []
        return [PlateResult(read.text, read.format, round(float(conf) * read.confidence, 4), rounded_box(box))
                for read, conf, box in zip(reads, plates.confidence, plates.xyxy, strict=True) if read.text]

    def read_containers(self, frame: np.ndarray, dets: Detections) -> list[ContainerResult]:
        return self.read_containers_and_parts(frame, dets)[0]

    def read_containers_and_parts(self, frame: np.ndarray, dets: Detections
                                  ) -> tuple[list[ContainerResult], list[NumberPart]]:
        """Numbers read whole; and what was read of the others (fits no ISO 6346 template: part of it hidden),
        kept for fusion to put together (`vision.fusion.number_assembly`)."""
        numbers = dets[dets.class_id == class_index("container_number")]
        if not len(numbers):
            return [], []
        sizes = dets[dets.class_id == class_index("size_type")]
        evidence = self._number_evidence(frame, numbers.xyxy)
        nearest = _nearest(numbers.xyxy, sizes.xyxy, self.config.size_type_max_gap)
        size_crops = [padded_crop(frame, sizes.xyxy[i], self.config.text_pad("size_type")) for i in nearest if i >= 0]
        size_reads = iter(self.text.read_size_types(size_crops) if size_crops else [])
        out: list[ContainerResult] = []
        parts: list[NumberPart] = []
        for (ev, read), conf, box, size_at in zip(evidence, numbers.confidence, numbers.xyxy, nearest, strict=True):
            size = next(size_reads) if size_at >= 0 else None
            if read is None or not read.number:
                part = "".join(ch for ch in plain(ev.raw) if ch.isascii()) if ev is not None else ""
                if ev is not None and len(part) >= MIN_PART_CHARS:
                    parts.append(NumberPart(part, round(float(conf) * _mean_confidence(ev), 4), rounded_box(box)))
                continue
            out.append(ContainerResult(read.number, read.check_digit_ok, size.code if size else None,
                                       round(float(conf) * read.confidence, 4), rounded_box(box)))
        return out, parts

    def _number_evidence(self, frame: np.ndarray, boxes: np.ndarray) -> list[NumberEvidence]:
        """Per number box, the recogniser's evidence and the number it makes. A crop smeared by motion is read
        also with the smear undone, in the same batch, and the read that makes the surer number wins
        (`better_number_read`); a sharp crop (most of them) costs only the measuring of its smear."""
        pad = self.config.text_pad("container_number")
        regions = [padded_region(frame.shape, box, pad) for box in boxes]
        crops = [frame[y0:y1, x0:x1] for x0, y0, x1, y1 in regions]
        sharp: dict[int, np.ndarray] = {}
        if self.config.deblur is not None:
            for i, (region, box) in enumerate(zip(regions, boxes, strict=True)):
                size = float(min(box[2] - box[0], box[3] - box[1]))
                if (image := unsmeared_crop(frame, region, size, self.config.deblur)) is not None:
                    sharp[i] = image
        evidence = self.text.evidence(crops + list(sharp.values()))
        reads = [_number_read(ev) for ev in evidence[:len(crops)]]
        for i, ev in zip(sharp, evidence[len(crops):], strict=True):
            reads[i] = better_number_read(reads[i], _number_read(ev))
        return reads

    def read_seals(self, frame: np.ndarray, dets: Detections) -> list[SealResult]:
        """One entry per container door seen (`vision.seals.read_doors`: its handle crops classified, detected seal
        boxes near them as extra evidence)."""
        return [SealResult(door.state.state, door.state.number, round(door.state.confidence, 4),
                           rounded_box(np.asarray(door.box)))
                for door in read_doors(frame, dets, self.seals, self.config.seal_near)]


def _mean_confidence(evidence: Evidence) -> float:
    return float(evidence.probs.max(axis=1).mean()) if len(evidence) else 0.0


def _container_result(found: FoundNumber) -> ContainerResult:
    return ContainerResult(found.read.number, found.read.check_digit_ok,
                           found.size_type.code if found.size_type else None, round(found.read.confidence, 4),
                           rounded_box(np.asarray(found.box)))


def _nearest(numbers: np.ndarray, sizes: np.ndarray, max_gap: float) -> list[int]:
    """For each number box, the nearest size-type box within `max_gap` character heights (the box's short
    side, so vertical numbers work too), else -1."""
    if not len(sizes):
        return [-1] * len(numbers)
    centre_n = (numbers[:, :2] + numbers[:, 2:]) / 2
    centre_s = (sizes[:, :2] + sizes[:, 2:]) / 2
    dist = np.linalg.norm(centre_n[:, None] - centre_s[None], axis=2)
    scale = np.maximum(1.0, np.minimum(numbers[:, 3] - numbers[:, 1], numbers[:, 2] - numbers[:, 0]))
    best = dist.argmin(axis=1)
    ok = dist[np.arange(len(numbers)), best] <= max_gap * scale
    return [int(b) if good else -1 for b, good in zip(best, ok, strict=True)]


def padded_crop(frame: np.ndarray, box: np.ndarray, pad: tuple[float, float]) -> np.ndarray:
    """The box grown by `pad` (shares of its width and height) on each side, clipped to the frame."""
    x0, y0, x1, y1 = padded_region(frame.shape, box, pad)
    return frame[y0:y1, x0:x1]


def padded_region(shape: tuple[int, ...], box: np.ndarray, pad: tuple[float, float]) -> tuple[int, int, int, int]:
    """Pixel bounds of `padded_crop` in a frame of this shape."""
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = pad[0] * (x1 - x0), pad[1] * (y1 - y0)
    h, w = shape[:2]
    return max(0, int(x0 - dx)), max(0, int(y0 - dy)), min(w, int(np.ceil(x1 + dx))), min(h, int(np.ceil(y1 + dy)))


def _number_read(evidence: Evidence | None) -> NumberEvidence:
    return evidence, read_container_number(evidence) if evidence is not None else None


def better_number_read(a: NumberEvidence, b: NumberEvidence) -> NumberEvidence:
    """Of two reads of one crop: the one that makes a number, the surer of two numbers (a read check digit before a
    computed one), else the one with more characters (the longer part for `number_assembly`)."""
    def rank(item: NumberEvidence) -> tuple[bool, bool, float, int]:
        evidence, read = item
        if read is not None and read.number:
            return True, read.check_digit_ok, read.confidence, 0
        return False, False, 0.0, len(plain(evidence.raw)) if evidence is not None else -1
    return b if rank(b) > rank(a) else a


def rounded_box(box: np.ndarray) -> Box:
    """A box as reported: pixels to 0.1 (also the key that ties a result back to its detection row)."""
    return [round(float(v), 1) for v in box]

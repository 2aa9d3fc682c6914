"""Finding text lines in a whole image: PP-OCR's real-trained DBNet text detector through ONNX Runtime.

The gate detector was trained on synthetic footage and misses most container numbers on real photographs; this
model was trained on real scene text, so it finds the painted lines of a container (horizontal, and vertical
columns of stacked characters) wherever they are. Only the model file of the `rapidocr_onnxruntime` wheel is used;
the pre- and post-processing are written here:

- the image is scaled so its long side is at most `max_side`, each side a multiple of 32 (the network's stride);
- pixels scaled to [-1, 1] (PP-OCR's mean 0.5, std 0.5), BGR order as PaddleOCR feeds it;
- the probability map is thresholded; each connected region with enough mean probability is one line, its
  minimum-area rectangle grown back by DBNet's "unclip" offset (the network predicts a shrunk kernel of each
  line: offset = area × ratio / perimeter), then mapped to image pixels.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from vision.ocr.lines import as_bgr
from vision.ocr.model import installed_model

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

#: (package, file under its `models/`), in order of preference.
DETECTION_MODELS: tuple[tuple[str, str], ...] = (
    ("rapidocr_onnxruntime", "ch_PP-OCRv4_det_infer.onnx"),
    ("rapidocr", "ch_PP-OCRv4_det_infer.onnx"),
)
STRIDE = 32
MAX_INPUT_SIDE = 16384  # larger arrays are refused, not resized: nothing a camera sends is that big
MIN_INPUT_SIDE = 8


class TextDetectionError(ValueError):
    """An image the text detector cannot take: wrong type, shape, too small or too large."""


@dataclass(frozen=True)
class TextDetectorConfig:
    """Input size and the thresholds of DBNet's post-processing (PaddleOCR's defaults, except `max_side`)."""

    max_side: int = 960  # long side of the network input; numbers on real gate photos are 40-90 px tall at 1920
    threshold: float = 0.3  # probability above which a pixel is text
    box_threshold: float = 0.5  # mean probability a region needs to be kept as a line
    unclip_ratio: float = 1.6
    min_side: float = 3.0  # short side of a region, in map pixels; smaller ones are noise
    max_lines: int = 64  # the largest lines are kept, which bounds what the recogniser is given

    def __post_init__(self) -> None:
        if self.max_side < STRIDE or self.max_side % STRIDE:
            raise ValueError(f"max_side must be a positive multiple of {STRIDE}, got {self.max_side}")
        if not (0.0 < self.threshold < 1.0 and 0.0 < self.box_threshold < 1.0):
            raise ValueError("threshold and box_threshold must lie in (0, 1)")
        if self.max_lines < 1 or self.unclip_ratio <= 0:
            raise ValueError("max_lines must be >= 1 and unclip_ratio > 0")


@dataclass(frozen=True)
class TextLines:
    """N text lines of one image: axis boxes `xyxy` (N, 4) and rotated corners `quads` (N, 4, 2) in image
    pixels, `scores` (N,) the mean text probability, and how long the detection took."""

    xyxy: FloatArray
    quads: FloatArray
    scores: FloatArray
    elapsed_ms: float = 0.0

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @classmethod
    def empty(cls) -> TextLines:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32))

    @property
    def vertical(self) -> npt.NDArray[np.bool_]:
        """Columns of stacked characters: boxes at least twice as tall as wide."""
        return (self.xyxy[:, 3] - self.xyxy[:, 1]) > 2.0 * (self.xyxy[:, 2] - self.xyxy[:, 0])


def default_detection_model() -> Path:
    """The PP-OCR DBNet text detection model of the rapidocr wheel."""
    return installed_model(DETECTION_MODELS, "PP-OCR text detection model")


def check_image(image: object) -> np.ndarray:
    """A BGR uint8 image (grey and BGRA are converted) within the size limits, else `TextDetectionError`."""
    image = as_bgr(image, "image", TextDetectionError)
    h, w = image.shape[:2]
    if min(h, w) < MIN_INPUT_SIDE:
        raise TextDetectionError(f"image must be at least {MIN_INPUT_SIDE}x{MIN_INPUT_SIDE} pixels, got {w}x{h}")
    if max(h, w) > MAX_INPUT_SIDE:
        raise TextDetectionError(f"image sides must be at most {MAX_INPUT_SIDE} pixels, got {w}x{h}")
    return image


def _checked_side(max_side: int) -> int:
    if max_side < STRIDE or max_side % STRIDE or max_side > MAX_INPUT_SIDE:
        raise ValueError(f"max_side must be a multiple of {STRIDE} in [{STRIDE}, {MAX_INPUT_SIDE}], got {max_side}")
    return max_side


def input_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) of the network input: scaled down to `max_side` (never up), rounded to the stride."""
    scale = min(1.0, max_side / max(height, width))
    return (max(STRIDE, round(height * scale / STRIDE) * STRIDE),
            max(STRIDE, round(width * scale / STRIDE) * STRIDE))


class TextDetector:
    """Text lines of an image, from one `session.run`; load once, detect many."""

    def __init__(self, path: Path | None = None, threads: int | None = None,
                 config: TextDetectorConfig | None = None) -> None:
        self.path = path or default_detection_model()
        self.config = config or TextDetectorConfig()
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see RecognitionModel
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def probability_map(self, image: np.ndarray, max_side: int | None = None) -> FloatArray:
        """The network's text probability per input pixel (the input's size, see `input_size`)."""
        h, w = input_size(image.shape[0], image.shape[1], _checked_side(max_side or self.config.max_side))
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if h < image.shape[0] else cv2.INTER_LINEAR)
        tensor = (resized.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        output = self.session.run(None, {self.input_name: np.ascontiguousarray(tensor)})[0]
        return np.asarray(output[0, 0], np.float32)

    def detect(self, image: object, max_side: int | None = None) -> TextLines:
        """Text lines of a BGR image, largest first, at most `config.max_lines`; `max_side` overrides the
        configured input size (a second look at a higher resolution)."""
        start = time.monotonic()
        frame = check_image(image)
        prob = self.probability_map(frame, max_side)
        lines = lines_from_map(prob, self.config)
        scale = np.array([frame.shape[1] / prob.shape[1], frame.shape[0] / prob.shape[0]], np.float32)
        quads = lines.quads * scale
        xyxy = np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1).reshape(-1, 4)
        limit = np.array([frame.shape[1], frame.shape[0]] * 2, np.float32)
        xyxy = np.clip(xyxy, 0.0, limit).astype(np.float32)
        return TextLines(xyxy, quads.astype(np.float32), lines.scores, 1000.0 * (time.monotonic() - start))


def lines_from_map(prob: FloatArray, config: TextDetectorConfig) -> TextLines:
    """DBNet post-processing on a probability map; boxes in map pixels."""
    mask = (prob > config.threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return TextLines.empty()
    sums = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=count)
    means = sums / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    short = np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = np.flatnonzero((means >= config.box_threshold) & (short >= config.min_side))
    keep = keep[keep > 0]
    keep = keep[np.argsort(-stats[keep, cv2.CC_STAT_AREA], kind="stable")][:config.max_lines]
    quads, scores = [], []
    for i in keep:
        x, y, w, h = (int(v) for v in stats[i, :4])
        corner = np.array([x, y], np.float32)
        points = np.argwhere(labels[y:y + h, x:x + w] == i)[:, ::-1].astype(np.float32) + corner
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(points)
        rw, rh = rw + 1.0, rh + 1.0  # pixel centres to pixel edges
        grow = rw * rh * config.unclip_ratio / (2.0 * (rw + rh))
        quads.append(cv2.boxPoints(((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)))
        scores.append(means[i])
    quad_array = np.array(quads, np.float32).reshape(-1, 4, 2)
    xyxy = np.concatenate([quad_array.min(axis=1), quad_array.max(axis=1)], axis=1).reshape(-1, 4)
    return TextLines(xyxy.astype(np.float32), quad_array, np.array(scores, np.float32))

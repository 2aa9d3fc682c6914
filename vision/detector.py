"""The gate detector at run time: the exported YOLO model through ONNX Runtime, no PyTorch.

`Detector.detect` letterboxes each BGR frame to the model's fixed input, runs it, decodes the raw anchors,
thresholds per class, applies class-aware NMS in numpy and maps boxes back to the frame's pixels. The shipped
model has a fixed batch of 1, so every image is one `session.run`. A bad image (None, empty, wrong dtype or
channels, too large) gives empty detections, is logged and counted in `rejected`; the other images go on.
`detect_one` raises `ImageError` instead, for callers that report errors per image.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from datasets.recording import OBJECT_CLASSES
from vision.detections import Detections, FloatArray

log = logging.getLogger(__name__)

FLOAT_MODEL = Path(__file__).resolve().parent / "models" / "gate_detector.onnx"
"""The exported float32 detector (`smartgate train` / `export`): the reference, and the source of the int8 one."""
INT8_MODEL = Path(__file__).resolve().parent / "models" / "gate_detector_int8.onnx"
"""The same detector quantised to int8 (`smartgate quantize`): about 1.25× faster on the CPU, the same mAP50."""
DEFAULT_MODEL = INT8_MODEL
PAD_VALUE = 114  # ultralytics' letterbox grey; the model was trained with it
STRIDE = 32
MAX_SIDE_PX = 16384
MAX_PIXELS = 80_000_000


class ImageError(ValueError):
    """An image the detector cannot take: says what was expected and what came."""


class DetectorModelError(ValueError):
    """A model file that is missing or does not have the expected YOLO input and output."""


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds. `class_thresholds` overrides `score_threshold` per class name (seals are small and weak)."""

    score_threshold: float = 0.25
    class_thresholds: Mapping[str, float] = field(default_factory=lambda: {"seal": 0.15, "door_handle": 0.2})
    iou_threshold: float = 0.5
    max_candidates: int = 3000
    max_detections: int = 300

    def thresholds(self, classes: Sequence[str]) -> FloatArray:
        """One score threshold per class, in the model's class order."""
        return np.array([self.class_thresholds.get(name, self.score_threshold) for name in classes], np.float32)


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds per stage of one image (ultralytics reports the same three)."""

    pre_ms: float
    infer_ms: float
    post_ms: float

    @property
    def total_ms(self) -> float:
        return self.pre_ms + self.infer_ms + self.post_ms


@dataclass(frozen=True)
class Letterbox:
    """How a frame was placed in the model input: input = frame * scale + (pad_x, pad_y)."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    def to_frame(self, xyxy: FloatArray) -> FloatArray:
        """Map boxes from model-input pixels back to frame pixels, clipped to the frame."""
        out = np.empty_like(xyxy, dtype=np.float32)
        out[:, [0, 2]] = (xyxy[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (xyxy[:, [1, 3]] - self.pad_y) / self.scale
        limits = np.array([self.width, self.height, self.width, self.height], np.float32)
        clipped: FloatArray = np.clip(out, 0.0, limits)
        return clipped

    def to_input(self, xyxy: FloatArray) -> FloatArray:
        """Map frame boxes into model-input pixels (the inverse of `to_frame`, for tests and training checks)."""
        out = np.asarray(xyxy, np.float32).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out


def check_image(image: object) -> np.ndarray:
    """The image as a uint8 BGR array, or `ImageError` saying what is wrong with it."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"image must be uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"image must have shape (H, W, 3) BGR, got {image.shape}")
    h, w = int(image.shape[0]), int(image.shape[1])
    if h < 1 or w < 1:
        raise ImageError(f"image is empty: {w}x{h}")
    if max(h, w) > MAX_SIDE_PX or h * w > MAX_PIXELS:
        raise ImageError(f"image {w}x{h} is too large (at most {MAX_SIDE_PX} px a side, {MAX_PIXELS} pixels)")
    return image


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad with grey to `size` (height, width), the image centred."""
    in_h, in_w = size
    h, w = int(image.shape[0]), int(image.shape[1])
    scale = min(in_h / h, in_w / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
    resized = image if (new_w, new_h) == (w, h) else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return canvas, Letterbox(scale, pad_x, pad_y, w, h)


def to_tensor(canvas: np.ndarray, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
    """BGR uint8 HWC → RGB float32 NCHW in 0–1, written into `out` when given (shape `(1, 3, H, W)`).

    A detector reuses one `out` for every frame: a fresh 6 MB tensor per frame cost more in page faults than the
    conversion itself (0.6 s of 15 on the benchmark lane)."""
    h, w = canvas.shape[:2]
    if out is None or out.shape != (1, 3, h, w):
        out = np.empty((1, 3, h, w), np.float32)
    for channel in range(3):
        np.multiply(canvas[:, :, 2 - channel], np.float32(1.0 / 255.0), out=out[0, channel], casting="unsafe")
    return out


def decode(output: np.ndarray, thresholds: FloatArray, max_candidates: int) -> tuple[FloatArray, FloatArray,
                                                                                      npt.NDArray[np.int32]]:
    """Raw `[1, 4 + C, N]` anchors → candidate boxes (xyxy, input pixels), scores and classes.

    Multi-label: an anchor yields one candidate per class whose score passes that class's threshold, so a seal
    anchor that also scores as a handle is not lost. Keeps the `max_candidates` best.
    """
    rows = output[0]
    n_classes = rows.shape[0] - 4
    if thresholds.shape != (n_classes,):
        raise DetectorModelError(f"model outputs {n_classes} classes, thresholds are for {thresholds.shape[0]}")
    scores = rows[4:]
    cls, anchor = np.nonzero(scores > thresholds[:, None])
    conf = scores[cls, anchor]
    if conf.size > max_candidates:
        best = np.argpartition(-conf, max_candidates)[:max_candidates]
        cls, anchor, conf = cls[best], anchor[best], conf[best]
    cx, cy, bw, bh = rows[0, anchor], rows[1, anchor], rows[2, anchor], rows[3, anchor]
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
    return xyxy, conf.astype(np.float32), cls.astype(np.int32)


def nms(xyxy: FloatArray, scores: FloatArray, classes: npt.NDArray[np.int32], iou_threshold: float,
        max_detections: int = 300) -> npt.NDArray[np.intp]:
    """Class-aware greedy NMS: indices kept, best score first. Boxes of different classes never suppress each
    other (each class is shifted to its own region of the plane, as torchvision's batched_nms does)."""
    if xyxy.shape[0] == 0:
        return np.zeros(0, np.intp)
    shift = (classes.astype(np.float32) * (float(np.abs(xyxy).max()) + 1.0))[:, None]
    boxes = xyxy + shift
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=1)
        union = area[best] + area[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.intp)


class Detector:
    """The ONNX gate detector. One instance per thread: an ORT session may be shared; the timings and the input
    buffer may not."""

    def __init__(self, session: object, config: DetectorConfig | None = None,
                 classes: Sequence[str] = OBJECT_CLASSES) -> None:
        import onnxruntime as ort

        if not isinstance(session, ort.InferenceSession):
            raise TypeError(f"session must be an onnxruntime.InferenceSession, got {type(session).__name__}")
        self.session = session
        self.config = config or DetectorConfig()
        self.classes = tuple(classes)
        self.input_name, self.input_size = _input_of(session)
        self._thresholds = self.config.thresholds(self.classes)
        self.rejected = 0
        self.last_times: list[StageTimes] = []
        self._tensor: npt.NDArray[np.float32] | None = None
        """The input tensor, reused from frame to frame (`to_tensor`)."""

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL, threads: int | None = None,
             config: DetectorConfig | None = None) -> Detector:
        """Open the model on the CPU; `threads` bounds ONNX Runtime's intra-op threads (default: all cores)."""
        import onnxruntime as ort

        file = Path(path)
        if not file.is_file():
            raise DetectorModelError(f"{file}: detector model not found")
        options = ort.SessionOptions()
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be at least 1, got {threads}")
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors for a corrupt file
            raise DetectorModelError(f"{file}: cannot load ONNX model: {exc}") from None
        return cls(session, config)

    def detect_one(self, image: object) -> tuple[Detections, StageTimes]:
        """Detections of one BGR frame in its own pixels, and the time of each stage; `ImageError` if bad."""
        started = time.perf_counter()
        frame = check_image(image)
        canvas, box = letterbox(frame, self.input_size)
        tensor = self._tensor = to_tensor(canvas, self._tensor)
        inferred = time.perf_counter()
        (output,) = self.session.run(None, {self.input_name: tensor})
        decoded = time.perf_counter()
        detections = self.postprocess(np.asarray(output, np.float32), box)
        done = time.perf_counter()
        return detections, StageTimes(1e3 * (inferred - started), 1e3 * (decoded - inferred), 1e3 * (done - decoded))

    def detect(self, images: Sequence[object]) -> list[Detections]:
        """One `Detections` per image, in order; a bad image gives empty detections (logged, counted).
        Stage times of the images read are left in `last_times`."""
        out: list[Detections] = []
        times: list[StageTimes] = []
        for i, image in enumerate(images):
            try:
                detections, spent = self.detect_one(image)
            except ImageError as exc:
                self.rejected += 1
                log.warning("image %d rejected: %s", i, exc)
                out.append(Detections.empty())
                continue
            out.append(detections)
            times.append(spent)
        self.last_times = times
        return out

    def postprocess(self, output: np.ndarray, box: Letterbox) -> Detections:
        """Raw model output of one image → thresholded, NMS-ed detections in frame pixels."""
        expected = 4 + len(self.classes)
        if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != expected:
            raise DetectorModelError(f"model output must have shape (1, {expected}, N), got {output.shape}")
        xyxy, conf, cls = decode(output, self._thresholds, self.config.max_candidates)
        keep = nms(xyxy, conf, cls, self.config.iou_threshold, self.config.max_detections)
        boxes = box.to_frame(xyxy[keep])
        has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections.from_arrays(boxes[has_area], conf[keep][has_area], cls[keep][has_area])


def _input_of(session: object) -> tuple[str, tuple[int, int]]:
    """The input's name and fixed (height, width); the model must take one [1, 3, H, W] image."""
    inputs = session.get_inputs()  # type: ignore[attr-defined]
    if len(inputs) != 1:
        raise DetectorModelError(f"model must have one input, got {len(inputs)}")
    shape = inputs[0].shape
    if len(shape) != 4 or not all(isinstance(v, int) for v in shape[1:]) or shape[1] != 3:
        raise DetectorModelError(f"model input must be [1, 3, H, W] with a fixed H and W, got {shape}")
    height, width = int(shape[2]), int(shape[3])
    if height % STRIDE or width % STRIDE:
        raise DetectorModelError(f"model input {width}x{height} is not a multiple of the stride {STRIDE}")
    return str(inputs[0].name), (height, width)

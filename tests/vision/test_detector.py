"""The ONNX gate detector on a synthetic frame rendered at test time, plus its pure pieces (letterbox, NMS)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.recording import FrameTruth, Recording
from vision.detections import box_iou, class_index
from vision.detector import (
    Detector,
    DetectorConfig,
    ImageError,
    check_image,
    letterbox,
    nms,
)
from vision.reader import load_image


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(threads=2)


def frame_with(recording: Recording, camera: str, cls: str, min_height: float) -> FrameTruth:
    """The first frame of `camera` holding a `cls` box at least `min_height` px high."""
    for truth in recording.frames(camera):
        if any(o.cls == cls and o.box[3] - o.box[1] >= min_height for o in truth.objects):
            return truth
    raise LookupError(f"no {camera} frame with a {cls} of {min_height} px")


def test_finds_vehicle_and_plate_near_truth(recording: Recording, detector: Detector) -> None:
    truth = frame_with(recording, "front", "plate", 25)
    image = load_image(recording.frame_path(truth))
    detections, times = detector.detect_one(image)
    for cls in ("vehicle", "plate"):
        want = np.array([o.box for o in truth.objects if o.cls == cls], np.float32)
        got = detections[detections.class_id == class_index(cls)]
        assert len(got), f"no {cls} found"
        assert box_iou(want, got.xyxy).max(axis=1).min() >= 0.5
    assert times.infer_ms > 0
    assert times.pre_ms > 0
    assert times.post_ms > 0
    h, w = image.shape[:2]
    assert (detections.xyxy >= 0).all()
    assert (detections.xyxy[:, [0, 2]] <= w).all()
    assert (detections.xyxy[:, [1, 3]] <= h).all()


@pytest.mark.parametrize("size", [(540, 960), (1080, 1920), (720, 1280), (600, 800), (1000, 300), (7, 5)])
def test_letterbox_round_trip_is_exact(size: tuple[int, int]) -> None:
    image = np.zeros((*size, 3), np.uint8)
    canvas, box = letterbox(image, (544, 960))
    assert canvas.shape == (544, 960, 3)
    h, w = size
    frame_boxes = np.array([[0, 0, w, h], [w * 0.25, h * 0.5, w * 0.75, h * 0.9]], np.float32)
    back = box.to_frame(box.to_input(frame_boxes))
    np.testing.assert_allclose(back, frame_boxes, atol=1e-3)
    inside = box.to_input(frame_boxes[:1])[0]
    assert inside[0] >= 0
    assert inside[1] >= 0
    assert inside[2] <= 960 + 1e-3
    assert inside[3] <= 544 + 1e-3


def test_letterbox_pads_with_grey() -> None:
    canvas, box = letterbox(np.zeros((540, 960, 3), np.uint8), (544, 960))
    assert (box.pad_x, box.pad_y, box.scale) == (0, 2, 1.0)
    assert (canvas[:2] == 114).all()
    assert (canvas[-2:] == 114).all()
    assert (canvas[2:-2] == 0).all()


BOXES = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)


@pytest.mark.parametrize(("scores", "classes", "iou", "kept"), [
    ([0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], 0.5, [0, 2]),          # 1 and 3 overlap 0 of the same class
    ([0.9, 0.8, 0.7, 0.6], [0, 0, 0, 1], 0.5, [0, 2, 3]),       # another class never suppresses
    ([0.6, 0.9, 0.7, 0.5], [0, 0, 0, 0], 0.5, [1, 2]),          # best first: 1 suppresses 0 and 3
    ([0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], 0.9, [0, 1, 2]),       # IoU 0.68 is below a 0.9 threshold
    ([0.9, 0.8, 0.7, 0.6], [0, 1, 2, 3], 0.5, [0, 1, 2, 3]),
])
def test_nms(scores: list[float], classes: list[int], iou: float, kept: list[int]) -> None:
    keep = nms(BOXES, np.array(scores, np.float32), np.array(classes, np.int32), iou)
    assert sorted(keep.tolist()) == kept


def test_nms_agrees_with_opencv() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2)).astype(np.float32)], axis=1)
    scores = rng.uniform(0.3, 1.0, 300).astype(np.float32)
    classes = rng.integers(0, 3, 300).astype(np.int32)
    ours = nms(boxes, scores, classes, 0.5, max_detections=1000)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    theirs = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), 0.0, 0.5)
    assert set(ours.tolist()) == set(np.asarray(theirs).ravel().tolist())


def test_nms_empty_and_max_detections() -> None:
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), 0.5).size == 0
    far = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(10)], np.float32)
    keep = nms(far, np.linspace(1, 0.1, 10).astype(np.float32), np.zeros(10, np.int32), 0.5, max_detections=3)
    assert keep.tolist() == [0, 1, 2]


@pytest.mark.parametrize(("image", "message"), [
    (None, "numpy array"),
    (np.zeros((0, 0, 3), np.uint8), "empty"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((10, 10), np.uint8), "(H, W, 3)"),
    (np.zeros((10, 10, 4), np.uint8), "(H, W, 3)"),
    (np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (20000, 20000, 3), (0, 0, 1)), "too large"),
])
def test_bad_images_raise_clear_errors(image: object, message: str) -> None:
    with pytest.raises(ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_image(image)


def test_bad_image_in_a_batch_leaves_the_others(recording: Recording, detector: Detector) -> None:
    truth = frame_with(recording, "front", "plate", 25)
    image = load_image(recording.frame_path(truth))
    before = detector.rejected
    results = detector.detect([None, image, np.zeros((5, 5), np.uint8)])
    assert [len(r) > 0 for r in results] == [False, True, False]
    assert detector.rejected == before + 2
    assert len(detector.last_times) == 1


def test_config_thresholds_per_class() -> None:
    config = DetectorConfig(score_threshold=0.3, class_thresholds={"seal": 0.1})
    got = config.thresholds(("vehicle", "seal"))
    np.testing.assert_allclose(got, [0.3, 0.1])


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        Detector.load(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load"):
        Detector.load(bad)

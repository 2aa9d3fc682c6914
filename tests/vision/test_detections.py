"""Detections: construction, validation errors, selection, merge and IoU."""

from __future__ import annotations

import numpy as np
import pytest

from vision.detections import Detections, DetectionsError, box_ioa, box_iou, class_index, class_name, drop_inner


@pytest.mark.parametrize(("xyxy", "kwargs", "error"), [
    ([[0, 0, 10, 10]], {}, None),
    (np.zeros((0, 4)), {}, None),
    ([1, 2, 3], {}, r"xyxy must have shape \(N, 4\), got \(3,\)"),
    ([[0, 0, 10]], {}, r"xyxy must have shape \(N, 4\), got \(1, 3\)"),
    ([[0, 0, np.nan, 10]], {}, "xyxy must be finite"),
    ([[10, 0, 0, 10]], {}, "x1 >= x0"),
    ([[0, 0, 10, 10]], {"confidence": [0.5, 0.6]}, r"confidence must have shape \(1,\), got \(2,\)"),
    ([[0, 0, 10, 10]], {"confidence": [1.5]}, r"confidence must lie in \[0, 1\]"),
    ([[0, 0, 10, 10]], {"confidence": [np.inf]}, "confidence must be finite"),
    ([[0, 0, 10, 10]], {"class_id": [1, 2]}, r"class_id must have shape \(1,\)"),
    ([[0, 0, 10, 10]], {"data": {"text": ["a", "b"]}}, r"data\['text'\] must have 1 rows"),
])
def test_from_arrays_validates(xyxy, kwargs, error) -> None:
    if error is None:
        dets = Detections.from_arrays(xyxy, **kwargs)
        assert dets.xyxy.dtype == np.float32
        assert dets.tracker_id.dtype == np.int64
        assert np.all(dets.tracker_id == -1)
    else:
        with pytest.raises(DetectionsError, match=error):
            Detections.from_arrays(xyxy, **kwargs)


def sample() -> Detections:
    return Detections.from_arrays([[0, 0, 10, 10], [5, 5, 15, 25], [100, 100, 120, 110]], [0.9, 0.4, 0.7],
                                  [0, 1, 0], data={"text": np.array(["a", "b", "c"])})


def test_mask_index_and_slice_select_rows_as_new_objects() -> None:
    dets = sample()
    vehicles = dets[dets.class_id == class_index("vehicle")]
    assert len(vehicles) == 2
    assert list(vehicles.data["text"]) == ["a", "c"]
    assert list(dets[np.array([2, 0])].confidence) == pytest.approx([0.7, 0.9])
    assert len(dets[1:]) == 2
    assert len(dets[1]) == 1
    assert len(dets[np.array([], int)]) == 0
    assert list(dets.area) == [100.0, 200.0, 200.0]
    with pytest.raises(DetectionsError, match=r"boolean mask must have shape \(3,\)"):
        dets[np.array([True, False])]
    with pytest.raises(IndexError):
        dets[5]


def test_with_tracker_id_leaves_the_original_alone() -> None:
    dets = sample()
    tracked = dets.with_tracker_id([7, -1, 9])
    assert list(tracked.tracker_id) == [7, -1, 9]
    assert list(dets.tracker_id) == [-1, -1, -1]
    with pytest.raises(AttributeError):
        dets.xyxy = np.zeros((0, 4), np.float32)  # type: ignore[misc]


def test_merge_concatenates_and_refuses_mismatched_data() -> None:
    merged = Detections.merge([sample(), sample()])
    assert len(merged) == 6
    assert len(merged.data["text"]) == 6
    assert len(Detections.merge([])) == 0
    with pytest.raises(DetectionsError, match="data keys"):
        Detections.merge([sample(), Detections.from_arrays([[0, 0, 1, 1]])])


def test_box_iou_matches_hand_computed_values() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    assert iou[0] == pytest.approx([1.0, 50 / 150, 0.0])
    assert np.all(iou[1] == 0.0)  # a zero-area box: no division by zero
    assert box_ioa(np.array([[2, 2, 4, 4]], np.float32), a)[0] == pytest.approx([1.0, 0.0])


def test_class_names() -> None:
    assert class_name(class_index("seal")) == "seal"
    assert class_name(99) == "unknown"
    with pytest.raises(DetectionsError, match="unknown class"):
        class_index("boat")


def test_a_vehicle_box_inside_a_larger_one_is_dropped_other_classes_and_overlaps_kept() -> None:
    """The rear camera's detector gave a truck's lower edge beside the whole truck (IoU 0.35, NMS kept both)."""
    vehicle, plate = class_index("vehicle"), class_index("plate")
    detections = Detections.from_arrays(
        [[22, 231, 1280, 720], [0, 548, 1259, 720], [300, 600, 400, 640], [1100, 0, 1280, 300]],
        [0.96, 0.67, 0.9, 0.8], [vehicle, vehicle, plate, vehicle])
    kept = drop_inner(detections, vehicle, 0.8)
    assert kept.xyxy.tolist() == [[22, 231, 1280, 720], [300, 600, 400, 640], [1100, 0, 1280, 300]]
    assert len(drop_inner(detections[[0, 1]], vehicle, 0.8)) == 1
    assert len(drop_inner(Detections.empty(), vehicle, 0.8)) == 0

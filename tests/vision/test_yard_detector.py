"""The training-free yard detector on synthetic yard footage, and its placement on the ground."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import shapely

from calibration.files import CalibrationStore
from datasets.yard_synth import open_yard_recording, write_yard_recording
from datasets.yard_synth.cameras import yard_cameras
from datasets.yard_synth.recording import YardRecording
from vision.yard_detector import CONTAINER_CLASS, YardDetector, YardDetectorError, YardDetectorSettings
from yard.camera_projection import project_detections
from yard.ground_detections import KIND_CONTAINER
from yard.layout import load_layout

SEED = 5


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> YardRecording:
    return open_yard_recording(write_yard_recording(tmp_path_factory.mktemp("yard") / "rec", SEED, 4.0, 2.0))


def _detector(recording: YardRecording) -> YardDetector:
    detector = YardDetector()
    background = recording.background("top")
    assert background is not None
    detector.set_background("top", background)
    return detector


def test_every_container_on_top_of_a_stack_is_detected(recording: YardRecording) -> None:
    camera = next(c for c in yard_cameras(load_layout(recording.layout_path), SEED) if c.name == "top")
    detector = _detector(recording)
    found = total = 0
    for _, images, truth in recording:
        image = images["top"]
        assert image is not None
        boxes = detector.detect("top", image).xyxy
        tops: dict[tuple[float, float], tuple[float, float, float]] = {}
        for obj in truth.objects:
            if obj.kind == "container" and obj.base + obj.height > tops.get(obj.xy, (0, 0, 0))[2]:
                tops[obj.xy] = (*obj.xy, obj.base + obj.height)
        pixels, _ = camera.project(np.array(list(tops.values())))
        inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < 1280) & (pixels[:, 1] >= 0) & (pixels[:, 1] < 720)
        pixels = pixels[inside]
        hit = ((pixels[:, None, 0] >= boxes[None, :, 0]) & (pixels[:, None, 0] < boxes[None, :, 2])
               & (pixels[:, None, 1] >= boxes[None, :, 1]) & (pixels[:, None, 1] < boxes[None, :, 3])).any(axis=1)
        found += int(hit.sum())
        total += len(pixels)
    assert total > 500
    assert found / total >= 0.95


def test_projected_centres_land_in_the_right_slot(recording: YardRecording) -> None:
    layout = load_layout(recording.layout_path)
    calibration = CalibrationStore(recording.calibration_root).latest("top")
    slots = [slot for slot in layout.slots if layout.zone(slot.zone_id).kind == "buffer_stack"]
    tree = shapely.STRtree([slot.polygon for slot in slots])
    detector = _detector(recording)
    right = occupied = false_alarms = empty = 0
    for _, images, truth in recording:
        image = images["top"]
        assert image is not None
        detections = detector.detect("top", image)
        ground = project_detections(calibration, "top", detections.data["rect"], detections.data["blob"],
                                    detections.confidence)
        containers = ground.xy_m[ground.kind == KIND_CONTAINER]
        hit = {slots[i].id for i in tree.query(shapely.points(containers), predicate="within")[1]}
        for slot in slots:
            state = truth.slots[slot.id].kind
            occupied += state != "empty"
            right += state == "container" and slot.id in hit
            empty += state == "empty"
            false_alarms += state == "empty" and slot.id in hit
    assert occupied > 500
    assert right / occupied >= 0.95
    assert false_alarms / max(empty, 1) <= 0.02


def test_coarse_class_tells_painted_containers_from_grey_vehicles(recording: YardRecording) -> None:
    detector = _detector(recording)
    image = recording.read_frame("top", 0)
    assert image is not None
    detections = detector.detect("top", image)
    saturated = detections.data["saturation"] >= YardDetectorSettings().saturation_container
    assert np.array_equal(detections.class_id == CONTAINER_CLASS, saturated)
    assert 0 < saturated.mean() < 1


def _ground(width: int = 320, height: int = 240) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(rng.normal(120, 3, (height, width, 3)), 0, 255).astype(np.uint8)


def test_a_drawn_box_is_found_where_it_is() -> None:
    detector = YardDetector()
    background = _ground()
    detector.set_background("cam", background)
    assert len(detector.detect("cam", background)) == 0
    frame = background.copy()
    cv2.rectangle(frame, (100, 60), (179, 89), (30, 60, 200), thickness=cv2.FILLED)
    for _ in range(50):   # a parked object never fades into the background
        detections = detector.detect("cam", frame)
    assert len(detections) == 1
    assert detections.xyxy[0] == pytest.approx([100, 60, 180, 90], abs=2)
    assert detections.data["rect"][0].min(axis=0) == pytest.approx([100, 60], abs=2)
    assert detections.class_id[0] == CONTAINER_CLASS


def test_global_light_change_is_not_an_object() -> None:
    detector = YardDetector()
    background = _ground()
    detector.set_background("cam", background)
    assert len(detector.detect("cam", cv2.convertScaleAbs(background, alpha=1.25))) == 0


def test_without_a_background_the_first_frames_are_learned() -> None:
    detector = YardDetector(YardDetectorSettings(warmup_frames=3))
    background = _ground()
    assert [len(detector.detect("cam", background)) for _ in range(3)] == [0, 0, 0]
    frame = background.copy()
    cv2.rectangle(frame, (10, 10), (60, 40), (220, 220, 40), thickness=cv2.FILLED)
    assert len(detector.detect("cam", frame)) == 1


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros((240, 320), np.uint8), "BGR uint8"),
    (np.zeros((240, 320, 3), np.float32), "BGR uint8"),
    (np.zeros((240, 320, 4), np.uint8), "BGR uint8"),
    ("not an image", "BGR uint8"),
    (np.zeros((4, 4, 3), np.uint8), "too small"),
    (np.zeros((200, 320, 3), np.uint8), "background"),
])
def test_bad_frames_are_refused(frame: object, message: str) -> None:
    detector = YardDetector()
    detector.set_background("cam", _ground())
    with pytest.raises(YardDetectorError, match=message):
        detector.detect("cam", frame)  # type: ignore[arg-type]


def test_each_camera_has_its_own_background() -> None:
    detector = YardDetector()
    detector.set_background("a", _ground())
    with pytest.raises(YardDetectorError):
        detector.set_background("b", np.zeros((10, 10), np.uint8))
    assert len(detector.detect("a", _ground())) == 0


def test_projection_refuses_mismatched_arrays_and_unknown_views(recording: YardRecording) -> None:
    calibration = CalibrationStore(recording.calibration_root).latest("top")
    with pytest.raises(ValueError, match="same length"):
        project_detections(calibration, "top", np.zeros((2, 4, 2)), np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="view"):
        project_detections(calibration, "side", np.zeros((1, 4, 2)), np.zeros(1), np.ones(1))  # type: ignore[arg-type]
    assert len(project_detections(calibration, "oblique", np.zeros((0, 4, 2)), np.zeros(0), np.zeros(0))) == 0

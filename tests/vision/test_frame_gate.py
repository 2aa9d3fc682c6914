"""`FrameGate`: unchanged frames reuse the last detections, changed ones and stale answers go to the detector."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from datasets.sources import Frame
from vision.frame_gate import FrameGate, GateConfig, picture_thumbnail, thumbnail

H, W = 720, 1280


def scene(seed: int = 0, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.full((H, W, 3), 90, np.uint8)
    base[400:, :] = 60  # road
    if noise:
        base = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
    return base


def test_the_first_frame_of_a_camera_is_detected() -> None:
    gate = FrameGate()
    assert gate.decide("front", scene(), 0.0) == "detect"


@pytest.mark.parametrize("noise", [0.0, 3.0, 7.0])
def test_the_same_scene_with_sensor_noise_is_reused(noise: float) -> None:
    gate = FrameGate()
    gate.detected("front", scene(1, noise), 0.0)
    assert [gate.decide("front", scene(seed, noise), 0.25 * seed) for seed in range(2, 8)] == ["reuse"] * 6
    assert gate.counts == {"detect": 0, "reuse": 6, "skip": 0}


def test_a_small_object_entering_is_a_change() -> None:
    gate = FrameGate()
    gate.detected("front", scene(), 0.0)
    frame = scene()
    frame[600:640, 100:140] = 220  # a 40 px bright patch: a plate-sized object
    assert gate.decide("front", frame, 0.5) == "detect"


def test_slow_drift_adds_up_against_the_last_detected_frame() -> None:
    gate = FrameGate(GateConfig(change_level=10.0))
    gate.detected("front", scene(), 0.0)
    decisions = []
    for step in range(1, 8):  # the scene brightens 3 grey levels per frame; each frame alone looks unchanged
        decisions.append(gate.decide("front", np.clip(scene().astype(int) + 3 * step, 0, 255).astype(np.uint8),
                                     0.5 * step))
    assert decisions[:3] == ["reuse"] * 3
    assert "detect" in decisions


def test_frames_sooner_than_the_rate_cap_are_skipped_changed_or_not() -> None:
    gate = FrameGate(GateConfig(max_detect_hz=3.0))
    gate.detected("front", scene(), 0.0)
    moved = scene()
    moved[:, :200] = 250
    assert [gate.decide("front", image, t) for image, t in ((moved, 0.25), (scene(), 0.3), (moved, 0.34))] == [
        "skip", "skip", "detect"]
    uncapped = FrameGate(GateConfig(max_detect_hz=0.0))
    uncapped.detected("front", scene(), 0.0)
    assert uncapped.decide("front", moved, 0.01) == "detect"
    assert uncapped.decide("front", scene(), 0.02) == "reuse"


def test_a_camera_still_reading_a_text_is_not_capped() -> None:
    """The caller says the camera's last look showed a text whose reads do not agree yet: the next changed frame is
    looked at although it comes sooner than the cap allows; an unchanged one is still reused."""
    moved = scene()
    moved[:, :200] = 250
    gate = FrameGate(GateConfig(max_detect_hz=3.0))
    gate.detected("front", scene(), 0.0)
    assert gate.decide("front", moved, 0.25, pace="reading") == "detect"
    assert gate.decide("front", scene(), 0.25, pace="reading") == "reuse"
    assert gate.decide("front", moved, 0.25) == "skip"
    before = FrameGate(GateConfig(max_detect_hz=3.0, cap_while_reading=True))
    before.detected("front", scene(), 0.0)
    assert before.decide("front", moved, 0.25, pace="reading") == "skip"


def test_a_camera_with_nothing_left_to_read_is_looked_at_less_often() -> None:
    """`settled`: the detector only keeps the trucks tracked, at `settled_detect_hz`; a frame the steady cap would
    let through is skipped until then. Off (0), or looser than the steady cap, it changes nothing."""
    moved = scene()
    moved[:, :200] = 250
    gate = FrameGate(GateConfig(max_detect_hz=3.0, settled_detect_hz=1.5))
    gate.detected("side", scene(), 0.0)
    assert [gate.decide("side", moved, t, pace="settled") for t in (0.25, 0.5, 0.66, 0.67)] == [
        "skip", "skip", "skip", "detect"]
    assert gate.decide("side", moved, 0.5) == "detect"
    gate.detected("side", moved, 0.5)
    assert gate.decide("side", scene(), 0.75, pace="searching") == "detect"  # a truck lost: the next frame counts
    for loose in (0.0, 5.0):
        off = FrameGate(GateConfig(max_detect_hz=3.0, settled_detect_hz=loose))
        off.detected("side", scene(), 0.0)
        assert [off.decide("side", moved, t, pace="settled") for t in (0.25, 0.34)] == ["skip", "detect"]
    assert GateConfig(max_detect_hz=3.0, settled_detect_hz=0.0).min_interval_s("searching") == pytest.approx(1 / 3.0)
    assert GateConfig(max_detect_hz=0.0, settled_detect_hz=1.5).min_interval_s("settled") == pytest.approx(1 / 1.5)
    with pytest.raises(ValueError, match="settled_detect_hz"):
        GateConfig(settled_detect_hz=-1.0)


def test_an_answer_older_than_max_reuse_is_refreshed() -> None:
    gate = FrameGate(GateConfig(max_reuse_s=2.0))
    gate.detected("front", scene(), 10.0)
    assert gate.decide("front", scene(), 11.9) == "reuse"
    assert gate.decide("front", scene(), 12.0) == "detect"


def test_cameras_are_independent_and_forget_resets_one() -> None:
    gate = FrameGate()
    gate.detected("front", scene(), 0.0)
    gate.detected("rear", scene(), 0.0)
    gate.forget("rear")
    assert gate.decide("front", scene(), 0.5) == "reuse"
    assert gate.decide("rear", scene(), 0.5) == "detect"


def test_a_frame_of_another_size_is_detected_and_disabled_gate_always_detects() -> None:
    gate = FrameGate()
    gate.detected("front", scene(), 0.0)
    assert gate.decide("front", np.zeros((540, 960, 3), np.uint8), 0.5) == "detect"
    off = FrameGate(GateConfig(enabled=False))
    off.detected("front", scene(), 0.0)
    assert off.decide("front", scene(), 0.5) == "detect"


def encoded(image: np.ndarray, index: int = 0) -> Frame:
    """A frame as a recording hands it over: JPEG bytes, not decoded."""
    return Frame("front", index, 0.25 * index, 0.25 * index, None, encoded=cv2.imencode(".jpg", image)[1].tobytes())


def test_an_encoded_frame_is_judged_from_a_small_decode_and_not_decoded_whole() -> None:
    """A frame that came as JPEG bytes gets its thumbnail from a 1/8-scale decode: within a few grey levels of
    the full picture's (the block means JPEG keeps), and its full pixels are never made for a reuse or a skip."""
    noisy = scene(1, 7.0)
    noisy[600:640, 100:140] = 220
    small = picture_thumbnail(encoded(noisy), 16)
    assert small is not None
    assert small.shape == thumbnail(noisy, 16).shape == (45, 80, 3)
    assert int(np.abs(small - thumbnail(noisy, 16)).max()) <= 6
    gate = FrameGate(GateConfig(max_detect_hz=3.0))
    first = encoded(scene(1, 3.0))
    gate.detected("front", first, 0.0)
    moved = scene(2, 3.0)
    moved[600:640, 100:140] = 220
    frames = [encoded(scene(seed, 3.0), seed) for seed in (3, 4, 5)] + [encoded(moved, 6), encoded(moved, 7)]
    decisions = []
    for f in frames:
        decisions.append(gate.decide("front", f, f.t))
        if decisions[-1] == "detect":
            gate.detected("front", f, f.t)  # (its thumbnail from `decide`, not made again)
    assert decisions == ["reuse", "reuse", "reuse", "detect", "skip"]
    assert all("encoded" in repr(f) for f in [first, *frames])  # judged without decoding a single one
    broken = Frame("front", 9, 3.0, 3.0, None, encoded=b"\xff\xd8 not a picture \xff\xd9")
    assert picture_thumbnail(broken, 16) is None
    assert gate.decide("front", broken, 3.0) == "detect"  # the detector's decode then says what is wrong


def test_thumbnail_is_cell_means_without_wraparound() -> None:
    image = np.zeros((32, 64, 3), np.uint8)
    image[:16, :16] = 255
    thumb = thumbnail(image, 16)
    assert thumb.shape == (2, 4, 3)
    assert thumb.dtype == np.int16
    assert thumb[0, 0, 0] == 255
    assert thumb[1, 3, 2] == 0
    assert int((thumb - thumb[0, 0]).min()) == -255


@pytest.mark.parametrize("kwargs", [{"cell_px": 0}, {"change_level": -1.0}, {"change_level": 300.0},
                                    {"max_reuse_s": -1.0}, {"max_reuse_s": float("nan")},
                                    {"max_detect_hz": -1.0}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        GateConfig(**kwargs)  # type: ignore[arg-type]

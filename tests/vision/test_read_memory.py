"""`ReadMemory`: text crops are known by their place on a tracked truck and skipped once read enough."""

from __future__ import annotations

import numpy as np

from vision.detections import Detections, class_index
from vision.read_memory import ReadMemory

VEHICLE, PLATE, NUMBER = class_index("vehicle"), class_index("plate"), class_index("container_number")


def frame(shift: float = 0.0, number_scale: float = 1.0, vehicle_track: int = 7) -> Detections:
    """A tracked truck with a plate and two numbers side by side (the text boxes carry no track of their own)."""
    w = 160 * number_scale
    return Detections.from_arrays(
        [[100 + shift, 50, 900 + shift, 700], [400 + shift, 600, 480 + shift, 640],
         [500 + shift, 100, 500 + shift + w, 140], [150 + shift, 100, 150 + shift + w, 140]],
        class_id=[VEHICLE, PLATE, NUMBER, NUMBER], tracker_id=[vehicle_track, -1, -1, -1])


def test_text_boxes_are_keyed_by_vehicle_class_and_rank_left_to_right() -> None:
    memory = ReadMemory()
    keys = memory.keys("side", frame())
    assert keys == [None, ("side", 7, PLATE, 0), ("side", 7, NUMBER, 1), ("side", 7, NUMBER, 0)]
    assert memory.keys("side", frame(shift=60.0)) == keys  # the truck moved: same keys


def test_text_on_no_tracked_vehicle_has_no_key() -> None:
    dets = frame(vehicle_track=-1)
    assert ReadMemory().keys("side", dets) == [None] * 4


def test_two_validated_reads_settle_a_number_and_a_bigger_crop_is_read_again() -> None:
    memory = ReadMemory(settled_reads=4, better_area=1.2)
    dets = frame()
    keys = memory.keys("side", dets)
    texts = {2: ("MSKU1234565", True), 3: ("TGHU8765430", False)}
    memory.remember(keys, dets, texts)
    assert memory.wanted(keys, dets).tolist() == [True] * 4
    memory.remember(keys, dets, texts)
    assert memory.wanted(keys, dets).tolist() == [True, True, False, True]  # 2 + 2 validated; 1 + 1 not yet
    bigger = frame(number_scale=1.5)
    assert memory.wanted(memory.keys("side", bigger), bigger).tolist() == [True] * 4


def test_a_different_text_starts_the_count_again_and_forget_drops_the_vehicle() -> None:
    memory = ReadMemory(settled_reads=2)
    dets = frame()
    keys = memory.keys("side", dets)
    memory.remember(keys, dets, {1: ("29C12345", True)})
    memory.remember(keys, dets, {1: ("29C12346", True)})
    memory.remember(keys, dets, {1: ("29C12345", False)})
    assert memory.wanted(keys, dets)[1]
    memory.remember(keys, dets, {1: ("29C12345", False)})
    assert not memory.wanted(keys, dets)[1]
    memory.forget("side", 7)
    assert len(memory) == 0
    assert memory.wanted(keys, dets).all()


def test_empty_frames_and_empty_texts_change_nothing() -> None:
    memory = ReadMemory()
    empty = Detections.empty()
    assert memory.keys("side", empty) == []
    assert memory.wanted([], empty).shape == (0,)
    dets = frame()
    memory.remember(memory.keys("side", dets), dets, {1: ("", True)})
    assert len(memory) == 0
    assert np.all(memory.wanted(memory.keys("side", dets), dets))


def test_tracks_read_are_the_trucks_of_a_camera_with_some_text_read() -> None:
    memory = ReadMemory()
    dets = frame()
    assert memory.tracks_read("side") == set()
    memory.remember(memory.keys("side", dets), dets, {2: ("MSKU1234565", True)})
    other = frame(vehicle_track=9)
    memory.remember(memory.keys("top", other), other, {1: ("29C12345", False)})
    assert memory.tracks_read("side") == {7}
    assert memory.tracks_read("top") == {9}
    memory.forget("side", 7)
    assert memory.tracks_read("side") == set()

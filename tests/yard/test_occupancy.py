"""Occupancy tracker: slot assignment, hysteresis in seconds, dwell, queue smoothing, updates, bad input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import shapely
from shapely import affinity

from bus.codec import decode_as, encode
from bus.messages import OccupancyUpdate
from yard.ground_detections import KIND_CONTAINER, KIND_IGV, KIND_TRUCK, MAX_DETECTIONS, GroundDetections
from yard.occupancy import OccupancySettings, OccupancyTracker, SlotChange
from yard.slot_index import PolygonIndex

PERIOD = 0.25
T0 = 1_700_000_000.0
CODES = {"T": KIND_TRUCK, "C": KIND_CONTAINER, "I": KIND_IGV}


def stand(x: float, y: float) -> shapely.Polygon:
    return shapely.box(x, y, x + 12.2, y + 2.5)


SLOTS = {"buffer-a:B01R1": ("buffer-a", stand(0, 0)), "buffer-a:B01R2": ("buffer-a", stand(0, 3)),
         "buffer-a:B02R1": ("buffer-a", stand(13, 0)), "bay-1:S1": ("bay-1", stand(0, 10))}
LANES = {"queue-in": shapely.box(-50, -20, 50, -10), "queue-out": shapely.box(-50, -40, 50, -30)}
CENTRE = {slot: (polygon.centroid.x, polygon.centroid.y) for slot, (_zone, polygon) in SLOTS.items()}


def make_tracker(**overrides: float) -> OccupancyTracker:
    settings = OccupancySettings(**overrides)  # type: ignore[arg-type]
    return OccupancyTracker(list(SLOTS), [p for _z, p in SLOTS.values()], [z for z, _p in SLOTS.values()], LANES,
                            settings)


def seen(*items: tuple[str, str] | tuple[str, str, float]) -> GroundDetections:
    """Detections at slot centres: (slot, kind letter[, confidence])."""
    if not items:
        return GroundDetections.empty()
    xy = [CENTRE[item[0]] for item in items]
    kinds = [CODES[item[1]] for item in items]
    scores = [item[2] if len(item) > 2 else 0.9 for item in items]
    return GroundDetections.from_arrays(xy, kinds, scores)


def trucks_in_lane(lane: str, n: int) -> GroundDetections:
    x0, y0, _x1, y1 = LANES[lane].bounds
    xy = [(x0 + 5 + 12 * k, (y0 + y1) / 2) for k in range(n)]
    return GroundDetections.from_arrays(np.reshape(xy, (-1, 2)), KIND_TRUCK)


def play(tracker: OccupancyTracker, timeline: str, slot: str = "buffer-a:B01R1",
         period: float = PERIOD) -> list[SlotChange]:
    """One frame per character: T/C/I seen in ``slot``, '.' nothing seen, '_' no frame at all (camera dropped it)."""
    changes: list[SlotChange] = []
    for k, char in enumerate(timeline):
        if char != "_":
            frame = seen() if char == "." else seen((slot, char))
            changes += [c for c in tracker.update(T0 + k * period, frame) if c.old_kind != "unknown"]
    return changes


# -- assignment ----------------------------------------------------------------------------------------------

def test_first_frame_reports_every_slot_empty_once() -> None:
    tracker = make_tracker()
    first = tracker.update(T0, seen(("buffer-a:B01R1", "T")))
    assert [(c.slot_id, c.old_kind, c.new_kind, c.since_utc) for c in first] == [
        (slot, "unknown", "empty", T0) for slot in SLOTS]
    assert tracker.update(T0 + PERIOD, seen(("buffer-a:B01R1", "T"))) == []


def test_slot_takes_the_most_confident_detection_whose_centre_lies_in_it() -> None:
    tracker = make_tracker()
    frame = seen(("buffer-a:B01R1", "T", 0.6), ("buffer-a:B01R1", "C", 0.95), ("buffer-a:B01R1", "I", 0.7),
                 ("bay-1:S1", "I", 0.5))
    play_frames(tracker, frame, seconds=1.0)
    kinds = {s.slot_id: s.kind for s in tracker.slot_states()}
    assert kinds == {"buffer-a:B01R1": "container", "buffer-a:B01R2": "empty", "buffer-a:B02R1": "empty",
                     "bay-1:S1": "igv"}


def test_detection_between_slots_occupies_none() -> None:
    tracker = make_tracker()
    gap = GroundDetections.from_arrays([[12.6, 1.0], [6.0, 2.75]], KIND_CONTAINER)  # between stands, not in one
    play_frames(tracker, gap, seconds=2.0)
    assert all(s.kind == "empty" for s in tracker.slot_states())


def play_frames(tracker: OccupancyTracker, frame: GroundDetections, seconds: float, start: float = T0) -> float:
    t = start
    for k in range(round(seconds / PERIOD) + 1):
        t = start + k * PERIOD
        tracker.update(t, frame)
    return t


def test_polygon_index_agrees_with_shapely_on_rotated_concave_and_holed_polygons() -> None:
    rng = np.random.default_rng(5)
    polygons = [affinity.rotate(stand(x * 14.0, y * 4.0), float(rng.uniform(-30, 30)), origin="centroid")
                for x in range(6) for y in range(5)]
    polygons.append(shapely.Polygon([(100, 0), (130, 0), (130, 10), (110, 10), (110, 30), (100, 30)]))  # L shape
    polygons.append(shapely.Polygon([(140, 0), (170, 0), (170, 30), (140, 30)],
                                    [[(150, 10), (160, 10), (160, 20), (150, 20)]]))  # a hole
    points = rng.uniform((-10, -10), (180, 40), size=(20_000, 2))
    index = PolygonIndex(polygons)
    expected = np.array([shapely.contains_xy(p, points[:, 0], points[:, 1]).sum() for p in polygons])
    np.testing.assert_array_equal(index.count_per_polygon(points), expected)
    score = rng.uniform(size=len(points))
    best = index.best_per_polygon(points, score)
    for k, polygon in enumerate(polygons):
        inside = np.flatnonzero(shapely.contains_xy(polygon, points[:, 0], points[:, 1]))
        assert best[k] == inside[np.argmax(score[inside])]


# -- hysteresis in seconds ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("timeline", "expected"), [
    # expected changes after the first frame: (frame of the change, new kind, frame the new state dates from)
    ("TTTTT", [(4, "truck", 0)]),                                    # seen over 1.0 s: occupied since first sight
    ("TTTT", []),                                                    # 0.75 s is not enough
    ("TT.TT", [(4, "truck", 0)]),                                    # a missed detection (0.5 s gap) is bridged
    ("TT_TT", [(4, "truck", 0)]),                                    # so is a dropped frame
    ("TT__TTT", []),                                                 # a 0.75 s gap starts the count again ...
    ("TT__TTTTT", [(8, "truck", 4)]),                                # ... from the frame after it
    ("T...TTTTT", [(8, "truck", 4)]),                                # a one-frame false detection, then a truck
    ("TTTTT" + "." * 7, [(4, "truck", 0)]),                          # absent 1.75 s: still occupied
    ("TTTTT" + "." * 8, [(4, "truck", 0), (12, "empty", 4)]),        # absent 2.0 s: empty since the last sighting
    ("TTTTT" + "...." + "T" + "....", [(4, "truck", 0)]),            # a sighting inside the exit window restarts it
    ("TTTTT" + "_" * 7 + "T", [(4, "truck", 0)]),                    # an outage shorter than exit_s changes nothing
    ("TTTTT" + "C" + "TTTT", [(4, "truck", 0)]),                     # a one-frame kind flicker
    ("TTTTT" + "CCCCC", [(4, "truck", 0), (9, "container", 5)]),     # a kind change needs kind_change_s too
    ("TTTTT" + "CTCTCTCTCT", [(4, "truck", 0)]),                     # alternating kinds: the current one holds
    ("CCCCC" + "IIII" + "." + "I", [(4, "container", 0), (10, "igv", 5)]),  # a gap bridged in a kind change
    ("CCCCC" + "III" + "..." + "II", [(4, "container", 0)]),         # a longer one is not
])
def test_hysteresis_timings(timeline: str, expected: list[tuple[int, str, int]]) -> None:
    changes = play(make_tracker(), timeline)
    got = [(round((c.t_utc - T0) / PERIOD), c.new_kind, round((c.since_utc - T0) / PERIOD)) for c in changes]
    assert got == expected


@pytest.mark.parametrize(("enter_s", "exit_s", "period", "enter_frame", "exit_frame"), [
    (1.0, 2.0, 0.25, 4, 4 + 8),
    (0.5, 1.0, 0.1, 5, 5 + 10),
    (2.0, 3.0, 0.5, 4, 4 + 6),
    (1.0, 2.0, 0.1, 10, 10 + 20),   # 0.1 s steps do not add up exactly to 1.0 s: still on the 10th frame
])
def test_enter_and_exit_times_follow_settings_not_frame_counts(enter_s: float, exit_s: float, period: float,
                                                              enter_frame: int, exit_frame: int) -> None:
    tracker = make_tracker(enter_s=enter_s, exit_s=exit_s, gap_s=min(0.5, enter_s / 2))
    frames = "T" * (enter_frame + 1) + "." * (exit_frame - enter_frame + 2)
    changes = play(tracker, frames, period=period)
    assert [(c.new_kind, round((c.t_utc - T0) / period)) for c in changes] == [
        ("truck", enter_frame), ("empty", exit_frame)]


@pytest.mark.parametrize("period", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("truth", ["T", ".", "C"])
def test_isolated_one_frame_errors_never_change_the_state(truth: str, period: float) -> None:
    rng = np.random.default_rng(int(period * 100) + ord(truth))
    settings = OccupancySettings()
    spacing = math.ceil(settings.gap_s / period) + 1  # errors no closer than gap_s: each one is alone
    frames = [truth] * 400
    k = 10
    while k < len(frames):
        frames[k] = str(rng.choice([c for c in "TC.I" if c != truth]))
        k += spacing + int(rng.integers(0, 5))
    settle = round(2.0 / period)  # long enough to confirm the true state first
    frames[:settle] = [truth] * settle
    tracker = make_tracker()
    before = play(tracker, "".join(frames[:settle]), period=period)
    after = play_from(tracker, "".join(frames[settle:]), start=T0 + settle * period, period=period)
    assert [c.new_kind for c in before] == ([] if truth == "." else [{"T": "truck", "C": "container"}[truth]])
    assert after == []


def play_from(tracker: OccupancyTracker, timeline: str, start: float, period: float) -> list[SlotChange]:
    changes: list[SlotChange] = []
    for k, char in enumerate(timeline):
        frame = seen() if char == "." else seen(("buffer-a:B01R1", char))
        changes += tracker.update(start + k * period, frame)
    return changes


def test_dwell_time_is_reported_as_since_of_the_current_state() -> None:
    tracker = make_tracker()
    play(tracker, "." * 4 + "T" * 20)     # truck arrives at frame 4, confirmed at frame 8
    state = {s.slot_id: s for s in tracker.slot_states()}["buffer-a:B01R1"]
    assert (state.occupied, state.kind, state.since_utc) == (True, "truck", T0 + 4 * PERIOD)
    others = [s for s in tracker.slot_states() if s.slot_id != "buffer-a:B01R1"]
    assert all(s.since_utc == T0 and s.kind == "empty" for s in others)


# -- queues ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("counts", "expected_final", "never_seen"), [
    ([3] * 10 + [4] + [3] * 5 + [2] + [3] * 5, 3, {2, 4}),        # one-frame flickers up and down
    ([3] * 10 + [0, 3, 0, 3] + [3] * 4, 3, {0}),                   # two missed frames in the window
    ([2] * 10 + [5] * 10, 5, {3, 4}),                              # a real change comes through, no overshoot
    ([4] * 10 + [0] * 10, 0, set()),                               # the lane empties
])
def test_queue_length_is_smoothed(counts: list[int], expected_final: int, never_seen: set[int]) -> None:
    tracker = make_tracker()
    reported = []
    for k, n in enumerate(counts):
        tracker.update(T0 + k * PERIOD, trucks_in_lane("queue-in", n))
        reported.append(tracker.queue_lengths()["queue-in"])
    assert reported[-1] == expected_final
    assert never_seen.isdisjoint(reported)
    assert tracker.queue_lengths()["queue-out"] == 0


def test_queue_counts_only_trucks_inside_the_lane() -> None:
    tracker = make_tracker()
    x0, y0, _x1, y1 = LANES["queue-out"].bounds
    frame = GroundDetections.from_arrays(
        [[x0 + 5, (y0 + y1) / 2], [x0 + 20, (y0 + y1) / 2], [x0 + 35, (y0 + y1) / 2], [x0 + 5, y1 + 3]],
        [KIND_TRUCK, KIND_TRUCK, KIND_IGV, KIND_TRUCK])
    tracker.update(T0, frame)
    assert tracker.queue_lengths() == {"queue-in": 0, "queue-out": 2}


# -- updates ---------------------------------------------------------------------------------------------------

def test_updates_group_by_zone_with_seq_per_zone() -> None:
    tracker = make_tracker()
    first = tracker.to_updates(tracker.update(T0, seen()))
    assert [(u.zone_id, u.seq, len(u.slots), u.queue_lengths) for u in first] == [
        ("buffer-a", 1, 3, {}), ("bay-1", 1, 1, {}), ("queue-in", 1, 0, {"queue-in": 0}),
        ("queue-out", 1, 0, {"queue-out": 0})]
    changes = play(tracker, "." + "T" * 5, slot="bay-1:S1")
    second = tracker.to_updates(changes)
    assert [(u.zone_id, u.seq, [s.kind for s in u.slots]) for u in second] == [("bay-1", 2, ["truck"])]
    assert tracker.to_updates([]) == []
    for update in first + second:
        assert decode_as(encode(update), OccupancyUpdate) == update
        assert update.ts_utc >= T0


def test_updates_carry_queue_changes_only_when_the_length_changed() -> None:
    tracker = make_tracker()
    tracker.to_updates(tracker.update(T0, trucks_in_lane("queue-in", 2)))
    for k in range(1, 8):
        tracker.update(T0 + k * PERIOD, trucks_in_lane("queue-in", 2))
    assert tracker.to_updates([]) == []
    for k in range(8, 16):
        tracker.update(T0 + k * PERIOD, trucks_in_lane("queue-in", 4))
    (update,) = tracker.to_updates([])
    assert (update.zone_id, update.seq, update.queue_lengths) == ("queue-in", 2, {"queue-in": 4})


@pytest.mark.parametrize(("slots", "max_slots", "sizes"), [
    (7, 3, [3, 3, 1]),
    (6, 3, [3, 3]),
    (2500, 2000, [2000, 500]),
    (1, 2000, [1]),
])
def test_large_change_sets_are_split_and_every_part_decodes(slots: int, max_slots: int, sizes: list[int]) -> None:
    ids = [f"stack:{k:05d}" for k in range(slots)]
    polygons = [stand(13.0 * (k % 100), 3.0 * (k // 100)) for k in range(slots)]
    tracker = OccupancyTracker(ids, polygons, ["stack"] * slots, {},
                               OccupancySettings(max_slots_per_update=max_slots))
    updates = tracker.to_updates(tracker.update(T0, GroundDetections.empty()))
    assert [len(u.slots) for u in updates] == sizes
    assert [u.seq for u in updates] == list(range(1, len(sizes) + 1))
    assert [s.slot_id for u in updates for s in u.slots] == ids
    for update in updates:
        assert decode_as(encode(update), OccupancyUpdate) == update


def test_container_number_given_to_to_updates_becomes_the_published_state() -> None:
    tracker = make_tracker()
    changes = play(tracker, "C" * 5)
    numbered = [replace(c, container_number="MSCU1234565") for c in changes]
    (update,) = [u for u in tracker.to_updates(numbered) if u.slots]
    assert update.slots[0].container_number == "MSCU1234565"
    state = {s.slot_id: s for s in tracker.slot_states()}["buffer-a:B01R1"]
    assert (state.kind, state.container_number) == ("container", "MSCU1234565")
    with pytest.raises(ValueError, match="unknown slot"):
        tracker.to_updates([SlotChange("nowhere", "buffer-a", "empty", "truck", T0, T0)])
    with pytest.raises(ValueError, match="container number must be"):
        tracker.to_updates([replace(numbered[0], container_number="x" * 17)])


# -- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("build", "message"), [
    (lambda: GroundDetections(np.zeros(3), np.zeros(3, np.int8), np.ones(3, np.float32), np.zeros((3, 2))),
     r"xy_m must have shape \(N, 2\), got \(3,\)"),
    (lambda: GroundDetections(np.zeros((2, 3)), np.zeros(2, np.int8), np.ones(2, np.float32), np.zeros((2, 2))),
     r"xy_m must have shape \(N, 2\), got \(2, 3\)"),
    (lambda: GroundDetections.from_arrays([["a", "b"]], 0), "xy_m must be numeric"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], 7), "unknown kind code 7 at row 0"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0], [3.0, 4.0]], [0, -1]), "unknown kind code -1 at row 1"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], [1.5]), "kind must hold integer codes"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], [0, 1]), r"kind must have shape \(1,\)"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], "boat"), "unknown detection kind 'boat'"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], 0, 1.5), r"confidence must lie within \[0, 1\]"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], 0, [0.5, 0.5]), r"confidence must have shape \(1,\)"),
    (lambda: GroundDetections.from_arrays([[1.0, 2.0]], 0, 0.5, np.zeros((2, 2))), r"size_m must have shape \(1, 2\)"),
    (lambda: GroundDetections.from_arrays(np.zeros((MAX_DETECTIONS + 1, 2)), 0), "too many detections"),
])
def test_bad_detections_are_refused_with_a_clear_message(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(("t", "detections", "error", "message"), [
    (math.nan, GroundDetections.empty(), ValueError, "t_utc must be a finite UTC time"),
    (math.inf, GroundDetections.empty(), ValueError, "t_utc must be a finite UTC time"),
    (-1.0, GroundDetections.empty(), ValueError, "t_utc must be a finite UTC time"),
    (5e9, GroundDetections.empty(), ValueError, "t_utc must be a finite UTC time"),
    (T0 - 1.0, GroundDetections.empty(), ValueError, "t_utc went backwards"),
    (T0 + 1.0, np.zeros((3, 2)), TypeError, "detections must be GroundDetections"),
])
def test_bad_frames_are_refused_counted_and_the_tracker_keeps_running(t, detections, error, message) -> None:
    tracker = make_tracker()
    play(tracker, "T" * 5)
    before = tracker.slot_states()
    with pytest.raises(error, match=message):
        tracker.update(t, detections)
    assert tracker.counters["frames.rejected"] == 1
    assert tracker.slot_states() == before
    assert play_from(tracker, "T" * 3, start=T0 + 10.0, period=PERIOD) == []


def test_nan_rows_are_dropped_and_counted_while_the_rest_of_the_frame_counts() -> None:
    tracker = make_tracker()
    xy = np.array([CENTRE["buffer-a:B01R1"], [math.nan, 1.0], [math.inf, 0.0], CENTRE["bay-1:S1"]])
    frame = GroundDetections.from_arrays(xy, [KIND_TRUCK, KIND_TRUCK, KIND_CONTAINER, KIND_IGV],
                                         [0.9, 0.9, 0.9, math.nan])
    play_frames(tracker, frame, seconds=1.0)
    kinds = {s.slot_id: s.kind for s in tracker.slot_states()}
    assert kinds["buffer-a:B01R1"] == "truck"
    assert kinds["bay-1:S1"] == "empty"
    assert tracker.counters["detections.nonfinite"] == 3 * 5


def test_low_confidence_detections_are_ignored_when_a_floor_is_set() -> None:
    tracker = make_tracker(min_confidence=0.5)
    play_frames(tracker, seen(("buffer-a:B01R1", "T", 0.3)), seconds=2.0)
    assert {s.slot_id: s.kind for s in tracker.slot_states()}["buffer-a:B01R1"] == "empty"
    assert tracker.counters["detections.low_confidence"] == 9


@pytest.mark.parametrize(("ids", "polygons", "zones", "message"), [
    (["a"], [stand(0, 0), stand(0, 3)], ["z", "z"], "differ in length"),
    (["a", "a"], [stand(0, 0), stand(0, 3)], ["z", "z"], "duplicate slot id 'a'"),
    (["a b"], [stand(0, 0)], ["z"], "slot id must be 1-64 characters"),
    (["a"], [stand(0, 0)], [""], "zone id must be 1-64 characters"),
    (["a"], [shapely.Point(0, 0)], ["z"], "expected a shapely Polygon, got Point"),
    (["a"], [shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])], ["z"], "valid with a positive area"),
    (["a"], [shapely.Polygon()], ["z"], "valid with a positive area"),
    (["a"], [shapely.Polygon([(0, 0), (math.inf, 0), (0, 1)])], ["z"], "slot 0"),
])
def test_bad_layout_input_is_refused(ids, polygons, zones, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OccupancyTracker(ids, polygons, zones, {})


@pytest.mark.parametrize(("field", "value"), [
    ("enter_s", 0.0), ("exit_s", -1.0), ("gap_s", math.nan), ("queue_window_s", math.inf),
    ("min_confidence", 1.5), ("queue_samples", 0), ("max_slots_per_update", 10_001), ("enter_s", True),
])
def test_bad_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        OccupancySettings(**{field: value})  # type: ignore[arg-type]

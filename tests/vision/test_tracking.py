"""ByteTracker: ids kept through occlusions measured in seconds, aging on empty frames, no id reuse, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vision.detections import Detections, class_index
from vision.tracking import ByteTracker, TrackerConfig, hungarian, match

VEHICLE = class_index("vehicle")


def truck(x: float, score: float = 0.9) -> Detections:
    return Detections.from_arrays([[x, 100, x + 200, 220]], [score], VEHICLE)


def drive(tracker: ByteTracker, fps: float, seconds: float, start_s: float = 0.0, speed: float = 40.0,
          visible: bool = True) -> list[int]:
    """Advance a truck moving at `speed` px/s; return the ids given at each frame."""
    ids: list[int] = []
    for k in range(round(seconds * fps)):
        t = start_s + k / fps
        dets = truck(10 + speed * t) if visible else Detections.empty()
        ids.extend(int(i) for i in tracker.update(dets, t).tracker_id)
    return ids


@pytest.mark.parametrize("fps", [4.0, 10.0, 30.0])
@pytest.mark.parametrize(("gap_s", "same_id"), [(0.75, True), (1.75, False)])
def test_occlusion_is_measured_in_seconds_not_frames(fps: float, gap_s: float, same_id: bool) -> None:
    tracker = ByteTracker()
    before = drive(tracker, fps, 2.0)
    drive(tracker, fps, gap_s, start_s=2.0, visible=False)
    after = drive(tracker, fps, 2.0, start_s=2.0 + gap_s)
    first_id = before[-1]
    assert first_id > 0
    assert (after[-1] == first_id) is same_id
    assert (len(tracker.pop_ended()) == 0) is same_id  # a long gap ended the first track


def test_a_confirmed_track_missed_by_the_last_update_is_searched_for() -> None:
    """`searching` while a confirmed track is lost and not ended: the lane pipeline looks at the camera's next frame
    then, so that a truck missed once is found again before `max_lost_s` ends its track."""
    tracker = ByteTracker()
    drive(tracker, 4.0, 1.0)
    assert not tracker.searching
    tracker.update(Detections.empty(), 1.0)
    assert tracker.searching
    tracker.update(truck(10 + 40 * 1.25), 1.25)
    assert not tracker.searching
    tracker.update(Detections.empty(), 2.0)
    tracker.update(Detections.empty(), 3.5)  # lost for longer than max_lost_s: ended, no longer searched for
    assert not tracker.searching
    assert len(tracker.pop_ended()) == 1


RECEDING = [  # the demo's rear camera as a busy lane read it (half of its frames dropped): t_s, box, score
    (10.00, (273, 0, 564, 425), 0.97), (10.75, (284, 0, 515, 302), 0.96), (12.50, (297, 0, 456, 139), 0.96),
    (13.00, (298, 0, 445, 109), 0.96), (13.75, (304, 0, 431, 75), 0.94), (14.25, (307, 0, 423, 51), 0.82)]


def test_a_truck_driving_away_between_sparse_frames_keeps_its_id() -> None:
    """Its box shrinks fast: extrapolating that rate over 1.75 s without a frame shrank the predicted box to a few
    pixels, and the truck came back as a new track (a second passage for one truck)."""
    tracker = ByteTracker()
    ids = [int(tracker.update(Detections.from_arrays([box], [score], VEHICLE), t).tracker_id[0])
           for t, box, score in RECEDING]
    assert ids[1] > 0
    assert set(ids[1:]) == {ids[1]}


def test_a_lost_box_does_not_outgrow_the_image() -> None:
    """A box growing as the truck enters the image edge must not be extrapolated without bound while it is lost."""
    tracker = ByteTracker()
    for t, x1 in ((0.0, 200.0), (0.25, 500.0)):
        tracker.update(Detections.from_arrays([[0, 20, x1, 500]], [0.95], VEHICLE), t)
    tracker.update(Detections.empty(), 0.5)
    ended = [e for t in (1.0, 1.5, 2.0) for e in (tracker.update(Detections.empty(), t), tracker.pop_ended())[1]]
    assert len(ended) == 1
    x0, _, x1, _ = ended[0].last_xyxy
    assert x1 - x0 < 2 * 500


@pytest.mark.parametrize("fps", [4.0, 30.0])
def test_tracks_age_on_empty_frames_and_end_after_max_lost_s(fps: float) -> None:
    tracker = ByteTracker(TrackerConfig(max_lost_s=1.0))
    drive(tracker, fps, 1.0)
    assert len(tracker.active_ids) == 1
    last_seen = (round(1.0 * fps) - 1) / fps
    ended_at = None
    for k in range(1, round(3 * fps)):
        t = last_seen + k / fps
        tracker.update(Detections.empty(), t)
        if ended := tracker.pop_ended():
            ended_at = t
            assert ended[0].reason == "lost"
            assert ended[0].last_s == pytest.approx(last_seen)
            break
    assert ended_at is not None
    assert 1.0 < ended_at - last_seen <= 1.0 + 1.0 / fps + 1e-9
    assert len(tracker.active_ids) == 0


def test_confirmation_takes_the_configured_time() -> None:
    tracker = ByteTracker(TrackerConfig(confirm_s=0.5))
    ids = drive(tracker, 10.0, 1.0)
    assert ids[:5] == [-1] * 5
    assert ids[5] > 0


def test_ids_are_never_reused() -> None:
    tracker = ByteTracker()
    seen: list[int] = []
    t = 0.0
    for _vehicle in range(6):
        for k in range(8):
            seen.extend(int(i) for i in tracker.update(truck(10 + 20 * k), t).tracker_id if i >= 0)
            t += 0.25
        for _ in range(8):  # the truck leaves; the track ends
            tracker.update(Detections.empty(), t)
            t += 0.25
    ids = sorted(set(seen))
    assert len(ids) == 6
    assert [e.track_id for e in tracker.pop_ended()] == ids


def test_zero_and_many_detections() -> None:
    tracker = ByteTracker()
    assert len(tracker.update(Detections.empty(), 0.0)) == 0
    grid = np.array([[x * 60, y * 60, x * 60 + 40, y * 60 + 40] for x in range(20) for y in range(10)], np.float32)
    for k in range(5):
        dets = Detections.from_arrays(grid + 2 * k, np.full(len(grid), 0.9), VEHICLE)
        out = tracker.update(dets, k * 0.1)
    assert len(out) == 200
    assert len(set(out.tracker_id.tolist())) == 200
    assert out.tracker_id.min() > 0
    assert len(tracker.update(Detections.empty(), 0.6)) == 0


def test_low_score_detections_keep_a_confirmed_track_but_start_none() -> None:
    tracker = ByteTracker()
    ids = drive(tracker, 4.0, 1.0)
    out = tracker.update(truck(10 + 40 * 1.0, score=0.3), 1.0)
    assert out.tracker_id[0] == ids[-1]
    fresh = ByteTracker()
    for k in range(4):
        assert fresh.update(truck(10, score=0.3), k * 0.25).tracker_id[0] == -1


def test_classes_do_not_match_each_other() -> None:
    tracker = ByteTracker()
    box = [[0, 0, 100, 100]]
    for k in range(3):
        tracker.update(Detections.from_arrays(box, [0.9], 0), k * 0.25)
    out = tracker.update(Detections.from_arrays(box, [0.9], 2), 0.75)
    assert out.tracker_id[0] == -1  # a container box is not the truck's track


def test_the_callers_detections_are_not_written_to() -> None:
    tracker = ByteTracker()
    dets = truck(10)
    for k in range(3):
        out = tracker.update(dets, k * 0.25)
    assert out.tracker_id[0] > 0
    assert dets.tracker_id[0] == -1


@pytest.mark.parametrize(("t_s", "error"), [(float("nan"), "finite"), (-5.0, "backwards")])
def test_bad_clock_is_refused(t_s: float, error: str) -> None:
    tracker = ByteTracker()
    tracker.update(truck(10), 0.0)
    with pytest.raises(ValueError, match=error):
        tracker.update(truck(10), t_s)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"high_score": 1.5}, "high_score"), ({"max_lost_s": -1.0}, "max_lost_s"),
    ({"low_score": 0.8, "high_score": 0.5}, "must not exceed"),
])
def test_bad_config_is_refused(kwargs, error) -> None:
    with pytest.raises(ValueError, match=error):
        TrackerConfig(**kwargs)


def test_flush_ends_every_confirmed_track() -> None:
    tracker = ByteTracker()
    drive(tracker, 4.0, 1.0)
    ended = tracker.flush()
    assert [e.reason for e in ended] == ["flushed"]
    assert len(tracker.active_ids) == 0


def test_hungarian_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        cost = rng.random((n, n))
        best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
        assert cost[np.arange(n), hungarian(cost)].sum() == pytest.approx(best)


def brute_force_match(score: np.ndarray, threshold: float) -> float:
    rows, cols = score.shape
    best = 0.0
    for k in range(min(rows, cols) + 1):
        for rs in itertools.combinations(range(rows), k):
            for cs in itertools.permutations(range(cols), k):
                if all(score[r, c] >= threshold for r, c in zip(rs, cs, strict=True)):
                    best = max(best, sum(score[r, c] - threshold for r, c in zip(rs, cs, strict=True)))
    return best


def test_gated_match_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(1)
    for _ in range(150):
        rows, cols = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        score = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.5)
        pairs = match(score, 0.3)
        assert len(set(pairs[:, 0].tolist())) == len(pairs)
        assert len(set(pairs[:, 1].tolist())) == len(pairs)
        assert np.all(score[pairs[:, 0], pairs[:, 1]] >= 0.3)
        assert (score[pairs[:, 0], pairs[:, 1]] - 0.3).sum() == pytest.approx(brute_force_match(score, 0.3))

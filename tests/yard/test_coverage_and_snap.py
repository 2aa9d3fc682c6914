"""What a camera covers on the ground, and telling a stacked container's tier from where its top lands."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from calibration.pose import look_at
from calibration.projection import ground_to_pixels
from calibration.synthetic import exact_calibration, pinhole
from yard.camera_projection import SlotSnap, _snapped
from yard.coverage import ground_coverage, watched_lanes

ALTITUDE = 60.0


def _down_camera(distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)):
    intrinsics = pinhole(focal_px=1000.0, distortion=distortion)
    return exact_calibration("top", intrinsics, look_at((0.0, 0.0, ALTITUDE), (0.0, 0.0001, 0.0)))


def test_a_camera_looking_down_covers_a_rectangle_of_the_right_size() -> None:
    view = ground_coverage(_down_camera())
    x0, y0, x1, y1 = view.bounds
    # 1280 x 720 px at f = 1000 px from 60 m: 76.8 m x 43.2 m
    assert sorted([x1 - x0, y1 - y0]) == pytest.approx([43.1, 76.7], abs=0.2)
    assert view.contains(shapely.Point(0.0, 0.0))
    shrunk = ground_coverage(_down_camera(), margin_m=3.0)
    assert shrunk.area == pytest.approx((x1 - x0 - 6.0) * (y1 - y0 - 6.0), rel=0.01)


def test_an_oblique_camera_is_cut_at_its_range() -> None:
    calibration = exact_calibration("side", pinhole(), look_at((0.0, 0.0, 20.0), (0.0, 80.0, 0.0)))
    far = ground_coverage(calibration)
    near = ground_coverage(calibration, max_range_m=60.0)
    assert near.area < far.area
    assert shapely.Point(0.0, 50.0).within(near)
    assert not shapely.Point(0.0, 70.0).within(near)


def test_lanes_are_cut_to_what_is_watched_and_unseen_lanes_dropped() -> None:
    lanes = {"seen": shapely.box(-100.0, -2.0, 100.0, 2.0), "unseen": shapely.box(-100.0, 200.0, 100.0, 204.0)}
    watched = watched_lanes(lanes, ground_coverage(_down_camera()))
    assert list(watched) == ["seen"]
    assert watched["seen"].bounds[2] - watched["seen"].bounds[0] == pytest.approx(76.7, abs=0.5)


def test_a_four_tier_stack_top_lands_in_its_own_row_only_with_snapping() -> None:
    calibration = _down_camera()
    rows_y = np.array([15.0, 18.0, 21.0])                           # 2.5 m slots, 0.5 m apart, far off nadir
    centres = np.stack([np.full(3, 30.0), rows_y], axis=1)
    top = 4 * 2.59
    half = np.array([[-6.1, -1.25], [6.1, -1.25], [6.1, 1.25], [-6.1, 1.25]])
    corners = ground_to_pixels(calibration, centres[2] + half, top)[None]  # the top face of row 3's stack
    fixed = _snapped(calibration, corners, np.full((1, 2), np.nan), (2.59,), SlotSnap(centres))
    snapped = _snapped(calibration, corners, np.full((1, 2), np.nan), (2.59, 5.18, 7.77, 10.36), SlotSnap(centres))
    assert abs(fixed[0, 1] - rows_y[2]) > 1.25                        # placed at one tier: out of its slot
    assert snapped[0] == pytest.approx(centres[2], abs=0.05)


def test_snap_distance_is_infinite_for_points_that_are_not_finite() -> None:
    snap = SlotSnap(np.array([[0.0, 0.0], [10.0, 0.0]]))
    assert snap.distance(np.array([[1.0, 0.0], [np.nan, 0.0]])).tolist() == [1.0, np.inf]

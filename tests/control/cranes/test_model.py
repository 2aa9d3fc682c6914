"""Crane timing and the checks on crane specs and moves."""

from __future__ import annotations

import math
from typing import Any

import pytest

from control.cranes import MOVE_KINDS, CraneMove, CraneSpec, CraneTiming

BAD_KIND: Any = "teleport"
MOVE = CraneMove("truck_to_igv", "j1", "MSCU1234565", "bay-1")


@pytest.mark.parametrize(("timing", "travel_m", "expected_s"), [
    (CraneTiming(), 0.0, 80.0),
    (CraneTiming(), 45.0, 125.0),
    (CraneTiming(pick_s=10, place_s=12, trolley_s=8, gantry_m_s=2.0), 30.0, 45.0),
    (CraneTiming(pick_s=0, place_s=0, trolley_s=0), 7.5, 7.5),
])
def test_a_move_takes_pick_trolley_place_and_travel(timing, travel_m, expected_s) -> None:
    assert timing.move_s(MOVE, travel_m) == pytest.approx(expected_s)


@pytest.mark.parametrize("kind", MOVE_KINDS)
def test_every_kind_of_move_takes_the_same_lift_time(kind) -> None:
    move = CraneMove(kind, "j1", "MSCU1234565", "bay-1", 0 if "stand" in kind else None)
    assert CraneTiming().move_s(move) == 80.0


@pytest.mark.parametrize(("build", "message"), [
    (lambda: CraneTiming(pick_s=-1.0), "pick_s must be a finite number >= 0"),
    (lambda: CraneTiming(place_s=math.nan), "place_s must be a finite number"),
    (lambda: CraneTiming(trolley_s=math.inf), "trolley_s must be a finite number"),
    (lambda: CraneTiming(gantry_m_s=0.0), "gantry_m_s must be positive"),
    (lambda: CraneTiming().move_s(MOVE, -3.0), "travel_m must be a finite number >= 0"),
    (lambda: CraneTiming().move_s(MOVE, math.nan), "travel_m must be a finite number"),
    (lambda: CraneSpec("crane 1", "bay-1", 0.0), "crane_id must be 1-64 characters"),
    (lambda: CraneSpec("crane-1", "", 0.0), "bay_id must be"),
    (lambda: CraneSpec("crane-1", "bay-1", math.inf), "crane crane-1 x_m must be a finite number"),
    (lambda: CraneMove(BAD_KIND, "j1", "M", "bay-1"), "unknown move kind 'teleport'"),
    (lambda: CraneMove("stand_to_igv", "j1", "M", "bay-1"), "a stand_to_igv move needs a stand index >= 0"),
    (lambda: CraneMove("igv_to_stand", "j1", "M", "bay-1", -1), "needs a stand index >= 0, got -1"),
    (lambda: CraneMove("truck_to_igv", "j1", "M", "bay-1", 0), "a truck_to_igv move uses no stand"),
])
def test_bad_values_are_refused_with_a_one_line_value_error(build, message) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build()
    assert "\n" not in str(caught.value)

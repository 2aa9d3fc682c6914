"""choose_move on a table of bays: every branch of the order (direct, serve the IGV, release the truck, nothing)
and its tie-breaks."""

from __future__ import annotations

import math

import pytest

from bus.messages import JobKind
from control.cranes import BayView, CraneMove, IGVAtBay, MoveKind, StandLoad, TruckAtBay, choose_move

BAY = "bay-2"


def truck(job: str, kind: JobKind, since: float = 0.0) -> TruckAtBay:
    return TruckAtBay(f"truck-{job}", job, kind, f"C-{job}", since)


def igv(job: str, kind: JobKind, since: float = 0.0) -> IGVAtBay:
    return IGVAtBay(f"igv-{job}", job, kind, f"C-{job}", since)


def load(job: str, kind: JobKind, since: float) -> StandLoad:
    return StandLoad(job, kind, f"C-{job}", since)


def move(kind: MoveKind, job: str, stand: int | None = None) -> CraneMove:
    return CraneMove(kind, job, f"C-{job}", BAY, stand)


FREE = None
CASES = [
    # (name, truck, igv, stands, expected)
    ("nothing waits", None, None, (FREE, FREE), None),
    ("only stand loads", None, None, (load("a", "export", 1), load("b", "import", 2)), None),
    ("direct export beats an older stand load", truck("x", "export", 50), igv("x", "export", 60),
     (load("old", "export", 1), FREE), move("truck_to_igv", "x")),
    ("direct import beats a free stand", truck("y", "import", 5), igv("y", "import", 9), (FREE, FREE),
     move("igv_to_truck", "y")),
    ("direct needs the same kind", truck("z", "import"), igv("z", "export"), (FREE,), None),
    ("export IGV takes the oldest export load", None, igv("i", "export"),
     (load("a", "export", 30), load("b", "export", 10), load("c", "import", 1)), move("stand_to_igv", "b", 1)),
    ("export IGV tie: lowest stand", None, igv("i", "export"),
     (load("c", "import", 1), load("a", "export", 10), load("b", "export", 10)), move("stand_to_igv", "a", 1)),
    ("export IGV served before a truck of another job", truck("t", "export"), igv("i", "export"),
     (FREE, load("a", "export", 5)), move("stand_to_igv", "a", 1)),
    ("export IGV, no export load: the truck goes to a stand", truck("t", "export"), igv("i", "export"),
     (load("c", "import", 1), FREE), move("truck_to_stand", "t", 1)),
    ("export IGV, only import loads, no truck", None, igv("i", "export"), (load("c", "import", 1),), None),
    ("import IGV unloads on the first free stand", None, igv("i", "import"),
     (load("a", "export", 1), FREE, FREE), move("igv_to_stand", "i", 1)),
    ("import IGV unloads before an import truck of another job", truck("t", "import"), igv("i", "import"),
     (load("t", "import", 1), FREE), move("igv_to_stand", "i", 1)),
    ("import IGV, stands full: the truck takes its container", truck("t", "import"), igv("i", "import"),
     (load("a", "export", 1), load("t", "import", 2)), move("stand_to_truck", "t", 1)),
    ("import IGV, stands full, no truck", None, igv("i", "import"), (load("a", "export", 1),), None),
    ("import IGV, no stands at all", None, igv("i", "import"), (), None),
    ("export truck to the first free stand", truck("t", "export"), None, (load("a", "export", 1), FREE, FREE),
     move("truck_to_stand", "t", 1)),
    ("export truck, stands full", truck("t", "export"), None, (load("a", "export", 1),), None),
    ("import truck takes its own container", truck("t", "import"), None,
     (load("u", "import", 1), load("t", "import", 5), load("e", "export", 0)), move("stand_to_truck", "t", 1)),
    ("import truck, its container not here yet", truck("t", "import"), None, (load("u", "import", 1), FREE),
     None),
    ("import truck ignores an export load of its job id", truck("t", "import"), None, (load("t", "export", 1),),
     None),
    ("import truck beside an export IGV with nothing to take", truck("t", "import"), igv("i", "export"),
     (load("t", "import", 3),), move("stand_to_truck", "t", 0)),
    ("export truck beside an import IGV, stands full", truck("t", "export"), igv("i", "import"),
     (load("a", "import", 1),), None),
]


@pytest.mark.parametrize(("name", "truck_at", "igv_at", "stands", "expected"), CASES, ids=[c[0] for c in CASES])
def test_choose_move(name, truck_at, igv_at, stands, expected) -> None:
    view = BayView(BAY, truck_at, igv_at, stands)
    assert choose_move(view, 100.0) == expected
    assert choose_move(view, 100.0) == expected  # pure: same view, same answer


@pytest.mark.parametrize("now_s", [-1.0, math.nan, math.inf])
def test_a_bad_decision_time_is_refused(now_s) -> None:
    with pytest.raises(ValueError, match="now_s must be a finite number >= 0"):
        choose_move(BayView(BAY, None, None, ()), now_s)

"""Cranes (issue 7): automatic gantry cranes on one rail, their timing, the choice of each bay's next move, and the
crane bank that keeps them apart and tracks busy, idle and faulted cranes."""

from control.cranes.bank import CraneBank, CraneError
from control.cranes.choice import choose_move
from control.cranes.model import (
    MOVE_KINDS,
    BayView,
    CraneMove,
    CraneSpec,
    CraneTiming,
    IGVAtBay,
    MoveKind,
    StandLoad,
    TruckAtBay,
)

__all__ = ["MOVE_KINDS", "BayView", "CraneBank", "CraneError", "CraneMove", "CraneSpec", "CraneTiming", "IGVAtBay",
           "MoveKind", "StandLoad", "TruckAtBay", "choose_move"]

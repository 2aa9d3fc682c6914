"""What the crane scheduler reasons about: crane timing, cranes on the rail, the moves they make, and what waits at a
bay (a truck, an IGV, containers on the bay's stands).

A bay has a transfer point (the IGV stops under the crane), ``stands`` (the bay's ground buffer under the crane) and
the truck lane under the crane, where one truck is served at a time.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from typing import Final, Literal

from bus.messages import Id, JobKind

__all__ = ["MOVE_KINDS", "BayView", "CraneMove", "CraneSpec", "CraneTiming", "IGVAtBay", "MoveKind", "StandLoad",
           "TruckAtBay", "check_finite"]

MoveKind = Literal["truck_to_igv", "truck_to_stand", "stand_to_igv", "igv_to_truck", "igv_to_stand", "stand_to_truck"]
MOVE_KINDS: Final[tuple[MoveKind, ...]] = typing.get_args(MoveKind)

_ID_META = typing.get_args(Id)[1]
_ID_PATTERN: Final = re.compile(_ID_META.pattern)


def check_finite(name: str, value: object, *, low: float = -math.inf) -> float:
    """``value`` as a float if it is a finite number not below ``low``, else `ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < low:
        bound = "" if low == -math.inf else f" >= {low:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def _check_id(name: str, value: object) -> None:
    """Ids end up in bus messages: refuse one there would refuse, here where it enters."""
    if not isinstance(value, str) or len(value) > _ID_META.max_length or _ID_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{name} must be 1-{_ID_META.max_length} characters of [A-Za-z0-9_.:-], got {value!r:.80}")


@dataclass(frozen=True)
class CraneTiming:
    """Seconds per move phase; defaults are typical for an automatic rail-mounted gantry crane."""

    pick_s: float = 30.0
    place_s: float = 30.0
    trolley_s: float = 20.0
    gantry_m_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("pick_s", "place_s", "trolley_s"):
            check_finite(name, getattr(self, name), low=0.0)
        if check_finite("gantry_m_s", self.gantry_m_s) <= 0:
            raise ValueError(f"gantry_m_s must be positive, got {self.gantry_m_s!r}")

    def move_s(self, move: CraneMove, travel_m: float = 0.0) -> float:
        """Duration of ``move`` after gantry travel of ``travel_m`` metres: pick + trolley + place + travel/speed.

        Every move kind lifts one container once, so the kind does not change the time; it is taken so that a
        finer model (stands nearer than the truck lane) can slot in without changing callers.
        """
        travel = check_finite("travel_m", travel_m, low=0.0)
        return self.pick_s + self.trolley_s + self.place_s + travel / self.gantry_m_s


@dataclass(frozen=True)
class CraneSpec:
    """A crane and the bay it is named for; ``x_m`` is its working position over that bay on the rail."""

    crane_id: str
    bay_id: str
    x_m: float

    def __post_init__(self) -> None:
        _check_id("crane_id", self.crane_id)
        _check_id("bay_id", self.bay_id)
        check_finite(f"crane {self.crane_id} x_m", self.x_m)


@dataclass(frozen=True)
class CraneMove:
    """One lift: a container of ``job_id`` from one place at the bay to another; ``stand`` is the stand used."""

    kind: MoveKind
    job_id: str
    container_number: str
    bay_id: str
    stand: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in MOVE_KINDS:
            raise ValueError(f"unknown move kind {self.kind!r:.40}; expected one of {MOVE_KINDS}")
        uses_stand = "stand" in self.kind
        if uses_stand and (isinstance(self.stand, bool) or not isinstance(self.stand, int) or self.stand < 0):
            raise ValueError(f"a {self.kind} move needs a stand index >= 0, got {self.stand!r}")
        if not uses_stand and self.stand is not None:
            raise ValueError(f"a {self.kind} move uses no stand, got stand {self.stand!r}")


@dataclass(frozen=True)
class TruckAtBay:
    """A truck under the crane. Export: it carries ``container_number``; import: it waits for it."""

    truck_id: str
    job_id: str
    kind: JobKind
    container_number: str
    since_s: float


@dataclass(frozen=True)
class IGVAtBay:
    """An IGV at the transfer point. Export: it came empty to fetch ``container_number``; import: it carries it."""

    igv_id: str
    job_id: str
    kind: JobKind
    container_number: str
    since_s: float


@dataclass(frozen=True)
class StandLoad:
    """A container set down on one of the bay's stands, waiting for its IGV (export) or its truck (import)."""

    job_id: str
    kind: JobKind
    container_number: str
    since_s: float


@dataclass(frozen=True)
class BayView:
    """What waits at one bay now; ``stands[i]`` is None where stand ``i`` is free."""

    bay_id: str
    truck: TruckAtBay | None
    igv: IGVAtBay | None
    stands: tuple[StandLoad | None, ...]

"""The cranes on the one rail: where each is, which is busy, idle or faulted, and which bays are open.

Cranes never cross and always keep ``safety_gap_m`` between each other. A crane making a move holds the whole span
of its gantry travel until the move finishes, so a neighbour can never be let into the space it is crossing. A
faulted crane stays where it stopped: its bay closes, and a neighbour whose way runs through it cannot pass.
Faults nest: a crane stopped by two overlapping faults works again only when both are repaired.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bus.codec import decode_as, encode
from bus.messages import CraneCommand, new_id
from control.cranes.model import CraneMove, CraneSpec, CraneTiming, check_finite

__all__ = ["CraneBank", "CraneError"]

log = logging.getLogger(__name__)

_EPS: Final = 1e-9  # metres and seconds: float rounding, never a real gap
_MAX_UTC: Final = 4.0e9
DEFAULT_TIMING: Final = CraneTiming()  # frozen, so one shared default is safe


class CraneError(RuntimeError):
    """A crane cannot do what was asked: unknown crane or bay, busy, faulted, blocked, or time going backwards."""


@dataclass(slots=True)
class _Crane:
    spec: CraneSpec
    x: float                      # where it stands, or where the move in progress is taking it
    lo: float                     # the span of rail it holds (its travel while a move is in progress)
    hi: float
    move: CraneMove | None = None
    origin: float = 0.0           # where the move in progress started
    start_s: float = 0.0
    travel_end_s: float = 0.0
    finish_s: float = 0.0
    faults: int = 0
    busy_s: float = 0.0           # finished and aborted moves
    last_s: float = 0.0           # its latest event: time never goes back for one crane


class CraneBank:
    """Cranes on one rail: positions, busy/idle/faulted, no crossing, ``safety_gap_m`` between neighbours; a
    crane whose path is blocked by a faulted neighbour cannot reach that bay (reachable() says so)."""

    def __init__(self, specs: Sequence[CraneSpec], timing: CraneTiming = DEFAULT_TIMING,
                 safety_gap_m: float = 20.0) -> None:
        if not isinstance(timing, CraneTiming):
            raise ValueError(f"timing must be a CraneTiming, got {type(timing).__name__}")
        self._timing = timing
        self._gap = check_finite("safety_gap_m", safety_gap_m, low=0.0)
        self._rail = _rail_order(specs, self._gap)
        self._index = {crane.spec.crane_id: index for index, crane in enumerate(self._rail)}
        self._crane_of_bay = {crane.spec.bay_id: crane for crane in self._rail}

    # -- the bays ----------------------------------------------------------------------------------------------

    def crane_of(self, bay_id: str) -> str | None:
        """The working crane serving the bay now (None if its crane is faulted)."""
        crane = self._bay(bay_id)
        return None if crane.faults else crane.spec.crane_id

    def open_bays(self) -> list[str]:
        """Bays with a working crane, west to east."""
        return [crane.spec.bay_id for crane in self._rail if not crane.faults]

    def idle(self) -> list[str]:
        """Working cranes with no move in progress, west to east."""
        return [crane.spec.crane_id for crane in self._rail if not crane.faults and crane.move is None]

    # -- moves -------------------------------------------------------------------------------------------------

    def start(self, crane_id: str, move: CraneMove, now_s: float) -> float:
        """Begin ``move`` at ``now_s``: travel to the move's bay (usually none), then lift; returns the finish time.

        Raises `CraneError` if the crane is busy, faulted, cannot reach the bay, or ``now_s`` is before its
        latest event.
        """
        crane = self._crane(crane_id)
        now = self._check_now(crane, now_s)
        if not isinstance(move, CraneMove):
            raise ValueError(f"move must be a CraneMove, got {type(move).__name__}")
        if crane.faults:
            raise CraneError(f"crane {crane_id!r} is faulted")
        if crane.move is not None:
            raise CraneError(f"crane {crane_id!r} is busy with {crane.move.kind} of job {crane.move.job_id!r} "
                             f"until t={crane.finish_s:g}")
        target = self._bay(move.bay_id).spec.x_m
        if not self.reachable(crane_id, target):
            raise CraneError(f"crane {crane_id!r} cannot reach bay {move.bay_id!r} at x={target:g} m: "
                             f"a neighbour is within {self._gap:g} m of its way")
        travel_m = abs(target - crane.x)
        crane.origin, crane.x = crane.x, target
        crane.lo, crane.hi = min(crane.origin, target), max(crane.origin, target)
        crane.move = move
        crane.start_s = crane.last_s = now
        crane.travel_end_s = now + travel_m / self._timing.gantry_m_s
        crane.finish_s = now + self._timing.move_s(move, travel_m)
        return crane.finish_s

    def finish(self, crane_id: str, now_s: float) -> CraneMove:
        """End the move in progress (at or after the finish time `start` gave) and return it; the crane is idle."""
        crane = self._crane(crane_id)
        now = self._check_now(crane, now_s)
        move = crane.move
        if move is None:
            raise CraneError(f"crane {crane_id!r} has no move in progress")
        if now < crane.finish_s - _EPS:
            raise CraneError(f"crane {crane_id!r}: {move.kind} of job {move.job_id!r} finishes at "
                             f"t={crane.finish_s:g}, not t={now:g}")
        crane.busy_s += crane.finish_s - crane.start_s
        self._settle(crane, now)
        return move

    def fault(self, crane_id: str, now_s: float) -> CraneMove | None:
        """Stop the crane where it is: the move in progress is aborted and returned (its container stays where it
        was), the crane's bay closes until `repair`."""
        crane = self._crane(crane_id)
        now = self._check_now(crane, now_s)
        crane.faults += 1
        aborted = crane.move
        if aborted is not None:
            crane.busy_s += min(now, crane.finish_s) - crane.start_s
            crane.x = self._position_at(crane, now)
            self._settle(crane, now)
        crane.last_s = now
        log.warning("crane %s faulted at t=%g (bay %s closed)%s", crane_id, now, crane.spec.bay_id,
                    f", aborted {aborted.kind} of job {aborted.job_id}" if aborted else "")
        return aborted

    def repair(self, crane_id: str, now_s: float) -> None:
        """Clear one fault; with none left the crane works again from where it stopped and its bay reopens."""
        crane = self._crane(crane_id)
        now = self._check_now(crane, now_s)
        if not crane.faults:
            raise CraneError(f"crane {crane_id!r} is not faulted")
        crane.faults -= 1
        crane.last_s = now

    # -- the rail ----------------------------------------------------------------------------------------------

    def reachable(self, crane_id: str, x_m: float) -> bool:
        """Whether the crane may travel to ``x_m``: no neighbour (faulted, working or moving) on the rail holds
        anything within the safety gap of the way there; a crane can never pass its neighbours."""
        index = self._index_of(crane_id)
        x = check_finite("x_m", x_m)
        if index > 0 and x - self._rail[index - 1].hi < self._gap - _EPS:
            return False
        return index + 1 >= len(self._rail) or self._rail[index + 1].lo - x >= self._gap - _EPS

    def positions(self) -> dict[str, float]:
        """Where each crane is; a crane making a move reports the bay it is heading for."""
        return {crane.spec.crane_id: crane.x for crane in self._rail}

    def busy_fraction(self, now_s: float) -> dict[str, float]:
        """Each crane's utilisation over [0, now_s]: time lifting or travelling (aborted moves count as far as
        they got) over ``now_s``; 0.0 at time 0."""
        now = check_finite("now_s", now_s, low=0.0)
        fractions: dict[str, float] = {}
        for crane in self._rail:
            busy = crane.busy_s
            if crane.move is not None:
                busy += max(0.0, min(now, crane.finish_s) - crane.start_s)
            fractions[crane.spec.crane_id] = min(1.0, busy / now) if now > 0 else 0.0
        return fractions

    def command_for(self, crane_id: str, move: CraneMove, seq: int, expires_utc: float) -> CraneCommand:
        """The bus command that starts ``move`` on a real crane (PICK at the bay's position), checked against the
        message schema so a field device never receives one it would refuse."""
        self._crane(crane_id)
        position = self._bay(move.bay_id).spec.x_m
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"seq must be an integer >= 0, got {seq!r}")
        expires = check_finite("expires_utc", expires_utc, low=0.0)
        if expires > _MAX_UTC:
            raise ValueError(f"expires_utc must be UTC seconds <= {_MAX_UTC:g}, got {expires_utc!r}")
        slot = f"{move.bay_id}:S{move.stand}" if move.stand is not None else None
        command = CraneCommand(command_id=new_id(), crane_id=crane_id, job_id=move.job_id, action="PICK",
                               position_m=position, slot_id=slot, container_number=move.container_number,
                               seq=seq, expires_utc=expires)
        return decode_as(encode(command), CraneCommand)  # constructors skip field constraints; decoding checks

    # -- internals ---------------------------------------------------------------------------------------------

    def _index_of(self, crane_id: str) -> int:
        index = self._index.get(crane_id)
        if index is None:
            raise CraneError(f"unknown crane {crane_id!r:.80}; cranes are {sorted(self._index)}")
        return index

    def _crane(self, crane_id: str) -> _Crane:
        return self._rail[self._index_of(crane_id)]

    def _bay(self, bay_id: str) -> _Crane:
        crane = self._crane_of_bay.get(bay_id)
        if crane is None:
            raise CraneError(f"unknown bay {bay_id!r:.80}; bays are {sorted(self._crane_of_bay)}")
        return crane

    @staticmethod
    def _check_now(crane: _Crane, now_s: float) -> float:
        now = check_finite("now_s", now_s, low=0.0)
        if now < crane.last_s - _EPS:
            raise CraneError(f"crane {crane.spec.crane_id!r}: time goes backwards (t={now:g} after t={crane.last_s:g})")
        return now

    def _position_at(self, crane: _Crane, now: float) -> float:
        """Where a moving crane is at ``now``: it travels first, then lifts over the bay."""
        if now >= crane.travel_end_s:
            return crane.x
        return crane.origin + (crane.x - crane.origin) * (now - crane.start_s) / (crane.travel_end_s - crane.start_s)

    @staticmethod
    def _settle(crane: _Crane, now: float) -> None:
        crane.move = None
        crane.lo = crane.hi = crane.x
        crane.last_s = now


def _rail_order(specs: Sequence[CraneSpec], gap: float) -> list[_Crane]:
    """The cranes west to east, refusing duplicates and neighbours closer than the safety gap."""
    if not specs:
        raise ValueError("a crane bank needs at least one crane")
    for spec in specs:
        if not isinstance(spec, CraneSpec):
            raise ValueError(f"cranes must be CraneSpec, got {type(spec).__name__}")
    for what, ids in (("crane id", [s.crane_id for s in specs]), ("bay id", [s.bay_id for s in specs])):
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        if duplicates:
            raise ValueError(f"duplicate {what}(s) {duplicates}: each crane and bay appears once")
    ordered = sorted(specs, key=lambda spec: spec.x_m)
    for west, east in itertools.pairwise(ordered):
        if east.x_m - west.x_m < gap - _EPS:
            raise ValueError(f"cranes {west.crane_id!r} (x={west.x_m:g}) and {east.crane_id!r} (x={east.x_m:g}) "
                             f"are closer than the safety gap of {gap:g} m")
    return [_Crane(spec, x=spec.x_m, lo=spec.x_m, hi=spec.x_m) for spec in ordered]

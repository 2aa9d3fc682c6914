"""What the day simulation knows about each transfer bay: the trucks queued under its crane, the IGV places beside
it, and the containers on its stands.

Two rules keep a bay from locking up. An IGV bound for a bay holds a *place*: the transfer point under the crane or
one of the staging spots beside it (the next IGVs wait there, so a swap takes seconds, not a drive from parking);
with every place taken, the next IGV is not called (an export) or not loaded in China (an import). And an import
is only fetched from China once a stand at its bay is reserved for it, so an import IGV under the crane can always
be unloaded in one move: either onto its truck or onto its stand (a truck's imports reserve their stands together).
An import truck waits in the holding area until its containers are at the bay, so that it never blocks a lane under
the crane. Places and reservations are held by call id, because the fleet chooses the IGV later.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from bus.messages import JobKind
from control.cranes import BayView, IGVAtBay, StandLoad, TruckAtBay

__all__ = ["EXPORT_STANDS", "IMPORT_STANDS", "UNDER_CRANE", "Bay", "Cargo", "TruckVisit"]

EXPORT_STANDS = 2   # stands imports may not reserve: kept for export trucks whose IGV is not there yet
IMPORT_STANDS = 2   # stands export trucks may not fill: kept for imports, whose trucks come later
UNDER_CRANE = 2   # truck lanes under each crane: the first two trucks of a bay's queue can be served
_RESERVED = StandLoad(job_id="reserved", kind="import", container_number="RESERVED", since_s=math.inf)


@dataclass(frozen=True, slots=True)
class Cargo:
    """One container of a truck and the job that moves it."""

    job_id: str
    container_number: str


@dataclass(slots=True)
class TruckVisit:
    """A truck in the yard: arrival time, its containers still to lift off (export) or on (import)."""

    truck_id: str
    kind: JobKind
    arrived_s: float
    cargo: list[Cargo]
    bay_id: str = ""
    at_bay_s: float = 0.0
    done: set[str] = field(default_factory=set)    # jobs whose container is off (export) or on (import)
    under_crane: bool = False

    @property
    def loaded(self) -> bool:
        """All its containers are off (export) or on (import): it may leave."""
        return len(self.done) >= len(self.cargo)

    def next_cargo(self, prefer: str | None = None) -> Cargo | None:
        """The container to handle next: ``prefer`` (the job the IGV under the crane carries) if still to do."""
        remaining = [item for item in self.cargo if item.job_id not in self.done]
        return next((item for item in remaining if item.job_id == prefer), remaining[0] if remaining else None)


@dataclass(slots=True)
class Bay:
    """One transfer bay: truck queue (head under the crane), IGV places, stands and their reservations."""

    bay_id: str
    crane_id: str
    transfer_cell: int
    staging_cells: tuple[int, ...]
    stands: list[StandLoad | None]
    trucks: deque[TruckVisit] = field(default_factory=deque)
    igv: IGVAtBay | None = None          # the IGV standing at the transfer point, ready for the crane
    transfer_holder: str | None = None   # call whose IGV holds the transfer point (driving there or there)
    staging: list[str | None] = field(default_factory=list)    # call holding each staging spot
    staged_order: deque[str] = field(default_factory=deque)    # staging calls, first reserved first
    export_waiting: deque[str] = field(default_factory=deque)  # export jobs waiting for a place here
    reserved: set[str] = field(default_factory=set)            # import calls holding a stand reservation

    def __post_init__(self) -> None:
        self.staging = [None] * len(self.staging_cells)

    def view(self, lane: int = 0) -> BayView:
        """The crane's view with the ``lane``-th truck under it: its next container, the IGV at the transfer point,
        the stands (reserved ones shown taken, except the one the IGV under the crane holds)."""
        truck = None
        if len(self.trucks) > lane:
            visit = self.trucks[lane]
            cargo = visit.next_cargo(self.igv.job_id if self.igv is not None else None)
            if cargo is not None:
                truck = TruckAtBay(truck_id=visit.truck_id, job_id=cargo.job_id, kind=visit.kind,
                                   container_number=cargo.container_number, since_s=visit.at_bay_s)
        stands = list(self.stands)
        free = [index for index, load in enumerate(stands) if load is None]
        for index in free[self._usable_free(len(free)):]:
            stands[index] = _RESERVED
        return BayView(bay_id=self.bay_id, truck=truck, igv=self.igv, stands=tuple(stands))

    def _usable_free(self, free: int) -> int:
        """Free stands the crane may fill now: an import IGV under it has its reserved one; an export truck may
        use those neither reserved for imports nor kept for them (`IMPORT_STANDS`)."""
        if self.igv is not None and self.igv.kind == "import":
            return min(1, free)
        exports = sum(load is not None and load.kind == "export" for load in self.stands)
        return max(0, min(free - len(self.reserved), len(self.stands) - IMPORT_STANDS - exports))

    # --- IGV places -----------------------------------------------------------------------------------------
    def has_free_place(self, occupied: frozenset[int] | None = None) -> bool:
        """A place for one more IGV; with ``occupied`` (cells IGVs stand on), a waiting spot an IGV still stands on
        does not count (see `reserve`)."""
        if self.transfer_holder is None:
            return True
        return any(holder is None and (occupied is None or self.staging_cells[i] not in occupied)
                   for i, holder in enumerate(self.staging))

    def reserve(self, call_id: str, occupied: frozenset[int] = frozenset(), *, strict: bool = False) -> int | None:
        """A place for the call: the cell to drive to, or None when every place is taken. A free waiting spot that
        an IGV still stands on (it was just called under the crane) is taken last, and never when ``strict``: an
        IGV sent there from nearby would meet the leaving one head on at the spot's entrance in the one-way lane,
        neither able to make way, and the whole lane behind them would stop. An import loading in China
        (not strict) arrives long after the spot is left."""
        if self.transfer_holder is None:
            self.transfer_holder = call_id
            return self.transfer_cell
        free = [i for i, holder in enumerate(self.staging) if holder is None
                and not (strict and self.staging_cells[i] in occupied)]
        if free:
            spot = min(free, key=lambda i: self.staging_cells[i] in occupied)
            self.staging[spot] = call_id
            self.staged_order.append(call_id)
            return self.staging_cells[spot]
        return None

    def free_transfer(self) -> str | None:
        """The transfer point's IGV has left: the call staged longest moves up (returned: its IGV must be sent in)."""
        self.transfer_holder = None
        if not self.staged_order:
            return None
        call_id = self.staged_order.popleft()
        self.staging[self.staging.index(call_id)] = None
        self.transfer_holder = call_id
        return call_id

    # --- stands ---------------------------------------------------------------------------------------------
    def can_reserve_stand(self, count: int = 1) -> bool:
        """Stands for ``count`` more imports: free ones not reserved yet, with imports (on stands or reserved) leaving
        `EXPORT_STANDS` to exports whose IGV is not there yet (so export trucks do not wait for imports, whose
        trucks may come much later)."""
        free = sum(load is None for load in self.stands)
        imports = sum(load is not None and load.kind == "import" for load in self.stands)
        return (free - len(self.reserved) >= count
                and imports + len(self.reserved) + count <= len(self.stands) - EXPORT_STANDS)

    def reserve_stands(self, call_ids: list[str]) -> bool:
        """Reserve one stand for each call, all or none."""
        if not self.can_reserve_stand(len(call_ids)):
            return False
        self.reserved.update(call_ids)
        return True

    # --- trucks ---------------------------------------------------------------------------------------------
    def served_trucks(self) -> list[int]:
        """Queue positions the crane can serve: the lanes under it, and import trucks further back (they come
        only once their containers are on the stands, and pull in beside the queue)."""
        lanes = list(range(min(UNDER_CRANE, len(self.trucks))))
        lanes.extend(i for i in range(UNDER_CRANE, len(self.trucks)) if self.trucks[i].kind == "import")
        return lanes or [0]

    def truck_with(self, job_id: str) -> TruckVisit | None:
        """The truck the crane can serve whose next container belongs to the job."""
        for index in self.served_trucks():
            visit = self.trucks[index] if index < len(self.trucks) else None
            if visit is not None and any(item.job_id == job_id for item in visit.cargo) and job_id not in visit.done:
                return visit
        return None

    def queued(self) -> int:
        """Trucks at this bay (under the crane or waiting for it)."""
        return len(self.trucks)

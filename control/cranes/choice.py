"""Which move a bay's crane makes next: a pure function of what waits at the bay.

The order, first that applies:

1. **Direct transfer** of one job between truck and IGV: an export truck carries the container the IGV came for
   (``truck_to_igv``), or an import IGV carries the container the truck waits for (``igv_to_truck``); same job id.
2. **Serve the waiting IGV** (IGV time is the scarce resource: it holds up the corridor loop):
   an export IGV takes the oldest export container on a stand (``stand_to_igv``; any one will do, the engine
   re-targets the IGV's job to the container moved, so the move's ``job_id`` is the stand load's job);
   an import IGV sets its container down on the first free stand (``igv_to_stand``).
3. **Release the waiting truck**: an export truck sets its container down on the first free stand
   (``truck_to_stand``); an import truck whose container is on a stand takes it (``stand_to_truck``).
4. Nothing to do: None.

Ties: among stand loads the oldest (``since_s``) wins, then the lowest stand index; a free stand is the lowest free
index.
"""

from __future__ import annotations

from collections.abc import Callable

from control.cranes.model import BayView, CraneMove, IGVAtBay, StandLoad, TruckAtBay, check_finite

__all__ = ["choose_move"]


def choose_move(bay: BayView, now_s: float) -> CraneMove | None:
    """The next move at ``bay`` decided at ``now_s`` (the view is what is at the bay then), or None."""
    check_finite("now_s", now_s, low=0.0)
    for rule in (_direct_transfer, _serve_igv, _release_truck):
        move = rule(bay)
        if move is not None:
            return move
    return None


def _direct_transfer(bay: BayView) -> CraneMove | None:
    truck, igv = bay.truck, bay.igv
    if truck is None or igv is None or truck.job_id != igv.job_id or truck.kind != igv.kind:
        return None
    if truck.kind == "export":
        return CraneMove("truck_to_igv", truck.job_id, truck.container_number, bay.bay_id)
    return CraneMove("igv_to_truck", igv.job_id, igv.container_number, bay.bay_id)


def _serve_igv(bay: BayView) -> CraneMove | None:
    igv: IGVAtBay | None = bay.igv
    if igv is None:
        return None
    if igv.kind == "export":
        found = _oldest(bay.stands, lambda load: load.kind == "export")
        if found is None:
            return None
        stand, load = found
        return CraneMove("stand_to_igv", load.job_id, load.container_number, bay.bay_id, stand)
    free = _first_free(bay.stands)
    if free is None:
        return None
    return CraneMove("igv_to_stand", igv.job_id, igv.container_number, bay.bay_id, free)


def _release_truck(bay: BayView) -> CraneMove | None:
    truck: TruckAtBay | None = bay.truck
    if truck is None:
        return None
    if truck.kind == "export":
        free = _first_free(bay.stands)
        if free is None:
            return None
        return CraneMove("truck_to_stand", truck.job_id, truck.container_number, bay.bay_id, free)
    found = _oldest(bay.stands, lambda load: load.kind == "import" and load.job_id == truck.job_id)
    if found is None:
        return None
    stand, load = found
    return CraneMove("stand_to_truck", load.job_id, load.container_number, bay.bay_id, stand)


def _oldest(stands: tuple[StandLoad | None, ...],
            wanted: Callable[[StandLoad], bool]) -> tuple[int, StandLoad] | None:
    """The wanted load waiting longest (lowest stand index on a tie), with its stand index."""
    best: tuple[int, StandLoad] | None = None
    for index, load in enumerate(stands):
        if load is not None and wanted(load) and (best is None or load.since_s < best[1].since_s):
            best = (index, load)
    return best


def _first_free(stands: tuple[StandLoad | None, ...]) -> int | None:
    for index, load in enumerate(stands):
        if load is None:
            return index
    return None

"""The simulated site: the bundled 1119–1120 transfer yard generalised to C cranes, with the whole border corridor
and a small Chinese yard at its far end, as a validated layout and its planners' grid.

For ``cranes=3`` the yard keeps the bundled geometry (``smartgate/sites/huu_nghi_1119_yard.yaml``): bays at
x 200–240, 260–300, 320–360 (y 18–30) with transfer points at (x + 13, 25), truck lanes along y 2–16, the one-way IGV
loop (south lane eastwards past the bays, east lane north, north lane west, west lane south, a middle lane east),
two buffer stacks, charging and parking beside them, the border at x = 500. More cranes add a bay every 60 m and
stretch the truck lanes, the loop and the yard eastwards by 60 m each; fewer leave the yard as it is.

Added for the simulation:
- waiting spots per bay (an ``igv_parking`` zone in the gap west of the bay, x - 10..x - 2, four spots in a row
  along the lane, see `STAGING_SPOTS`): the next IGVs wait there, a few tens of metres from the transfer point
  (out onto the eastbound south lane and into the bay), instead of driving up from the parking. West, not east:
  the south lane runs east, so from a spot east of the bay the IGV would have to go round the whole loop (~800 m);
- parking and charging zones sized for ``parking`` and ``charging`` spots, 4 m apart (every spot its own 2 m cell,
  with a free cell between neighbours so a parked IGV can always leave); a parking too tall for the loop pushes the
  north lane (and the yard) northwards;
- the border corridor (two-way ``border_corridor``, y 84–92) from the east lane to the Chinese yard, covered by two
  one-way 4 m lanes, eastbound (y 84–88, the right-hand side) and westbound (y 88–92), so IGVs never meet head-on;
- the Chinese yard: ``china_points`` transfer bays (cranes ``cn-crane-N``) south of the eastbound lane, the first
  transfer point ``corridor_m`` metres east of the last Vietnamese one, and a northbound turn lane at the far end
  joining the eastbound lane to the westbound one (a small one-way loop).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from control.cranes.model import CraneSpec
from control.planning.grid_map import GridMap, grid_from_yard
from yard.grid import build_grid
from yard.layout import MAX_SIZE_M, YardLayout, parse_layout

__all__ = ["CELL_M", "SimSite", "build_sim_site"]

CELL_M = 2.0
BAY_PITCH_M = 60.0           # one bay (40 m) and its gap (20 m) along the rail
FIRST_BAY_X_M = 200.0
BUNDLED_CRANES = 3           # the bundled yard's crane count; more stretch the yard, fewer leave it as it is
SPOT_PITCH_M = 4.0
SPOT_COLUMNS = 12            # spots per row in the parking and charging zones (x 423 .. 467 in the bundled yard)
MAX_CRANES = 24
MAX_CHINA_POINTS = 16
MAX_PARKING = 480
MAX_CHARGING = 120
MAX_STANDS = 8
MIN_CORRIDOR_M, MAX_CORRIDOR_M = 400.0, 8000.0
_STAND_ROWS_Y = (23.75, 21.0, 26.5, 18.25)   # lower edges of the stand rows in a bay (the first is the bundled one)
_CORRIDOR_Y = (84.0, 88.0, 92.0)             # eastbound lane y 84–88, westbound 88–92
_CHINA_BAY_Y = (72.0, 84.0)


STAGING_SPOTS: dict[str, tuple[float, float]] = {"wait": (-3.0, 29.0), "w2": (-5.0, 29.0), "w3": (-7.0, 29.0),
                                                "w4": (-9.0, 29.0)}
"""Waiting spots beside each bay (x offset from the bay's west edge, y), the first nearest the crane: the whole
staging zone is this one row of cells along the IGV lane, each spot entered straight from the lane, so that an IGV
waiting on one (held, it cannot be pushed) never stands in the way to another (PIBT would wait behind it rather
than take a longer way round)."""
STAGING_ZONE = (-10.0, 28.0, -2.0, 30.0)     # x0, y0 (offsets from the bay's west edge), x1, y1


@dataclass(frozen=True)
class SimSite:
    """The site of a simulated day. Built once per arguments and cached (`build_sim_site`): treat as read-only."""

    layout: YardLayout
    grid: GridMap
    cell_m: float
    bays: tuple[str, ...]                 # transfer bay ids, west to east
    crane_specs: tuple[CraneSpec, ...]
    transfer_cell: dict[str, int]         # bay id → its transfer point cell
    staging_cells: dict[str, tuple[int, ...]]   # bay id → the waiting spots next to it (next IGVs wait there)
    china_cells: tuple[int, ...]          # drop/pick points in the Chinese yard at the corridor's far end
    parking: tuple[int, ...]
    charging: tuple[int, ...]
    corridor_m: float                     # length driven from the VN yard to the Chinese yard (~3,600 m)
    stands_per_bay: int


def build_sim_site(cranes: int = 3, *, corridor_m: float = 3600.0, china_points: int = 6, parking: int = 60,
                   charging: int = 12, stands_per_bay: int = 2) -> SimSite:
    """The site for ``cranes`` cranes (see the module docstring); `ValueError` for arguments out of range."""
    _check_int("cranes", cranes, 1, MAX_CRANES)
    _check_int("china_points", china_points, 1, MAX_CHINA_POINTS)
    _check_int("parking", parking, 1, MAX_PARKING)
    _check_int("charging", charging, 1, MAX_CHARGING)
    _check_int("stands_per_bay", stands_per_bay, 0, MAX_STANDS)
    if isinstance(corridor_m, bool) or not isinstance(corridor_m, int | float) \
            or not MIN_CORRIDOR_M <= corridor_m <= MAX_CORRIDOR_M:
        raise ValueError(f"corridor_m must be in [{MIN_CORRIDOR_M:g}, {MAX_CORRIDOR_M:g}] m, got {corridor_m!r}")
    return _build(int(cranes), float(corridor_m), int(china_points), int(parking), int(charging), int(stands_per_bay))


@functools.lru_cache(maxsize=16)
def _build(cranes: int, corridor_m: float, china_points: int, parking: int, charging: int,
           stands_per_bay: int) -> SimSite:
    plan = _SitePlan(cranes, corridor_m, china_points, parking, charging, stands_per_bay)
    layout = parse_layout(plan.document(), f"sim site ({cranes} cranes)")
    grid = grid_from_yard(build_grid(layout, CELL_M), name=layout.site)
    bays = tuple(plan.bay_id(k) for k in range(cranes))
    return SimSite(
        layout=layout, grid=grid, cell_m=CELL_M, bays=bays,
        crane_specs=tuple(CraneSpec(crane_id=plan.crane_id(k), bay_id=plan.bay_id(k), x_m=plan.bay_x(k) + 20.0)
                          for k in range(cranes)),
        transfer_cell={bay: grid.names[bay] for bay in bays},
        staging_cells={plan.bay_id(k): tuple(grid.names[f"{plan.stage_id(k)}:{name}"] for name in STAGING_SPOTS)
                       for k in range(cranes)},
        china_cells=tuple(grid.names[f"cn-bay-{j + 1}"] for j in range(china_points)),
        parking=tuple(grid.names[f"igv-parking:{name}"] for name in plan.spot_names("P", parking)),
        charging=tuple(grid.names[f"igv-charging:{name}"] for name in plan.spot_names("C", charging)),
        corridor_m=corridor_m, stands_per_bay=stands_per_bay)


Zone = dict[str, object]


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


class _SitePlan:
    """The coordinates of one site, and its layout document (the YAML format of `yard.layout`, as a dict)."""

    def __init__(self, cranes: int, corridor_m: float, china_points: int, parking: int, charging: int,
                 stands: int) -> None:
        self.cranes, self.china_points, self.stands = cranes, china_points, stands
        self.parking, self.charging = parking, charging
        self.shift = BAY_PITCH_M * max(0, cranes - BUNDLED_CRANES)   # how far the yard's east end moves east
        self.east_x = 480.0 + self.shift                              # west edge of the east lane
        self.parking_top = 90.0 + SPOT_PITCH_M * self._rows(parking)
        self.north_y = max(142.0, self.parking_top)                    # south edge of the north lane
        self.height = self.north_y + 18.0
        # cn-bay-1's west edge: its transfer point lies corridor_m east of the last VN one (both at bay x + 13)
        self.first_china_x = self.bay_x(cranes - 1) + corridor_m
        self.turn_x = self.first_china_x + BAY_PITCH_M * (china_points - 1) + 40.0 + 20.0
        self.width = math.ceil((self.turn_x + 4.0 + 16.0) / CELL_M) * CELL_M
        if self.width > MAX_SIZE_M:
            raise ValueError(f"the site would be {self.width:g} m long, at most {MAX_SIZE_M:g} m are allowed: "
                             f"shorten corridor_m or use fewer china_points")

    @staticmethod
    def _rows(spots: int) -> int:
        return -(-spots // SPOT_COLUMNS)

    @staticmethod
    def bay_id(k: int) -> str:
        return f"bay-{k + 1}"

    @staticmethod
    def crane_id(k: int) -> str:
        return f"crane-{k + 1}"

    @staticmethod
    def stage_id(k: int) -> str:
        return f"stage-{k + 1}"

    @staticmethod
    def bay_x(k: int) -> float:
        return FIRST_BAY_X_M + BAY_PITCH_M * k

    @staticmethod
    def spot_names(prefix: str, count: int) -> list[str]:
        digits = max(2, len(str(count)))
        return [f"{prefix}{i + 1:0{digits}d}" for i in range(count)]

    def document(self) -> dict[str, object]:
        zones = [*self._truck_zones(), *self._bays(), *self._stacks(), *self._loop(), *self._spot_zones(),
                 *self._corridor(), *self._china_yard()]
        return {"format": "smartgate-yard-layout", "version": 1, "site": "huu-nghi-1119-sim",
                "size_m": [self.width, self.height], "border_x_m": 500.0 + self.shift, "zones": zones}

    def _truck_zones(self) -> list[Zone]:
        end_in, end_out = 380.0 + self.shift, 440.0 + self.shift
        return [
            {"id": "queue-in-1", "kind": "truck_queue", "direction": [1, 0], "polygon": _box(20, 8, end_in, 12)},
            {"id": "queue-in-2", "kind": "truck_queue", "direction": [1, 0], "polygon": _box(20, 12, end_in, 16)},
            {"id": "queue-out", "kind": "truck_queue", "direction": [-1, 0], "polygon": _box(20, 2, end_out, 6)},
            {"id": "inspection", "kind": "holding", "polygon": _box(40, 22, 150, 44)},
        ]

    def _bays(self) -> list[Zone]:
        zones: list[Zone] = []
        for k in range(self.cranes):
            x = self.bay_x(k)
            bay: Zone = {"id": self.bay_id(k), "kind": "transfer_bay", "crane": self.crane_id(k),
                         "polygon": _box(x, 18, x + 40, 30), "transfer_point": [x + 13, 25]}
            if self.stands:
                bay["stands"] = [self._stand(x, i) for i in range(self.stands)]
            zones.append(bay)
            x0, y0, x1, y1 = STAGING_ZONE
            zones.append({"id": self.stage_id(k), "kind": "igv_parking", "polygon": _box(x + x0, y0, x + x1, y1),
                          "spots": {name: [x + dx, y] for name, (dx, y) in STAGING_SPOTS.items()}})
        return zones

    @staticmethod
    def _stand(bay_x: float, index: int) -> list[list[float]]:
        """Stands in two columns under the crane (the bundled pair first), rows above and below."""
        x = bay_x + 6.9 + 13.8 * (index % 2)
        y = _STAND_ROWS_Y[index // 2]
        return _box(x, y, x + 12.2, y + 2.5)

    @staticmethod
    def _stacks() -> list[Zone]:
        grid = {"bays": 16, "rows": 8, "tiers": 4, "slot_size_m": [12.2, 2.5], "gap_m": [0.5, 0.5]}
        return [{"id": "buffer-a", "kind": "buffer_stack", "polygon": _box(196, 44, 412, 72),
                 "grid": {"origin": [200, 46], **grid}},
                {"id": "buffer-b", "kind": "buffer_stack", "polygon": _box(196, 96, 412, 124),
                 "grid": {"origin": [200, 98], **grid}}]

    def _loop(self) -> list[Zone]:
        east, north = self.east_x, self.north_y
        return [
            {"id": "igv-south", "kind": "igv_lane", "direction": [1, 0], "polygon": _box(180, 30, east, 38)},
            {"id": "igv-east", "kind": "igv_lane", "direction": [0, 1], "polygon": _box(east, 30, east + 8, north + 8)},
            {"id": "igv-north", "kind": "igv_lane", "direction": [-1, 0], "polygon": _box(180, north, east, north + 8)},
            {"id": "igv-west", "kind": "igv_lane", "direction": [0, -1], "polygon": _box(172, 30, 180, north + 8)},
            {"id": "igv-mid", "kind": "igv_lane", "direction": [1, 0], "polygon": _box(180, 80, east, 88)},
        ]

    def _spot_zones(self) -> list[Zone]:
        x0 = 420.0 + self.shift
        return [
            {"id": "igv-charging", "kind": "igv_charging",
             "polygon": _box(x0, 38, x0 + 50, 40 + SPOT_PITCH_M * self._rows(self.charging)),
             "spots": self._spots("C", self.charging, x0 + 3, 41.0)},
            {"id": "igv-parking", "kind": "igv_parking", "polygon": _box(x0, 88, x0 + 50, self.parking_top),
             "spots": self._spots("P", self.parking, x0 + 3, 91.0)},
        ]

    def _spots(self, prefix: str, count: int, x0: float, y0: float) -> dict[str, list[float]]:
        """Row by row, SPOT_COLUMNS a row, SPOT_PITCH_M apart, at cell centres (odd metres)."""
        return {name: [x0 + SPOT_PITCH_M * (i % SPOT_COLUMNS), y0 + SPOT_PITCH_M * (i // SPOT_COLUMNS)]
                for i, name in enumerate(self.spot_names(prefix, count))}

    def _corridor(self) -> list[Zone]:
        start, turn = self.east_x + 8.0, self.turn_x
        low, mid, high = _CORRIDOR_Y
        return [
            {"id": "border-corridor", "kind": "border_corridor", "polygon": _box(start, low, turn + 4, high)},
            {"id": "corridor-east", "kind": "igv_lane", "direction": [1, 0], "polygon": _box(start, low, turn, mid)},
            {"id": "corridor-west", "kind": "igv_lane", "direction": [-1, 0],
             "polygon": _box(start, mid, turn, high)},
            {"id": "cn-turn", "kind": "igv_lane", "direction": [0, 1], "polygon": _box(turn, low, turn + 4, high)},
        ]

    def _china_yard(self) -> list[Zone]:
        low, high = _CHINA_BAY_Y
        zones: list[Zone] = []
        for j in range(self.china_points):
            x = self.first_china_x + BAY_PITCH_M * j
            zones.append({"id": f"cn-bay-{j + 1}", "kind": "transfer_bay", "crane": f"cn-crane-{j + 1}",
                          "polygon": _box(x, low, x + 40, high), "transfer_point": [x + 13, 79]})
        return zones


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")

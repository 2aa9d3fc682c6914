"""The yard layout: zones, container slots, crane transfer points and IGV spots, in site metres.

One YAML file describes a transfer yard (format ``smartgate-yard-layout``, version 1; the bundled example is
``smartgate/sites/huu_nghi_1119_yard.yaml``, which documents every field). Coordinates are metres in the site frame:
x along the freight road towards China, y across it. Every zone is a polygon; buffer stacks are given compactly as a
bay/row/tier grid (slot length along x), transfer bays as a few stands and the point where an IGV stops under the
crane, IGV parking and charging as named spots. Loading validates everything (see `yard.layout_checks` for the
geometric rules), so a `YardLayout` that exists is usable by the occupancy tracker and the planners alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import shapely

from yard.layout_checks import check_layout, polygon_from_rings
from yard.layout_fields import SPOT_NAME, Fields, LayoutError, kind_of, read_yaml_file

__all__ = ["LayoutError", "Slot", "YardLayout", "Zone", "ZoneKind", "load_layout", "parse_layout"]

FORMAT = "smartgate-yard-layout"
VERSION = 1
MAX_ZONES = 256
MAX_RING_POINTS = 1000
MAX_PIECES = 64
MAX_STANDS = 64
MAX_SPOTS = 500
MAX_SLOTS = 20_000
MAX_SIZE_M = 10_000.0
UNIT_TOLERANCE = 1e-6

ZoneKind = Literal["truck_queue", "transfer_bay", "buffer_stack", "igv_lane", "igv_parking", "igv_charging",
                   "border_corridor", "holding"]
ZONE_KINDS: tuple[str, ...] = get_args(ZoneKind)

# Fields each kind needs (first) and may have (second), besides id, kind and polygon/polygons.
_KIND_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "truck_queue": (set(), {"direction"}),
    "igv_lane": (set(), {"direction"}),
    "transfer_bay": ({"crane", "transfer_point"}, {"stands"}),
    "buffer_stack": ({"grid"}, set()),
    "igv_parking": ({"spots"}, set()),
    "igv_charging": ({"spots"}, set()),
    "border_corridor": (set(), set()),
    "holding": (set(), set()),
}
_GRID_FIELDS = {"origin", "bays", "rows", "slot_size_m", "gap_m"}


@dataclass(frozen=True)
class Zone:
    """One area of the yard."""

    id: str
    kind: ZoneKind
    polygon: shapely.Polygon
    direction: tuple[float, float] | None   # unit vector of travel for one-way truck_queue / igv_lane, else None
    crane: str | None                       # transfer_bay: the crane serving it


@dataclass(frozen=True)
class Slot:
    """A container stand on the ground: a buffer stack position or a stand under a crane."""

    id: str                      # "buffer-a:B03R2" (stack slots) or "bay-1:S1" (transfer bay stands)
    zone_id: str
    polygon: shapely.Polygon     # the ground footprint of the slot
    centre: tuple[float, float]
    bay: int
    row: int
    tiers: int                   # how many containers may stack here (1 for bay stands)


@dataclass(frozen=True)
class YardLayout:
    """A validated yard. ``spots`` (IGV parking and charging points, keyed ``<zone>:<name>``) extends the shared
    interface; the grid names its cells after them and after ``transfer_points`` (keyed by transfer bay id)."""

    site: str
    size_m: tuple[float, float]
    zones: tuple[Zone, ...]
    slots: tuple[Slot, ...]
    transfer_points: dict[str, tuple[float, float]]
    border_x_m: float
    spots: dict[str, tuple[float, float]] = field(default_factory=dict)

    def zone(self, zone_id: str) -> Zone:
        """The zone with this id; KeyError if there is none."""
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(f"no zone {zone_id!r} in the layout of {self.site}")

    def zones_of(self, kind: ZoneKind) -> tuple[Zone, ...]:
        """The zones of one kind, in file order."""
        return tuple(zone for zone in self.zones if zone.kind == kind)


def load_layout(path: Path) -> YardLayout:
    """Read and validate a layout file; `LayoutError` ("<file>: <field>: <problem>") on any problem."""
    return parse_layout(read_yaml_file(Path(path)), str(path))


def parse_layout(data: object, source: str = "<layout>") -> YardLayout:
    """Validate a decoded layout document (from YAML or JSON)."""
    fields = Fields(source)
    if not isinstance(data, dict):
        raise fields.fail("top level", f"expected a mapping (format, version, site, ...), got {kind_of(data)}")
    top = fields.mapping(data, "", required={"format", "version", "site", "size_m", "border_x_m", "zones"},
                         optional=set())
    _check_format(fields, top)
    size = fields.pair(top["size_m"], "size_m", low=1.0, high=MAX_SIZE_M)
    border_x = fields.number(top["border_x_m"], "border_x_m", low=0.0, high=size[0])
    raw_zones = fields.sequence(top["zones"], "zones", min_len=1, max_len=MAX_ZONES)
    parsed = [_ZoneReader(fields, f"zones[{i}]").read(raw) for i, raw in enumerate(raw_zones)]
    _check_unique_ids(fields, parsed)
    slots = [slot for zone in parsed for slot in zone.slots]
    if len(slots) > MAX_SLOTS:
        raise fields.fail("zones", f"{len(slots)} slots in all, at most {MAX_SLOTS} are allowed")
    layout = YardLayout(
        site=fields.ident(top["site"], "site"), size_m=size, zones=tuple(zone.zone for zone in parsed),
        slots=tuple(slots), border_x_m=border_x,
        transfer_points={zone.zone.id: zone.transfer_point for zone in parsed if zone.transfer_point is not None},
        spots={f"{zone.zone.id}:{name}": xy for zone in parsed for name, xy in zone.spots.items()})
    check_layout(fields, layout, slot_fields=[name for zone in parsed for name in zone.slot_fields])
    return layout


def _check_format(fields: Fields, top: Mapping[str, Any]) -> None:
    if top["format"] != FORMAT:
        raise fields.fail("format", f"expected {FORMAT!r}, got {str(top['format'])[:80]!r}")
    version = top["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise fields.fail("version", f"expected a whole number, got {kind_of(version)}")
    if version != VERSION:
        raise fields.fail("version", f"unsupported version {version}, this reader knows {VERSION}")


def _check_unique_ids(fields: Fields, parsed: list[_ParsedZone]) -> None:
    seen: dict[str, int] = {}
    for i, zone in enumerate(parsed):
        if zone.zone.id in seen:
            raise fields.fail(f"zones[{i}].id",
                              f"duplicate zone id {zone.zone.id!r} (also zones[{seen[zone.zone.id]}])")
        seen[zone.zone.id] = i


@dataclass(frozen=True)
class _ParsedZone:
    zone: Zone
    slots: tuple[Slot, ...]
    slot_fields: tuple[str, ...]   # the field each slot came from, for error messages
    transfer_point: tuple[float, float] | None
    spots: dict[str, tuple[float, float]]


class _ZoneReader:
    """Reads one entry of ``zones``; every error names ``zones[i].<field>``."""

    def __init__(self, fields: Fields, field: str) -> None:
        self.fields = fields
        self.field = field

    def read(self, raw: object) -> _ParsedZone:
        kind = self._kind(raw)
        required, optional = _KIND_FIELDS[kind]
        entry = self.fields.mapping(raw, self.field, required={"id", "kind"} | required,
                                    optional={"polygon", "polygons"} | optional, what=f"a {kind} zone")
        zone_id = self.fields.ident(entry["id"], self._at("id"))
        zone = Zone(id=zone_id, kind=kind, polygon=self._polygon(entry),
                    direction=self._direction(entry["direction"]) if "direction" in entry else None,
                    crane=self.fields.ident(entry["crane"], self._at("crane")) if "crane" in entry else None)
        slots, slot_fields = self._slots(zone, entry)
        point = (self.fields.pair(entry["transfer_point"], self._at("transfer_point"))
                 if "transfer_point" in entry else None)
        spots = self._spots(entry["spots"]) if "spots" in entry else {}
        return _ParsedZone(zone, slots, slot_fields, point, spots)

    def _at(self, name: str) -> str:
        return f"{self.field}.{name}"

    def _kind(self, raw: object) -> ZoneKind:
        if not isinstance(raw, dict):
            raise self.fields.fail(self.field, f"expected a mapping (id, kind, polygon, ...), got {kind_of(raw)}")
        kind = raw.get("kind")
        if kind not in ZONE_KINDS:
            raise self.fields.fail(self._at("kind"), f"unknown kind {str(kind)[:40]!r}, expected one of "
                                                     f"{', '.join(ZONE_KINDS)}")
        return kind  # type: ignore[no-any-return]

    def _polygon(self, entry: Mapping[str, Any]) -> shapely.Polygon:
        if ("polygon" in entry) == ("polygons" in entry):
            raise self.fields.fail(self._at("polygon"), "give exactly one of polygon (one ring) or polygons "
                                                        "(pieces that join into one area)")
        if "polygon" in entry:
            field = self._at("polygon")
            return polygon_from_rings(self.fields, [self.fields.ring(entry["polygon"], field,
                                                                     max_points=MAX_RING_POINTS)], field)
        field = self._at("polygons")
        pieces = self.fields.sequence(entry["polygons"], field, min_len=1, max_len=MAX_PIECES)
        rings = [self.fields.ring(piece, f"{field}[{i}]", max_points=MAX_RING_POINTS) for i, piece in enumerate(pieces)]
        return polygon_from_rings(self.fields, rings, field)

    def _direction(self, raw: object) -> tuple[float, float]:
        field = self._at("direction")
        dx, dy = self.fields.pair(raw, field, low=-1.0, high=1.0)
        length = math.hypot(dx, dy)
        if length == 0.0:
            raise self.fields.fail(field, "zero direction; give a unit vector of travel, e.g. [1, 0]")
        if abs(length - 1.0) > UNIT_TOLERANCE:
            raise self.fields.fail(field, f"not a unit vector (length {length:.6g})")
        return dx, dy

    def _slots(self, zone: Zone, entry: Mapping[str, Any]) -> tuple[tuple[Slot, ...], tuple[str, ...]]:
        """The zone's slots and, parallel to them, the field each came from."""
        if zone.kind == "buffer_stack":
            field = self._at("grid")
            slots = _grid_slots(zone.id, self._grid(entry["grid"], field, with_tiers=True), stack=True)
            return slots, (field,) * len(slots)
        if "stands" not in entry:
            return (), ()
        field = self._at("stands")
        raw = entry["stands"]
        if isinstance(raw, dict):
            slots = _grid_slots(zone.id, self._grid(raw, field, with_tiers=False), stack=False)
            return slots, (field,) * len(slots)
        rings = self.fields.sequence(raw, field, min_len=1, max_len=MAX_STANDS)
        names = tuple(f"{field}[{i}]" for i in range(len(rings)))
        polygons = [polygon_from_rings(self.fields, [self.fields.ring(ring, name, max_points=MAX_RING_POINTS)], name)
                    for ring, name in zip(rings, names, strict=True)]
        stands = tuple(_stand(f"{zone.id}:S{k}", zone.id, polygon, k) for k, polygon in enumerate(polygons, start=1))
        return stands, names

    def _grid(self, raw: object, field: str, *, with_tiers: bool) -> _GridSpec:
        f = self.fields
        spec = f.mapping(raw, field, required=_GRID_FIELDS | ({"tiers"} if with_tiers else set()), optional=set())
        bays = f.integer(spec["bays"], f"{field}.bays", low=1, high=200)
        rows = f.integer(spec["rows"], f"{field}.rows", low=1, high=50)
        if not with_tiers and bays * rows > MAX_STANDS:
            raise f.fail(field, f"{bays * rows} stands, at most {MAX_STANDS} are allowed")
        return _GridSpec(origin=f.pair(spec["origin"], f"{field}.origin"), bays=bays, rows=rows,
                         tiers=f.integer(spec["tiers"], f"{field}.tiers", low=1, high=12) if with_tiers else 1,
                         slot_size=f.pair(spec["slot_size_m"], f"{field}.slot_size_m", low=0.5, high=100.0),
                         gap=f.pair(spec["gap_m"], f"{field}.gap_m", low=0.0, high=100.0))

    def _spots(self, raw: object) -> dict[str, tuple[float, float]]:
        field = self._at("spots")
        if not isinstance(raw, dict):
            raise self.fields.fail(field, f"expected a mapping of name: [x, y], got {kind_of(raw)}")
        if not 1 <= len(raw) <= MAX_SPOTS:
            raise self.fields.fail(field, f"expected 1–{MAX_SPOTS} spots, got {len(raw)}")
        spots: dict[str, tuple[float, float]] = {}
        for name, point in raw.items():
            key = self.fields.ident(name, f"{field}.{str(name)[:40]}", SPOT_NAME)
            spots[key] = self.fields.pair(point, f"{field}.{key}")
        return spots


@dataclass(frozen=True)
class _GridSpec:
    origin: tuple[float, float]    # lower-left corner of bay 1, row 1
    bays: int                      # along x
    rows: int                      # along y
    tiers: int
    slot_size: tuple[float, float]   # (length along x, width along y)
    gap: tuple[float, float]


def _grid_slots(zone_id: str, spec: _GridSpec, *, stack: bool) -> tuple[Slot, ...]:
    """Slots of a bay/row grid, bay-major (B01R1, B01R2, ..., B02R1); footprints built in one vectorised call."""
    bay, row = (a.ravel() for a in np.meshgrid(np.arange(1, spec.bays + 1), np.arange(1, spec.rows + 1),
                                               indexing="ij"))
    x0 = spec.origin[0] + (bay - 1) * (spec.slot_size[0] + spec.gap[0])
    y0 = spec.origin[1] + (row - 1) * (spec.slot_size[1] + spec.gap[1])
    polygons = shapely.box(x0, y0, x0 + spec.slot_size[0], y0 + spec.slot_size[1])
    bay_width, row_width = max(2, len(str(spec.bays))), len(str(spec.rows))
    names = ([f"B{b:0{bay_width}d}R{r:0{row_width}d}" for b, r in zip(bay, row, strict=True)] if stack
             else [f"S{k}" for k in range(1, len(bay) + 1)])
    cx, cy = x0 + spec.slot_size[0] / 2, y0 + spec.slot_size[1] / 2
    return tuple(Slot(id=f"{zone_id}:{name}", zone_id=zone_id, polygon=polygon, centre=(float(x), float(y)),
                      bay=int(b), row=int(r), tiers=spec.tiers)
                 for name, polygon, x, y, b, r in zip(names, polygons, cx, cy, bay, row, strict=True))


def _stand(slot_id: str, zone_id: str, polygon: shapely.Polygon, number: int) -> Slot:
    centre = polygon.centroid
    return Slot(id=slot_id, zone_id=zone_id, polygon=polygon, centre=(float(centre.x), float(centre.y)),
                bay=number, row=1, tiers=1)

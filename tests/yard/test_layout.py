"""Yard layout files: the bundled yard as designed, and every validation error reachable with a clear message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely

from smartgate.site import bundled_site_path, load_site
from yard.layout import LayoutError, YardLayout, load_layout, parse_layout

BUNDLED = Path(__file__).resolve().parents[2] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"


def small_layout() -> dict[str, Any]:
    """A valid little yard: 100 m × 50 m, border at x = 80; each error case below breaks one thing of it."""
    return {
        "format": "smartgate-yard-layout", "version": 1, "site": "test-yard", "size_m": [100, 50], "border_x_m": 80,
        "zones": [
            {"id": "q1", "kind": "truck_queue", "direction": [1, 0], "polygon": [[0, 0], [60, 0], [60, 4], [0, 4]]},
            {"id": "bay-1", "kind": "transfer_bay", "crane": "crane-1", "transfer_point": [16, 7],
             "polygon": [[10, 4], [30, 4], [30, 10], [10, 10]],
             "stands": [[[11, 5.5], [23.2, 5.5], [23.2, 8], [11, 8]]]},
            {"id": "stack", "kind": "buffer_stack", "polygon": [[40, 20], [70, 20], [70, 40], [40, 40]],
             "grid": {"origin": [41, 21], "bays": 2, "rows": 3, "tiers": 3, "slot_size_m": [12.2, 2.5],
                      "gap_m": [0.5, 0.5]}},
            {"id": "lane", "kind": "igv_lane", "direction": [1, 0], "polygon": [[0, 10], [90, 10], [90, 14], [0, 14]]},
            {"id": "corridor", "kind": "border_corridor", "polygon": [[76, 14], [100, 14], [100, 18], [76, 18]]},
            {"id": "park", "kind": "igv_parking", "polygon": [[0, 14], [10, 14], [10, 20], [0, 20]],
             "spots": {"P1": [5, 17]}},
            {"id": "hold", "kind": "holding", "polygon": [[0, 40], [20, 40], [20, 50], [0, 50]]},
        ],
    }


def zone(data: dict[str, Any], zone_id: str) -> dict[str, Any]:
    return next(z for z in data["zones"] if z["id"] == zone_id)


def setter(zone_id: str, key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        zone(data, zone_id)[key] = value
    return apply


def top(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        data[key] = value
    return apply


def drop(zone_id: str, key: str) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        del zone(data, zone_id)[key]
    return apply


def add_zone(entry: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        data["zones"].append(entry)
    return apply


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_small_layout_is_valid() -> None:
    layout = parse_layout(small_layout(), "small.yaml")
    assert [s.id for s in layout.slots][:3] == ["bay-1:S1", "stack:B01R1", "stack:B01R2"]
    assert len(layout.slots) == 1 + 6
    assert layout.transfer_points == {"bay-1": (16.0, 7.0)}
    assert layout.spots == {"park:P1": (5.0, 17.0)}


ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, mutation, field, problem fragment)
    ("wrong format", top("format", "geojson"), "format", "expected 'smartgate-yard-layout'"),
    ("future version", top("version", 2), "version", "unsupported version 2, this reader knows 1"),
    ("version as text", top("version", "1"), "version", "expected a whole number, got a string"),
    ("unknown top field", top("grid_cell_m", 2.0), "grid_cell_m", "unknown field"),
    ("bad site id", top("site", "huu nghi"), "site", "not a valid id"),
    ("NaN size", top("size_m", [float("nan"), 50]), "size_m[0]", "finite"),
    ("infinite border", top("border_x_m", float("inf")), "border_x_m", "finite"),
    ("border outside yard", top("border_x_m", 150), "border_x_m", "[0, 100]"),
    ("boolean size", top("size_m", [True, 50]), "size_m[0]", "expected a number, got a boolean"),
    ("size of three", top("size_m", [1, 2, 3]), "size_m", "expected 2 items, got 3"),
    ("no zones", top("zones", []), "zones", "expected 1–256 items, got 0"),
    ("too many zones", top("zones", [{}] * 257), "zones", "expected 1–256 items, got 257"),
    ("zone not a mapping", top("zones", [["q1"]]), "zones[0]", "expected a mapping"),
    ("unknown kind", setter("q1", "kind", "truck_lane"), "zones[0].kind", "unknown kind 'truck_lane'"),
    ("field of another kind", setter("hold", "direction", [1, 0]), "zones[6].direction",
     "unknown field for a holding zone"),
    ("missing crane", drop("bay-1", "crane"), "zones[1].crane", "missing"),
    ("missing grid", drop("stack", "grid"), "zones[2].grid", "missing"),
    ("polygon and polygons", setter("hold", "polygons", [box(0, 40, 20, 50)]), "zones[6].polygon",
     "exactly one of polygon"),
    ("duplicate zone id", setter("hold", "id", "q1"), "zones[6].id", "duplicate zone id 'q1' (also zones[0])"),
    ("two-point polygon", setter("hold", "polygon", [[0, 40], [20, 40]]), "zones[6].polygon", "expected 3–1000 items"),
    ("oversized polygon", setter("hold", "polygon", [[0, 40]] * 1001), "zones[6].polygon",
     "expected 3–1000 items, got 1001"),
    ("NaN corner", setter("hold", "polygon", [[0, 40], [20, float("nan")], [20, 50]]), "zones[6].polygon[1][1]",
     "finite"),
    ("self-intersecting", setter("hold", "polygon", [[0, 40], [20, 50], [20, 40], [0, 50]]), "zones[6].polygon",
     "Self-intersection"),
    ("flat polygon", setter("hold", "polygon", [[0, 40], [10, 40], [20, 40]]), "zones[6].polygon",
     "invalid polygon"),
    ("outside the yard", setter("hold", "polygon", box(90, 40, 110, 50)), "zones[6].polygon", "outside the yard"),
    ("holding over queue", setter("hold", "polygon", box(50, 2, 60, 6)), "zones[6].polygon",
     "'hold' (holding) overlaps zone 'q1' (truck_queue) by 20 m²"),
    ("lane over stack", add_zone({"id": "lane-2", "kind": "igv_lane", "polygon": box(30, 30, 50, 34)}),
     "zones[7].polygon", "'lane-2' (igv_lane) overlaps zone 'stack' (buffer_stack) by 40 m²"),
    ("lane pieces with a gap", add_zone({"id": "lane-2", "kind": "igv_lane",
                                         "polygons": [box(20, 20, 30, 24), box(31, 20, 38, 24)]}),
     "zones[7].polygons", "do not join: a gap of 1 m"),
    ("lane pieces meet at a corner", add_zone({"id": "lane-2", "kind": "igv_lane",
                                               "polygons": [box(20, 20, 30, 24), box(30, 24, 38, 28)]}),
     "zones[7].polygons", "meet only at a corner (30, 24)"),
    ("invalid piece", add_zone({"id": "lane-2", "kind": "igv_lane",
                                "polygons": [box(20, 20, 30, 24), [[30, 20], [35, 24], [35, 20], [30, 24]]]}),
     "zones[7].polygons[1]", "Self-intersection"),
    ("cut-off parking", add_zone({"id": "park-2", "kind": "igv_parking", "polygon": box(20, 20, 30, 30),
                                  "spots": {"P1": [25, 25]}}),
     "zones[7].polygon", "igv_parking 'park-2' is not joined to the border corridor"),
    ("no corridor", lambda d: d["zones"].pop(4), "zones", "no border_corridor zone"),
    ("corridor short of border", setter("corridor", "polygon", box(82, 14, 100, 18)), "zones[4].polygon",
     "does not reach the border at x = 80"),
    ("zero direction", setter("lane", "direction", [0, 0]), "zones[3].direction", "zero direction"),
    ("non-unit direction", setter("lane", "direction", [1, 1]), "zones[3].direction", "not a unit vector"),
    ("direction too long", setter("lane", "direction", [2, 0]), "zones[3].direction[0]", "[-1, 1]"),
    ("direction as text", setter("lane", "direction", "east"), "zones[3].direction", "expected a list"),
    ("slot outside stack", setter("stack", "grid", {"origin": [41, 21], "bays": 3, "rows": 3, "tiers": 3,
                                                    "slot_size_m": [12.2, 2.5], "gap_m": [0.5, 0.5]}),
     "zones[2].grid", "slot 'stack:B03R1' (66.4, 21)–(78.6, 23.5) is not inside its zone 'stack'"),
    ("stand outside bay", setter("bay-1", "stands", [box(25, 5, 37.2, 7.5)]), "zones[1].stands[0]",
     "slot 'bay-1:S1'"),
    ("stands overlap", setter("bay-1", "stands", [box(11, 5, 23.2, 7.5), box(17, 6, 29.2, 8.5)]),
     "zones[1].stands[1]", "slot 'bay-1:S2' overlaps slot 'bay-1:S1'"),
    ("negative gap", setter("stack", "grid", {"origin": [41, 21], "bays": 2, "rows": 3, "tiers": 3,
                                              "slot_size_m": [12.2, 2.5], "gap_m": [-1, 0.5]}),
     "zones[2].grid.gap_m[0]", "[0, 100]"),
    ("too many bays", setter("stack", "grid", {"origin": [41, 21], "bays": 201, "rows": 3, "tiers": 3,
                                               "slot_size_m": [12.2, 2.5], "gap_m": [0.5, 0.5]}),
     "zones[2].grid.bays", "[1, 200]"),
    ("fractional tiers", setter("stack", "grid", {"origin": [41, 21], "bays": 2, "rows": 3, "tiers": 2.5,
                                                  "slot_size_m": [12.2, 2.5], "gap_m": [0.5, 0.5]}),
     "zones[2].grid.tiers", "expected a whole number, got 2.5"),
    ("unknown grid field", setter("stack", "grid", {"origin": [41, 21], "bays": 2, "rows": 3, "tiers": 3,
                                                    "slot_size_m": [12.2, 2.5], "gap_m": [0.5, 0.5], "rotation": 90}),
     "zones[2].grid.rotation", "unknown field"),
    ("too many stands", setter("bay-1", "stands", {"origin": [11, 5], "bays": 9, "rows": 8,
                                                   "slot_size_m": [1, 0.5], "gap_m": [0, 0]}),
     "zones[1].stands", "72 stands, at most 64"),
    ("transfer point outside bay", setter("bay-1", "transfer_point", [16, 12]), "zones[1].transfer_point",
     "(16, 12) is not inside zone 'bay-1'"),
    ("spot outside zone", setter("park", "spots", {"P1": [5, 17], "P2": [15, 17]}), "zones[5].spots.P2",
     "(15, 17) is not inside zone 'park'"),
    ("bad spot name", setter("park", "spots", {"P 1": [5, 17]}), "zones[5].spots.P 1", "not a valid id"),
    ("spots as list", setter("park", "spots", [[5, 17]]), "zones[5].spots", "expected a mapping"),
    ("too many spots", setter("park", "spots", {f"P{i}": [5, 17] for i in range(501)}), "zones[5].spots",
     "expected 1–500 spots, got 501"),
    ("too many slots", lambda d: d["zones"].extend(
        {"id": f"s{i}", "kind": "buffer_stack", "polygon": box(0, 0, 1, 1),
         "grid": {"origin": [0, 0], "bays": 200, "rows": 50, "tiers": 1, "slot_size_m": [1, 1], "gap_m": [0, 0]}}
        for i in range(2)), "zones", "20007 slots in all, at most 20000"),
]


@pytest.mark.parametrize(("mutate", "field", "problem"), [case[1:] for case in ERRORS],
                         ids=[case[0] for case in ERRORS])
def test_validation_errors(mutate: Callable[[dict[str, Any]], None], field: str, problem: str) -> None:
    data = copy.deepcopy(small_layout())
    mutate(data)
    with pytest.raises(LayoutError) as caught:
        parse_layout(data, "bad.yaml")
    assert caught.value.source == "bad.yaml"
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"bad.yaml: {field}: ")


@pytest.mark.parametrize("data", [None, [], "zones", 3])
def test_document_must_be_a_mapping(data: object) -> None:
    with pytest.raises(LayoutError, match=r"^<layout>: top level: expected a mapping"):
        parse_layout(data)


def test_corridor_may_overlap_a_lane_but_not_a_stack() -> None:
    data = small_layout()
    zone(data, "corridor")["polygon"] = box(76, 12, 100, 18)   # over the lane's top half
    assert parse_layout(data).zone("corridor").polygon.bounds == (76.0, 12.0, 100.0, 18.0)
    zone(data, "corridor")["polygon"] = box(60, 14, 100, 22)   # over a corner of the stack
    with pytest.raises(LayoutError, match=r"'corridor' .* overlaps zone 'stack' .* by 20 m²"):
        parse_layout(data)


def test_zones_drawn_in_pieces_join_into_one_polygon() -> None:
    data = small_layout()
    zone(data, "lane")["polygons"] = [box(0, 10, 50, 14), box(50, 10, 90, 14)]
    del zone(data, "lane")["polygon"]
    lane = parse_layout(data).zone("lane").polygon
    assert isinstance(lane, shapely.Polygon)
    assert lane.area == pytest.approx(360.0)


@pytest.mark.parametrize(("content", "problem"), [
    (b"format: [unclosed", "did not find expected ',' or ']' (line 2)"),
    (b"a: &x [1]\nb: *x\n", "aliases (*name) are not allowed"),
    (b"a: " + b"[" * 40 + b"]" * 40 + b"\n", "nested deeper than 16 levels"),
    (b"format: a\nformat: b\n", "duplicate key 'format'"),
    (b"format: \xff\xfe\n", "not UTF-8 text"),
    (b"x" * (1024 * 1024 + 1), "larger than 1024 KiB"),
])
def test_unsafe_or_broken_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "layout.yaml"
    path.write_bytes(content)
    with pytest.raises(LayoutError, match=f"^{path}: file: ") as caught:
        load_layout(path)
    assert problem in caught.value.problem


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r": file: not found$"):
        load_layout(tmp_path / "absent.yaml")
    with pytest.raises(LayoutError, match=r": file: is a directory"):
        load_layout(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    with pytest.raises(LayoutError, match=r"top level: expected a mapping .*got nothing"):
        load_layout(path)


# --- the bundled yard -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> YardLayout:
    return load_layout(BUNDLED)


def test_bundled_site_references_the_layout() -> None:
    site = load_site(bundled_site_path())
    assert site.yard is not None
    assert site.yard.layout is not None
    assert Path(site.yard.layout).resolve() == BUNDLED
    assert load_layout(site.yard.layout).site == "huu-nghi-1119"


def test_bundled_yard_zones(bundled: YardLayout) -> None:
    assert bundled.site == "huu-nghi-1119"
    assert bundled.size_m == (600.0, 160.0)
    assert bundled.border_x_m == 500.0
    kinds = {kind: [z.id for z in bundled.zones_of(kind)] for kind in
             ("truck_queue", "transfer_bay", "buffer_stack", "igv_lane", "igv_parking", "igv_charging",
              "border_corridor", "holding")}
    assert kinds == {
        "truck_queue": ["queue-in-1", "queue-in-2", "queue-out"],
        "transfer_bay": ["bay-1", "bay-2", "bay-3"],
        "buffer_stack": ["buffer-a", "buffer-b"],
        "igv_lane": ["igv-south", "igv-east", "igv-north", "igv-west", "igv-mid"],
        "igv_parking": ["igv-parking"], "igv_charging": ["igv-charging"],
        "border_corridor": ["border-corridor"], "holding": ["inspection"],
    }
    assert [bundled.zone(f"queue-in-{i}").direction for i in (1, 2)] == [(1.0, 0.0), (1.0, 0.0)]
    assert bundled.zone("queue-out").direction == (-1.0, 0.0)
    assert [z.crane for z in bundled.zones_of("transfer_bay")] == ["crane-1", "crane-2", "crane-3"]
    corridor = bundled.zone("border-corridor").polygon.bounds
    assert corridor[0] < bundled.border_x_m < corridor[2]
    x0, y0, x1, y1 = shapely.union_all([z.polygon for z in bundled.zones]).bounds
    assert (x0, y0) >= (0.0, 0.0)
    assert (x1, y1) <= bundled.size_m
    with pytest.raises(KeyError, match="no zone 'nowhere'"):
        bundled.zone("nowhere")


def test_bundled_yard_slots(bundled: YardLayout) -> None:
    stack_slots = [s for s in bundled.slots if s.zone_id.startswith("buffer-")]
    stands = [s for s in bundled.slots if s.zone_id.startswith("bay-")]
    assert len(stack_slots) == 2 * 16 * 8
    assert 200 <= len(bundled.slots) <= 400
    assert [s.id for s in stands] == [f"bay-{b}:S{k}" for b in (1, 2, 3) for k in (1, 2)]
    assert {s.tiers for s in stands} == {1}
    assert {s.tiers for s in stack_slots} == {4}
    ids = [s.id for s in stack_slots if s.zone_id == "buffer-a"]
    assert ids[:3] == ["buffer-a:B01R1", "buffer-a:B01R2", "buffer-a:B01R3"]
    assert ids[-1] == "buffer-a:B16R8"
    assert len(set(s.id for s in bundled.slots)) == len(bundled.slots)
    slot = next(s for s in bundled.slots if s.id == "buffer-a:B03R2")
    assert (slot.bay, slot.row) == (3, 2)
    assert slot.centre == pytest.approx((200 + 2 * 12.7 + 6.1, 46 + 3.0 + 1.25))
    assert slot.polygon.area == pytest.approx(12.2 * 2.5)
    for bay_id, point in bundled.transfer_points.items():
        first_stand = next(s for s in stands if s.id == f"{bay_id}:S1")
        assert first_stand.centre == pytest.approx(point)


def test_bundled_yard_spots(bundled: YardLayout) -> None:
    assert set(bundled.transfer_points) == {"bay-1", "bay-2", "bay-3"}
    assert sorted(k for k in bundled.spots if k.startswith("igv-charging:")) == [
        f"igv-charging:C0{i}" for i in range(1, 7)]
    assert len([k for k in bundled.spots if k.startswith("igv-parking:")]) == 16

"""The demo declares the recordings' trucks for the days it plays them: valid then, accepted by the book, stable."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import yaml

from bus.messages import Declaration, DeclaredContainer
from control.declaration_feed import DirectoryFeed
from control.declarations import DeclarationBook
from smartgate.demo_declarations import DAY_S, days_covering, for_day, write_demo_declarations
from smartgate.site import Site, bundled_site_path, load_site

MIDNIGHT = 1_795_392_000.0  # 2026-11-23 00:00 UTC
TRUCK = Declaration(declaration_id="DEC-in-1-2026-00003", customs_declaration_no="308045197870",
                    tractor_plate="桂N·E0D12", trailer_plate="桂K·8477挂", driver="李伟",
                    containers=(DeclaredContainer(number="BMOU0368458", seal_number="VN327085"),),
                    channel="yellow", valid_from_utc=1788205585.364, valid_until_utc=1788245395.594)


@pytest.mark.parametrize(("first", "last", "days"), [
    (MIDNIGHT + 60, MIDNIGHT + 3600, [MIDNIGHT]),
    (MIDNIGHT - 30, MIDNIGHT + 600, [MIDNIGHT - DAY_S, MIDNIGHT]),
    (MIDNIGHT + 3600, MIDNIGHT + 3600 + DAY_S, [MIDNIGHT, MIDNIGHT + DAY_S]),
    (MIDNIGHT, MIDNIGHT + DAY_S - 1, [MIDNIGHT]),
], ids=["within-a-day", "across-midnight", "a-day-long", "exactly-one-day"])
def test_a_run_is_declared_for_every_day_it_may_touch(first: float, last: float, days: list[float]) -> None:
    assert days_covering(first, last) == days


def test_a_day_declaration_keeps_the_truck_and_changes_only_id_and_window() -> None:
    declared = for_day(TRUCK, MIDNIGHT)
    assert declared.declaration_id == "DEC-in-1-2026-00003.20261123"
    assert (declared.valid_from_utc, declared.valid_until_utc) == (MIDNIGHT, MIDNIGHT + DAY_S - 0.001)
    same = msgspec.structs.replace(declared, declaration_id=TRUCK.declaration_id,
                                   valid_from_utc=TRUCK.valid_from_utc, valid_until_utc=TRUCK.valid_until_utc)
    assert same == TRUCK  # plates, driver, containers, seals, channel, direction: the recording's own
    assert len(for_day(msgspec.structs.replace(TRUCK, declaration_id="D" * 64), MIDNIGHT).declaration_id) == 64


def _site(tmp_path: Path) -> Site:
    """The bundled site with each lane's cameras playing a folder of its own that holds only declarations."""
    raw = yaml.safe_load(bundled_site_path().read_text(encoding="utf-8"))
    for n, lane in enumerate(raw["lanes"], start=1):
        folder = tmp_path / "recordings" / lane["id"]
        folder.mkdir(parents=True)
        lines = [json.dumps(msgspec.to_builtins(msgspec.structs.replace(
            TRUCK, declaration_id=f"DEC-{lane['id']}-{i}", tractor_plate=f"12C-{n}{i}0.01")),
            ensure_ascii=False) for i in range(3)]
        (folder / "declarations.jsonl").write_text("\n".join([*lines, "{not json"]) + "\n", encoding="utf-8")
        for camera in lane["cameras"]:
            camera["source"]["path"] = str(folder)
    del raw["yard"], raw["declarations"]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_site(path, data_dir=tmp_path / "var")


def test_the_recordings_trucks_are_written_per_lane_and_accepted_by_the_book(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site.data_dir / "demo-declarations").mkdir(parents=True)
    (site.data_dir / "demo-declarations" / "gone-lane.jsonl").write_text("{}\n")
    declared = write_demo_declarations(site, start_utc=MIDNIGHT + 3600, run_s=600)
    assert declared is not None
    assert (declared.trucks, declared.days, len(declared.bad_lines)) == (6, ("2026-11-23",), 2)
    assert sorted(p.name for p in declared.folder.iterdir()) == ["in-1.jsonl", "out-1.jsonl"]
    book = DeclarationBook()
    assert all(book.add(item.declaration) for item in DirectoryFeed(declared.folder).poll().items)
    assert len(book) == 6
    again = write_demo_declarations(site, start_utc=MIDNIGHT + 7200, run_s=600)
    assert again is not None
    assert not any(book.add(item.declaration) for item in DirectoryFeed(again.folder).poll().items)  # known
    tomorrow = write_demo_declarations(site, start_utc=MIDNIGHT + DAY_S + 60, run_s=600)
    assert tomorrow is not None
    assert tomorrow.days == ("2026-11-24",)
    assert all(book.add(item.declaration) for item in DirectoryFeed(tomorrow.folder).poll().items)  # no overlap


def test_a_site_without_recorded_declarations_gets_none(tmp_path: Path) -> None:
    site = _site(tmp_path)
    for lane in site.lanes:
        (site.data_dir.parent / "recordings" / lane.id / "declarations.jsonl").unlink()
    assert write_demo_declarations(site, start_utc=MIDNIGHT, run_s=60) is None

"""Yard state survives a restart: journal to a real SQLite file, drop everything, rebuild, compare."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import shapely

from bus.journal import Journal
from bus.messages import ContainerRead, CraneCommand, Heartbeat, OccupancyUpdate, SlotState, VehiclePassage
from yard.ground_detections import KIND_CONTAINER, KIND_TRUCK, GroundDetections
from yard.inventory import Inventory
from yard.occupancy import OccupancySettings, OccupancyTracker
from yard.occupancy_journal import record_updates, replay_updates

T0 = 1_700_000_000.0
PERIOD = 0.25
SLOTS = {"buffer-a:B01R1": ("buffer-a", shapely.box(0, 0, 12.2, 2.5), 3),
         "buffer-a:B01R2": ("buffer-a", shapely.box(0, 3, 12.2, 5.5), 3),
         "buffer-a:B02R1": ("buffer-a", shapely.box(13, 0, 25.2, 2.5), 3),
         "bay-1:S1": ("bay-1", shapely.box(0, 10, 16, 13.5), 1)}
LANES = {"queue-in": shapely.box(-60, -20, 60, -10)}
CENTRE = {slot: (p.centroid.x, p.centroid.y) for slot, (_z, p, _t) in SLOTS.items()}
TIERS = {slot: tiers for slot, (_z, _p, tiers) in SLOTS.items()}
LAYOUT = (list(SLOTS), [p for _z, p, _t in SLOTS.values()], [z for z, _p, _t in SLOTS.values()], LANES)


def frame_at(t: float) -> GroundDetections:
    """The scripted yard at ``t`` seconds: a truck in the bay 2-12 s, its container stacked from 6.5 s, an unknown
    container in B01R2 from 3 s, and a queue of 3 trucks growing to 5 at 8 s (with a flicker at 4 s)."""
    xy: list[tuple[float, float]] = []
    kinds: list[int] = []
    if 2.0 <= t < 12.0:
        xy.append(CENTRE["bay-1:S1"])
        kinds.append(KIND_TRUCK)
    if t >= 6.5:
        xy.append(CENTRE["buffer-a:B01R1"])
        kinds.append(KIND_CONTAINER)
    if t >= 3.0:
        xy.append(CENTRE["buffer-a:B01R2"])
        kinds.append(KIND_CONTAINER)
    queue = 5 if t >= 8.0 else (2 if t == 4.0 else 3)
    xy += [(-55.0 + 12.0 * k, -15.0) for k in range(queue)]
    kinds += [KIND_TRUCK] * queue
    return GroundDetections.from_arrays(np.reshape(xy, (-1, 2)), np.asarray(kinds, np.int8), 0.9)


def crane(action: str, slot: str, t: float, k: int) -> CraneCommand:
    return CraneCommand(command_id=f"cmd-{k}", crane_id="crane-1", job_id="job-7", action=action,  # type: ignore[arg-type]
                        slot_id=slot, container_number="MSCU1234565", seq=k, expires_utc=t + 30, ts_utc=t)


ARRIVAL = VehiclePassage(passage_id="p-1", lane_id="in-1", direction="in", first_seen_utc=T0, last_seen_utc=T0 + 1,
                         ts_utc=T0 + 1,
                         containers=(ContainerRead(number="MSCU1234565", check_digit_ok=True, confidence=0.97),))
EVENTS: dict[float, VehiclePassage | CraneCommand] = {
    1.0: ARRIVAL,
    5.0: crane("PICK", "bay-1:S1", T0 + 5, 1),
    6.0: crane("PLACE", "buffer-a:B01R1", T0 + 6, 2),
    9.0: crane("PICK", "buffer-a:B02R1", T0 + 9, 3),   # refused: nothing there
}


def run_live(journal: Journal, seconds: float) -> tuple[OccupancyTracker, Inventory]:
    """The occupancy service: frames in, changes joined with the inventory, updates journalled."""
    tracker = OccupancyTracker(*LAYOUT, OccupancySettings())
    inventory = Inventory(TIERS, ["bay-1:S1"])
    for k in range(round(seconds / PERIOD)):
        t = k * PERIOD
        event = EVENTS.get(t)
        if event is not None:
            journal.append(event)
            inventory.apply(event)
        changes = inventory.on_changes(tracker.update(T0 + t, frame_at(t)))
        record_updates(journal, tracker.to_updates(changes))
    return tracker, inventory


def test_rebuild_from_a_sqlite_journal_restores_slots_queues_and_inventory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yard.db'}"
    with Journal.open(url) as journal:
        journal.append(Heartbeat(sender="other", role="noise", seq=1))   # other traffic is skipped
        tracker, inventory = run_live(journal, seconds=15.0)
    states, queues, snapshot = tracker.slot_states(), tracker.queue_lengths(), inventory.snapshot()
    counters = dict(inventory.counters)
    del tracker, inventory

    with Journal.open(url) as journal:
        rebuilt = OccupancyTracker.rebuild(journal, *LAYOUT)
        stock = Inventory.rebuild(journal, TIERS, ["bay-1:S1"])
        last_bay_seq = max(u.seq for u in replay_updates(journal) if u.zone_id == "bay-1")

    assert rebuilt.slot_states() == states
    assert rebuilt.queue_lengths() == queues == {"queue-in": 5}
    assert stock.snapshot() == snapshot
    assert dict(stock.counters) == counters
    by_slot = {s.slot_id: s for s in states}
    assert (by_slot["buffer-a:B01R1"].kind, by_slot["buffer-a:B01R1"].container_number) == ("container",
                                                                                             "MSCU1234565")
    assert by_slot["buffer-a:B01R1"].since_utc == T0 + 6.5
    assert (by_slot["bay-1:S1"].kind, by_slot["bay-1:S1"].since_utc) == ("empty", T0 + 11.75)
    assert stock.where("MSCU1234565") is not None
    assert [a.kind for a in snapshot.alerts] == ["unknown_container"]
    assert counters["refused.not_there"] == 1

    changes = rebuilt.update(T0 + 20.0, frame_at(20.0))
    assert changes == []
    (bay,) = [u for u in rebuilt.to_updates([]) + rebuilt.to_updates(
        [c for k in range(1, 6) for c in rebuilt.update(T0 + 20.0 + k * PERIOD, frame_at(3.0))])
        if u.zone_id == "bay-1"]
    assert bay.seq == last_bay_seq + 1
    assert bay.slots[0].kind == "truck"


def test_after_a_rebuild_unseen_slots_empty_only_after_exit_s(tmp_path: Path) -> None:
    url = tmp_path / "yard.db"
    with Journal.open(url) as journal:
        run_live(journal, seconds=8.0)
        rebuilt = OccupancyTracker.rebuild(journal, *LAYOUT)
    restart = T0 + 100.0
    assert rebuilt.update(restart, GroundDetections.empty()) == []
    assert rebuilt.update(restart + 1.75, GroundDetections.empty()) == []
    gone = rebuilt.update(restart + 2.0, GroundDetections.empty())
    assert sorted((c.slot_id, c.new_kind, c.since_utc) for c in gone) == [
        ("bay-1:S1", "empty", restart), ("buffer-a:B01R1", "empty", restart), ("buffer-a:B01R2", "empty", restart)]


def test_rebuild_skips_corrupt_rows_and_slots_no_longer_in_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "yard.db"
    with Journal.open(path) as journal:
        tracker, _inventory = run_live(journal, seconds=8.0)
    with sqlite3.connect(path) as raw:  # damage the first update on disk: buffer-a's slots reported empty
        first = raw.execute("SELECT min(seq) FROM events WHERE type = ?", (OccupancyUpdate.wire_tag(),)).fetchone()
        raw.execute("UPDATE events SET payload = x'00ff' WHERE seq = ?", first)
    smaller = ({k: v for k, v in SLOTS.items() if k != "buffer-a:B01R2"})
    with Journal.open(path) as journal:
        rebuilt = OccupancyTracker.rebuild(journal, list(smaller), [p for _z, p, _t in smaller.values()],
                                           [z for z, _p, _t in smaller.values()], LANES)
        assert journal.corrupt_skipped == 1
    assert rebuilt.counters["rebuild.unknown_slot"] >= 1
    expected = {s.slot_id: s for s in tracker.slot_states() if s.slot_id != "buffer-a:B01R2"}
    lost = SlotState(slot_id="buffer-a:B02R1", occupied=False, kind="unknown", since_utc=0.0)  # only in that row
    assert {s.slot_id: s for s in rebuilt.slot_states()} == {**expected, "buffer-a:B02R1": lost}


@pytest.mark.parametrize("after_seq", [0, 10_000])
def test_rebuild_of_an_empty_tail_gives_unknown_slots(tmp_path: Path, after_seq: int) -> None:
    with Journal.open(tmp_path / "yard.db") as journal:
        if after_seq:
            run_live(journal, seconds=3.0)
        rebuilt = OccupancyTracker.rebuild(journal, *LAYOUT, after_seq=after_seq)
    assert {s.kind for s in rebuilt.slot_states()} == {"unknown"}
    assert rebuilt.queue_lengths() == {"queue-in": 0}

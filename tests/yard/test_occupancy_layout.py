"""The bundled layout's tracker and inventory: a container set down in a stack slot is seen, journalled, rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bus.journal import Journal
from bus.messages import CraneCommand
from yard.ground_detections import KIND_CONTAINER, KIND_TRUCK, GroundDetections
from yard.layout import load_layout
from yard.occupancy_journal import record_updates
from yard.occupancy_layout import inventory_for, rebuilt_inventory, rebuilt_tracker, tracker_for

LAYOUT = Path(__file__).resolve().parents[2] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"
T0 = 1.8e9


def test_a_container_in_a_bundled_stack_slot_survives_a_restart(tmp_path: Path) -> None:
    layout = load_layout(LAYOUT)
    slot = next(s for s in layout.slots if s.id == "buffer-a:B03R2")
    lane = layout.zone("queue-in-1")
    tracker, inventory = tracker_for(layout), inventory_for(layout)
    lane_point = lane.polygon.representative_point()
    seen = GroundDetections.from_arrays([slot.centre, (lane_point.x, lane_point.y)], [KIND_CONTAINER, KIND_TRUCK])
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with Journal.open(url) as journal:
        place = CraneCommand(command_id="c1", crane_id="crane-1", job_id="j1", action="PLACE", slot_id=slot.id,
                             container_number="MSCU1234565", seq=1, expires_utc=T0 + 60, ts_utc=T0)
        journal.append(place)
        inventory.on_crane_command(place)
        for k in range(20):  # 4 s at 5 frames/s
            changes = inventory.on_changes(tracker.update(T0 + 0.2 * k, seen))
            record_updates(journal, tracker.to_updates(changes))
    states = {s.slot_id: s for s in tracker.slot_states()}
    assert states[slot.id].occupied
    assert states[slot.id].kind == "container"
    assert sum(s.occupied for s in states.values()) == 1
    assert tracker.queue_lengths()["queue-in-1"] == 1
    with Journal.open(url) as journal:
        again = rebuilt_tracker(layout, journal)
        assert {s.slot_id: s.kind for s in again.slot_states()} == {s.slot_id: s.kind for s in states.values()}
        assert again.queue_lengths() == tracker.queue_lengths()
        assert rebuilt_inventory(layout, journal).where("MSCU1234565") == inventory.where("MSCU1234565")
    assert inventory.where("MSCU1234565") is not None
    assert states[slot.id].container_number == "MSCU1234565"
    assert np.isclose(states[slot.id].since_utc, T0)

"""``python -m smartgate.services yard`` as a real process: updates journalled and published, state kept on restart."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

from bus.journal import Journal
from bus.messages import ContainerRead, CraneCommand, OccupancyUpdate, VehiclePassage
from bus.transport import subscription
from datasets.yard_synth import write_yard_recording
from datasets.yard_synth.recording import open_yard_recording
from smartgate import cli
from smartgate.services.yard_occupancy import _play, _Yard
from smartgate.site import load_site
from smartgate.wiring import event_subscriber
from smartgate.yard_pipeline import recording_pipeline
from tests.ports import loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from yard.layout import load_layout
from yard.occupancy_journal import replay_updates
from yard.occupancy_layout import inventory_for

REPO = Path(__file__).resolve().parents[2]
YARD_LAYOUT = REPO / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"


def _run_yard(site_file: Path, data_dir: Path, log: Path) -> int:
    with log.open("a") as out:
        return subprocess.run(
            [sys.executable, "-m", "smartgate.services", "yard", "--site", str(site_file), "--data-dir",
             str(data_dir), "--speed", "0"], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=300,
            check=False).returncode


def test_yard_service_journals_publishes_and_keeps_its_state_across_a_restart(tmp_path: Path) -> None:
    recording = write_yard_recording(tmp_path / "yard-rec", seed=5, duration_s=6.0, fps=2.0)

    def loopback(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))
        data["yard"] = {"layout": str(YARD_LAYOUT), "recording": str(recording)}

    site_file = write_site(tmp_path, loopback)
    data_dir = tmp_path / "var"
    site = load_site(site_file, data_dir=data_dir)
    assert cli.main(["keys", "--site", str(site_file), "--dir", str(site.bus.keys_dir)]) == 0
    log = tmp_path / "yard.log"
    broker = subprocess.Popen([sys.executable, "-m", "smartgate.services", "broker", "--site", str(site_file),
                               "--data-dir", str(data_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    heard: list[OccupancyUpdate] = []
    done = threading.Event()

    def listen() -> None:
        with event_subscriber(site, "api", [subscription(OccupancyUpdate)]) as events:
            while not done.is_set():
                message = events.recv(0.1)
                if isinstance(message, OccupancyUpdate):
                    heard.append(message)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert _run_yard(site_file, data_dir, log) == 0, log.read_text()
        with Journal.open(site.journal.url) as journal:
            first = list(replay_updates(journal, 0))
            last_seq = journal.last_seq()
        assert _run_yard(site_file, data_dir, log) == 0, log.read_text()
        with Journal.open(site.journal.url) as journal:
            second = list(replay_updates(journal, last_seq))
    finally:
        done.set()
        listener.join(5)
        broker.terminate()
        broker.wait(10)

    slots_first = {s.slot_id: s for u in first for s in u.slots}
    assert len(slots_first) == 262                        # every slot's state recorded once known
    assert any(s.occupied and s.kind == "container" for s in slots_first.values())
    assert any(u.queue_lengths for u in first)
    # the restart took up the journalled state: no slot announced again as "unknown → empty"
    assert sum(len(u.slots) for u in second) < 0.2 * sum(len(u.slots) for u in first)
    assert {u.id for u in heard} <= {u.id for u in first + second}
    assert heard, "the bus carried no occupancy update"


def test_gate_reads_and_crane_moves_from_the_bus_feed_the_inventory(tmp_path: Path) -> None:
    inventory = inventory_for(load_layout(YARD_LAYOUT))
    place = CraneCommand(command_id="c1", crane_id="crane-1", job_id="j1", action="PLACE", slot_id="buffer-a:B01R1",
                         container_number="MSCU1234565", seq=1, expires_utc=2.0e9)
    again = CraneCommand(command_id="c2", crane_id="crane-1", job_id="j2", action="PICK", slot_id="buffer-a:B01R1",
                         container_number="TGHU0000000", seq=2, expires_utc=2.0e9)
    passage = VehiclePassage(passage_id="p1", lane_id="in-1", direction="in", first_seen_utc=1.8e9,
                             last_seen_utc=1.8e9 + 5, containers=(ContainerRead(number="CSQU3054383",
                                                                                check_digit_ok=True,
                                                                                confidence=0.9),))
    feed = [place, again, passage]
    counters: Counter[str] = Counter()
    receive = lambda _timeout: feed.pop(0) if feed else None  # noqa: E731 - the bus, as a list
    yard = _Yard(inventory, receive, None, None, counters)  # type: ignore[arg-type]  # no journal or publisher needed
    yard.take_events()
    assert inventory.where("MSCU1234565") is not None
    assert counters["events"] == 3
    assert counters["crane_refused.not_there"] == 1


class _Spies:
    """Stands in for the journal writer and the pulse: keeps what would be recorded and published."""

    def __init__(self) -> None:
        self.updates: list[OccupancyUpdate] = []
        self.ticks = 0

    def record_then_publish(self, updates: list[OccupancyUpdate]) -> None:
        self.updates.extend(updates)

    def tick(self) -> None:
        self.ticks += 1


def test_a_recording_played_as_fast_as_possible_steps_on_the_cameras_clock(tmp_path: Path) -> None:
    """Slots settle by camera seconds: played at speed 0, 6 s of recording still fill the yard's slots.

    (Stepping on the wall clock made this depend on how fast the machine ran the 12 steps.)
    """
    recording = open_yard_recording(write_yard_recording(tmp_path / "rec", seed=5, duration_s=6.0, fps=2.0))
    pipeline = recording_pipeline(recording, load_layout(YARD_LAYOUT))
    stamps: list[float] = []
    step = pipeline.step

    def stamped_step(t_utc: float, images: Any) -> Any:
        stamps.append(t_utc)
        return step(t_utc, images)

    pipeline.step = stamped_step  # type: ignore[method-assign]
    yard = _Yard(inventory_for(load_layout(YARD_LAYOUT)), lambda _timeout: None, None, None,  # type: ignore[arg-type]
                 Counter())
    spies = _Spies()
    yard.record_then_publish = spies.record_then_publish  # type: ignore[method-assign]
    yard.pulse = spies  # type: ignore[assignment]
    _play(recording, pipeline, yard, threading.Event(), speed=0.0)
    assert [round(b - a, 6) for a, b in pairwise(stamps)] == [0.5] * 11
    assert spies.ticks == 12
    assert any(s.occupied and s.kind == "container" for u in spies.updates for s in u.slots)

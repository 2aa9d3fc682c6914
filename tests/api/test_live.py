"""LiveState: lane state cached and rebuilt only on change, staleness judged live, alerts, KPIs, bounds, threads,
and the rebuild from a real journal (a corrupt entry skipped and counted)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from api.live import MAX_ALERTS, MAX_IGVS, MAX_PASSAGES, LiveState
from api.live_alerts import MISMATCH_CODES
from api.settings import ApiSettings, LaneInfo
from bus.journal import Journal
from bus.messages import (
    Heartbeat,
    IGVState,
    JobUpdate,
    OccupancyUpdate,
    OperatorAction,
    SlotState,
    Telemetry,
)
from control.clearance_reasons import REASONS
from control.operator_actions import OperatorPolicy, override
from tests.api.live_samples import ack, command, decision, passage

LANES = (LaneInfo(id="in-1", direction="in"), LaneInfo(id="out-1", direction="out"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(tmp_path: Path, clock: Clock) -> LiveState:
    settings = ApiSettings(journal_url="", users_path=tmp_path / "u", data_dir=tmp_path, lanes=LANES,
                           stale_after_s=3.0)
    return LiveState(settings, clock=clock)


def state(live: LiveState, lane: str = "in-1") -> dict[str, Any]:
    body = live.lane_state(lane)
    assert body is not None
    decoded: dict[str, Any] = json.loads(body)
    return decoded


def reader_beat(lane: str = "in-1") -> Heartbeat:
    return Heartbeat(sender=f"lane-{lane}", role="lane-reader", seq=1)


def test_unknown_lane_has_no_state(live: LiveState) -> None:
    assert live.lane_state("nope") is None
    assert [lane["lane_id"] for lane in live.lanes()] == ["in-1", "out-1"]


def test_lane_state_is_cached_until_the_lane_changes(live: LiveState) -> None:
    first = live.lane_state("in-1")
    assert live.lane_state("in-1") is first                 # same bytes object: nothing rebuilt
    other = live.lane_state("out-1")
    p = passage()
    live.apply(p)
    changed = live.lane_state("in-1")
    assert changed is not first
    assert live.lane_state("out-1") is other                # another lane's change does not touch this one
    body = json.loads(changed or b"")
    assert body["passage"]["passage_id"] == p.passage_id
    assert body["decision"] is None
    live.apply(decision(p))
    body = state(live)
    assert body["decision"]["outcome"] == "HOLD"
    assert body["decision"]["reasons"][0]["vi"] == "lý do channel_yellow"


def test_a_lane_is_stale_until_its_reader_is_heard_and_again_after_silence(live: LiveState, clock: Clock) -> None:
    assert state(live)["stale"] is True
    assert state(live)["reader_alive"] is False
    events = live.apply(reader_beat())
    assert [e["type"] for e in events] == ["lane"]
    assert events[0]["data"]["stale"] is False
    assert state(live)["stale"] is False
    assert state(live)["reader_alive"] is True
    clock.now += 2.0
    assert live.tick() == []
    clock.now += 2.0                                        # 4 s > stale_after_s = 3
    events = live.tick()
    assert [e["type"] for e in events] == ["lane", "alert"]
    assert events[1]["data"]["kind"] == "reader_down"
    assert events[1]["data"]["lane_id"] == "in-1"
    assert state(live)["stale"] is True
    assert state(live)["reader_alive"] is False
    assert live.tick() == []                                # said once


def test_camera_telemetry_gives_the_lane_fps(live: LiveState) -> None:
    for camera, fps in (("in-1-front", 4.0), ("in-1-rear", 2.0)):
        live.apply(Telemetry(device_id=camera, kind="camera", state="running", lane_id="in-1",
                             metrics={"fps": fps}))
    assert state(live)["fps"] == 3.0
    assert state(live)["reader_alive"] is True


def test_barrier_follows_the_newest_ack_and_a_fault_alerts(live: LiveState) -> None:
    p = passage()
    d = decision(p, "OPEN", codes=("cleared",))
    c = command(d)
    events = live.apply(ack(c, "opening"))
    assert events[0]["type"] == "barrier"
    assert events[0]["data"] == {
        "lane_id": "in-1", "state": "opening", "accepted": True, "ts_utc": c.ts_utc + 0.1}
    assert state(live)["barrier"]["state"] == "opening"
    fault = live.apply(ack(c, "fault", accepted=False, error="motor stalled"))
    assert [e["type"] for e in fault] == ["barrier", "alert"]
    assert fault[1]["data"]["kind"] == "barrier_fault"
    assert "motor stalled" in fault[1]["data"]["text_en"]
    assert state(live)["barrier"]["state"] == "fault"


def test_gate_controller_telemetry_moves_the_barrier(live: LiveState) -> None:
    """An OPEN's ack says "opening"; the controller's own telemetry (``gate-<lane>``, once a second) says when the
    barrier is up: one event per change, none for the same state again or for an older report."""
    p = passage()
    c = command(decision(p, "OPEN", codes=("cleared",)))
    live.apply(ack(c, "opening"))
    t = c.ts_utc + 1.0
    up = live.apply(Telemetry(device_id="gate-in-1", kind="service", state="open", ts_utc=t))
    assert [e["type"] for e in up] == ["barrier"]
    assert up[0]["data"] == {"lane_id": "in-1", "state": "open", "accepted": True, "ts_utc": t}
    assert state(live)["barrier"] == {"state": "open", "ts_utc": t}
    assert live.apply(Telemetry(device_id="gate-in-1", kind="service", state="open", ts_utc=t + 1)) == []
    assert live.apply(Telemetry(device_id="gate-in-1", kind="service", state="closed", ts_utc=t - 5)) == []
    assert live.apply(Telemetry(device_id="gate-in-1", kind="service", state="running", ts_utc=t + 2)) == []
    assert live.apply(Telemetry(device_id="gate-nowhere", kind="service", state="open", ts_utc=t + 2)) == []
    assert state(live)["barrier"]["state"] == "open"


@pytest.mark.parametrize(("seal", "codes", "kinds"), [
    ("present", ("cleared",), []),
    ("absent", ("cleared",), ["seal_missing"]),
    ("present", ("seal_missing",), ["seal_missing"]),
    ("absent", ("seal_missing",), ["seal_missing"]),          # one cause, one alert
    ("present", ("tractor_plate_mismatch",), ["mismatch"]),
    ("present", ("seal_number_mismatch", "channel_yellow"), ["mismatch"]),
    ("present", ("channel_red",), []),
])
def test_alerts_from_passages_and_decisions(live: LiveState, seal: str, codes: tuple[str, ...],
                                            kinds: list[str]) -> None:
    p = passage(seal=seal)
    events = live.apply(p) + live.apply(decision(p, "INSPECT", codes=codes))
    live.apply(decision(p, "INSPECT", codes=codes))           # the same decision again: no second alert
    assert [e["data"]["kind"] for e in events if e["type"] == "alert"] == kinds
    assert [a["kind"] for a in live.alerts()] == kinds


def test_mismatch_codes_are_real_reason_codes() -> None:
    assert set(REASONS) >= MISMATCH_CODES


def test_igv_fault_alerts_once_per_fault(live: LiveState) -> None:
    ok = IGVState(igv_id="igv-1", x=1.0, y=2.0)
    bad = IGVState(igv_id="igv-1", x=1.0, y=2.0, errors=("blocked",))
    kinds = [e["type"] for m in (ok, bad, bad, ok, bad) for e in live.apply(m)]
    assert kinds.count("alert") == 2
    assert live.igvs() == [{"igv_id": "igv-1", "x": 1.0, "y": 2.0, "state": "fault", "battery": 1.0, "load": None}]


def test_override_decision_carries_the_operator(live: LiveState) -> None:
    p = passage()
    held = decision(p, "HOLD")
    live.apply(p)
    live.apply(held)
    action = OperatorAction(action_id="a1", operator="officer", action="OVERRIDE_OPEN", reason="checked by hand",
                            passage_id=p.passage_id, decision_id=held.decision_id)
    opened = override(action, held, OperatorPolicy(frozenset({"officer"})), authenticated_as="officer",
                      now_utc=time.time())
    live.apply(action)
    events = live.apply(opened)
    assert events[0]["data"]["override"] == {"operator": "officer", "action": "OVERRIDE_OPEN",
                                             "reason": "checked by hand"}
    assert state(live)["decision"]["outcome"] == "OPEN"
    assert live.latest_decision(p.passage_id) == opened


def test_kpis_count_trucks_time_at_gate_queue_and_outcomes(live: LiveState) -> None:
    now = time.time()
    for i in range(4):
        p = passage(f"in-1-{i}", t=now - 60 * i)
        live.apply(p)
        live.apply(decision(p, "OPEN" if i % 2 == 0 else "HOLD", codes=("cleared",), t=p.first_seen_utc + 10.0))
    live.apply(passage("in-1-old", t=now - 2 * 3600))          # outside the hour
    live.apply(OccupancyUpdate(zone_id="queue", seq=1, queue_lengths={"queue-in-1": 3, "queue-out": 2}))
    kpis = live.kpis(now + 10.0)
    assert kpis["trucks_per_hour"] == 4
    assert kpis["time_at_gate_s"] == {"p50": 10.0, "p95": 10.0}
    assert kpis["queue_length"] == 5
    assert kpis["decisions"] == {"HOLD": 2, "OPEN": 2}
    assert len(kpis["series"]["trucks_per_hour"]) == 12
    assert kpis["series"]["trucks_per_hour"][-1][1] == 48.0
    assert kpis["series"]["queue_length"][-1][1] == 5.0
    assert state(live)["queue"] == 3
    assert state(live, "out-1")["queue"] == 2


def test_occupancy_jobs_and_cranes(live: LiveState) -> None:
    events = live.apply(OccupancyUpdate(zone_id="buffer-a", seq=1, slots=(
        SlotState(slot_id="buffer-a:B01R1", occupied=True, kind="container", container_number="MSKU3605161",
                  since_utc=1.0),
        SlotState(slot_id="buffer-a:B01R2", occupied=False, kind="empty", since_utc=1.0))))
    assert events[0]["data"]["slots"] == [{"slot_id": "buffer-a:B01R1", "state": "container"},
                                          {"slot_id": "buffer-a:B01R2", "state": "empty"}]
    assert live.containers() == [{"container_number": "MSKU3605161", "slot_id": "buffer-a:B01R1",
                                  "zone": "buffer-a", "since_utc": 1.0}]
    assert {s["slot_id"]: s["state"] for s in live.yard()["slots"]} == {"buffer-a:B01R1": "container",
                                                                         "buffer-a:B01R2": "empty"}
    for state_name in ("created", "on_igv"):
        live.apply(JobUpdate(job_id="job-1", kind="export", state=state_name, container_number="MSKU3605161"))
    live.apply(JobUpdate(job_id="job-2", kind="import", state="created", container_number="CSQU3054383"))
    assert [(j["job_id"], j["state"]) for j in live.jobs()] == [("job-2", "created"), ("job-1", "on_igv")]
    assert [j["job_id"] for j in live.jobs(state="on_igv")] == ["job-1"]
    live.apply(Telemetry(device_id="crane-1", kind="crane", state="moving", x=12.5))
    live.apply(Telemetry(device_id="crane-1", kind="crane", state="error", errors=("jammed",)))
    assert live.cranes() == [{"crane_id": "crane-1", "x": 12.5, "state": "fault", "load": None}]


def test_memory_is_bounded(live: LiveState) -> None:
    for i in range(MAX_PASSAGES + 50):
        p = passage(f"in-1-{i}", seal="absent")
        live.apply(p)
    for i in range(MAX_IGVS + 10):
        live.apply(IGVState(igv_id=f"igv-{i}", x=0.0, y=0.0))
    assert live.passage("in-1-0") is None
    assert live.passage(f"in-1-{MAX_PASSAGES + 49}") is not None
    assert len(live.alerts()) == MAX_ALERTS
    assert len(live.igvs()) == MAX_IGVS
    assert live.dropped["igv_cap"] == 10


def test_event_seqs_increase(live: LiveState) -> None:
    p = passage(seal="absent")
    seqs = [e["seq"] for e in live.apply(p) + live.apply(decision(p)) + [live.kpi_event()]]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert live.seq == seqs[-1]


def test_readers_see_whole_states_while_the_bus_thread_applies(live: LiveState) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def feed() -> None:
        i = 0
        while not stop.is_set():
            p = passage(f"in-1-{i}")
            live.apply(p)
            live.apply(decision(p))
            i += 1

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            body = state(live)
            shown = body["decision"] is not None and body["passage"] is not None
            # a decision shown on the panel is always the shown passage's
            if shown and body["decision"]["passage_id"] != body["passage"]["passage_id"]:
                errors.append(AssertionError(body))
            live.snapshot()
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_load_rebuilds_from_the_journal_and_skips_a_corrupt_entry(live: LiveState, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    p1, p2 = passage("in-1-1", t=time.time() - 30), passage("in-1-2", seal="absent")
    d2 = decision(p2, "INSPECT", codes=("seal_missing",))
    with Journal.open(f"sqlite:///{path}") as journal:
        seqs = journal.append_many([p1, p2, d2, ack(command(d2), "closed")])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET payload = ? WHERE seq = ?", (b"SG\x01\xff\x00garbage", seqs[0]))
    with Journal.open(f"sqlite:///{path}") as journal:
        live.load(journal)
    assert live.corrupt_skipped == 1
    body = state(live)
    assert body["passage"]["passage_id"] == "in-1-2"
    assert body["decision"]["outcome"] == "INSPECT"
    assert body["barrier"]["state"] == "closed"
    assert body["stale"] is True                                # old news is never shown as live
    assert [a["kind"] for a in live.alerts()] == ["seal_missing"]
    assert live.passage("in-1-1") is None

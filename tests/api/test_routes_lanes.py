"""Lanes, lane state, config, yard, fleet, KPIs and alerts through the real app (create_app, lifespan, tokens)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.settings import ApiSettings
from bus.messages import IGVState, JobUpdate, OccupancyUpdate, SlotState, Telemetry
from tests.api.conftest import ClientFactory
from tests.api.live_samples import decision, live_of, passage

YARD_LAYOUT = Path(__file__).resolve().parents[2] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"


def test_config_and_lanes(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    config = client.get("/api/v1/config").json()
    assert config["stale_after_s"] == 3.0
    assert config["environment"] == "development"
    assert [lane["lane_id"] for lane in config["lanes"]] == ["in-1", "out-1"]
    assert client.get("/api/v1/lanes").json() == [
        {"lane_id": "in-1", "direction": "in", "description": "gate-in"},
        {"lane_id": "out-1", "direction": "out", "description": "gate-out"}]


def test_lane_state_serves_the_live_state(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    answer = client.get("/api/v1/lanes/in-1/state")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["stale"] is True
    assert answer.json()["barrier"] == {"state": "unknown", "ts_utc": None}
    p = passage()
    live_of(client).apply(p)
    live_of(client).apply(decision(p, "INSPECT", codes=("channel_red",)))
    body = client.get("/api/v1/lanes/in-1/state").json()
    assert body["passage"]["plates"][0]["text"] == "12C-123.45"
    assert body["decision"]["outcome"] == "INSPECT"
    assert body["decision"]["reasons"][0]["code"] == "channel_red"


BAD_LANE_PATHS = [
    ("/api/v1/lanes/nope/state", 404),
    ("/api/v1/lanes/bad%20id/state", 422),
    ("/api/v1/lanes/" + "x" * 65 + "/state", 422),
    ("/api/v1/lanes/..%2F..%2Fetc/state", 404),     # never a file, never a 500
]


def test_lane_state_refuses_unknown_and_bad_ids(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    assert [(path, client.get(path).status_code) for path, _ in BAD_LANE_PATHS] == BAD_LANE_PATHS


def test_routes_need_credentials(make_client: ClientFactory) -> None:
    client = make_client(None)
    for path in ("/api/v1/lanes", "/api/v1/lanes/in-1/state", "/api/v1/passages", "/api/v1/kpis", "/api/v1/config"):
        assert client.get(path).status_code == 401, path


def test_yard_occupancy_layout_and_containers(make_client: ClientFactory,
                                              make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client("viewer", make_settings(yard_layout=YARD_LAYOUT))
    layout = client.get("/api/v1/yard/layout").json()
    slot_ids = [s["slot_id"] for s in layout["slots"]]
    assert layout["zones"]
    assert len(slot_ids) > 10
    assert all(s["w"] > 0 for s in layout["slots"])
    live = live_of(client)
    live.apply(OccupancyUpdate(zone_id=slot_ids[0].split(":")[0], seq=1, queue_lengths={"queue-in-1": 2}, slots=tuple(
        SlotState(slot_id=slot_id, occupied=True, kind="container", container_number=f"MSKU36051{i:02d}",
                  since_utc=1.0) for i, slot_id in enumerate(slot_ids[:3]))))
    yard = client.get("/api/v1/yard/occupancy").json()
    states = {s["slot_id"]: s["state"] for s in yard["slots"]}
    assert [states[s] for s in slot_ids[:4]] == ["container", "container", "container", "unknown"]
    assert yard["queues"] == {"queue-in-1": 2}
    first = client.get("/api/v1/yard/containers", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = client.get("/api/v1/yard/containers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


def test_yard_layout_404_without_a_layout(make_client: ClientFactory) -> None:
    assert make_client("viewer").get("/api/v1/yard/layout").status_code == 404


def test_fleet_jobs_kpis_and_alerts(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    live = live_of(client)
    live.apply(IGVState(igv_id="igv-1", x=3.0, y=4.0, battery=0.5, errors=("blocked",)))
    live.apply(Telemetry(device_id="crane-1", kind="crane", state="moving", x=7.0))
    for i in range(5):
        live.apply(JobUpdate(job_id=f"job-{i}", kind="export", state="created" if i % 2 else "on_igv",
                             container_number="MSKU3605161"))
    p = passage(seal="absent", t=time.time() - 5.0)
    live.apply(p)
    live.apply(decision(p, "OPEN", codes=("cleared",)))
    assert client.get("/api/v1/igvs").json()[0]["state"] == "fault"
    assert client.get("/api/v1/cranes").json() == [{"crane_id": "crane-1", "x": 7.0, "state": "moving", "load": None}]
    page = client.get("/api/v1/jobs", params={"limit": 2}).json()
    assert [j["job_id"] for j in page["items"]] == ["job-4", "job-3"]
    page2 = client.get("/api/v1/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [j["job_id"] for j in page2["items"]] == ["job-2", "job-1"]
    assert [j["job_id"] for j in client.get("/api/v1/jobs", params={"state": "on_igv"}).json()["items"]] == [
        "job-4", "job-2", "job-0"]
    assert client.get("/api/v1/jobs", params={"state": "bogus"}).status_code == 422
    kpis = client.get("/api/v1/kpis").json()
    assert kpis["trucks_per_hour"] == 1
    assert kpis["decisions"] == {"OPEN": 1}
    assert {a["kind"] for a in client.get("/api/v1/alerts").json()} == {"igv_fault", "seal_missing"}


HOSTILE_PARAMS: list[dict[str, Any]] = [
    {"cursor": "garbage!"}, {"cursor": "djE6MA=="}, {"cursor": "x" * 65}, {"cursor": "bm90IGEgY3Vyc29y"},
    {"limit": 0}, {"limit": 501}, {"limit": 10**30}, {"limit": "many"}, {"since": "nan"}, {"until": "inf"},
    {"since": -1}, {"since": 10, "until": 5}, {"lane": "../etc"}, {"outcome": "MAYBE"},
]


LIST_PARAMS = {
    "/api/v1/passages": {"cursor", "limit", "since", "until", "lane"},
    "/api/v1/decisions": {"cursor", "limit", "since", "until", "lane", "outcome"},
    "/api/v1/declarations": {"cursor", "limit", "since", "until", "lane"},
    "/api/v1/jobs": {"cursor", "limit"},
    "/api/v1/yard/containers": {"cursor", "limit"},
}


def test_hostile_list_parameters_are_client_errors(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    for path, takes in LIST_PARAMS.items():
        for params in HOSTILE_PARAMS:
            if set(params) <= takes:
                answer = client.get(path, params=params)
                assert answer.status_code in (400, 422), (path, params, answer.text)

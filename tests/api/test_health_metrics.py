"""Liveness, readiness (bus, journal, live state) and Prometheus metrics fed by HTTP and by the bus."""

from __future__ import annotations

import queue
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.metrics import ApiMetrics
from bus.messages import ClearanceDecision, Heartbeat, Message, Telemetry, VehiclePassage
from tests.api.conftest import ClientFactory
from tests.waiting import wait_for


class QueueSource:
    """An event source fed by the test (a `bus.pubsub.Subscriber` in the service)."""

    def __init__(self, fail: bool = False) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.fail = fail
        self.closed = False

    def recv(self, timeout_s: float) -> Message | None:
        if self.fail:
            raise OSError("the bus is down")
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True


def test_live_needs_no_credentials(make_client: ClientFactory) -> None:
    assert make_client(None).get("/health/live").json() == {"status": "ok"}


def test_ready_without_a_bus_source(make_client: ClientFactory) -> None:
    answer = make_client(None).get("/health/ready")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"bus", "journal", "models"}
    assert body["checks"]["bus"]["detail"] == "no event source (not needed)"


def test_ready_follows_the_bus_link(make_client: ClientFactory) -> None:
    good, bad = QueueSource(), QueueSource(fail=True)
    up = make_client(None, source=good)
    assert wait_for(lambda: up.get("/health/ready").status_code == 200, 10.0)
    assert up.get("/health/ready").json()["checks"]["bus"]["detail"].startswith("connected")
    down = make_client(None, source=bad)
    answer = down.get("/health/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"]["bus"]["ok"] is False
    assert answer.json()["checks"]["journal"]["ok"] is True


def test_ready_says_so_when_the_journal_cannot_be_written(make_client: ClientFactory, journal_path: Path) -> None:
    client = make_client(None)
    blocker = sqlite3.connect(journal_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        answer = client.get("/health/ready")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert answer.status_code == 503
    assert answer.json()["checks"]["journal"]["detail"].startswith("journal not writable")
    assert client.get("/health/ready").status_code == 200


def test_metrics_need_read_scope_or_an_api_key(make_client: ClientFactory) -> None:
    admin = make_client("admin")
    key = admin.post("/api/v1/admin/keys", json={"name": "prometheus", "role": "viewer"}).json()["key"]
    admin.delete("/api/v1/admin/keys/nothing-here")
    anonymous = TestClient(admin.app)                                         # the same app, no credentials
    assert anonymous.get("/metrics").status_code == 401
    answer = anonymous.get("/metrics", headers={"X-API-Key": key})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'smartgate_http_requests_total{method="POST",route="/api/v1/admin/keys",status="201"} 1.0' in text
    assert 'route="/api/v1/admin/keys/{name}",status="404"' in text          # the template, never the raw path
    assert 'smartgate_http_requests_total{method="GET",route="/metrics",status="401"} 1.0' in text
    assert 'smartgate_audit_entries_total{action="key.create",outcome="ok"} 1.0' in text


def test_bus_messages_feed_the_pipeline_decision_and_planner_metrics(make_client: ClientFactory) -> None:
    source = QueueSource()
    client = make_client("viewer", source=source)
    t0 = 1_800_000_000.0
    for message in (
        VehiclePassage(passage_id="p1", lane_id="in-1", direction="in", first_seen_utc=t0 - 5, last_seen_utc=t0),
        ClearanceDecision(decision_id="d1", passage_id="p1", lane_id="in-1", outcome="OPEN", ts_utc=t0 + 0.04),
        ClearanceDecision(decision_id="d2", passage_id="unknown", lane_id="in-1", outcome="HOLD", ts_utc=t0 + 9),
        Telemetry(device_id="cam-in-1-front", kind="camera", state="running", lane_id="in-1",
                  metrics={"fps": 12.5}),
        Telemetry(device_id="lane-in-1", kind="service", state="running", metrics={"vision.frames": 100.0},
                  ts_utc=t0),
        Telemetry(device_id="lane-in-1", kind="service", state="running", metrics={"vision.frames": 150.0},
                  ts_utc=t0 + 2),
        Telemetry(device_id="field-devices", kind="service", state="running", metrics={"planner.step_ms": 3.5}),
        Heartbeat(sender="lane-out-1", role="lane-reader", seq=1, status="fault"),
    ):
        source.messages.put(message)
    assert wait_for(lambda: source.messages.empty(), 10.0)

    def metric(name: str) -> float | None:
        found = re.search(rf"^{re.escape(name)} (\S+)$", client.get("/metrics").text, re.MULTILINE)
        return float(found.group(1)) if found else None

    assert wait_for(lambda: metric('smartgate_bus_messages_total{type="Telemetry"}') == 4.0, 10.0)
    assert metric("smartgate_decision_latency_seconds_count") == 1.0        # only the decision on a known passage
    assert metric("smartgate_decision_latency_seconds_sum") == pytest.approx(0.04, abs=1e-3)
    assert metric('smartgate_camera_fps{camera="cam-in-1-front",lane="in-1"}') == 12.5
    assert metric('smartgate_pipeline_fps{lane="in-1"}') == 25.0            # 50 frames in 2 s
    assert metric('smartgate_pipeline_fps{lane="out-1"}') == 0.0            # its reader reports a fault
    assert metric('smartgate_planner_step_ms{device="field-devices",metric="planner.step_ms"}') == 3.5


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = ApiMetrics(), ApiMetrics()
    first.observe_http("GET", "/x", 200, 0.01)
    assert b'route="/x"' in first.render()[0]
    assert b'route="/x"' not in second.render()[0]

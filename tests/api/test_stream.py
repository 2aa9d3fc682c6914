"""The WebSocket stream end to end: real bus messages over a CURVE pub/sub pair, through BusLink and the live state,
to a client authenticated by its first message; hello with the snapshot, events, pings, and refusals."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.routes import stream
from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.messages import GateAck
from bus.pubsub import Publisher, Subscriber
from tests.api.bus_pair import bus_pair
from tests.api.conftest import ClientFactory
from tests.api.live_samples import command, decision, passage

WS = "/api/v1/ws"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream-keys")
    generate_keys(root / "keys", ["broker", "api"])
    (root / "authorized").mkdir()
    shutil.copy(root / "keys" / "api.key", root / "authorized")
    return root


@pytest.fixture
def curve_bus(keys: Path) -> Iterator[tuple[Publisher, Subscriber]]:
    server = Security.curve(load_keypair(keys / "keys", "broker"), authorized_dir=keys / "authorized")
    client = Security.curve(load_keypair(keys / "keys", "api"), server_public=load_public(keys / "keys", "broker"))
    with bus_pair(server, client) as pair:
        yield pair


def token_of(client: TestClient) -> str:
    header: str = client.headers["Authorization"]
    return header.removeprefix("Bearer ")


def next_of(ws: Any, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The next message of one type (pings and other events in between are skipped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} within {timeout_s} s")


def test_bus_events_reach_the_stream_live(make_client: ClientFactory, curve_bus: tuple[Publisher, Subscriber]) -> None:
    publisher, subscriber = curve_bus
    client = make_client("viewer", source=subscriber)
    with client.websocket_connect(WS) as ws:
        ws.send_json({"token": token_of(client)})
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        assert [lane["lane_id"] for lane in hello["snapshot"]["lanes"]] == ["in-1", "out-1"]
        assert set(hello["snapshot"]) >= {"lanes", "yard", "fleet", "kpis", "alerts", "jobs"}
        p = passage(seal="absent", t=time.time() - 1)
        held = decision(p, "HOLD", t=time.time())
        sent_at = time.time()
        publisher.publish(p)
        event = next_of(ws, "passage")
        assert time.time() - sent_at < 1.0
        assert event["seq"] > hello["seq"]
        assert event["ts_utc"] == p.ts_utc
        assert event["data"]["passage_id"] == p.passage_id
        assert event["data"]["seals"][0]["state"] == "absent"
        assert next_of(ws, "alert")["data"]["kind"] == "seal_missing"
        publisher.publish(held)
        assert next_of(ws, "decision")["data"]["outcome"] == "HOLD"
        publisher.publish(GateAck(command_id=command(held).command_id, lane_id="in-1", seq=1, accepted=True,
                                  state="closed"))
        assert next_of(ws, "barrier")["data"]["state"] == "closed"
        ping = next_of(ws, "ping", timeout_s=2.5)
        assert abs(ping["data"]["server_utc"] - time.time()) < 2.0
    link = client.app.state.ctx.bus  # type: ignore[attr-defined]
    assert link.connected
    assert link.received >= 3
    assert link.rejected == 0
    state = client.get("/api/v1/lanes/in-1/state").json()
    assert state["decision"]["outcome"] == "HOLD"
    assert state["barrier"]["state"] == "closed"


def test_an_api_key_opens_the_stream_too(make_client: ClientFactory) -> None:
    admin = make_client("admin")
    key = admin.post("/api/v1/admin/keys", json={"name": "wallboard", "role": "viewer"}).json()["key"]
    with admin.websocket_connect(WS) as ws:
        ws.send_json({"token": key})
        assert ws.receive_json()["type"] == "hello"


@pytest.mark.parametrize("first", [
    {"token": "not-a-token"}, {"token": ""}, {"nothing": 1}, "not json", {"token": "x" * 5000}, [1, 2]])
def test_a_bad_first_message_closes_with_4401(make_client: ClientFactory, first: object) -> None:
    client = make_client(None)
    with client.websocket_connect(WS) as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_silence_closes_with_4401(make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "AUTH_TIMEOUT_S", 0.2)
    with make_client(None).websocket_connect(WS) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401


def test_the_stream_keeps_pinging_a_quiet_site(make_client: ClientFactory) -> None:
    with bus_pair() as (_publisher, subscriber):
        client = make_client("viewer", source=subscriber)
        with client.websocket_connect(WS) as ws:
            ws.send_json({"token": token_of(client)})
            assert ws.receive_json()["type"] == "hello"
            pings = [next_of(ws, "ping", 2.5) for _ in range(2)]
    assert pings[1]["data"]["server_utc"] - pings[0]["data"]["server_utc"] == pytest.approx(1.0, abs=0.5)

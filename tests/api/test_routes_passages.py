"""Passages and decisions from a real journal: pages newest first, cursors that survive appends, a corrupt row
skipped; one passage with its decisions and acks; evidence crops without escaping the evidence folder; overrides
checked with the engine's rules, published on a real bus and audited."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.queries import encode_cursor
from api.settings import ApiSettings
from bus.journal import Journal
from bus.messages import AuditEntry, ClearanceDecision, OperatorAction, VehiclePassage
from tests.api.bus_pair import bus_pair, received
from tests.api.conftest import ClientFactory
from tests.api.live_samples import ack, command, decision, live_of, passage

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def fill(journal_path: Path, n: int, *, lane: str = "in-1", t0: float | None = None) -> list[VehiclePassage]:
    t0 = time.time() - 3600 if t0 is None else t0
    passages = [passage(f"{lane}-{i:06d}", lane, t=t0 + i) for i in range(n)]
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        journal.append_many(passages)
    return passages


def all_pages(client: TestClient, path: str, key: str = "passage_id", **params: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([item[key] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_passages_page_newest_first_to_the_end(make_client: ClientFactory, journal_path: Path) -> None:
    fill(journal_path, 23)
    fill(journal_path, 3, lane="out-1")
    client = make_client("viewer")
    pages = all_pages(client, "/api/v1/passages", limit=10, lane="in-1")
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [x for page in pages for x in page] == [f"in-1-{i:06d}" for i in reversed(range(23))]
    assert len(client.get("/api/v1/passages", params={"limit": 500}).json()["items"]) == 26


def test_a_cursor_survives_appends_between_pages(make_client: ClientFactory, journal_path: Path) -> None:
    fill(journal_path, 10)
    client = make_client("viewer")
    first = client.get("/api/v1/passages", params={"limit": 4}).json()
    fill(journal_path, 5, lane="in-2", t0=time.time())        # new trucks arrive while the operator pages
    second = client.get("/api/v1/passages", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [p["passage_id"] for p in second["items"]] == [f"in-1-{i:06d}" for i in (5, 4, 3, 2)]


def test_time_window_filters(make_client: ClientFactory, journal_path: Path) -> None:
    passages = fill(journal_path, 10)
    client = make_client("viewer")
    body = client.get("/api/v1/passages", params={"since": passages[3].ts_utc, "until": passages[6].ts_utc}).json()
    assert [p["passage_id"] for p in body["items"]] == ["in-1-000005", "in-1-000004", "in-1-000003"]


def test_a_corrupt_row_is_skipped_not_fatal(make_client: ClientFactory, journal_path: Path) -> None:
    fill(journal_path, 5)
    with sqlite3.connect(journal_path) as db:
        db.execute("UPDATE events SET payload = ? WHERE seq = (SELECT seq FROM events WHERE key IN "
                   "(SELECT key FROM events ORDER BY seq LIMIT 1 OFFSET 2))", (b"SG\x01\xc1",))
    client = make_client("viewer")
    pages = all_pages(client, "/api/v1/passages", limit=2)
    assert [x for page in pages for x in page] == ["in-1-000004", "in-1-000003", "in-1-000001", "in-1-000000"]


def test_a_cursor_too_far_back_is_refused_cleanly(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    assert client.get("/api/v1/passages", params={"cursor": encode_cursor(2**63 - 1)}).status_code == 200
    assert client.get("/api/v1/passages", params={"cursor": encode_cursor(2**63)}).status_code == 400


def test_decisions_filter_by_outcome_and_scan_past_others(make_client: ClientFactory, journal_path: Path) -> None:
    t0 = time.time() - 3600
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        for i in range(30):
            p = passage(f"in-1-{i:06d}", t=t0 + i)
            journal.append_many([p, decision(p, "INSPECT" if i % 10 == 0 else "OPEN", codes=("cleared",))])
    client = make_client("viewer")
    pages = all_pages(client, "/api/v1/decisions", "decision_id", limit=2, outcome="INSPECT")
    assert [x for page in pages for x in page] == ["dec-in-1-000020", "dec-in-1-000010", "dec-in-1-000000"]
    assert len(client.get("/api/v1/decisions", params={"limit": 500}).json()["items"]) == 30


def test_one_passage_with_its_decisions_and_acks(make_client: ClientFactory, journal_path: Path) -> None:
    p = passage("in-1-1795000000000-7", t=time.time() - 120)
    d = decision(p, "OPEN", codes=("cleared",))
    c = command(d)
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        journal.append_many([p, d, c, ack(c, "opening"), passage("in-1-other", t=time.time() - 60)])
    client = make_client("viewer")
    body = client.get(f"/api/v1/passages/{p.passage_id}").json()
    assert body["passage"]["passage_id"] == p.passage_id
    assert [x["outcome"] for x in body["decisions"]] == ["OPEN"]
    assert body["acks"] == [{"command_id": c.command_id, "lane_id": "in-1", "seq": 1, "accepted": True,
                             "state": "opening", "error": None, "ts_utc": c.ts_utc + 0.1, "action": "OPEN"}]
    assert client.get("/api/v1/passages/nobody").status_code == 404
    assert client.get("/api/v1/passages/a%20b").status_code == 422


def test_evidence_is_served_from_the_evidence_folder_only(make_client: ClientFactory,
                                                         make_settings: Callable[..., ApiSettings],
                                                         tmp_path: Path) -> None:
    settings = make_settings()
    lane_dir = settings.evidence_dir / "site-a" / "in-1" / "in-1-000001"
    lane_dir.mkdir(parents=True)
    (lane_dir / "plate-front-1.jpg").write_bytes(JPEG)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    os.symlink(secret, lane_dir / "link-out.jpg")
    p = passage("in-1-000001", evidence=("in-1-000001/plate-front-1.jpg", "../../../../secret.jpg",
                                         "in-1-000001/link-out.jpg", "/etc/passwd"))
    client = make_client("viewer", settings)
    live_of(client).apply(p)
    urls = client.get(f"/api/v1/passages/{p.passage_id}").json()["passage"]["plates"][0]["evidence"]
    assert urls == ["/api/v1/passages/in-1-000001/evidence/0"]
    image = client.get(urls[0])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == JPEG
    for n in (1, 2, 3, 4, 10_000):                              # hostile paths in the message, and beyond the list
        answer = client.get(f"/api/v1/passages/{p.passage_id}/evidence/{n}")
        assert answer.status_code == 404
        assert b"secret" not in answer.content
    for bad in ("-1", "10001", "x", "1e3"):
        assert client.get(f"/api/v1/passages/{p.passage_id}/evidence/{bad}").status_code == 422


def audits(journal_path: Path) -> list[AuditEntry]:
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        return [e.message for e in journal.query(types=AuditEntry) if isinstance(e.message, AuditEntry)]


def test_override_is_checked_published_and_audited(make_client: ClientFactory, journal_path: Path) -> None:
    p = passage(t=time.time() - 5)
    held = decision(p, "HOLD")
    with bus_pair() as (publisher, subscriber):
        client = make_client("operator", publisher=publisher)
        live_of(client).apply(p)
        live_of(client).apply(held)
        answer = client.post(f"/api/v1/passages/{p.passage_id}/override",
                             json={"action": "OVERRIDE_OPEN", "reason": "seal checked by hand"})
        assert answer.status_code == 202, answer.text
        sent = received(subscriber)
    action_id = answer.json()["action_id"]
    action = next(m for m in sent if isinstance(m, OperatorAction))
    assert (action.id, action.action_id, action.operator, action.action, action.passage_id, action.decision_id,
            action.lane_id) == (action_id, action_id, "operator", "OVERRIDE_OPEN", p.passage_id, held.decision_id,
                                "in-1")
    entry = audits(journal_path)[-1]
    assert (entry.actor, entry.action, entry.outcome, entry.target) == ("operator", "override", "ok", p.passage_id)


@pytest.mark.parametrize(("outcome", "action", "words"), [
    ("REJECT", "OVERRIDE_OPEN", "not_allowed_transition"),
    ("OPEN", "OVERRIDE_OPEN", "no_change"),
])
def test_override_refused_by_the_rules_is_409_and_audited(make_client: ClientFactory, journal_path: Path,
                                                          outcome: str, action: str, words: str) -> None:
    p = passage(t=time.time() - 5)
    with bus_pair() as (publisher, subscriber):
        client = make_client("operator", publisher=publisher)
        live_of(client).apply(p)
        live_of(client).apply(decision(p, outcome, codes=("cleared",)))
        answer = client.post(f"/api/v1/passages/{p.passage_id}/override", json={"action": action, "reason": "why not"})
        assert answer.status_code == 409
        assert words in answer.json()["detail"]
        assert [m for m in received(subscriber, 0.3) if isinstance(m, OperatorAction)] == []
    assert audits(journal_path)[-1].outcome == "refused"


def test_override_of_a_journalled_passage_uses_its_journalled_decision(make_client: ClientFactory,
                                                                       journal_path: Path) -> None:
    p = passage("in-1-older", t=time.time() - 30)
    with bus_pair() as (publisher, _subscriber):
        client = make_client("operator", publisher=publisher)
        with Journal.open(f"sqlite:///{journal_path}") as journal:  # journalled after start: not in the live state
            journal.append_many([p, decision(p, "INSPECT", codes=("channel_red",))])
        assert live_of(client).passage(p.passage_id) is None
        answer = client.post(f"/api/v1/passages/{p.passage_id}/override",
                             json={"action": "OVERRIDE_HOLD", "reason": "look again"})
        assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(("role", "body", "status"), [
    ("viewer", {"action": "OVERRIDE_OPEN", "reason": "checked"}, 403),
    ("operator", {"action": "OVERRIDE_OPEN", "reason": "no"}, 422),
    ("operator", {"action": "OVERRIDE_OPEN", "reason": "x" * 2001}, 422),
    ("operator", {"action": "ACK_ALARM", "reason": "checked"}, 422),
    ("operator", {"action": "OVERRIDE_OPEN", "reason": "checked", "operator": "someone-else"}, 422),
    ("operator", {"action": "OVERRIDE_OPEN", "reason": "checked"}, 503),        # no bus to send it on
])
def test_override_refusals(make_client: ClientFactory, role: str, body: dict[str, Any], status: int) -> None:
    p = passage(t=time.time() - 5)
    client = make_client(role)
    live_of(client).apply(p)
    live_of(client).apply(decision(p, "HOLD"))
    assert client.post(f"/api/v1/passages/{p.passage_id}/override", json=body).status_code == status


def test_override_of_an_unknown_passage_is_404(make_client: ClientFactory) -> None:
    answer = make_client("operator").post("/api/v1/passages/in-1-none/override",
                                          json={"action": "OVERRIDE_OPEN", "reason": "checked"})
    assert answer.status_code == 404


def test_decision_list_shows_who_overrode(make_client: ClientFactory, journal_path: Path) -> None:
    from control.operator_actions import OperatorPolicy, override

    p = passage(t=time.time() - 20)
    held = decision(p, "HOLD")
    action = OperatorAction(id="a-77", action_id="a-77", operator="officer", action="OVERRIDE_OPEN",
                            reason="papers checked", passage_id=p.passage_id, decision_id=held.decision_id)
    opened = override(action, held, OperatorPolicy(frozenset({"officer"})), authenticated_as="officer",
                      now_utc=time.time())
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        journal.append_many([p, held, action, opened])
    items = make_client("viewer").get("/api/v1/decisions").json()["items"]
    assert isinstance(opened, ClearanceDecision)
    assert items[0]["override"] == {"operator": "officer", "action": "OVERRIDE_OPEN", "reason": "papers checked"}
    assert items[1]["override"] is None

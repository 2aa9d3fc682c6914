"""Declarations through the API: checked by control.declarations before they are sent (422 naming every wrong
field), published on a real bus, listed from the journal with their status, cancelled (404, 409, 202)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bus.journal import Journal
from bus.messages import (
    AuditEntry,
    Declaration,
    DeclarationCancelled,
    DeclarationProblem,
    DeclarationRejected,
    DeclarationSubmitted,
    DeclaredContainer,
)
from tests.api.bus_pair import bus_pair, received
from tests.api.conftest import ClientFactory


def declaration(declaration_id: str = "DEC-1", **changes: Any) -> dict[str, Any]:
    now = time.time()
    body = msgspec.to_builtins(Declaration(
        declaration_id=declaration_id, customs_declaration_no="305512345678", tractor_plate="12C-123.45",
        containers=(DeclaredContainer(number="MSKU3605161", seal_number="VN1234567"),),
        valid_from_utc=now - 3600, valid_until_utc=now + 8 * 3600))
    return {**body, **changes}


def test_a_valid_declaration_is_published_and_audited(make_client: ClientFactory, journal_path: Path) -> None:
    with bus_pair() as (publisher, subscriber):
        client = make_client("operator", publisher=publisher)
        answer = client.post("/api/v1/declarations", json=declaration())
        assert answer.status_code == 202
        assert answer.json() == {"declaration_id": "DEC-1"}
        sent = [m for m in received(subscriber) if isinstance(m, DeclarationSubmitted)]
    assert [(m.declaration.declaration_id, m.source) for m in sent] == [("DEC-1", "api")]
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        entry = journal.query(types=AuditEntry, newest_first=True, limit=1)[0].message
    assert isinstance(entry, AuditEntry)
    assert (entry.action, entry.outcome, entry.target) == (
        "declaration.create", "ok", "DEC-1")


@pytest.mark.parametrize(("changes", "fields"), [
    ({"containers": [{"number": "MSKU3605162", "seal_number": "VN1"}]}, ["containers[0].number"]),
    ({"tractor_plate": "???", "valid_until_utc": 1.0}, ["tractor_plate", "valid_until_utc"]),
    ({"valid_from_utc": 1.0, "valid_until_utc": 2.0}, ["valid_until_utc"]),            # expired
    ({"tractor_plate": 42}, ["tractor_plate"]),
    ({"channel": "purple"}, ["channel"]),
    ({"declaration_id": "../../etc"}, ["declaration_id"]),
])
def test_a_bad_declaration_is_refused_with_every_problem(make_client: ClientFactory, changes: dict[str, Any],
                                                         fields: list[str]) -> None:
    with bus_pair() as (publisher, subscriber):
        client = make_client("operator", publisher=publisher)
        answer = client.post("/api/v1/declarations", json=declaration(**changes))
        assert answer.status_code == 422, answer.text
        problems = answer.json()["detail"]["problems"]
        assert sorted({p["field"] for p in problems}) == fields
        assert all(p["code"] and p["message"] for p in problems)
        assert [m for m in received(subscriber, 0.3) if isinstance(m, DeclarationSubmitted)] == []


@pytest.mark.parametrize("body", [b"[]", b"{", b"null", b'"x"', b"{\"declaration_id\": " + b"1" * 5000 + b"}"])
def test_garbage_bodies_are_client_errors(make_client: ClientFactory, body: bytes) -> None:
    client = make_client("operator")
    answer = client.post("/api/v1/declarations", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422)


def test_without_a_bus_nothing_is_accepted(make_client: ClientFactory) -> None:
    assert make_client("operator").post("/api/v1/declarations", json=declaration()).status_code == 503


def test_a_viewer_cannot_declare_or_cancel(make_client: ClientFactory) -> None:
    client = make_client("viewer")
    assert client.post("/api/v1/declarations", json=declaration()).status_code == 403
    assert client.delete("/api/v1/declarations/DEC-1", params={"reason": "mistake"}).status_code == 403


def test_list_shows_submitted_rejected_and_cancelled(make_client: ClientFactory, journal_path: Path) -> None:
    submitted = [DeclarationSubmitted(declaration=msgspec.convert(declaration(f"DEC-{i}"), Declaration))
                 for i in range(3)]
    rejected = DeclarationRejected(declaration_id="DEC-bad", source="api", problems=(
        DeclarationProblem(field="tractor_plate", code="bad_plate", message="not a plate"),))
    cancelled = DeclarationCancelled(declaration_id="DEC-1", operator="officer", reason="truck turned back")
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        journal.append_many([*submitted, rejected, cancelled])
    client = make_client("viewer")
    first = client.get("/api/v1/declarations", params={"limit": 2}).json()
    rest = client.get("/api/v1/declarations", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    items = {i["declaration_id"]: i for i in first["items"] + rest["items"]}
    assert {k: v["status"] for k, v in items.items()} == {
        "DEC-bad": "rejected", "DEC-2": "submitted", "DEC-1": "cancelled", "DEC-0": "submitted"}
    assert items["DEC-bad"]["problems"][0]["code"] == "bad_plate"
    assert items["DEC-1"]["cancelled"]["reason"] == "truck turned back"
    assert items["DEC-0"]["declaration"]["tractor_plate"] == "12C-123.45"


def test_cancel(make_client: ClientFactory, journal_path: Path) -> None:
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        journal.append_many([DeclarationSubmitted(declaration=msgspec.convert(declaration("DEC-7"), Declaration)),
                             DeclarationSubmitted(declaration=msgspec.convert(declaration("DEC-8"), Declaration)),
                             DeclarationCancelled(declaration_id="DEC-8", operator="officer", reason="done twice")])
    with bus_pair() as (publisher, subscriber):
        client = make_client("operator", publisher=publisher)
        assert client.delete("/api/v1/declarations/DEC-9", params={"reason": "mistake"}).status_code == 404
        assert client.delete("/api/v1/declarations/DEC-8", params={"reason": "mistake"}).status_code == 409
        assert client.delete("/api/v1/declarations/DEC-7").status_code == 422              # a reason is required
        assert client.delete("/api/v1/declarations/DEC-7", params={"reason": "no"}).status_code == 422
        assert client.delete("/api/v1/declarations/DEC%207", params={"reason": "mistake"}).status_code == 422
        answer = client.delete("/api/v1/declarations/DEC-7", params={"reason": "truck turned back"})
        assert answer.status_code == 202
        assert answer.json() == {"declaration_id": "DEC-7"}
        sent = [m for m in received(subscriber) if isinstance(m, DeclarationCancelled)]
    assert [(m.declaration_id, m.operator, m.reason) for m in sent] == [("DEC-7", "operator", "truck turned back")]
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        outcomes = [e.message.outcome for e in journal.query(types=AuditEntry)
                    if isinstance(e.message, AuditEntry) and e.message.action == "declaration.cancel"]
    assert outcomes == ["refused", "refused", "ok"]


def test_the_openapi_document_describes_the_declaration_body(make_client: ClientFactory) -> None:
    schema = make_client("viewer").get("/api/openapi.json").json()
    body = schema["paths"]["/api/v1/declarations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" not in str(body)
    assert "tractor_plate" in body["required"]
    assert body["properties"]["containers"]["items"]["properties"]["number"]["type"] == "string"

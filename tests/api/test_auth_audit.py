"""Every write is on record: an AuditEntry in the journal (and on the bus) before the answer, refusals included."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from api.audit import audit
from api.auth import Principal
from api.settings import ApiSettings
from bus.journal import Journal
from bus.messages import AuditEntry, Message
from tests.api.conftest import ClientFactory


class ListPublisher:
    """Where the app's publishes go when no socket is the point of the test."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.lock = threading.Lock()

    def publish(self, message: Message) -> None:
        with self.lock:
            self.sent.append(message)


def audit_entries(journal_path: Path) -> list[AuditEntry]:
    with Journal.open(f"sqlite:///{journal_path}") as journal:
        return [e.message for e in journal.query(types=AuditEntry) if isinstance(e.message, AuditEntry)]


def test_writes_land_in_the_journal_and_on_the_bus(make_client: ClientFactory, journal_path: Path) -> None:
    publisher = ListPublisher()
    admin = make_client("admin", publisher=publisher)
    assert admin.post("/api/v1/admin/users", json={"name": "duty-1", "password": "night-shift-7",
                                                   "role": "viewer"}).status_code == 201
    assert admin.post("/api/v1/auth/token", data={"username": "duty-1", "password": "nope-nope"}).status_code == 401
    entries = audit_entries(journal_path)
    summary = [(e.actor, e.role, e.action, e.outcome, e.target) for e in entries]
    assert summary == [("admin", "admin", "login", "ok", "admin"),
                       ("admin", "admin", "user.create", "ok", "duty-1"),
                       ("anonymous", "anonymous", "login", "refused", "duty-1")]
    assert entries[-1].detail == "wrong name or password"
    assert entries[-1].remote == "testclient"
    assert all("night-shift-7" not in e.detail and "nope-nope" not in e.detail for e in entries)
    assert [m.id for m in publisher.sent if isinstance(m, AuditEntry)] == [e.id for e in entries]


def test_refused_writes_are_audited(make_client: ClientFactory, journal_path: Path) -> None:
    viewer = make_client("viewer")
    assert viewer.post("/api/v1/admin/keys", json={"name": "k", "role": "admin"}).status_code == 403
    assert viewer.get("/api/v1/admin/keys").status_code == 403         # a refused read is not a write: no entry
    anonymous = make_client(None)
    assert anonymous.delete("/api/v1/admin/users/viewer").status_code == 401
    refused = [(e.actor, e.action, e.outcome, e.target) for e in audit_entries(journal_path) if e.action == "access"]
    assert refused == [("viewer", "access", "refused", "POST /api/v1/admin/keys"),
                       ("anonymous", "access", "refused", "DELETE /api/v1/admin/users/{name}")]


def test_audit_fits_hostile_text_into_the_entry(make_client: ClientFactory, journal_path: Path) -> None:
    client = make_client(None)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    audit(ctx, Principal("k" * 80, "viewer", "api-key"), "x" * 100, "error", target="\n" * 300,
          detail="d" * 5000, lane_id="not a lane id!", remote="r" * 300)
    entry = audit_entries(journal_path)[-1]
    assert (len(entry.actor), entry.role, len(entry.action)) == (64, "api-key", 64)
    assert len(entry.target) == 256
    assert "\n" not in entry.target
    assert len(entry.detail) == 2000
    assert entry.lane_id is None


def test_a_write_the_journal_cannot_record_gets_503(make_client: ClientFactory,
                                                    make_settings: Callable[..., ApiSettings],
                                                    journal_path: Path) -> None:
    admin = make_client("admin")
    blocker = sqlite3.connect(journal_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")                        # another writer holds the journal
    try:
        answer = admin.post("/api/v1/admin/keys", json={"name": "k", "role": "viewer"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert answer.status_code == 503
    assert "nothing was recorded" in answer.json()["detail"]
    assert admin.get("/api/v1/admin/keys").json() == []             # the unrecorded key was taken back

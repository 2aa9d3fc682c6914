"""Fixtures for the journal tests: one journal per test on each backend, and the PostgreSQL server behind them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus.journal import Journal
from tests.pg_server import PgServer, PgUnavailable, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for the whole run; the tests that need it skip with the reason if none starts."""
    try:
        server = start_server()
    except PgUnavailable as exc:
        pytest.skip(f"PostgreSQL server unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def journal_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URL for a new, empty journal: a SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    with Journal.open(journal_url) as opened:
        yield opened

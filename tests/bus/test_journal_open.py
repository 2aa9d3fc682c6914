"""Opening a journal: URL forms, clear errors with masked passwords, SQLite's durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bus.journal import Journal, JournalError
from bus.journal_sql import mask_url, parse_url
from bus.messages import Heartbeat
from tests.pg_server import PgServer


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql+psycopg://gate:s3cret@db.local:5432/journal", "postgresql+psycopg://gate:***@db.local:5432/journal"),
    ("postgresql://gate:p@ss@db/journal", "postgresql://gate:***@db/journal"),
    ("postgresql://gate@db/journal?password=s3cret&sslmode=require",
     "postgresql://gate@db/journal?password=***&sslmode=require"),
    ("postgresql://db/journal", "postgresql://db/journal"),
    ("sqlite:////var/lib/smartgate/journal.sqlite", "sqlite:////var/lib/smartgate/journal.sqlite"),
    ("/plain/path.sqlite", "/plain/path.sqlite"),
])
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(("url", "driver", "database"), [
    ("journal.sqlite", "sqlite", "journal.sqlite"),
    ("/var/lib/j.sqlite", "sqlite", "/var/lib/j.sqlite"),
    ("sqlite:///rel/j.sqlite", "sqlite", "rel/j.sqlite"),
    ("sqlite:////abs/j.sqlite", "sqlite", "/abs/j.sqlite"),
    ("postgresql://u@h/db", "postgresql+psycopg", "db"),
    ("postgres://u@h/db", "postgresql+psycopg", "db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg", "db"),
])
def test_url_forms(url: str, driver: str, database: str) -> None:
    parsed = parse_url(url)
    assert (parsed.drivername, parsed.database) == (driver, database)


@pytest.mark.parametrize(("url", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    ("sqlite://", "names no file"),
    ("sqlite:///:memory:", "names no file"),
    ("mysql://gate:s3cret@db/journal", r"mysql://gate:\*\*\*@db/journal.*unsupported database"),
    ("postgresql+psycopg2://gate:s3cret@db/journal", r"gate:\*\*\*@db.*unsupported"),
    ("::not a url://x", "not a valid database URL"),
])
def test_bad_urls_are_refused_by_name(url: str, message: str) -> None:
    with pytest.raises(JournalError, match=message) as caught:
        Journal.open(url)
    assert "s3cret" not in str(caught.value)


def test_unreachable_postgresql_names_the_url_without_its_password() -> None:
    url = "postgresql+psycopg://gate:s3cret@127.0.0.1:1/journal"
    with pytest.raises(JournalError, match=r"cannot open journal postgresql\+psycopg://gate:\*\*\*@127.0.0.1:1") \
            as caught:
        Journal.open(url, busy_timeout_s=2.0)
    assert "s3cret" not in str(caught.value)


def test_unwritable_sqlite_paths_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    cases = [
        (tmp_path / "missing" / "j.sqlite", "folder .*missing.* does not exist"),
        (tmp_path / "a-file" / "j.sqlite", "folder .*a-file.* is not a directory"),
        (tmp_path / "a-folder", "is a directory"),
    ]
    for path, message in cases:
        with pytest.raises(JournalError, match=message):
            Journal.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are not the pages of a SQLite database" * 100)
    with pytest.raises(JournalError, match=r"cannot open journal .*notes.sqlite.*not a database"):
        Journal.open(path)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL", "EXTRA"])
def test_every_sqlite_connection_uses_wal_and_the_chosen_sync_level(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "j.sqlite"
    levels = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}
    with Journal.open(path, synchronous=synchronous, busy_timeout_s=2.5) as journal:  # type: ignore[arg-type]
        journal.append(Heartbeat(sender="s", role="r", seq=1))
        engine = journal._engine  # private on purpose: the pragmas are per connection, seen only from inside
        with engine.connect() as first, engine.connect() as second:  # two pooled connections, both configured
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == levels[synchronous]
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of"):
        Journal.open(tmp_path / "j.sqlite", synchronous="SOMETIMES")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="busy_timeout_s"):
        Journal.open(tmp_path / "j.sqlite", busy_timeout_s=-1)


def test_a_journal_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE journal_meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(JournalError, match="schema version '99'"):
        Journal.open(path)


def test_url_reports_the_masked_url(tmp_path: Path) -> None:
    with Journal.open(f"sqlite:///{tmp_path}/j.sqlite") as journal:
        assert journal.url == f"sqlite:///{tmp_path}/j.sqlite"
        assert journal.backend == "sqlite"


@pytest.mark.postgres
@pytest.mark.parametrize(("synchronous", "expected"), [("FULL", "on"), ("EXTRA", "on"), ("NORMAL", "off")])
def test_postgresql_connections_force_synchronous_commit(pg_server: PgServer, synchronous: str,
                                                          expected: str) -> None:
    url = pg_server.create_database()
    with Journal.open(url, synchronous=synchronous) as journal:  # type: ignore[arg-type]
        journal.append(Heartbeat(sender="s", role="r", seq=1))
        with journal._engine.connect() as connection:  # private on purpose: the setting is per connection
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == expected
        assert journal.backend == "postgresql"

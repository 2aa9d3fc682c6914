"""Storage layer of the event journal: its tables, one engine per backend, and URLs with passwords masked.

SQLite runs in WAL mode with ``synchronous=FULL`` by default, so a commit is on the disk before ``append``
returns; on PostgreSQL the same setting maps to ``synchronous_commit`` (FULL, EXTRA: on; NORMAL, OFF: off).
SQLite writes begin with ``BEGIN IMMEDIATE``, so two writer processes queue on the busy timeout instead of
failing on a lock upgrade half-way through a transaction. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final, Literal, get_args

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

SCHEMA_VERSION: Final = 1
SynchronousMode = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
Backend = Literal["sqlite", "postgresql"]
WRITE_OPTION: Final = "journal_write"
"""Execution option that marks a connection as a writer, so SQLite begins it with ``BEGIN IMMEDIATE``."""

_PG_SCHEMA_LOCK: Final = 0x5347_4A4E  # "SGJN": serialises schema creation between processes
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&]*")

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("lane", sa.String(64), nullable=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("ts_utc", sa.Double(), nullable=False),
    sa.Column("recorded_utc", sa.Double(), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.UniqueConstraint("key", name="uq_events_key"),
    sa.Index("ix_events_type_ts", "type", "ts_utc"),
    sa.Index("ix_events_lane_ts", "lane", "ts_utc"),
    sqlite_autoincrement=True,  # a seq is never reused, even after the newest row is lost
)

journal_meta = sa.Table(
    "journal_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)


class JournalError(Exception):
    """The journal cannot be opened, read or written. Messages name the URL with its password masked."""


class JournalConflictError(JournalError):
    """A different message arrived under a key that is already journalled: refused, nothing was written."""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, host = rest.rpartition("@")  # the last "@": a password may hold an unescaped one
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return scheme + "://" + _PASSWORD_PARAM.sub(r"\1***", rest)


def parse_url(url: str | os.PathLike[str]) -> sa.URL:
    """A database URL for the journal: a plain path means a SQLite file; ``postgresql://`` means psycopg 3."""
    text = os.fspath(url)
    if not text.strip():
        raise JournalError("journal URL is empty")
    if "://" not in text:
        return sa.URL.create("sqlite", database=str(Path(text)))
    try:
        parsed = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise JournalError(f"journal URL {mask_url(text)!r} is not a valid database URL") from None
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return _checked_sqlite(parsed, text)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    raise JournalError(f"journal URL {mask_url(text)!r}: unsupported database {parsed.drivername!r}; "
                       "use sqlite:///PATH, a plain path, or postgresql+psycopg://...")


def _checked_sqlite(parsed: sa.URL, text: str) -> sa.URL:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or parsed.query.get("mode") == "memory":
        raise JournalError(f"journal URL {text!r} names no file: an in-memory journal would not be durable")
    return parsed


def backend_of(url: sa.URL) -> Backend:
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def check_sqlite_path(url: sa.URL) -> None:
    """Refuse a SQLite path whose folder is missing or is not a folder, before SQLite's vaguer error does."""
    path = Path(url.database or "")
    if path.is_dir():
        raise JournalError(f"journal path {str(path)!r} is a directory, not a database file")
    folder = path.parent
    if not folder.is_dir():
        reason = "is not a directory" if folder.exists() else "does not exist"
        raise JournalError(f"journal path {str(path)!r}: folder {str(folder)!r} {reason}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise JournalError(f"journal path {str(path)!r}: folder {str(folder)!r} is not writable")


def create_engine(url: sa.URL, *, synchronous: SynchronousMode, busy_timeout_s: float,
                  autocheckpoint: bool = True) -> Engine:
    """An engine whose every connection is configured for durable, concurrent journal use."""
    if synchronous not in get_args(SynchronousMode):
        raise ValueError(f"synchronous must be one of {get_args(SynchronousMode)}, got {synchronous!r}")
    if not 0.0 <= busy_timeout_s <= 3600.0:
        raise ValueError(f"busy_timeout_s must be within [0, 3600], got {busy_timeout_s!r}")
    if backend_of(url) == "sqlite":
        return _sqlite_engine(url, synchronous, busy_timeout_s, autocheckpoint)
    return _postgresql_engine(url, synchronous, busy_timeout_s)


def _sqlite_engine(url: sa.URL, synchronous: SynchronousMode, busy_timeout_s: float, autocheckpoint: bool) -> Engine:
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})
    pragmas = (f"PRAGMA busy_timeout={round(busy_timeout_s * 1000)}", f"PRAGMA synchronous={synchronous}")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN by sqlite3: the "begin" hook below decides
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(pragmas[0])
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {url.database!r}: SQLite refused WAL mode (got {mode!r})")
            cursor.execute(pragmas[1])
            if not autocheckpoint:  # the owner checkpoints in its idle time (`Journal.checkpoint`)
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        writer = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _postgresql_engine(url: sa.URL, synchronous: SynchronousMode, busy_timeout_s: float) -> Engine:
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(busy_timeout_s))})
    setting = f"SET synchronous_commit = {'on' if synchronous in ('FULL', 'EXTRA') else 'off'}"

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Forced per connection, so a server or role default cannot weaken what an acknowledgement means.
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(setting)
        finally:
            dbapi_connection.autocommit = False

    return engine


def ensure_schema(writer: Engine, display_url: str) -> None:
    """Create the tables if missing and refuse a journal written by a newer schema."""
    with writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
        metadata.create_all(connection)
        version = connection.execute(
            sa.select(journal_meta.c.value).where(journal_meta.c.name == "schema_version")).scalar_one_or_none()
        if version is None:
            connection.execute(sa.insert(journal_meta).values(name="schema_version", value=str(SCHEMA_VERSION)))
        elif version != str(SCHEMA_VERSION):
            raise JournalError(f"journal {display_url} has schema version {version!r}; "
                               f"this build reads version {SCHEMA_VERSION}")


def describe_db_error(exc: BaseException, password: str | None) -> str:
    """The driver's own message (without SQLAlchemy's echo of statement and parameters), password scrubbed."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message.replace(password, "***") if password else message

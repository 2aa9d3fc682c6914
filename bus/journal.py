"""The durable, append-only event journal: what a component must never lose, such as a decision before it is sent.

``append`` returns only after the transaction is committed to disk, so its return value is the acknowledgement:
a writer killed at any later moment loses nothing it was told was stored. A message's ``id`` is its idempotency
key, so a retry after a crash re-appends safely and gets the original ``seq`` back. There is no update or delete.

A stored payload that no longer decodes (a damaged disk, a message type from a newer build) never stops a replay:
it is logged, counted and handed to an optional ``on_corrupt`` callback, and reading goes on.

``seq`` grows with every append but may skip numbers. On PostgreSQL, concurrent writers may commit a lower seq after
a higher one, so tail from ``after_seq`` only where one process writes (as with SQLite, where writers queue).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bus.codec import MAX_MESSAGE_BYTES, MessageError, decode, encode
from bus.journal_sql import (
    WRITE_OPTION,
    Backend,
    JournalConflictError,
    JournalError,
    SynchronousMode,
    backend_of,
    check_sqlite_path,
    create_engine,
    describe_db_error,
    ensure_schema,
    events,
    mask_url,
    parse_url,
)
from bus.messages import AnyMessage, Message, now_utc

__all__ = ["CorruptEntry", "CorruptEntryError", "Journal", "JournalConflictError", "JournalEntry", "JournalError"]

log = logging.getLogger(__name__)

MAX_QUERY_LIMIT: Final = 100_000
_LOOKUP_CHUNK: Final = 500
_COLUMNS: Final = (events.c.seq, events.c.type, events.c.lane, events.c.key, events.c.ts_utc,
                   events.c.recorded_utc, events.c.payload)
# Built once: building and cache-keying a statement costs more than running it on SQLite.
_GET: Final = sa.select(*_COLUMNS).where(events.c.key == sa.bindparam("key"))
_LAST_SEQ: Final = sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))

TypeFilter = str | type[Message] | Iterable[str | type[Message]] | None


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One journalled message with where and when it was stored (a Struct: built ~10x faster than a dataclass)."""

    seq: int
    type: str
    lane: str | None
    key: str
    ts_utc: float
    recorded_utc: float
    message: AnyMessage


class CorruptEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A stored row whose payload does not decode to the message its columns describe."""

    seq: int
    type: str
    key: str
    reason: str
    detail: str
    payload: bytes


class CorruptEntryError(JournalError):
    """``get`` found the key but its payload is damaged; ``entry`` says how."""

    def __init__(self, entry: CorruptEntry) -> None:
        super().__init__(f"journal entry seq={entry.seq} key={entry.key!r} is corrupt: {entry.reason}: {entry.detail}")
        self.entry = entry


CorruptHandler = Callable[[CorruptEntry], None]


class Journal:
    """An append-only log of bus messages in SQLite (WAL, ``synchronous=FULL``) or PostgreSQL.

    Thread-safe: each call takes its own pooled connection. Open with ``Journal.open(url)``.
    """

    def __init__(self, engine: Engine, display_url: str, password: str | None,
                 clock: Callable[[], float] = now_utc) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._url = display_url
        self._password = password
        self._clock = clock
        self._backend: Backend = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
        self._insert = _insert_statement(self._backend)
        self._corrupt_skipped = 0

    @classmethod
    def open(cls, url: str | os.PathLike[str], *, synchronous: SynchronousMode = "FULL",
             busy_timeout_s: float = 5.0, clock: Callable[[], float] = now_utc, autocheckpoint: bool = True) -> Journal:
        """Open (creating if needed) the journal at ``url``: ``sqlite:///path``, a plain path, or ``postgresql://``.

        ``synchronous`` is the durability level: FULL survives power loss; NORMAL may lose the newest commits on
        power loss or a server crash, never on a crash of the writing process (PostgreSQL: ``synchronous_commit``
        on for FULL and EXTRA, off otherwise). ``busy_timeout_s`` bounds the wait for a lock held by another
        writer and, on PostgreSQL, the connection attempt. ``autocheckpoint=False`` (SQLite) keeps write-ahead-log
        checkpoints out of ``append``: a writer whose commits sit on a latency path (the clearance engine, before
        each barrier command) calls ``checkpoint()`` in its idle time instead.
        """
        display = mask_url(os.fspath(url))
        parsed = parse_url(url)
        if backend_of(parsed) == "sqlite":
            check_sqlite_path(parsed)
        engine = create_engine(parsed, synchronous=synchronous, busy_timeout_s=busy_timeout_s,
                               autocheckpoint=autocheckpoint)
        journal = cls(engine, display, parsed.password if isinstance(parsed.password, str) else None, clock)
        try:
            ensure_schema(journal._writer, display)
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise journal._error("open", exc) from None
        except JournalError:
            engine.dispose()
            raise
        return journal

    @property
    def url(self) -> str:
        """The journal's URL with any password masked."""
        return self._url

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def corrupt_skipped(self) -> int:
        """How many corrupt rows reads have met and skipped since this journal was opened (each time met)."""
        return self._corrupt_skipped

    def checkpoint(self) -> int:
        """Copy committed pages from SQLite's write-ahead log into the database without waiting for readers
        (PASSIVE); returns the frames copied. A no-op (0) on PostgreSQL. Raises `JournalError` if it fails."""
        if self.backend != "sqlite":
            return 0
        try:
            raw = self._writer.raw_connection()
            try:
                row = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                raw.close()
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            raise self._error("checkpoint", exc) from None
        return int(row[2]) if row is not None and row[2] is not None and row[2] >= 0 else 0

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------------------------

    def append(self, message: Message) -> int:
        """Store one message durably and return its seq; re-appending the same message returns the first seq.

        Raises ``MessageError`` for a message that would not decode again, ``JournalConflictError`` for a different
        message under a journalled id, ``JournalError`` when the database fails (then nothing was acknowledged).
        """
        return self.append_many((message,))[0]

    def append_many(self, messages: Iterable[Message]) -> list[int]:
        """Store messages in one transaction (all or none), in order; returns one seq per message."""
        recorded_utc = self._clock()
        rows = [_row(message, recorded_utc) for message in messages]
        if not rows:
            return []
        unique = _unique_by_key(rows)
        try:
            with self._writer.begin() as connection:
                seqs = {key: seq for seq, key in connection.execute(self._insert, list(unique.values()))}
                missing = [key for key in unique if key not in seqs]
                seqs.update(_existing_seqs(connection, missing, unique))
        except sa.exc.SQLAlchemyError as exc:
            raise self._error("append to", exc) from None
        return [seqs[str(row["key"])] for row in rows]

    # -- reading -----------------------------------------------------------------------------------------------

    def get(self, key: str) -> JournalEntry | None:
        """The entry stored under a message id, or ``None``; raises ``CorruptEntryError`` if it is damaged."""
        rows = self._select(_GET, {"key": key})
        if not rows:
            return None
        entry = _decode_row(rows[0])
        if isinstance(entry, CorruptEntry):
            raise CorruptEntryError(entry)
        return entry

    def query(self, *, types: TypeFilter = None, lane: str | None = None, since_utc: float | None = None,
              until_utc: float | None = None, after_seq: int | None = None, limit: int = 1000,
              newest_first: bool = False, on_corrupt: CorruptHandler | None = None,
              before_seq: int | None = None) -> list[JournalEntry]:
        """Entries in seq order (or newest first) matching every given filter.

        ``types`` takes wire tags or message classes; ``since_utc`` is inclusive and ``until_utc`` exclusive, both
        on the message's own ``ts_utc``; ``after_seq`` and ``before_seq`` are exclusive bounds on seq (newest-first
        pages read below a cursor). Corrupt rows are skipped, counted and passed to ``on_corrupt``.
        """
        _check_range("limit", limit, 1, MAX_QUERY_LIMIT)
        order = events.c.seq.desc() if newest_first else events.c.seq.asc()
        statement = (sa.select(*_COLUMNS).where(*_filters(types, lane, since_utc, until_utc, after_seq, before_seq))
                     .order_by(order).limit(limit))
        return self._decode_all(self._select(statement), on_corrupt)

    def count(self, *, types: TypeFilter = None, lane: str | None = None, since_utc: float | None = None,
              until_utc: float | None = None, after_seq: int | None = None,
              before_seq: int | None = None) -> int:
        """How many rows match the filters (corrupt ones included: they are stored, only unreadable)."""
        statement = (sa.select(sa.func.count()).select_from(events)
                     .where(*_filters(types, lane, since_utc, until_utc, after_seq, before_seq)))
        return int(self._select(statement)[0][0])

    def last_seq(self) -> int:
        """The highest seq stored, 0 for an empty journal."""
        return int(self._select(_LAST_SEQ)[0][0])

    def replay(self, after_seq: int = 0, *, types: TypeFilter = None, batch_size: int = 500,
               on_corrupt: CorruptHandler | None = None) -> Iterator[JournalEntry]:
        """Every entry after ``after_seq`` in seq order, fetched in batches, for rebuilding state after a restart.

        No transaction stays open between batches, so a long replay never holds back writers or checkpoints.
        """
        _check_range("batch_size", batch_size, 1, MAX_QUERY_LIMIT)
        cursor = after_seq
        while True:
            statement = (sa.select(*_COLUMNS).where(*_filters(types, None, None, None, cursor))
                         .order_by(events.c.seq).limit(batch_size))
            rows = self._select(statement)
            if not rows:
                return
            cursor = int(rows[-1][0])
            yield from self._decode_all(rows, on_corrupt)

    # -- internals ---------------------------------------------------------------------------------------------

    def _select(self, statement: sa.Select[Any], parameters: dict[str, Any] | None = None) -> Sequence[sa.Row[Any]]:
        try:
            with self._engine.connect() as connection:
                return connection.execute(statement, parameters).all()
        except sa.exc.SQLAlchemyError as exc:
            raise self._error("read from", exc) from None

    def _decode_all(self, rows: Sequence[sa.Row[Any]], on_corrupt: CorruptHandler | None) -> list[JournalEntry]:
        entries: list[JournalEntry] = []
        for row in rows:
            entry = _decode_row(row)
            if isinstance(entry, JournalEntry):
                entries.append(entry)
                continue
            self._corrupt_skipped += 1
            log.warning("journal %s: skipped corrupt entry seq=%d key=%r: %s: %s",
                        self._url, entry.seq, entry.key, entry.reason, entry.detail)
            if on_corrupt is not None:
                on_corrupt(entry)
        return entries

    def _error(self, action: str, exc: BaseException) -> JournalError:
        return JournalError(f"cannot {action} journal {self._url}: "
                            f"{describe_db_error(exc, self._password)}")


def _insert_statement(backend: Backend) -> sa.Insert:
    """INSERT that skips a key already stored (so a retry is a no-op) and returns what it did store."""
    dialect_insert = sqlite.insert if backend == "sqlite" else postgresql.insert
    return (dialect_insert(events).on_conflict_do_nothing(index_elements=[events.c.key])
            .returning(events.c.seq, events.c.key))


def _row(message: Message, recorded_utc: float) -> dict[str, Any]:
    """The row for one message, refusing what could not be read back (an acknowledged entry must replay)."""
    if not isinstance(message, Message):
        raise TypeError(f"only bus messages can be journalled, got {type(message).__name__}")
    payload = encode(message)
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageError("oversized", f"{len(payload)} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")
    decode(payload)  # constructors do not check field constraints; decoding does
    return {"type": message.wire_tag(), "lane": message.lane, "key": message.id, "ts_utc": message.ts_utc,
            "recorded_utc": recorded_utc, "payload": payload}


def _unique_by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """First row per key; a batch carrying two different messages under one key is refused whole."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        first = unique.setdefault(row["key"], row)
        if first["payload"] != row["payload"]:
            raise JournalConflictError(f"batch holds two different messages with id {row['key']!r}")
    return unique


def _existing_seqs(connection: sa.Connection, keys: list[str],
                   wanted: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Seqs of keys already journalled, refusing any whose stored message differs from the one re-appended."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start:start + _LOOKUP_CHUNK]
        statement = sa.select(events.c.seq, events.c.key, events.c.payload).where(events.c.key.in_(chunk))
        for seq, key, payload in connection.execute(statement):
            if bytes(payload) != wanted[key]["payload"]:
                raise JournalConflictError(f"message id {key!r} is already journalled (seq {seq}) "
                                           "with different content")
            found[key] = int(seq)
    if len(found) != len(keys):  # ON CONFLICT skipped a row, so it must exist; anything else is a broken store
        raise JournalError(f"{len(keys) - len(found)} message(s) were neither inserted nor found")
    return found


def _filters(types: TypeFilter, lane: str | None, since_utc: float | None, until_utc: float | None,
             after_seq: int | None, before_seq: int | None = None) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if types is not None:
        clauses.append(events.c.type.in_(_type_tags(types)))
    if lane is not None:
        clauses.append(events.c.lane == lane)
    if since_utc is not None:
        clauses.append(events.c.ts_utc >= since_utc)
    if until_utc is not None:
        clauses.append(events.c.ts_utc < until_utc)
    if after_seq is not None:
        clauses.append(events.c.seq > after_seq)
    if before_seq is not None:
        clauses.append(events.c.seq < before_seq)
    return clauses


def _type_tags(types: str | type[Message] | Iterable[str | type[Message]]) -> list[str]:
    items: Iterable[str | type[Message]] = (types,) if isinstance(types, str | type) else types
    return [item if isinstance(item, str) else item.wire_tag() for item in items]


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer within [{low}, {high}], got {value!r}")


def _decode_row(row: Sequence[Any]) -> JournalEntry | CorruptEntry:
    """Decode a stored row; any mismatch between payload and columns makes it a ``CorruptEntry``."""
    seq, type_tag, lane, key, ts_utc, recorded_utc, payload = row  # one unpack: named Row access costs ~1 µs each
    try:
        if not isinstance(payload, bytes | memoryview):
            raise MessageError("malformed", f"payload column holds {type(payload).__name__}, not bytes")
        message = decode(payload)
        if message.wire_tag() != type_tag or message.id != key:
            raise ValueError(f"payload is {message.wire_tag()} id {message.id!r}, columns say {type_tag} id {key!r}")
        return JournalEntry(seq=int(seq), type=type_tag, lane=lane, key=key, ts_utc=float(ts_utc),
                            recorded_utc=float(recorded_utc), message=message)
    except MessageError as exc:
        return _corrupt(row, exc.reason, exc.detail)
    except (TypeError, ValueError) as exc:
        return _corrupt(row, "mismatch", str(exc))


def _corrupt(row: Sequence[Any], reason: str, detail: str) -> CorruptEntry:
    seq, type_tag, _lane, key, _ts, _recorded, raw = row
    payload = bytes(raw) if isinstance(raw, bytes | memoryview) else str(raw).encode(errors="replace")
    return CorruptEntry(seq=int(seq), type=str(type_tag), key=str(key), reason=reason, detail=detail,
                        payload=payload)

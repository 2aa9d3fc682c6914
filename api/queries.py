"""Paginated reads of the journal, newest first, with opaque cursors that survive new appends.

A cursor names the journal ``seq`` a page ended at; the next page holds the entries just below it, read with
`Journal.query` ``before_seq`` newest first (an index range on seq, so a deep page costs what the first does, and
appends above the cursor change nothing).

Filters the journal cannot apply (a decision's outcome, a passage id) are applied here, scanning at most
`MAX_SCAN` rows per request: a page may then come back short, with a cursor to go on from.

A corrupt row is skipped and counted (`PageReader.corrupt_skipped`); it never fails a request.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bus.journal import CorruptEntry, Journal, JournalEntry, TypeFilter
from bus.messages import Message

log = logging.getLogger(__name__)

MAX_LIMIT: Final = 500
MAX_SCAN: Final = 5_000
SCAN_BATCH: Final = 500
_CURSOR_PREFIX: Final = "v1:"
_CURSOR_TEXT: Final = re.compile(r"[A-Za-z0-9_\-]{1,40}={0,2}")
MAX_SEQ: Final = 2**63 - 1


class CursorError(ValueError):
    """A cursor this API did not hand out (or one damaged in transit)."""


def encode_cursor(before_seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{before_seq}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The seq a cursor names, None for no cursor; `CursorError` for anything else."""
    if cursor is None or cursor == "":
        return None
    if not _CURSOR_TEXT.fullmatch(cursor):
        raise CursorError("cursor is not one this API returned (use next_cursor as given)")
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("cursor is not one this API returned (use next_cursor as given)") from None
    body = text.removeprefix(_CURSOR_PREFIX)
    if body == text or not body.isdigit() or not 1 <= int(body) <= MAX_SEQ:
        raise CursorError("cursor is not one this API returned (use next_cursor as given)")
    return int(body)


@dataclass(frozen=True)
class Window:
    """The filters every list takes: lane, time window (message time, UTC seconds), page size and cursor."""

    limit: int = 50
    before_seq: int | None = None
    lane: str | None = None
    since_utc: float | None = None
    until_utc: float | None = None


@dataclass(frozen=True)
class Page:
    entries: list[JournalEntry]
    next_cursor: str | None


Keep = Callable[[Message], bool]


class PageReader:
    """Reads pages of one journal; counts the corrupt rows it meets."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.corrupt_skipped = 0

    def page(self, types: TypeFilter, window: Window, keep: Keep | None = None) -> Page:
        """Up to ``window.limit`` entries below the cursor, newest first, that ``keep`` accepts."""
        if not 1 <= window.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within [1, {MAX_LIMIT}], got {window.limit}")
        entries: list[JournalEntry] = []
        before, scanned = window.before_seq, 0
        batch = window.limit if keep is None else max(window.limit, SCAN_BATCH)
        while True:
            rows, exhausted = self._rows_below(types, window, before, batch)
            if not rows and not exhausted:  # appends outran the slack: let the client ask again from here
                return Page(entries, encode_cursor(before) if before is not None else None)
            for i, (seq, entry) in enumerate(rows):
                scanned += 1
                before = seq
                if entry is not None and (keep is None or keep(entry.message)):
                    entries.append(entry)
                    if len(entries) == window.limit:
                        more = not (exhausted and i == len(rows) - 1)
                        return Page(entries, encode_cursor(seq) if more else None)
            if exhausted:
                return Page(entries, None)
            if scanned >= MAX_SCAN:
                return Page(entries, encode_cursor(before) if before is not None else None)

    def _rows_below(self, types: TypeFilter, window: Window, before: int | None,
                    n: int) -> tuple[list[tuple[int, JournalEntry | None]], bool]:
        """The first ``n`` rows below ``before`` (all when None), newest first: (seq, entry or None if corrupt);
        and whether no more rows lie beyond them."""
        corrupt: list[int] = []

        def note(entry: CorruptEntry) -> None:
            corrupt.append(entry.seq)
            self.corrupt_skipped += 1

        found = self.journal.query(types=types, lane=window.lane, since_utc=window.since_utc,
                                   until_utc=window.until_utc, before_seq=before, newest_first=True, limit=n + 1,
                                   on_corrupt=note)
        rows: list[tuple[int, JournalEntry | None]] = [(e.seq, e) for e in found] + [(s, None) for s in corrupt]
        rows.sort(key=lambda row: row[0], reverse=True)
        return rows[:n], len(rows) <= n

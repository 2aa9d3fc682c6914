"""The single-window declaration feed: a JSON Lines file, or a folder of them, followed by polling.

Each file is read from a remembered offset, one complete line at a time, so an accepted line is never read twice and
a line the writer has not finished yet (no newline so far) waits for the next poll. A line that is garbage, of the
wrong shape or too long is reported with its file and line number, counted, and skipped; reading goes on. A file
that shrinks or is replaced (a new inode) is read again from its start: the book's duplicate check makes that safe.
Only decoding happens here; `DeclarationBook.check` / `add` judge the declarations.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from control.declarations import Declaration, DeclarationError, decode_declaration

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
#: Read at most this much per file and poll, so one huge file cannot stall the service.
MAX_READ_BYTES = 4 * 1024 * 1024
MAX_FILES = 10_000
_MAX_PROBLEM_CHARS = 300
_LONG = "long"  # a line longer than the limit, skipped until its newline
_TAKEN = "taken"  # a declaration taken before its newline arrived
_REPORTED = "reported"  # the rest of a line already reported bad


@dataclass(frozen=True)
class FeedItem:
    """A declaration decoded from ``source`` at line ``line`` (1-based)."""

    source: str
    line: int
    declaration: Declaration

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class BadLine:
    source: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.problem}"


@dataclass
class FeedBatch:
    """What one poll found: decoded declarations and bad lines, both in file order."""

    items: list[FeedItem] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)

    def extend(self, other: FeedBatch) -> None:
        self.items.extend(other.items)
        self.bad.extend(other.bad)


@dataclass(frozen=True)
class FilePosition:
    """Where reading a file stopped: byte offset, lines consumed, and the file's identity (device, inode)."""

    offset: int = 0
    line: int = 0
    identity: tuple[int, int] | None = None


@dataclass
class FeedStats:
    declarations: int = 0
    bad_lines: int = 0
    restarts: int = 0
    read_errors: int = 0


class JsonlTail:
    """Follows one JSON Lines file. ``position`` can be saved and handed back after a restart."""

    def __init__(self, path: str | os.PathLike[str], *, position: FilePosition | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES, max_read_bytes: int = MAX_READ_BYTES) -> None:
        self.path = Path(path)
        self.position = position or FilePosition()
        self.max_line_bytes = max_line_bytes
        self.max_read_bytes = max(max_read_bytes, max_line_bytes + 1)
        self.stats = FeedStats()
        self._inside = ""  # within a line already counted: _LONG, _TAKEN or _REPORTED
        self._last_error: str | None = None

    def poll(self, *, final: bool = False) -> FeedBatch:
        """New complete lines since the last poll. ``final``: the writer is done, so an unfinished last line is
        taken as it is (decoded or reported)."""
        batch = FeedBatch()
        data = self._read()
        if data is None:
            return batch
        offset, line = self.position.offset, self.position.line
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            raw = data[start:end]
            if self._inside:
                self._end_of_counted_line(batch, line, raw)
            else:
                line += 1
                self._take(batch, line, raw)
            start = end + 1
        consumed, line = self._tail(batch, data[start:], line, final)
        self.position = FilePosition(offset + start + consumed, line, self.position.identity)
        return batch

    def _read(self) -> bytes | None:
        try:
            with self.path.open("rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    self._error("not a regular file")
                    return None
                self._check_identity(info)
                handle.seek(self.position.offset)
                data = handle.read(self.max_read_bytes)
        except FileNotFoundError:
            return None  # not written yet
        except OSError as exc:
            self._error(f"cannot read: {exc.strerror or exc}")
            return None
        self._last_error = None
        return data

    def _check_identity(self, info: os.stat_result) -> None:
        identity = (info.st_dev, info.st_ino)
        known = self.position.identity
        if known in (None, identity) and info.st_size >= self.position.offset:
            self.position = FilePosition(self.position.offset, self.position.line, identity)
            return
        log.warning("%s was truncated or replaced; reading it again from the start", self.path)
        self.stats.restarts += 1
        self.position = FilePosition(0, 0, identity)
        self._inside = ""

    def _take(self, batch: FeedBatch, line: int, raw: bytes) -> None:
        if len(raw) > self.max_line_bytes:
            self._bad(batch, line, f"line longer than {self.max_line_bytes} bytes")
            return
        if not raw.strip():
            return
        try:
            declaration = decode_declaration(raw)
        except DeclarationError as exc:
            self._bad(batch, line, "; ".join(str(p) for p in exc.problems))
            return
        self.stats.declarations += 1
        batch.items.append(FeedItem(str(self.path), line, declaration))

    def _tail(self, batch: FeedBatch, tail: bytes, line: int, final: bool) -> tuple[int, int]:
        """Bytes of the unfinished last line consumed now, and the line count after it.

        An unfinished line is left for the next poll unless it already decodes as a whole declaration (a JSON
        object cannot go on validly after its closing brace, so nothing is lost by taking it early)."""
        if not tail:
            return 0, line
        if self._inside:
            if final:
                self._end_of_counted_line(batch, line, tail)
            elif self._inside == _TAKEN and tail.strip():
                self._bad(batch, line, "extra characters after a complete declaration")
                self._inside = _REPORTED
            return len(tail), line
        if len(tail) > self.max_line_bytes:
            self._inside = _LONG
            if final:
                self._end_of_counted_line(batch, line + 1, b"")
            return len(tail), line + 1
        if final:
            self._take(batch, line + 1, tail)
            return len(tail), line + 1
        if not tail.strip():
            return 0, line
        try:
            declaration = decode_declaration(tail)
        except DeclarationError:
            return 0, line  # most likely still being written: wait for the rest
        self.stats.declarations += 1
        batch.items.append(FeedItem(str(self.path), line + 1, declaration))
        self._inside = _TAKEN
        return len(tail), line + 1

    def _end_of_counted_line(self, batch: FeedBatch, line: int, rest: bytes) -> None:
        """The end of a line counted (and taken or refused) before its newline arrived."""
        if self._inside == _LONG:
            self._bad(batch, line, f"line longer than {self.max_line_bytes} bytes")
        elif self._inside == _TAKEN and rest.strip():
            self._bad(batch, line, "extra characters after a complete declaration")
        self._inside = ""

    def _bad(self, batch: FeedBatch, line: int, problem: str) -> None:
        text = "".join(ch if ch.isprintable() else "?" for ch in problem)[:_MAX_PROBLEM_CHARS]
        self.stats.bad_lines += 1
        batch.bad.append(BadLine(str(self.path), line, text))
        log.warning("%s:%d: skipped bad declaration line: %s", self.path, line, text)

    def _error(self, problem: str) -> None:
        self.stats.read_errors += 1
        if problem != self._last_error:
            log.warning("%s: %s", self.path, problem)
        self._last_error = problem


def read_jsonl_file(path: str | os.PathLike[str], *, max_line_bytes: int = MAX_LINE_BYTES) -> FeedBatch:
    """Every declaration of a finished file (a recording's ``declarations.jsonl``), with its bad lines."""
    tail = JsonlTail(path, max_line_bytes=max_line_bytes)
    batch = FeedBatch()
    while True:
        before = tail.position.offset
        batch.extend(tail.poll(final=True))
        if tail.position.offset == before:
            return batch


class DirectoryFeed:
    """Follows every ``*.jsonl`` file in a folder (names starting with ``.`` and non-regular files are ignored;
    symbolic links are not followed), in name order. ``positions`` restores where a previous run stopped."""

    def __init__(self, folder: str | os.PathLike[str], *, positions: Mapping[str, FilePosition] | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES, max_files: int = MAX_FILES) -> None:
        self.folder = Path(folder)
        self.max_line_bytes = max_line_bytes
        self.max_files = max_files
        self._tails: dict[str, JsonlTail] = {}
        self._saved = dict(positions or {})
        self.stats = FeedStats()
        self._warned: str | None = None

    def positions(self) -> dict[str, FilePosition]:
        """Where each file's reading stopped, by file name: save these to resume without re-reading."""
        return {name: tail.position for name, tail in self._tails.items()}

    def poll(self) -> FeedBatch:
        batch = FeedBatch()
        names = self._names()
        for name in list(self._tails):
            if name not in names:
                del self._tails[name]
        for name in names:
            tail = self._tails.get(name)
            if tail is None:
                tail = JsonlTail(self.folder / name, position=self._saved.pop(name, None),
                                 max_line_bytes=self.max_line_bytes)
                self._tails[name] = tail
            before = (tail.stats.declarations, tail.stats.bad_lines, tail.stats.restarts, tail.stats.read_errors)
            batch.extend(tail.poll())
            self.stats.declarations += tail.stats.declarations - before[0]
            self.stats.bad_lines += tail.stats.bad_lines - before[1]
            self.stats.restarts += tail.stats.restarts - before[2]
            self.stats.read_errors += tail.stats.read_errors - before[3]
        return batch

    def _names(self) -> list[str]:
        try:
            with os.scandir(self.folder) as entries:
                names = sorted(e.name for e in entries
                               if e.name.endswith(".jsonl") and not e.name.startswith(".")
                               and e.is_file(follow_symlinks=False))
        except OSError as exc:
            self._warn(f"{self.folder}: cannot list: {exc.strerror or exc}")
            return []
        if len(names) > self.max_files:
            self._warn(f"{self.folder}: {len(names)} files, following only the first {self.max_files}")
            names = names[: self.max_files]
        return names

    def _warn(self, problem: str) -> None:
        self.stats.read_errors += 1
        if problem != self._warned:
            log.warning("%s", problem)
        self._warned = problem

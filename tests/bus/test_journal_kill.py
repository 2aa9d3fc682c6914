"""Crash safety with real processes: a writer killed with SIGKILL mid-stream loses no acknowledged append."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from bus.journal import CorruptEntry, Journal
from bus.messages import Heartbeat
from tests.bus.journal_writer_proc import make_message

REPO = Path(__file__).resolve().parents[2]


def _start_writer(url: str, stderr: IO[bytes], *, batch: int = 1, prefix: str = "kill") -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.bus.journal_writer_proc", url, "--batch", str(batch),
               "--prefix", prefix, "--max-seconds", "60"]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)


def _read_acks(writer: subprocess.Popen[str], wanted: int) -> list[tuple[int, str]]:
    """Acknowledgements read until ``wanted`` have come (or the writer stopped on its own)."""
    assert writer.stdout is not None
    assert writer.stdout.readline() == "READY\n", "the writer did not start; see its stderr"
    acks: list[tuple[int, str]] = []
    while len(acks) < wanted:
        line = writer.stdout.readline()
        if not line:
            break
        acks.append(_parse_ack(line))
    return acks


def _parse_ack(line: str) -> tuple[int, str]:
    word, seq, key = line.split()
    assert word == "ACK"
    return int(seq), key


def _kill(writer: subprocess.Popen[str]) -> list[tuple[int, str]]:
    """SIGKILL the writer and collect the acknowledgements it had printed but the test had not yet read."""
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    assert writer.stdout is not None
    rest = writer.stdout.read()
    writer.stdout.close()
    return [_parse_ack(line) for line in rest.splitlines() if line.startswith("ACK ")]


def _check_intact(journal: Journal, prefix: str, acks: list[tuple[int, str]]) -> None:
    """Every acknowledged key is stored under its seq and decodes to exactly the message that was sent."""
    for seq, key in acks:
        entry = journal.get(key)
        assert entry is not None, f"acknowledged {key} (seq {seq}) is missing"
        assert entry.seq == seq
        assert entry.message == make_message(prefix, int(key.rsplit("-", 1)[1]))


def _check_consistent(journal: Journal, url: str) -> list[str]:
    """No corrupt rows, seqs strictly increasing, and (for SQLite) the file passes its integrity check."""
    corrupt: list[CorruptEntry] = []
    entries = list(journal.replay(on_corrupt=corrupt.append))
    assert corrupt == []
    seqs = [entry.seq for entry in entries]
    assert seqs == sorted(set(seqs))
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return [entry.key for entry in entries]


@pytest.mark.parametrize("batch", [1, 8], ids=["append", "append_many"])
def test_sigkill_mid_stream_loses_no_acknowledged_append(journal_url: str, tmp_path: Path, batch: int) -> None:
    with (tmp_path / "writer.err").open("wb") as stderr:
        writer = _start_writer(journal_url, stderr, batch=batch)
        try:
            acks = _read_acks(writer, wanted=150)
        finally:
            acks_after = _kill(writer)
    acks += acks_after
    assert len(acks) >= 150, (tmp_path / "writer.err").read_text()
    with Journal.open(journal_url) as journal:
        _check_intact(journal, "kill", acks)
        keys = _check_consistent(journal, journal_url)
        # Messages went in order, so what is stored is a prefix of the stream: the acked ones and, at most, the
        # batch that was committed when the kill came but not yet acknowledged.
        assert keys == [make_message("kill", i).id for i in range(len(keys))]
        assert len(acks) <= len(keys) <= len(acks) + batch
        assert len(keys) % batch == 0  # all or nothing per batch
        assert journal.append(Heartbeat(sender="s", role="r", seq=1)) > max(seq for seq, _ in acks)


def test_two_writer_processes_interleave_without_losing_acks(journal_url: str, tmp_path: Path) -> None:
    Journal.open(journal_url).close()  # create the schema before the writers race
    with (tmp_path / "writers.err").open("wb") as stderr:
        writers = {prefix: _start_writer(journal_url, stderr, prefix=prefix) for prefix in ("left", "right")}
        acks: dict[str, list[tuple[int, str]]] = {}
        try:
            for prefix, writer in writers.items():
                acks[prefix] = _read_acks(writer, wanted=60)
        finally:
            for prefix, writer in writers.items():
                acks[prefix] = acks.get(prefix, []) + _kill(writer)
    with Journal.open(journal_url) as journal:
        for prefix, prefix_acks in acks.items():
            assert len(prefix_acks) >= 60, (tmp_path / "writers.err").read_text()
            _check_intact(journal, prefix, prefix_acks)
        _check_consistent(journal, journal_url)
        assert journal.count() >= 120

"""Load for the clearance benchmark: passage in → decision → OPEN acknowledged by a real barrier controller.

Why real parts: the figure is meant to be the one a lane sees. So the barrier controller is `smartgate
gate-controller`, a process of its own, reached over CURVE on loopback; the clearance side is the real
`ClearanceEngine` in this process, with a SQLite journal file at ``synchronous=FULL`` (the service's setting) and a
`DeclarationBook` holding one declaration per truck (green channel). Each passage pays what it pays in the field:
two durable commits (passage, decision and command before sending; the ack after) and one round trip.

Closed loop, one passage in flight, as on a lane: the next passage is taken once the previous ack is journalled.
Latency of a passage runs from the `take_passage` call to `pump` returning its journalled ack (the time to the ack
received, when the barrier is already moving, is reported beside it); it is split into
*decide* (`take_passage` less its journal commit: candidate lookup, `decide`, command prepare, bookkeeping),
*journal* (the two commits), *round trip* (`GateLink.deliver`: encode, CURVE, loopback, the controller's work,
the reply) and *other* (the rest of `pump`). Stamping each passage and the links' heartbeats (`tick`) happen
between passages, outside the latency, inside the throughput's wall time. To say where the tail comes from, each
passage also notes whether SQLite checkpointed its WAL into the main file during it, and the run reports the
disk's bare fsync time and the time Python's garbage collector paused the process.

Repeated OPENs on one lane are fine for the controller: OPEN on an opening or open barrier is accepted (the boom
keeps going up, or the max-open timer restarts), so one lane serves every passage, each with the next ``seq``.

``python -m benchmarks.clearance_load --passages 10000`` runs it outside pytest and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from bus.heartbeat import HeartbeatConfig
from bus.journal import Journal
from bus.messages import (
    ClearanceDecision,
    ContainerRead,
    Declaration,
    DeclaredContainer,
    GateAck,
    GateCommand,
    Message,
    PlateRead,
    SealRead,
    VehiclePassage,
)
from control.clearance import ClearanceConfig, ClearanceEngine
from control.declarations import DeclarationBook
from control.gate_link import GateLink, GateLinkConfig
from datasets.synth.identifiers import random_container_number, random_seal_number, random_vn_plate
from smartgate import cli
from smartgate.services.gate_controller import CLEARANCE, gate_component, with_keys_dir
from smartgate.site import Site, load_site
from smartgate.wiring import client_security
from tests.smartgate.test_site import endpoints, write_site

LANE = "in-1"
REPO = Path(__file__).resolve().parents[1]
HEARTBEAT_S = 1.0
TRAVEL_S = 0.001
"""The simulated boom's travel: short, so the barrier is open again before the next truck is decided."""
LINK = GateLinkConfig(timeout_s=0.5, retries=1, heartbeat=HeartbeatConfig(interval_s=HEARTBEAT_S))
"""As `smartgate clearance` configures its links (default options)."""
START_TIMEOUT_S = 60.0
ACK_DEADLINE_S = 15.0
"""Longer than the command's validity: by then the engine has journalled an ack or a refusal in its place."""
TARGET_P99_MS = 10.0
JOURNAL_FILE = "journal.sqlite"
_NS_PER_MS = 1e6


class LoadError(RuntimeError):
    """The plant did not start, or a passage did not end in an accepted OPEN."""


# --- the two instrumented parts ----------------------------------------------------------------------------------


class TimedJournal(Journal):
    """The journal, timing its commits since `reset` (``append`` goes through ``append_many``)."""

    spent_ns = 0

    def reset(self) -> None:
        self.spent_ns = 0

    def append_many(self, messages: Iterable[Message]) -> list[int]:
        start = time.perf_counter_ns()
        try:
            return super().append_many(messages)
        finally:
            self.spent_ns += time.perf_counter_ns() - start


class TimedGateLink(GateLink):
    """The lane's gate link, timing each delivery (command out to ack in) since `reset`; ``acked_at_ns`` is when
    the last ack came in (the barrier is moving by then; journalling the ack is still to come)."""

    deliver_ns = 0
    acked_at_ns = 0

    def reset(self) -> None:
        self.deliver_ns = self.acked_at_ns = 0

    def deliver(self, command: GateCommand) -> GateAck:
        start = time.perf_counter_ns()
        try:
            return super().deliver(command)
        finally:
            self.acked_at_ns = time.perf_counter_ns()
            self.deliver_ns += self.acked_at_ns - start


# --- trucks --------------------------------------------------------------------------------------------------------


def declarations(count: int, seed: int = 4) -> list[Declaration]:
    """``count`` green-channel export declarations, distinct tractors and containers, valid for the next hours."""
    rng = np.random.default_rng(seed)
    now = time.time()
    tractors: set[str] = set()
    numbers: set[str] = set()
    out: list[Declaration] = []
    while len(out) < count:
        tractor, number = random_vn_plate(rng), random_container_number(rng)
        if tractor in tractors or number in numbers:
            continue
        tractors.add(tractor)
        numbers.add(number)
        out.append(Declaration(
            declaration_id=f"DEC-{len(out):06d}", customs_declaration_no=f"3055{len(out):08d}",
            tractor_plate=tractor, trailer_plate=random_vn_plate(rng, trailer=True),
            containers=(DeclaredContainer(number=number, seal_number=random_seal_number(rng)),),
            channel="green", valid_from_utc=now - 3600, valid_until_utc=now + 6 * 3600))
    return out


def passage_for(declaration: Declaration, passage_id: str) -> VehiclePassage:
    """The declared truck read cleanly by the lane, stamped now: its decision is OPEN."""
    now = time.time()
    container = declaration.containers[0]
    plates = [PlateRead(text=declaration.tractor_plate, role="tractor", confidence=0.97)]
    if declaration.trailer_plate is not None:
        plates.append(PlateRead(text=declaration.trailer_plate, role="trailer", confidence=0.96))
    return VehiclePassage(
        passage_id=passage_id, lane_id=LANE, direction="in", first_seen_utc=now - 6, last_seen_utc=now - 1,
        ts_utc=now, plates=tuple(plates),
        containers=(ContainerRead(number=container.number, check_digit_ok=True, confidence=0.95,
                                  position="single"),),
        seals=(SealRead(container_number=container.number, state="present", number=container.seal_number,
                        confidence=0.9),))


# --- per-passage times -----------------------------------------------------------------------------------------


@dataclass
class PassageTimes:
    """Nanoseconds per passage, one list per stage, in passage order."""

    total: list[int] = field(default_factory=list)
    to_ack: list[int] = field(default_factory=list)
    """From `take_passage` to the controller's ack received, before it is journalled."""
    decide: list[int] = field(default_factory=list)
    journal: list[int] = field(default_factory=list)
    round_trip: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)
    checkpointed: list[bool] = field(default_factory=list)
    """The passage's commits wrote the journal's main file: SQLite checkpointed its WAL there (every ~1000 pages)."""

    def __len__(self) -> int:
        return len(self.total)


@dataclass
class GcPauses:
    """Time this process spent in Python's cyclic garbage collector, from ``gc.callbacks``."""

    collections: int = 0
    total_ns: int = 0
    longest_ns: int = 0
    _started: int = 0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._started = now
            return
        spent = now - self._started
        self.collections += 1
        self.total_ns += spent
        self.longest_ns = max(self.longest_ns, spent)


def summarise(times: PassageTimes, wall_s: float, gc_pauses: GcPauses | None = None,
              fsync_ns: list[int] | None = None) -> dict[str, Any]:
    """Throughput, latency percentiles in ms, each stage's p50/p99 and share of the time, the slowest 1 %'s
    make-up (the mean of each stage over the passages at or above the p99), GC pauses and the disk's fsync."""
    if not len(times) or wall_s <= 0:
        raise ValueError("no passages to summarise")
    total = np.asarray(times.total, dtype=np.float64) / _NS_PER_MS
    p50, p99, p999 = np.percentile(total, [50, 99, 99.9])
    out: dict[str, Any] = {
        "passages": len(times), "passages_per_s": round(len(times) / wall_s, 1), "wall_s": round(wall_s, 2),
        "p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3), "p999_ms": round(float(p999), 3),
        "max_ms": round(float(total.max()), 3), "mean_ms": round(float(total.mean()), 3),
        "target_p99_ms": TARGET_P99_MS, "target_met": bool(p99 < TARGET_P99_MS),
    }
    a50, a99 = np.percentile(np.asarray(times.to_ack, dtype=np.float64) / _NS_PER_MS, [50, 99])
    out["ack_received_p50_ms"], out["ack_received_p99_ms"] = round(float(a50), 3), round(float(a99), 3)
    tail = total >= p99
    spent = float(total.sum())
    for stage in ("decide", "journal", "round_trip", "other"):
        values = np.asarray(getattr(times, stage), dtype=np.float64) / _NS_PER_MS
        s50, s99 = np.percentile(values, [50, 99])
        out[f"{stage}_p50_ms"] = round(float(s50), 3)
        out[f"{stage}_p99_ms"] = round(float(s99), 3)
        out[f"{stage}_share"] = round(float(values.sum()) / spent, 4)
        out[f"{stage}_tail_mean_ms"] = round(float(values[tail].mean()), 3)
    checkpointed = np.asarray(times.checkpointed, dtype=bool)
    if checkpointed.size == total.size and checkpointed.any() and not checkpointed.all():
        out["checkpoint_passages"] = int(checkpointed.sum())
        out["checkpoint_p50_ms"] = round(float(np.percentile(total[checkpointed], 50)), 3)
        out["p99_without_checkpoint_ms"] = round(float(np.percentile(total[~checkpointed], 99)), 3)
        out["checkpoint_share_of_tail"] = round(float(checkpointed[tail].mean()), 4)
    if gc_pauses is not None:
        out["gc_collections"] = gc_pauses.collections
        out["gc_total_ms"] = round(gc_pauses.total_ns / _NS_PER_MS, 1)
        out["gc_longest_ms"] = round(gc_pauses.longest_ns / _NS_PER_MS, 3)
    if fsync_ns:
        f50, f99 = np.percentile(np.asarray(fsync_ns, dtype=np.float64) / _NS_PER_MS, [50, 99])
        out["fsync_p50_ms"] = round(float(f50), 3)
        out["fsync_p99_ms"] = round(float(f99), 3)
    out["load_avg"] = round(os.getloadavg()[0], 2)
    return out


def fsync_probe(folder: Path, count: int = 100) -> list[int]:
    """The disk's own price for a durable write where the journal lives: ``count`` times 4 kB written and fsynced
    (nanoseconds each). A commit at ``synchronous=FULL`` in WAL mode waits for one fsync of the WAL, so this is
    the journal's floor on this disk, apart from SQLite and Python."""
    path = folder / "fsync-probe.bin"
    spent: list[int] = []
    block = os.urandom(4096)
    with path.open("wb") as out:
        for _ in range(count):
            start = time.perf_counter_ns()
            out.write(block)
            out.flush()
            os.fsync(out.fileno())
            spent.append(time.perf_counter_ns() - start)
    path.unlink()
    return spent


# --- the plant ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _loopback(data: dict[str, Any]) -> None:
    """Free loopback ports for every endpoint of the site, so parallel runs do not collide."""
    found = endpoints(data)
    for name in ("publish", "subscribe", "clearance", "planner"):
        found[name] = f"tcp://127.0.0.1:{_free_port()}"
    found["gate_links"] = {lane: f"tcp://127.0.0.1:{_free_port()}" for lane in found["gate_links"]}


class ClearancePlant:
    """A gate controller process, a journal file, a declaration book and the engine, for ``trucks`` passages.

    Use it as a context manager; then `clear` (or `run`) passages made by `next_passage`. `times` holds the
    measured passages; `warm_up` passages are not measured.
    """

    def __init__(self, root: Path, trucks: int, *, seed: int = 4) -> None:
        self.root = root
        self.times = PassageTimes()
        self.gc_pauses = GcPauses()
        self.fsync_ns: list[int] = []
        self._declarations = declarations(trucks, seed)
        self._next = 0
        self._wall_ns = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._controller_log = root / "gate-controller.log"
        self._site_file = write_site(root, _loopback)
        self._keys = root / "keys"
        self._site = self._make_keys()
        self._link: TimedGateLink | None = None
        book = DeclarationBook()
        for declaration in self._declarations:
            book.add(declaration)
        self.journal = self._open_journal()
        self.engine = ClearanceEngine(self.journal, self._open_link, [LANE], self._site.clearance.rules(), book=book,
                                      config=ClearanceConfig(command_validity_s=10.0))

    def __enter__(self) -> Self:
        try:
            self._start_controller()
            self.engine.recover()
            self._wait_for_controller()
        except BaseException:
            self.close()
            raise
        gc.callbacks.append(self.gc_pauses)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def link(self) -> TimedGateLink:
        if self._link is None:
            raise LoadError("the engine has not opened its gate link (recover first)")
        return self._link

    @property
    def wall_s(self) -> float:
        """Wall time of the measured passages, stamping and heartbeats between them included."""
        return self._wall_ns / 1e9

    def next_passage(self) -> VehiclePassage:
        """The next truck, stamped now, after the links' heartbeat duty (kept out of the measured latency)."""
        if self._next >= len(self._declarations):
            raise LoadError(f"only {len(self._declarations)} trucks were declared")
        self.engine.tick()
        passage = passage_for(self._declarations[self._next], f"bench-{self._next:06d}")
        self._next += 1
        return passage

    def clear(self, passage: VehiclePassage) -> GateAck:
        """Take one passage through decision, journal, controller and ack; record its times."""
        journal, link, engine = self.journal, self.link, self.engine
        journal.reset()
        link.reset()
        main_file = self._main_file_state()
        start = time.perf_counter_ns()
        published = engine.take_passage(passage)
        taken, decision_commit = time.perf_counter_ns(), journal.spent_ns
        acks = self._pump_until_acked()
        end = time.perf_counter_ns()
        ack = _accepted_open(passage, published, acks)
        total, take, ack_commit = end - start, taken - start, journal.spent_ns - decision_commit
        self.times.total.append(total)
        self.times.to_ack.append(link.acked_at_ns - start)
        self.times.decide.append(take - decision_commit)
        self.times.journal.append(journal.spent_ns)
        self.times.round_trip.append(link.deliver_ns)
        self.times.other.append(total - take - ack_commit - link.deliver_ns)
        self.times.checkpointed.append(self._main_file_state() != main_file)
        return ack

    def _pump_until_acked(self) -> list[Message]:
        """`pump` until the ack is journalled: as the service's loop does, through the engine's own retries if the
        controller missed the link's timeout (each retry waits for the engine's backoff)."""
        deadline = time.monotonic() + ACK_DEADLINE_S
        acks = self.engine.pump()
        while not acks and self.engine.pending() and time.monotonic() < deadline:
            time.sleep(0.001)
            acks = self.engine.pump()
        return acks

    def run(self, count: int) -> None:
        """Clear ``count`` passages, one after the other, and add their wall time."""
        started = time.perf_counter_ns()
        for _ in range(count):
            self.clear(self.next_passage())
        self._wall_ns += time.perf_counter_ns() - started

    def measured_by(self, started_ns: int) -> None:
        """Add the wall time since ``started_ns`` (for a caller that drives `clear` itself)."""
        self._wall_ns += time.perf_counter_ns() - started_ns

    def warm_up(self, count: int) -> None:
        """Clear ``count`` passages unmeasured: the CURVE session, SQLite's pages and Python's caches warm."""
        self.run(count)
        self.times = PassageTimes()
        self._wall_ns = 0
        self.gc_pauses.collections = self.gc_pauses.total_ns = self.gc_pauses.longest_ns = 0
        self.fsync_ns = fsync_probe(self.root)

    def summary(self) -> dict[str, Any]:
        """The figures of the measured passages, with a second fsync probe (the disk's load may have changed)."""
        summary = summarise(self.times, self.wall_s, self.gc_pauses, self.fsync_ns + fsync_probe(self.root))
        summary["link_timeouts"] = self.link.snapshot().get("timeouts", 0)  # answered on a retry
        return summary

    def close(self) -> None:
        if self.gc_pauses in gc.callbacks:
            gc.callbacks.remove(self.gc_pauses)
        self.engine.close()
        self.journal.close()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _main_file_state(self) -> tuple[int, int]:
        """In WAL mode only a checkpoint writes the main database file: its size and mtime tell one happened."""
        state = (self.root / JOURNAL_FILE).stat()
        return state.st_size, state.st_mtime_ns

    # --- setting up -----------------------------------------------------------------------------------------

    def _make_keys(self) -> Site:
        """CURVE keys for every component of the site; the site as the processes will load it."""
        if cli.main(["keys", "--site", str(self._site_file), "--dir", str(self._keys)]) != 0:
            raise LoadError("could not create the CURVE keys")
        return with_keys_dir(load_site(self._site_file, data_dir=self.root / "var"), self._keys)

    def _open_journal(self) -> TimedJournal:
        journal = TimedJournal.open(self.root / JOURNAL_FILE, autocheckpoint=False)  # as the service opens it
        if not isinstance(journal, TimedJournal):
            raise LoadError("Journal.open did not build the timed journal")
        return journal

    def _open_link(self, lane_id: str, last_seq: int) -> GateLink:
        security = client_security(self._site, CLEARANCE, gate_component(lane_id))
        self._link = TimedGateLink(lane_id, self._site.bus.endpoints.gate_links[lane_id], security,
                                   client_id=f"clearance-{lane_id}", last_seq=last_seq, config=LINK)
        return self._link

    def _start_controller(self) -> None:
        command = [sys.executable, "-m", "smartgate.cli", "gate-controller", "--lane", LANE, "--site",
                   str(self._site_file), "--keys", str(self._keys), "--heartbeat-s", str(HEARTBEAT_S),
                   "--travel-s", str(TRAVEL_S)]
        with self._controller_log.open("wb") as out:
            self._process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def _wait_for_controller(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.link.controller_alive:
            if self._process is not None and self._process.poll() is not None:
                raise LoadError(f"the gate controller exited: {self._controller_log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise LoadError(f"the gate controller did not answer within {START_TIMEOUT_S:.0f} s")
            self.engine.tick()
            time.sleep(0.02)


def _accepted_open(passage: VehiclePassage, published: list[Message], acks: list[Message]) -> GateAck:
    decisions = [m for m in published if isinstance(m, ClearanceDecision)]
    if len(decisions) != 1 or decisions[0].outcome != "OPEN":
        raise LoadError(f"passage {passage.passage_id} was not decided OPEN: {decisions}")
    if len(acks) != 1 or not isinstance(acks[0], GateAck) or not acks[0].accepted:
        raise LoadError(f"passage {passage.passage_id}: expected one accepted ack, got {acks}")
    return acks[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--warm-up", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as tmp, \
            ClearancePlant(Path(tmp), args.passages + args.warm_up) as plant:
        plant.warm_up(args.warm_up)
        plant.run(args.passages)
        print(json.dumps(plant.summary(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

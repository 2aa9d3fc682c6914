"""Load on the lane-state route: the real `api` service process (uvicorn, httptools, uvloop) on loopback, hit by a
load generator in a second process, N keep-alive connections each in a closed loop (send, read the whole answer,
send again) with a bearer token. Target (issue 8): 1,000 requests/s with p99 under 50 ms.

Why these parts: the figure is meant to be what a control room's screens see, so the server is the service as
deployed (one worker, every middleware: security headers, timing, rate limit (raised for the run: one client here
is the whole load), body limit; token lookup; the lane state's cached JSON), and the client is a separate process
speaking plain HTTP/1.1 over asyncio sockets, so its own cost stays small and off the server's event loop. The
journal holds a passage, a decision and an ack per lane, so the state served is a full one. The bus has no broker:
the API's subscriber waits, as it does between events.

Latency is from writing a request to having read its whole answer. The first second is warm-up, not counted.

``python -m benchmarks.api_load --connections 16 --duration 10`` runs it and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import yaml

from api.auth import Principal, UserStore
from bus.journal import Journal
from bus.messages import ClearanceDecision, GateAck, PlateRead, Reason, VehiclePassage
from smartgate.services.api import USERS_FILE
from smartgate.site import bundled_site_path, load_site
from smartgate.wiring import ensure_keys

REPO = Path(__file__).resolve().parents[1]
LANE = "in-1"
WARM_UP_S = 1.0
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the load generator (its own process) -----------------------------------------------------------------------


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def _connection(host: str, port: int, request: bytes, measure_from: float, until: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (now := time.perf_counter()) < until:
            started = time.perf_counter_ns()
            writer.write(request)
            status = await _read_answer(reader)
            if now >= measure_from:
                tally.latencies_ns.append(time.perf_counter_ns() - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if status != 200:
                    tally.errors += 1
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length body; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _generate(host: str, port: int, path: str, token: str, connections: int, duration_s: float) -> dict[str, Any]:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    tally = Tally()
    start = time.perf_counter()
    measure_from, until = start + WARM_UP_S, start + WARM_UP_S + duration_s
    await asyncio.gather(*(_connection(host, port, request, measure_from, until, tally) for _ in range(connections)))
    return summarise(tally, duration_s, connections)


def summarise(tally: Tally, duration_s: float, connections: int) -> dict[str, Any]:
    latencies_ms = np.asarray(tally.latencies_ns, dtype=np.float64) / 1e6
    done = int(latencies_ms.size)

    def pct(q: float) -> float:
        return round(float(np.percentile(latencies_ms, q)), 3) if done else float("nan")

    return {"connections": connections, "duration_s": duration_s, "requests": done,
            "requests_per_s": round(done / duration_s, 1), "errors": tally.errors,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "max_ms": round(float(latencies_ms.max()), 3) if done else float("nan")}


def _generator_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_load generate")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    token = sys.stdin.readline().strip()          # not on the command line, where `ps` shows it
    import uvloop

    result = uvloop.run(_generate("127.0.0.1", args.port, args.path, token, args.connections, args.duration))
    print(json.dumps(result))
    return 0


# --- the served API (the real service process) ------------------------------------------------------------------


class ApiPlant:
    """A site in a temporary folder, its journal filled, a user with a token, and the api service serving it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.site_file = self._write_site()
        self.site = load_site(self.site_file)
        self.token = ""
        self._process: subprocess.Popen[bytes] | None = None
        self.log_file = folder / "api.log"

    def __enter__(self) -> Self:
        ensure_keys(self.site)
        self._fill_journal()
        self.token = self._issue_token()
        with self.log_file.open("w") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "smartgate.services", "api", "--site", str(self.site_file),
                 "--environment", "production", "--rate-per-s", "1000000"],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_serving()
        return self

    def __exit__(self, *_exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def load(self, connections: int, duration_s: float, lane: str = LANE) -> dict[str, Any]:
        """Run the load generator process against the lane-state route; its summary."""
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.api_load", "generate", "--port", str(self.port),
             "--path", f"/api/v1/lanes/{lane}/state", "--connections", str(connections),
             "--duration", str(duration_s)],
            cwd=REPO, input=self.token + "\n", capture_output=True, text=True, timeout=duration_s + 120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def _write_site(self) -> Path:
        data = yaml.safe_load(bundled_site_path().read_text(encoding="utf-8"))
        endpoints = data["bus"]["endpoints"]
        for name in ("publish", "subscribe", "clearance", "planner"):
            endpoints[name] = f"tcp://127.0.0.1:{free_port()}"
        data["api"] = {"host": "127.0.0.1", "port": self.port}
        yard = data.get("yard") or {}
        for key in ("layout", "recording"):      # relative to the bundled site's folder, which this copy is not in
            if isinstance(yard.get(key), str) and not yard[key].startswith("bundled:"):
                yard[key] = str(bundled_site_path().parent / yard[key])
        data["data_dir"] = str(self.folder / "var")
        path = self.folder / "site.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def _fill_journal(self) -> None:
        now = time.time()
        with Journal.open(self.site.journal.url) as journal:
            for lane in self.site.lanes:
                passage = VehiclePassage(
                    passage_id=f"bench-{lane.id}", lane_id=lane.id, direction=lane.direction,
                    first_seen_utc=now - 6, last_seen_utc=now - 1,
                    plates=(PlateRead(text="29C12345", format="vn", role="tractor", confidence=0.97),))
                decision = ClearanceDecision(
                    decision_id=f"bench-d-{lane.id}", passage_id=passage.passage_id, lane_id=lane.id, outcome="OPEN",
                    reasons=(Reason(code="OK", en="Declaration matches", vi="Tờ khai khớp"),), confidence=0.95)
                ack = GateAck(command_id=f"bench-c-{lane.id}", lane_id=lane.id, seq=1, accepted=True, state="open")
                journal.append_many([passage, decision, ack])

    def _issue_token(self) -> str:
        store = UserStore(self.site.data_dir / USERS_FILE)
        try:
            store.add_user("bench", "bench-passphrase", "viewer")
            return store.issue_token(Principal("bench", "viewer", "token"), 3600.0)
        finally:
            store.close()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.exit_code is not None:
                raise RuntimeError(f"the api service exited: {self.log_file.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                    conn.sendall(b"GET /health/live HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                    if conn.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the api service did not start: {self.log_file.read_text()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["generate"]:
        return _generator_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_load", description=__doc__)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, ApiPlant(Path(tmp)) as plant:
        result = plant.load(args.connections, args.duration)
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The api service as a real process behind the real broker (CURVE): an admin made with ``--add-user`` logs in over
HTTP, default credentials are refused in production, the login's audit entry reaches the bus, SIGTERM stops it
cleanly; without its key pair it refuses to start."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from bus.messages import AuditEntry
from bus.transport import subscription
from smartgate import cli
from smartgate.site import load_site
from smartgate.wiring import event_subscriber
from tests.ports import free_port, loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def service(site_file: Path, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "smartgate.services", "api", "--site", str(site_file), "--data-dir", str(data_dir),
            *extra]


def loopback_site(tmp_path: Path, api_port: int) -> Path:
    def loopback(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))
        data["api"] = {"host": "127.0.0.1", "port": api_port}

    return write_site(tmp_path, loopback)


class AuditListener:
    def __init__(self, site: Any) -> None:
        self.heard: list[AuditEntry] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(site,), daemon=True)
        self._thread.start()

    def _listen(self, site: Any) -> None:
        with event_subscriber(site, "demo", [subscription(AuditEntry)]) as events:
            while not self._done.is_set():
                message = events.recv(0.05)
                if isinstance(message, AuditEntry):
                    self.heard.append(message)

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)


def test_api_process_serves_logins_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    site_file = loopback_site(tmp_path, port)
    data_dir = tmp_path / "var"
    site = load_site(site_file, data_dir=data_dir)

    no_keys = subprocess.run(service(site_file, data_dir), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert no_keys.returncode == 2
    assert "the API has no CURVE key pair" in no_keys.stderr

    assert cli.main(["keys", "--site", str(site_file), "--dir", str(site.bus.keys_dir)]) == 0
    added = subprocess.run(service(site_file, data_dir, "--add-user", "chief", "--role", "admin"), cwd=REPO,
                           input="a-real-passphrase\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert "user chief added with role admin" in added.stdout

    log_file = tmp_path / "api.log"
    broker = subprocess.Popen([sys.executable, "-m", "smartgate.services", "broker", "--site", str(site_file),
                               "--data-dir", str(data_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    listener = AuditListener(site)
    with log_file.open("w") as log:
        api = subprocess.Popen(service(site_file, data_dir, "--environment", "production"), cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5.0) as http:
            def up() -> bool:
                try:
                    return http.get("/health/ready").status_code == 200
                except httpx.TransportError:
                    return False
            assert wait_for(up, 60.0, poll_s=0.2), log_file.read_text()

            refused = http.post("/api/v1/auth/token", data={"username": "admin", "password": "smartgate-dev"})
            assert refused.status_code == 403                       # production: no default credentials
            login = http.post("/api/v1/auth/token", data={"username": "chief", "password": "a-real-passphrase"})
            assert login.status_code == 200, login.text
            assert login.headers["x-frame-options"] == "DENY"
            token = login.json()["access_token"]
            me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json() == {"name": "chief", "role": "admin", "scopes": ["admin", "operate", "read"]}
            assert http.get("/api/v1/auth/me").status_code == 401
            # the audit entries are published on the bus (resent logins until the subscription is up)
            assert wait_for(lambda: any(e.actor == "chief" and e.action == "login" for e in listener.heard), 20.0,
                            step=lambda: http.post("/api/v1/auth/token", data={"username": "chief",
                                                                               "password": "a-real-passphrase"}),
                            poll_s=0.5), log_file.read_text()
        api.send_signal(signal.SIGTERM)
        assert api.wait(timeout=30) == 0, log_file.read_text()
    finally:
        listener.close()
        for process in (api, broker):
            if process.poll() is None:
                process.terminate()
                process.wait(10)
    output = log_file.read_text()
    assert "api: serving http://127.0.0.1" in output
    assert "API stopped" in output
    assert "Traceback" not in output

"""A throw-away PostgreSQL server for tests: Debian's binaries, a temporary data folder, a free port on 127.0.0.1.

``start_server`` raises ``PgUnavailable`` with the exact reason when no server can run here (binaries missing,
running as root with no ``postgres`` user to run it as, initdb or start failing), so callers can skip and say why.
Set ``SMARTGATE_TEST_PG_URL`` to use an existing server instead (tests then create their databases on it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlalchemy as sa

ENV_URL = "SMARTGATE_TEST_PG_URL"
SUPERUSER = "smartgate"
_TIMEOUT_S = 60


class PgUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass
class PgServer:
    """A running server; ``admin_url`` reaches its maintenance database ``postgres``."""

    admin_url: str
    data_dir: Path | None = None
    bin_dir: Path | None = None
    run_as: list[str] = field(default_factory=list)
    databases: int = 0

    def create_database(self) -> str:
        """A new empty database on this server, as a SQLAlchemy URL for psycopg 3."""
        self.databases += 1
        name = f"journal_test_{os.getpid()}_{self.databases}"
        url = sa.make_url(self.admin_url)
        libpq_uri = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(libpq_uri, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.data_dir is None or self.bin_dir is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=_TIMEOUT_S, check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_server() -> PgServer:
    """Start a private server (or use ``SMARTGATE_TEST_PG_URL``); ``PgUnavailable`` says why it cannot."""
    if os.environ.get(ENV_URL):
        return PgServer(admin_url=os.environ[ENV_URL])
    bin_dir = find_bin_dir()
    run_as = _run_as()
    # The server's own user must reach the folder: under root, TMPDIR may sit in root's home, so use /tmp.
    root = Path(tempfile.mkdtemp(prefix="smartgate-pg-", dir="/tmp" if run_as and Path("/tmp").is_dir() else None))
    try:
        if run_as:
            user = pwd.getpwnam(run_as[2])
            os.chown(root, user.pw_uid, user.pw_gid)
        _run(run_as, [str(bin_dir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", SUPERUSER,
                      "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        port = _start(run_as, bin_dir, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PgServer(admin_url=f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres", data_dir=root / "data",
                    bin_dir=bin_dir, run_as=run_as)


def find_bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, or Debian's newest /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not candidates:
        raise PgUnavailable("PostgreSQL server binaries not found (no initdb on PATH or in "
                            "/usr/lib/postgresql/*/bin); install Debian's 'postgresql' package")
    return Path(candidates[-1]).parent


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PgUnavailable("running as root and there is no 'postgres' user to run the server as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PgUnavailable("running as root and 'runuser' is missing, so the server cannot run as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


def _start(run_as: list[str], bin_dir: Path, root: Path) -> int:
    """Start on a free port (retrying if another process takes it first) and return the port."""
    log = root / "server.log"
    for _attempt in range(3):
        port = _free_port()
        options = f"-h 127.0.0.1 -p {port} -k {root} -F -c full_page_writes=off"
        result = subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(root / "data"),
                                 "-l", str(log), "-o", options, "-w", "-t", "30", "start"],
                                capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
        if result.returncode == 0:
            return port
    tail = log.read_text(errors="replace")[-800:] if log.exists() else result.stderr[-800:]
    raise PgUnavailable(f"pg_ctl start failed (exit {result.returncode}): {tail.strip()}")


def _run(run_as: list[str], command: list[str], what: str) -> None:
    try:
        result = subprocess.run([*run_as, *command], capture_output=True, text=True, timeout=_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgUnavailable(f"{what} could not run: {exc}") from None
    if result.returncode != 0:
        raise PgUnavailable(f"{what} failed (exit {result.returncode}): {(result.stderr or result.stdout)[-800:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


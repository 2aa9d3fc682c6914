"""CurveZMQ keys and the security choice of every socket.

Every link of the gate is authenticated and encrypted with CurveZMQ unless the caller explicitly asks for
``Security.development()``: there is no default that silently falls back to plain TCP. Key files use the
ZeroMQ certificate format (``<name>.key`` public, ``<name>.key_secret`` secret), so ``zmq.auth`` and czmq tools
read them too. Servers accept only the client public keys found in an authorized directory.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

log = logging.getLogger(__name__)

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"  # noqa: S105 - a file suffix, not a secret
Z85_KEY_LENGTH = 40
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class SecurityError(ValueError):
    """A key file, key or security setting that cannot be used, with what was expected."""


@dataclass(frozen=True)
class Keypair:
    """A CURVE key pair, both keys Z85 text (40 characters). The secret never appears in a repr."""

    public: bytes
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_z85(self.public, "public key")
        _check_z85(self.secret, "secret key")


@dataclass(frozen=True)
class Security:
    """How a socket protects its link: CURVE (the normal case) or plain, for development only.

    A socket that binds is the CURVE server: it needs its own ``keypair`` and an ``authorized_dir`` of client
    public keys. A socket that connects is the CURVE client: it needs its own ``keypair`` and the
    ``server_public`` key of the peer it connects to.
    """

    mode: Literal["curve", "development"]
    keypair: Keypair | None = None
    server_public: bytes | None = None
    authorized_dir: Path | None = None

    @classmethod
    def curve(cls, keypair: Keypair, *, server_public: bytes | None = None,
              authorized_dir: Path | str | None = None) -> Security:
        """CURVE security; give ``server_public`` to connect, ``authorized_dir`` to bind."""
        if server_public is not None:
            _check_z85(server_public, "server public key")
        directory = None if authorized_dir is None else Path(authorized_dir)
        return cls("curve", keypair, server_public, directory)

    @classmethod
    def development(cls) -> Security:
        """Plain, unauthenticated, unencrypted links: only for a developer's machine and tests."""
        return cls("development")

    @property
    def is_curve(self) -> bool:
        return self.mode == "curve"

    def configure_server(self, socket: zmq.Socket[bytes]) -> None:
        """Make a binding socket a CURVE server (its context must run an authenticator)."""
        if not self.is_curve:
            return
        keypair = self._require_keypair()
        if self.authorized_dir is None:
            raise SecurityError("a CURVE server needs authorized_dir, the directory of client public keys")
        socket.curve_secretkey = keypair.secret
        socket.curve_publickey = keypair.public
        socket.curve_server = True

    def configure_client(self, socket: zmq.Socket[bytes]) -> None:
        """Make a connecting socket a CURVE client of the server whose public key it was given."""
        if not self.is_curve:
            return
        keypair = self._require_keypair()
        if self.server_public is None:
            raise SecurityError("a CURVE client needs server_public, the public key of the server")
        socket.curve_secretkey = keypair.secret
        socket.curve_publickey = keypair.public
        socket.curve_serverkey = self.server_public

    def _require_keypair(self) -> Keypair:
        if self.keypair is None:
            raise SecurityError("CURVE security needs the socket's own keypair")
        return self.keypair


def generate_keys(directory: Path | str, names: list[str] | tuple[str, ...], *,
                  overwrite: bool = False) -> list[Path]:
    """Write ``<name>.key`` and ``<name>.key_secret`` for each name; returns the public key paths.

    Secret files are created with mode 0600 from the start (no window where they are readable by others).
    Existing keys are kept unless ``overwrite``: replacing a key silently would lock its peers out.
    """
    target = Path(directory)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name in names:
        if not _NAME.match(name):
            raise SecurityError(f"key name must match {_NAME.pattern}, got {name!r}")
        public, secret = zmq.curve_keypair()
        public_path = target / f"{name}{PUBLIC_SUFFIX}"
        _write_certificate(target / f"{name}{SECRET_SUFFIX}", public, secret, 0o600, overwrite)
        _write_certificate(public_path, public, None, 0o644, overwrite)
        written.append(public_path)
    return written


def missing_keypairs(directory: Path | str, names: list[str] | tuple[str, ...]) -> list[str]:
    """The names in ``names`` that lack a public or a secret key file in ``directory``."""
    root = Path(directory)
    return [n for n in names
            if not ((root / f"{n}{PUBLIC_SUFFIX}").is_file() and (root / f"{n}{SECRET_SUFFIX}").is_file())]


def load_keypair(directory: Path | str, name: str) -> Keypair:
    """Read ``<name>.key_secret``; refuses a secret file that others can read, as ssh does."""
    path = Path(directory) / f"{name}{SECRET_SUFFIX}"
    _check_private(path)
    public, secret = _load(path)
    if secret is None:
        raise SecurityError(f"{path} holds no secret-key")
    return Keypair(public, secret)


def load_public(directory: Path | str, name: str) -> bytes:
    """Read the public key in ``<name>.key``."""
    public, _ = _load(Path(directory) / f"{name}{PUBLIC_SUFFIX}")
    return public


def authorized_keys(directory: Path | str) -> set[bytes]:
    """The public keys a server accepts: those of every ``*.key`` file in ``directory``."""
    path = Path(directory)
    if not path.is_dir():
        raise SecurityError(f"authorized key directory {path} does not exist")
    return {_load(key_file)[0] for key_file in sorted(path.glob(f"*{PUBLIC_SUFFIX}"))}


def start_authenticator(context: zmq.Context[zmq.Socket[bytes]], authorized_dir: Path) -> ThreadAuthenticator:
    """Run a ZAP handler in ``context`` that accepts only the client keys in ``authorized_dir``.

    One handler serves one context, so each binding wrapper owns its context.
    """
    keys = authorized_keys(authorized_dir)
    if not keys:
        log.warning("no client keys in %s: every CURVE client will be refused", authorized_dir)
    authenticator = ThreadAuthenticator(context, log=logging.getLogger("bus.curve.zap"))
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(authorized_dir))
    return authenticator


def _write_certificate(path: Path, public: bytes, secret: bytes | None, mode: int, overwrite: bool) -> None:
    if path.exists():
        if not overwrite:
            raise SecurityError(f"{path} exists; pass overwrite=True to replace it")
        path.unlink()
    kind = "Secret" if secret is not None else "Public"
    lines = [f"#   ZeroMQ CURVE {kind} Certificate, written by SmartGate at {datetime.now(UTC).isoformat()}",
             "metadata", "curve", f'    public-key = "{public.decode()}"']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")


def _load(path: Path) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise SecurityError(f"key file {path} does not exist")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except ValueError as exc:
        raise SecurityError(f"{path}: {exc}") from None
    _check_z85(public, f"public key in {path}")
    if secret is not None:
        _check_z85(secret, f"secret key in {path}")
    return public, secret


def _check_private(path: Path) -> None:
    if not path.is_file():
        raise SecurityError(f"key file {path} does not exist")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise SecurityError(f"secret key file {path} is readable by others; chmod 600 it")


def _check_z85(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != Z85_KEY_LENGTH:
        raise SecurityError(f"{what} must be {Z85_KEY_LENGTH} bytes of Z85 text, got {key!r:.60}")
    try:
        z85.decode(key)
    except (ValueError, KeyError):
        raise SecurityError(f"{what} is not valid Z85 text") from None

"""Who may do what: roles and scopes, scrypt password hashes, bearer tokens and API keys in a SQLite file.

Secrets are never stored: a password as a salted scrypt hash, a token or an API key as its SHA-256 (they are
random 256-bit strings, so a fast hash is enough). Tokens and keys carry an expiry in UTC seconds, since they
outlive a restart. The store is shared by the server's threads (one connection behind a lock); verified tokens
are remembered for a few seconds so the hot read routes do not query SQLite on every request.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from api.context import context_of
from api.settings import DEV_PASSWORD

Role = Literal["viewer", "operator", "admin"]
Via = Literal["token", "api-key"]
ROLES: tuple[Role, ...] = get_args(Role)
SCOPES: dict[Role, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset({"read", "operate", "admin"}),
}
ALL_SCOPES = frozenset().union(*SCOPES.values())
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
API_KEY_HEADER = "X-API-Key"
API_KEY_PREFIX = "sgk_"
DEFAULT_KEY_TTL_S = 365 * 24 * 3600.0
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
MAX_SECRET_CHARS = 256
CACHE_S = 5.0                  # a revocation by another process takes effect within this long
CACHE_MAX = 4096
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 2**14, 8, 1, 32
_STATE_KEY = "principal"       # request.state attribute where the rate limiter leaves who it identified

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
                                  created_utc REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
                                   expires_utc REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_by_name ON tokens (name);
CREATE TABLE IF NOT EXISTS api_keys (name TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                                     created_utc REAL NOT NULL, expires_utc REAL NOT NULL);
"""


class AuthError(HTTPException):
    """401 or 403 raised by `require`: its own class so the app can audit a refused write in one place."""


class UserStoreError(ValueError):
    """A refused change to users or keys (bad name, weak password, duplicate); ``str()`` says which."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (via a token) or an API key (its name), and the role that grants the scopes."""

    name: str
    role: Role
    via: Via

    @property
    def scopes(self) -> frozenset[str]:
        return SCOPES[self.role]


# --- hashing ----------------------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), with a fresh 16-byte salt: the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed stored hash matches nothing."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        digest = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def secret_digest(secret: str) -> str:
    """SHA-256 of a token or key: what the store keeps instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = _SCRYPT_LEN) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          maxmem=64 * 1024 * 1024, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown names, so the answer's timing does not reveal which names exist."""
    return hash_password(secrets.token_urlsafe(16))


# --- the store --------------------------------------------------------------------------------------------------


class UserStore:
    """Users, tokens and API keys in one SQLite file (created if missing)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float, float]] = {}  # digest -> (who, expires_utc, checked_mono)

    # users

    def add_user(self, name: str, password: str, role: Role, *, allow_default: bool = False) -> None:
        """Create a user; the development password is refused unless ``allow_default`` (development seeding)."""
        _check_name(name)
        _check_role(role)
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise UserStoreError(f"a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
        if password == DEV_PASSWORD and not allow_default:
            raise UserStoreError("the development password is refused outside development")
        hashed = hash_password(password)
        with self._lock:
            try:
                self._db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (name, role, hashed, self._clock()))
            except sqlite3.IntegrityError:
                raise UserStoreError(f"user {name!r} exists") from None

    def has_user(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None

    def remove_user(self, name: str) -> bool:
        """Delete a user and every token issued to them; False if there was none."""
        with self._lock:
            removed = self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0
            self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))
            self._forget(lambda p: p.name == name and p.via == "token")
        return removed

    def verify(self, name: str, password: str) -> Principal | None:
        """The user if the password matches; as slow for an unknown name as for a wrong password."""
        if len(password) > MAX_PASSWORD_CHARS:
            return None
        with self._lock:
            row = self._db.execute("SELECT role, password FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            check_password(password, _dummy_hash())
            return None
        if not check_password(password, row[1]) or row[0] not in SCOPES:
            return None
        return Principal(name=name, role=row[0], via="token")

    def list_users(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, created_utc FROM users ORDER BY name").fetchall()
        return [{"name": n, "role": r, "created_utc": c} for n, r, c in rows]

    # tokens

    def issue_token(self, p: Principal, ttl_s: float) -> str:
        if not ttl_s > 0:
            raise UserStoreError("a token's lifetime must be positive")
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE expires_utc <= ?", (now,))
            self._db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (secret_digest(token), p.name, p.role,
                                                                      now + ttl_s))
        return token

    def principal_for_token(self, token: str) -> Principal | None:
        return self._lookup(token, "SELECT name, role, expires_utc FROM tokens WHERE digest = ?", "token")

    def revoke_token(self, token: str) -> None:
        digest = secret_digest(token)
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE digest = ?", (digest,))
            self._cache.pop(digest, None)

    # API keys

    def add_api_key(self, name: str, role: Role, *, ttl_s: float = DEFAULT_KEY_TTL_S) -> str:
        """A new key for a machine client, returned once (only its digest is kept)."""
        _check_name(name)
        _check_role(role)
        if not ttl_s > 0:
            raise UserStoreError("a key's lifetime must be positive")
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            try:
                self._db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)",
                                 (name, secret_digest(key), role, now, now + ttl_s))
            except sqlite3.IntegrityError:
                raise UserStoreError(f"API key {name!r} exists; revoke it first") from None
        return key

    def principal_for_key(self, key: str) -> Principal | None:
        return self._lookup(key, "SELECT name, role, expires_utc FROM api_keys WHERE digest = ?", "api-key")

    def revoke_key(self, name: str) -> bool:
        with self._lock:
            removed = self._db.execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount > 0
            self._forget(lambda p: p.name == name and p.via == "api-key")
        return removed

    def list_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, created_utc, expires_utc FROM api_keys ORDER BY name")
            return [{"name": n, "role": r, "created_utc": c, "expires_utc": e} for n, r, c, e in rows.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _lookup(self, secret: str, query: str, via: Via) -> Principal | None:
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return None
        digest, now, mono = secret_digest(secret), self._clock(), time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None and cached[1] > now and mono - cached[2] < CACHE_S:
                return cached[0]
            row = self._db.execute(query, (digest,)).fetchone()
            if row is None or row[2] <= now or row[1] not in SCOPES:
                self._cache.pop(digest, None)
                return None
            principal = Principal(name=row[0], role=row[1], via=via)
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (principal, row[2], mono)
            return principal

    def _forget(self, which: Callable[[Principal], bool]) -> None:
        for digest in [d for d, (p, _e, _c) in self._cache.items() if which(p)]:
            del self._cache[digest]


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserStoreError("a name is 1 to 64 letters, digits, '_', '.', '@' or '-', starting with a letter or "
                             "digit")


def _check_role(role: str) -> None:
    if role not in SCOPES:
        raise UserStoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")


# --- the FastAPI dependency -------------------------------------------------------------------------------------

bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False,
                                     scopes={"read": "see lanes, passages, yard, KPIs",
                                             "operate": "override decisions, submit and cancel declarations",
                                             "admin": "manage users and API keys"})
api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


def identify(users: UserStore, token: str | None, key: str | None) -> Principal | None:
    """Who the credentials name: a bearer token decides when given, else the API key; None if neither is valid."""
    if token:
        return users.principal_for_token(token)
    if key:
        return users.principal_for_key(key)
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def remember_principal(request_state: dict[str, Any], principal: Principal | None) -> None:
    """Leave who a middleware identified for `require`, so one request looks its credentials up once."""
    request_state[_STATE_KEY] = principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller, or 401 (no valid credentials) / 403 (a role without ``scope``)."""
    if scope not in ALL_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; known: {sorted(ALL_SCOPES)}")

    async def caller(request: Request, token: Annotated[str | None, Depends(bearer_scheme)],
                     key: Annotated[str | None, Depends(api_key_scheme)]) -> Principal:
        principal = _known_principal(request, token, key)
        if principal is None:
            raise AuthError(status.HTTP_401_UNAUTHORIZED, "not authenticated: send a valid bearer token or API key",
                            headers={"WWW-Authenticate": "Bearer"})
        if scope not in principal.scopes:
            raise AuthError(status.HTTP_403_FORBIDDEN, f"the {principal.role} role lacks the {scope!r} scope")
        return principal

    caller.__name__ = f"require_{scope}"
    return caller


def _known_principal(request: Request, token: str | None, key: str | None) -> Principal | None:
    state = request.scope.get("state")
    if isinstance(state, dict) and _STATE_KEY in state:
        found: Principal | None = state[_STATE_KEY]
        return found
    return identify(context_of(request).users, token, key)


def requester(request: Request) -> Principal | None:
    """Who the rate limiter identified for this request; None when anonymous or not looked up."""
    state = request.scope.get("state")
    found = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return found if isinstance(found, Principal) else None

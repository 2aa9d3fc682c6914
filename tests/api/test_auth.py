"""Authentication and roles: scrypt hashes, hashed tokens and keys with expiry, 401/403 by role, default
credentials refused outside development, the admin's user and key routes."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import (
    SCOPES,
    Principal,
    UserStore,
    UserStoreError,
    bearer_token,
    check_password,
    hash_password,
    secret_digest,
)
from api.settings import DEV_PASSWORD, ApiSettings
from tests.api.conftest import ClientFactory, login


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- hashing and the store --------------------------------------------------------------------------------------


def test_password_hash_is_salted_scrypt_and_checks() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$16384$8$1$")
    assert first != second                                    # a fresh salt each time
    assert check_password("correct horse", first)
    assert not check_password("correct hors", first)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3", "scrypt$x$8$1$AAAA$AAAA", "bcrypt$1$1$1$AA$AA",
                                    "scrypt$3$8$1$AAAA$AAAA"])
def test_a_malformed_stored_hash_matches_nothing(stored: str) -> None:
    assert not check_password("anything", stored)


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"), ("bearer abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None), ("", None)])
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_store_keeps_only_hashes(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add_user("ana", "s3cret-pass", "operator")
    who = store.verify("ana", "s3cret-pass")
    assert who == Principal("ana", "operator", "token")
    token = store.issue_token(who, 60.0)
    key = store.add_api_key("scanner", "viewer")
    store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "users.sqlite").iterdump())
    for secret in ("s3cret-pass", token, key):
        assert secret not in dump
    assert secret_digest(token) in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump


def test_verify_refuses_wrong_password_and_unknown_user(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add_user("ana", "s3cret-pass", "viewer")
    assert store.verify("ana", "wrong-pass") is None
    assert store.verify("bob", "s3cret-pass") is None
    assert store.verify("ana", "x" * 5000) is None


@pytest.mark.parametrize(("name", "password", "role", "problem"), [
    ("ana", "short", "viewer", "8 to 1024"),
    ("", "long-enough", "viewer", "a name is"),
    ("a b", "long-enough", "viewer", "a name is"),
    ("ana", "long-enough", "root", "role must be"),
    ("ana", DEV_PASSWORD, "admin", "development password"),
])
def test_add_user_refuses_bad_input(tmp_path: Path, name: str, password: str, role: str, problem: str) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    with pytest.raises(UserStoreError, match=problem):
        store.add_user(name, password, role)  # type: ignore[arg-type]


def test_duplicate_user_and_key_are_refused(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add_user("ana", "long-enough", "viewer")
    with pytest.raises(UserStoreError, match="exists"):
        store.add_user("ana", "other-password", "admin")
    store.add_api_key("k", "viewer")
    with pytest.raises(UserStoreError, match="revoke it first"):
        store.add_api_key("k", "admin")


def test_tokens_expire_and_revoke(tmp_path: Path) -> None:
    clock = Clock()
    store = UserStore(tmp_path / "users.sqlite", clock=clock)
    who = Principal("ana", "operator", "token")
    token = store.issue_token(who, 100.0)
    assert store.principal_for_token(token) == who
    clock.now += 99.0
    assert store.principal_for_token(token) == who
    clock.now += 1.0
    assert store.principal_for_token(token) is None              # expired, cached or not
    fresh = store.issue_token(who, 100.0)
    store.revoke_token(fresh)
    assert store.principal_for_token(fresh) is None
    assert store.principal_for_token("not-a-token") is None
    assert store.principal_for_token("x" * 10_000) is None


def test_api_keys_expire_and_revoke(tmp_path: Path) -> None:
    clock = Clock()
    store = UserStore(tmp_path / "users.sqlite", clock=clock)
    key = store.add_api_key("scanner", "viewer", ttl_s=50.0)
    assert key.startswith("sgk_")
    assert store.principal_for_key(key) == Principal("scanner", "viewer", "api-key")
    assert [k["name"] for k in store.list_keys()] == ["scanner"]
    clock.now += 50.0
    assert store.principal_for_key(key) is None
    other = store.add_api_key("board", "operator")
    assert store.revoke_key("board")
    assert store.principal_for_key(other) is None
    assert not store.revoke_key("board")


def test_removing_a_user_revokes_their_tokens(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.sqlite")
    store.add_user("ana", "long-enough", "operator")
    token = store.issue_token(Principal("ana", "operator", "token"), 60.0)
    assert store.principal_for_token(token) is not None
    assert store.remove_user("ana")
    assert store.principal_for_token(token) is None
    assert not store.remove_user("ana")


# --- over HTTP --------------------------------------------------------------------------------------------------

ROUTES = [("GET", "/api/v1/auth/me", "read"), ("GET", "/metrics", "read"), ("GET", "/api/v1/admin/users", "admin"),
          ("GET", "/api/v1/admin/keys", "admin")]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_roles_get_their_scopes_and_403_otherwise(make_client: ClientFactory, method: str, path: str, scope: str,
                                                  role: str) -> None:
    client = make_client(role)
    answer = client.request(method, path)
    allowed = scope in SCOPES[role]  # type: ignore[index]
    assert answer.status_code == (200 if allowed else 403), answer.text
    if not allowed:
        assert f"lacks the {scope!r} scope" in answer.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"},
                                     {"X-API-Key": "sgk_nope"}, {"Authorization": "Bearer " + "x" * 5000}])
def test_missing_or_invalid_credentials_get_401(make_client: ClientFactory, headers: dict[str, str]) -> None:
    client = make_client(None)
    answer = client.get("/api/v1/auth/me", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_me_and_logout(make_client: ClientFactory) -> None:
    client = make_client("operator")
    assert client.get("/api/v1/auth/me").json() == {"name": "operator", "role": "operator",
                                                    "scopes": ["operate", "read"]}
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401      # the token is revoked


def test_expired_token_gets_401(make_client: ClientFactory, make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client("viewer", make_settings(token_ttl_s=0.3))
    assert client.get("/api/v1/auth/me").status_code == 200
    time.sleep(0.4)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_gets_401(make_client: ClientFactory) -> None:
    client = make_client(None)
    answer = client.post("/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"})
    assert answer.status_code == 401
    answer = client.post("/api/v1/auth/token", data={"username": "nobody", "password": DEV_PASSWORD})
    assert answer.status_code == 401


def test_default_credentials_are_refused_in_production(make_client: ClientFactory,
                                                       make_settings: Callable[..., ApiSettings]) -> None:
    production = make_settings(environment="production")
    client = make_client(None, production)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    assert ctx.users.list_users() == []                           # nothing seeded
    ctx.users.add_user("admin", DEV_PASSWORD, "admin", allow_default=True)   # as if left from development
    answer = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEV_PASSWORD})
    assert answer.status_code == 403
    assert answer.json()["detail"] == "default credentials are refused outside development"
    ctx.users.add_user("chief", "a-real-passphrase", "admin")
    assert client.post("/api/v1/auth/token", data={"username": "chief", "password": "a-real-passphrase"}
                       ).status_code == 200


def test_development_seeds_the_three_roles(make_client: ClientFactory) -> None:
    client = make_client("admin")
    users = client.get("/api/v1/admin/users").json()
    assert {(u["name"], u["role"]) for u in users} == {("admin", "admin"), ("operator", "operator"),
                                                       ("viewer", "viewer")}


def test_admin_manages_users_and_keys(make_client: ClientFactory) -> None:
    admin = make_client("admin")
    created = admin.post("/api/v1/admin/users", json={"name": "duty-1", "password": "night-shift-7",
                                                      "role": "operator"})
    assert created.status_code == 201
    assert created.json()["role"] == "operator"
    assert admin.post("/api/v1/admin/users", json={"name": "duty-1", "password": "night-shift-7",
                                                   "role": "viewer"}).status_code == 409
    assert admin.post("/api/v1/admin/users", json={"name": "weak", "password": "short",
                                                   "role": "viewer"}).status_code == 422
    token = login(admin, "duty-1", "night-shift-7")
    assert admin.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "duty-1"

    key = admin.post("/api/v1/admin/keys", json={"name": "kpi-board", "role": "viewer", "ttl_days": 30})
    assert key.status_code == 201
    secret = key.json()["key"]
    anonymous = TestClient(admin.app)
    me = anonymous.get("/api/v1/auth/me", headers={"X-API-Key": secret})
    assert me.json() == {"name": "kpi-board", "role": "viewer", "scopes": ["read"]}
    assert anonymous.get("/api/v1/admin/keys", headers={"X-API-Key": secret}).status_code == 403
    assert [k["name"] for k in admin.get("/api/v1/admin/keys").json()] == ["kpi-board"]
    assert "key" not in admin.get("/api/v1/admin/keys").json()[0]
    assert admin.delete("/api/v1/admin/keys/kpi-board").status_code == 204
    assert anonymous.get("/api/v1/auth/me", headers={"X-API-Key": secret}).status_code == 401
    assert admin.delete("/api/v1/admin/keys/kpi-board").status_code == 404

    assert admin.delete("/api/v1/admin/users/duty-1").status_code == 204
    assert admin.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert admin.delete("/api/v1/admin/users/admin").status_code == 409     # not yourself


def test_logins_are_throttled_per_address(make_client: ClientFactory) -> None:
    client = make_client(None)
    codes = [client.post("/api/v1/auth/token", data={"username": "x", "password": "wrong-password"}).status_code
             for _ in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[-1] == 429

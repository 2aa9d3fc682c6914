"""Shared fixtures for the API tests: a journal file, settings in development, and logged-in clients per role.

``make_settings(**changes)`` gives ApiSettings (development, lanes in-1 and out-1) on files under ``tmp_path``;
``make_client(role, settings=None, **create_app_kwargs)`` gives a started TestClient (lifespan run) whose requests
carry a bearer token of the development user of that role (``role=None``: no credentials). Clients are closed at
the end of the test. ``served(app)`` runs an app under uvicorn on a free loopback port, for tests that need a
real socket (chunked bodies, WebSockets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import DEV_PASSWORD, ApiSettings, LaneInfo
from tests.ports import free_port
from tests.waiting import wait_for

LANES = (LaneInfo(id="in-1", direction="in", description="gate-in"),
         LaneInfo(id="out-1", direction="out", description="gate-out"))


class ClientFactory(Protocol):
    def __call__(self, role: str | None = ..., settings: ApiSettings | None = ..., **kwargs: Any) -> TestClient: ...


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def make_settings(tmp_path: Path, journal_path: Path) -> Callable[..., ApiSettings]:
    def make(**changes: Any) -> ApiSettings:
        base: dict[str, Any] = {"journal_url": f"sqlite:///{journal_path}", "users_path": tmp_path / "users.sqlite",
                                "data_dir": tmp_path / "data", "lanes": LANES, "environment": "development"}
        return ApiSettings(**{**base, **changes})

    return make


def login(client: TestClient, name: str, password: str = DEV_PASSWORD) -> str:
    """A bearer token for ``name`` (fails the test if the login is refused)."""
    answer = client.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture
def make_client(make_settings: Callable[..., ApiSettings]) -> Iterator[ClientFactory]:
    opened: list[TestClient] = []

    def make(role: str | None = "operator", settings: ApiSettings | None = None, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(settings or make_settings(), **kwargs))
        client.__enter__()
        opened.append(client)
        if role is not None:
            client.headers["Authorization"] = f"Bearer {login(client, role)}"
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn (httptools) on loopback in a thread; yields the base URL, stops on exit."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools", lifespan="on",
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        if not wait_for(lambda: server.started or not thread.is_alive(), 30.0):
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)

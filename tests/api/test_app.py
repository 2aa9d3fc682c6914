"""The app factory and its lifespan, which routes are public, security headers, CORS, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from tests.api.conftest import ClientFactory
from tests.api.test_health_metrics import QueueSource

PUBLIC = {("POST", "/api/v1/auth/token"), ("GET", "/health/live"), ("GET", "/health/ready"),
          ("GET", "/api/openapi.json"), ("GET", "/api/docs")}


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_creating_the_app_does_no_io(tmp_path: Path, make_settings: Callable[..., ApiSettings]) -> None:
    settings = make_settings(journal_url=f"sqlite:///{tmp_path}/new/journal.sqlite",
                             users_path=tmp_path / "new" / "users.sqlite")
    create_app(settings, source=QueueSource())
    assert files_under(tmp_path) == []


def test_the_lifespan_opens_then_closes(tmp_path: Path, make_settings: Callable[..., ApiSettings],
                                        journal_path: Path) -> None:
    source = QueueSource()
    app = create_app(make_settings(), source=source)
    with TestClient(app) as client:
        ctx = app.state.ctx
        assert ctx is not None
        assert ctx.bus is not None
        assert journal_path.is_file()
        assert (tmp_path / "users.sqlite").is_file()
        assert client.get("/health/live").status_code == 200
        assert not source.closed
    assert app.state.ctx is None
    assert source.closed                                          # the bus link stopped and closed its source
    assert client.get("/api/v1/auth/me").status_code == 503       # no context: starting or stopping


def test_every_api_route_needs_credentials_except_the_public_ones(make_client: ClientFactory) -> None:
    client = make_client(None)
    schema = client.get("/api/openapi.json").json()
    checked = 0
    for route, operations in schema["paths"].items():
        for method in operations:
            if (method.upper(), route) in PUBLIC:
                continue
            answer = client.request(method.upper(), re.sub(r"{[^}]+}", "x1", route))
            assert answer.status_code == 401, (method, route, answer.status_code)
            checked += 1
    assert checked >= 8


def test_the_openapi_schema_declares_security_on_protected_operations(make_client: ClientFactory) -> None:
    schema = make_client(None).get("/api/openapi.json").json()
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) not in PUBLIC:
                assert operation.get("security"), (method, path)


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/health/live", "/", "/no-such-file"])
def test_security_headers_on_every_answer(make_client: ClientFactory, path: str) -> None:
    answer = make_client(None).get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp
    assert "http" not in csp


def test_the_page_is_served_without_credentials(make_client: ClientFactory) -> None:
    answer = make_client(None).get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")


def test_cors_is_closed_by_default(make_client: ClientFactory) -> None:
    client = make_client(None)
    preflight = client.options("/api/v1/auth/me", headers={"Origin": "http://evil.example",
                                                           "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/health/live", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_opens_only_to_configured_origins(make_client: ClientFactory,
                                               make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client(None, make_settings(cors_origins=("http://screens.example",)))
    ok = client.options("/api/v1/auth/me", headers={"Origin": "http://screens.example",
                                                    "Access-Control-Request-Method": "GET",
                                                    "Access-Control-Request-Headers": "Authorization"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://screens.example"
    other = client.get("/health/live", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_refuses_a_wildcard(make_settings: Callable[..., ApiSettings]) -> None:
    with pytest.raises(ValueError, match="would open the API"):
        make_settings(cors_origins=("*",))


def test_an_unhandled_error_is_a_plain_500_with_headers(make_settings: Callable[..., ApiSettings]) -> None:
    app = create_app(make_settings())

    async def boom() -> None:
        raise RuntimeError("secret detail")

    app.router.routes.insert(0, APIRoute("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
        assert answer.status_code == 500
        assert answer.json() == {"detail": "internal error"}
        assert answer.headers["x-frame-options"] == "DENY"
        metrics = app.state.metrics.render()[0].decode()
        assert 'route="/boom",status="500"' in metrics


@pytest.mark.parametrize(("change", "problem"), [({"rate_per_s": 0}, "rate_per_s"), ({"max_body_bytes": -1},
                                                 "max_body_bytes"), ({"environment": "staging"}, "environment")])
def test_settings_refuse_nonsense(make_settings: Callable[..., ApiSettings], change: dict[str, object],
                                  problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make_settings(**change)


def test_the_docs_page_is_served_from_the_packaged_copy(make_client: ClientFactory) -> None:
    """The site may be offline: Swagger UI's script and style come from this server, never from a CDN."""
    with make_client(None) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert "/api/docs-assets/swagger-ui-bundle.js" in page.text
        assert "'unsafe-inline'" in page.headers["content-security-policy"]
        script = client.get("/api/docs-assets/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert len(script.content) > 100_000
        assert "'unsafe-inline'" not in client.get("/").headers["content-security-policy"]

"""Request-size limit (413, declared or chunked) and rate limit (429 + Retry-After) per client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.app import create_app
from api.limits import BodyLimitMiddleware, TokenBuckets
from api.settings import ApiSettings
from tests.api.conftest import ClientFactory, login, served


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- token buckets ----------------------------------------------------------------------------------------------


def test_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)               # one token takes 1/rate
    assert buckets.take("b") == 0.0                              # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 100.0
    assert [buckets.take("a") for _ in range(4)][-1] > 0.0       # refilled to the burst, not beyond


def test_bucket_forgets_the_least_recent_clients_beyond_its_bound() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=2, clock=Clock())
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("c") > 0.0
    assert buckets.take("a") == 0.0                              # "a" was forgotten: a full bucket again


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bucket_refuses_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="need rate"):
        TokenBuckets(rate, burst)


# --- body size --------------------------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_gets_413(make_client: ClientFactory,
                                                 make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client("admin", make_settings(max_body_bytes=1024))
    answer = client.post("/api/v1/admin/users", content=b"{" + b" " * 2000 + b"}",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body larger than 1024 bytes"}
    ok = client.post("/api/v1/admin/users", json={"name": "fits", "password": "long-enough", "role": "viewer"})
    assert ok.status_code == 201


def raw_exchange(base_url: str, request: bytes) -> bytes:
    """Send raw bytes over a fresh connection and return the whole answer (the server closes or we time out)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def chunked(path: str, body: bytes, chunk: int, headers: str = "") -> bytes:
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)]
    encoded = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n{headers}"
            "Connection: close\r\n\r\n").encode() + encoded


def test_a_chunked_body_is_cut_at_the_limit_over_a_real_socket(make_settings: Callable[..., ApiSettings]) -> None:
    app = create_app(make_settings(max_body_bytes=1000))
    form = b"username=admin&password=wrong-password"
    with served(app) as url:
        big = raw_exchange(url, chunked("/api/v1/auth/token", b"a=" + b"x" * 5000, 100,
                                        "Content-Type: application/x-www-form-urlencoded\r\n"))
        small = raw_exchange(url, chunked("/api/v1/auth/token", form, 7,
                                          "Content-Type: application/x-www-form-urlencoded\r\n"))
    assert big.startswith(b"HTTP/1.1 413 ")
    assert b"request body larger than 1000 bytes" in big
    assert small.startswith(b"HTTP/1.1 401 "), small            # the chunks were joined and the form parsed


@pytest.mark.parametrize(("length", "status"), [(b"abc", 400), (b"-1", 400), (b"999999", 413)])
def test_a_malformed_or_large_content_length_is_refused_before_reading(length: bytes, status: int) -> None:
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []
    refused: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    middleware = BodyLimitMiddleware(app, max_bytes=100, on_refused=refused.append)
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", length)]}
    asyncio.run(middleware(scope, receive, send))
    assert not reached
    assert sent[0]["status"] == status
    assert refused == ["bad_length" if status == 400 else "body_declared"]


# --- rate -------------------------------------------------------------------------------------------------------


def test_over_the_rate_gets_429_with_retry_after(make_client: ClientFactory,
                                                 make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client("viewer", make_settings(rate_per_s=0.1, rate_burst=5))
    codes = [client.get("/api/v1/auth/me").status_code for _ in range(5)]
    assert codes == [200] * 5                                    # the token's own bucket (the login used the address's)
    refused = client.get("/api/v1/auth/me")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] in ("9", "10")         # 1 token at 0.1/s, less what refilled meanwhile
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert client.get("/health/live").status_code == 200        # probes are never limited
    assert client.get("/health/ready").status_code == 200
    metrics = client.app.state.metrics.render()[0].decode()    # type: ignore[attr-defined]
    assert 'smartgate_http_refused_total{reason="rate"}' in metrics


def test_each_credential_has_its_own_bucket_and_bad_ones_share_the_address(
        make_client: ClientFactory, make_settings: Callable[..., ApiSettings]) -> None:
    client = make_client(None, make_settings(rate_per_s=0.1, rate_burst=3))
    viewer, admin = login(client, "viewer"), login(client, "admin")        # 2 of the address's 3 tokens
    for token in (viewer, admin):
        codes = [client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
    bogus = [client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer fake-{i}"}).status_code
             for i in range(3)]
    assert bogus == [401, 429, 429]                              # random tokens buy no fresh buckets

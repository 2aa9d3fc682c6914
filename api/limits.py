"""Request-size and request-rate limits, as plain ASGI middlewares (no per-request task or thread).

Size: the body is read up to the limit before the application sees it, so a chunked upload without a
Content-Length is cut off at the limit exactly like one that declares its size (413 either way); a declared size
over the limit is refused without reading. The application then receives the body in one piece.

Rate: a token bucket per client: the credential's owner when the request carries a valid token or API key, else
the client address (so random credentials do not buy fresh buckets). Over the limit: 429 with Retry-After.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import API_KEY_HEADER, Principal, bearer_token, identify, remember_principal

MAX_CLIENTS = 10_000
_KEY_HEADER = API_KEY_HEADER.lower().encode()


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` banked. Least recently seen clients are
    forgotten beyond ``max_clients`` (they come back with a full bucket)."""

    def __init__(self, rate: float, burst: float, *, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0 or not burst >= 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got rate={rate!r} burst={burst!r}")
        self.rate, self.burst = rate, float(burst)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 if a request may go now (its token taken), else the seconds until one would be available."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return wait


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A complete JSON response from a middleware (before the application has answered)."""
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), decoded as Latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, on_refused: Callable[[str], None] = lambda _r: None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send, "body_declared" if declared.isdigit() else "bad_length")
            return
        first = await self._read_body(receive)
        if first is None:
            await self._refuse(send, "body_streamed")
            return
        await self.app(scope, _replay(first, receive), send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one message, or None once it passes the limit (a disconnect is passed on as is)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _refuse(self, send: Send, reason: str) -> None:
        self.on_refused(reason)
        if reason == "bad_length":
            await send_json(send, 400, {"detail": "Content-Length must be a non-negative integer"},
                            ((b"connection", b"close"),))
            return
        await send_json(send, 413, {"detail": f"request body larger than {self.max_bytes} bytes"},
                        ((b"connection", b"close"),))


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then the connection's own messages (disconnect)."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


class RateLimitMiddleware:
    """Rate limit per client; health probes are exempt (an orchestrator must always reach them)."""

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets, exempt_prefixes: tuple[str, ...] = ("/health/",),
                 on_refused: Callable[[str], None] = lambda _r: None) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt_prefixes = exempt_prefixes
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        principal = self._identify(scope)
        key = f"{principal.via}:{principal.name}" if principal else f"ip:{client_address(scope)}"
        wait = self.buckets.take(key)
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        self.on_refused("rate")
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "rate limit exceeded"})
            return
        await send_json(send, 429, {"detail": "rate limit exceeded; retry later"},
                        ((b"retry-after", str(max(1, math.ceil(wait))).encode()),))

    def _identify(self, scope: Scope) -> Principal | None:
        """Who the request's credentials name, remembered on the request so `require` does not look again."""
        ctx = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
        if ctx is None:
            return None
        token = bearer_token(header(scope, b"authorization"))
        principal = identify(ctx.users, token, header(scope, _KEY_HEADER))
        remember_principal(scope.setdefault("state", {}), principal)
        return principal

"""Browser-facing hardening on every response, and a last line of defence for errors.

The control-room page is served by the same origin and needs nothing else, so the content security policy allows
only 'self' (plus blob: images, since evidence crops are fetched with the token and shown from blob URLs). The
OpenAPI docs page is the one exception: Swagger UI's page starts it with an inline script (its script and style are
served from the packaged copy under `DOCS_ASSETS`, never from a CDN).

An exception that escapes a route becomes a plain 500 here (logged with its trace, never sent to the client), so
even that answer carries the headers and is counted by the timing middleware inside.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import send_json

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATH = "/api/docs"
DOCS_ASSETS = "/api/docs-assets"
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope["path"] == DOCS_PATH else CSP).encode()
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {bytes(k).lower() for k, _v in message.get("headers", ())}
                extra = [(k, v) for k, v in (*_COMMON, (b"content-security-policy", csp)) if k not in names]
                if scope["path"].startswith("/api/") and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error answering %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_json(send_with_headers, 500, {"detail": "internal error"})

"""The live stream: WebSocket ``/api/v1/ws``.

A browser cannot put a header on a WebSocket, so the client authenticates with its first message,
``{"token": "<bearer token or API key>"}``, within 5 s (else the socket closes with 4401; a role without the
``read`` scope gets 4403). The server then sends ``hello`` with the whole live picture and its ``seq``, and after it
every event (``{"type", "seq", "ts_utc", "data"}``; one whose seq is not above the hello's is already in the
snapshot), a ``ping`` each second (the page's proof that what it shows is live) and ``gap`` when this client fell
behind and lost events (the page then reloads over REST).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth import API_KEY_PREFIX, Principal
from api.context import ApiContext
from api.hub import Subscription, encode_event
from bus.messages import now_utc

log = logging.getLogger(__name__)

router = APIRouter(tags=["stream"])

AUTH_TIMEOUT_S: Final = 5.0
PING_S: Final = 1.0
MAX_AUTH_BYTES: Final = 4096
CLOSE_UNAUTHENTICATED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_TRY_LATER: Final = 1013


class _Hello(msgspec.Struct):
    token: str


@router.websocket("/api/v1/ws")
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    ctx: ApiContext | None = getattr(websocket.app.state, "ctx", None)
    if ctx is None:
        await websocket.close(CLOSE_TRY_LATER, "the API is starting or stopping")
        return
    principal = await _authenticate(websocket, ctx)
    if principal is None:
        return
    async with ctx.hub.subscribe() as subscription:
        hello = {"type": "hello", "seq": ctx.live.seq, "server_utc": now_utc(), "snapshot": ctx.live.snapshot()}
        try:
            await websocket.send_text(encode_event(hello))
            await _pump(websocket, ctx, subscription)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:  # the client went away mid-send
            log.debug("stream client %s left: %s", principal.name, exc)


async def _authenticate(websocket: WebSocket, ctx: ApiContext) -> Principal | None:
    """The caller named by the first message, or None once the socket is closed with the reason."""
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        await websocket.close(CLOSE_UNAUTHENTICATED, "send {\"token\": ...} first, within 5 s")
        return None
    if message.get("type") == "websocket.disconnect":
        return None
    token = _token_of(message)
    principal = None
    if token is not None:
        principal = await asyncio.to_thread(_identify, ctx, token)
    if principal is None:
        await websocket.close(CLOSE_UNAUTHENTICATED, "not authenticated: send a valid token or API key")
        return None
    if "read" not in principal.scopes:
        await websocket.close(CLOSE_FORBIDDEN, f"the {principal.role} role lacks the 'read' scope")
        return None
    return principal


def _token_of(message: Mapping[str, Any]) -> str | None:
    raw = message.get("text")
    if raw is None:
        raw = message.get("bytes")
    if not isinstance(raw, str | bytes) or not raw or len(raw) > MAX_AUTH_BYTES:
        return None
    try:
        token = msgspec.json.decode(raw, type=_Hello).token
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return token or None


def _identify(ctx: ApiContext, token: str) -> Principal | None:
    if token.startswith(API_KEY_PREFIX):
        return ctx.users.principal_for_key(token)
    return ctx.users.principal_for_token(token)


async def _pump(websocket: WebSocket, ctx: ApiContext, subscription: Subscription) -> None:
    """Send events as they come and a ping every second, until the client leaves."""
    loop = asyncio.get_running_loop()
    listener = asyncio.create_task(_until_disconnect(websocket))
    try:
        next_ping = loop.time() + PING_S
        while not listener.done():
            text = await subscription.get(max(0.0, next_ping - loop.time()))
            if text is not None:
                await websocket.send_text(text)
            if loop.time() >= next_ping:
                next_ping = loop.time() + PING_S
                now = now_utc()
                await websocket.send_text(encode_event({"type": "ping", "seq": ctx.live.seq, "ts_utc": now,
                                                        "data": {"server_utc": now}}))
    finally:
        listener.cancel()


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it closes."""
    while True:
        message = await websocket.receive()
        if message.get("type") == "websocket.disconnect":
            return

"""Liveness, readiness and Prometheus metrics.

- ``/health/live``: the process answers HTTP (nothing else is checked: a live but unready API is not restarted).
- ``/health/ready``: 200 only when all three hold, else 503 with the failing check named:
  * bus: the bus link saw a message or a clean receive in the last seconds (`BusLink.connected`); an app built
    without an event source (tests, tools) has no bus to wait for and passes with "no event source";
  * journal: writable now: SQLite takes a write lock (``BEGIN IMMEDIATE`` then ``ROLLBACK``, so nothing is
    written); PostgreSQL answers a query (a write needs no more than a reachable server there);
  * models: the API's own model of the site, the live state, has been rebuilt from the journal (the API runs no ML
    models; the lane readers report theirs on the bus and in their own health).
- ``/metrics``: Prometheus text; needs the "read" scope (a token or an API key), as every route that shows data.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import Principal, require
from api.context import ApiContext
from bus.journal import JournalError

router = APIRouter(tags=["health"])
LOCK_TIMEOUT_S = 1.0


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check]


class ErrorOut(BaseModel):
    detail: str


class Liveness(BaseModel):
    status: str


@router.get("/health/live", response_model=Liveness, summary="The process answers")
async def live() -> Liveness:
    return Liveness(status="ok")


@router.get("/health/ready", response_model=Readiness, summary="Bus connected, journal writable, state loaded",
            responses={503: {"model": Readiness, "description": "Not ready; the failing checks say why"}})
def ready(request: Request) -> JSONResponse:
    ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
    if ctx is None:
        starting = Check(ok=False, detail="the API is starting or stopping")
        checks = {"bus": starting, "journal": starting, "models": starting}
    else:
        checks = {"bus": bus_check(ctx), "journal": journal_check(ctx), "models": models_check(ctx)}
    answer = Readiness(ready=all(c.ok for c in checks.values()), checks=checks)
    return JSONResponse(answer.model_dump(), status_code=200 if answer.ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"},
                       401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}})
async def metrics(request: Request, _who: Annotated[Principal, Depends(require("read"))]) -> Response:
    ctx: ApiContext = request.app.state.ctx
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)


def bus_check(ctx: ApiContext) -> Check:
    if ctx.bus is None:
        return Check(ok=True, detail="no event source (not needed)")
    if ctx.bus.connected:
        return Check(ok=True, detail=f"connected; {ctx.bus.received} received, {ctx.bus.rejected} rejected")
    return Check(ok=False, detail="no message and no clean receive from the bus in the last seconds")


def journal_check(ctx: ApiContext) -> Check:
    path = sqlite_path(ctx.settings.journal_url)
    if path is None:
        try:
            ctx.journal.last_seq()
        except JournalError as exc:
            return Check(ok=False, detail=f"journal unreachable: {exc}")
        return Check(ok=True, detail="journal server reachable")
    try:
        db = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Check(ok=False, detail=f"journal not writable: {exc}")
    return Check(ok=True, detail="journal takes a write lock")


def models_check(ctx: ApiContext) -> Check:
    loaded: Any = getattr(ctx.live, "loaded", True)
    if loaded is False:
        return Check(ok=False, detail="live state not rebuilt from the journal yet")
    return Check(ok=True, detail="live state rebuilt from the journal")


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite journal URL or plain path; None for a server URL."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///").split("?", 1)[0]
    return None if "://" in url else url

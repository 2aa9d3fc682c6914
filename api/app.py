"""The app factory: `create_app(settings, source=..., publisher=...)` builds a FastAPI app and does nothing else.

All work happens in the lifespan: open the journal and the user store (seeding the development users in
development only), rebuild the live state from the journal, start the bus link when there is a source, and put
the `ApiContext` on ``app.state.ctx``; on shutdown, stop the link and close what was opened, in reverse order.

Middlewares, outermost first: security headers (and a 500 for anything that escapes), CORS only when origins are
configured, metrics timing, rate limit, body-size limit. Routes: auth and admin, health and metrics, every router
of `api.routes`, and the control-room page (api/web) at "/", the only content served without credentials together
with the health probes, the token endpoint and the OpenAPI description (the schema of the routes, no data: the
docs page needs it before anyone can log in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api import auth_routes, health
from api.audit import audit
from api.auth import AuthError, UserStore, requester
from api.bus_link import BusLink
from api.context import ApiContext, LockedPublisher
from api.hub import EventHub
from api.limits import BodyLimitMiddleware, RateLimitMiddleware, TokenBuckets, client_address
from api.live import LiveState
from api.metrics import ApiMetrics, TimingMiddleware
from api.ports import EventSource, Publisher
from api.routes import ROUTERS
from api.security_headers import DOCS_ASSETS, DOCS_PATH, SecurityHeadersMiddleware
from api.settings import DEV_PASSWORD, DEV_USERS, ApiSettings
from bus.journal import Journal, JournalError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
OPENAPI_PATH = "/api/openapi.json"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSAL_AUDIT_RATE_PER_S = 1.0   # refused anonymous writes journalled per client, so a flood cannot fill the journal
REFUSAL_AUDIT_BURST = 20
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": auth_routes.ErrorOut, "description": "Malformed request body or headers"},
    401: {"model": auth_routes.ErrorOut, "description": "No valid token or API key"},
    403: {"model": auth_routes.ErrorOut, "description": "The role lacks the scope"},
    413: {"model": auth_routes.ErrorOut, "description": "Request body too large"},
    429: {"model": auth_routes.ErrorOut, "description": "Rate limit exceeded (see Retry-After)"},
}


def create_app(settings: ApiSettings, *, source: EventSource | None = None,
               publisher: Publisher | None = None) -> FastAPI:
    """The API for ``settings``; ``source`` feeds the live state, ``publisher`` takes the API's writes."""
    metrics = ApiMetrics()
    app = FastAPI(title="SmartGate API", version="1", openapi_url=OPENAPI_PATH, docs_url=None, redoc_url=None,
                  lifespan=_lifespan(settings, metrics, source, publisher),
                  description="Lanes, passages, decisions, overrides, declarations, yard and fleet of a SmartGate "
                              "site. Log in at /api/v1/auth/token (OAuth2 password flow) or send X-API-Key.")
    app.state.ctx = None
    app.state.metrics = metrics
    app.state.login_buckets = auth_routes.login_buckets()
    app.state.refusal_buckets = TokenBuckets(REFUSAL_AUDIT_RATE_PER_S, REFUSAL_AUDIT_BURST)
    _add_middlewares(app, settings, metrics)
    app.add_exception_handler(AuthError, _auth_refused)
    app.add_exception_handler(JournalError, _journal_failed)
    for router in ROUTERS:   # first: the hot lane-state route is matched after fewer others
        app.include_router(router, responses=COMMON_RESPONSES)
    app.include_router(auth_routes.router, responses=COMMON_RESPONSES)
    app.include_router(health.router)
    app.add_api_route(DOCS_PATH, _docs, include_in_schema=False, response_class=HTMLResponse)
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path, check_dir=False), name="docs-assets")
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True, check_dir=False), name="web")
    return app


def _add_middlewares(app: FastAPI, settings: ApiSettings, metrics: ApiMetrics) -> None:
    """Added innermost first (Starlette wraps each new one around the previous)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, on_refused=metrics.observe_refused)
    app.add_middleware(RateLimitMiddleware, buckets=TokenBuckets(settings.rate_per_s, settings.rate_burst),
                       on_refused=metrics.observe_refused)
    app.add_middleware(TimingMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key"], max_age=600)
    app.add_middleware(SecurityHeadersMiddleware)


def _lifespan(settings: ApiSettings, metrics: ApiMetrics, source: EventSource | None,
              publisher: Publisher | None) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            journal = Journal.open(settings.journal_url)
            stack.callback(journal.close)
            users = UserStore(settings.users_path)
            stack.callback(users.close)
            if settings.development:
                seed_dev_users(users)
            live = LiveState(settings)
            await asyncio.to_thread(live.load, journal)
            hub = EventHub()
            hub.attach(asyncio.get_running_loop())
            link = BusLink(source, live, hub, metrics) if source is not None else None
            app.state.ctx = ApiContext(settings=settings, journal=journal, users=users, metrics=metrics, live=live,
                                       hub=hub, publisher=LockedPublisher(publisher) if publisher else None,
                                       bus=link)
            stack.callback(setattr, app.state, "ctx", None)
            if link is not None:
                link.start()
                stack.callback(link.stop)
            log.info("API ready (%s): %d lane(s), journal %s", settings.environment, len(settings.lanes), journal.url)
            yield
        log.info("API stopped")

    return lifespan


def seed_dev_users(users: UserStore) -> None:
    """The development users (DEV_USERS, password DEV_PASSWORD), created once; never called in production."""
    for name, role in DEV_USERS.items():
        if not users.has_user(name):
            users.add_user(name, DEV_PASSWORD, role, allow_default=True)


async def _auth_refused(request: Request, exc: Exception) -> JSONResponse:
    """401/403 from `require`: a refused write is audited (anonymous ones throttled per client)."""
    if not isinstance(exc, AuthError):
        raise exc
    ctx: ApiContext | None = request.app.state.ctx
    if ctx is not None and request.scope.get("method") in WRITE_METHODS:
        who, remote = requester(request), client_address(request.scope)
        key = f"{who.via}:{who.name}" if who else f"ip:{remote}"
        if request.app.state.refusal_buckets.take(key) == 0.0:
            route = getattr(request.scope.get("route"), "path", request.url.path)
            await asyncio.to_thread(audit, ctx, who, "access", "refused", target=f"{request.method} {route}",
                                    detail=str(exc.detail), remote=remote)
        else:
            ctx.metrics.observe_refused("audit_throttled")
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _journal_failed(request: Request, exc: Exception) -> JSONResponse:
    """The journal refused a write (an audit entry): the write is not acknowledged."""
    log.error("journal failed answering %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "the journal is unavailable; nothing was recorded, try again"}, status_code=503)


async def _docs() -> HTMLResponse:
    """Swagger UI from the packaged copy (swagger-ui-bundle), never from a CDN: the site may be offline."""
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="SmartGate API",
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

"""Everything a request handler needs, built once by the app's lifespan and kept on ``app.state.ctx``.

Handlers reach it through `get_ctx`, never through module globals, so each test can build its own app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, status

from api.ports import Publisher
from bus.messages import Message

if TYPE_CHECKING:
    from api.auth import UserStore
    from api.bus_link import BusLink
    from api.hub import EventHub
    from api.live import LiveState
    from api.metrics import ApiMetrics
    from api.settings import ApiSettings
    from bus.journal import Journal


@dataclass
class ApiContext:
    settings: ApiSettings
    journal: Journal
    users: UserStore
    metrics: ApiMetrics
    live: LiveState
    hub: EventHub
    publisher: Publisher | None   # thread-safe (a `LockedPublisher`): handlers run on several threads
    bus: BusLink | None           # None when the app has no event source


class LockedPublisher:
    """A publisher shared by the server's threads: a ZeroMQ socket must not be used by two threads at once."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher
        self._lock = threading.Lock()

    def publish(self, message: Message) -> None:
        with self._lock:
            self._publisher.publish(message)


async def get_ctx(request: Request) -> ApiContext:
    """The app's context, as a dependency (``Depends(get_ctx)``); 503 while the lifespan has not built it.

    A coroutine on purpose: FastAPI runs a plain-function dependency in a worker thread, a hop that costs more than
    the lane-state route itself. Code outside dependencies calls `context_of`.
    """
    return context_of(request)


def context_of(request: Request) -> ApiContext:
    """The app's context; 503 while the lifespan has not built it (starting or stopped)."""
    ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
    if ctx is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the API is starting or stopping")
    return ctx

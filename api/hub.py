"""Fan-out of live events to the stream's clients, from the bus thread to the event loop.

Each event is encoded to JSON once, whoever listens. Every subscriber has a bounded queue: a client too slow to keep
up loses its oldest events, and is then sent ``{"type": "gap"}`` before the next one, so the page reloads its state
over REST instead of silently showing a picture with holes in it. The bus thread never waits for a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import msgspec

from bus.messages import now_utc

log = logging.getLogger(__name__)

LiveEvent = dict[str, Any]
DEFAULT_QUEUE: Final = 1000
_encoder = msgspec.json.Encoder()


class Subscription:
    """One client's queue of encoded events; iterate it (async) to receive them, gaps marked."""

    def __init__(self, max_queue: int) -> None:
        self._queue: deque[str] = deque()
        self._max = max_queue
        self._ready = asyncio.Event()
        self.gap = False
        self.dropped = 0
        self.last_seq = 0

    def put(self, text: str, seq: int = 0) -> None:
        self.last_seq = max(self.last_seq, seq)
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
            self.gap = True
        self._queue.append(text)
        self._ready.set()

    async def get(self, timeout_s: float | None = None) -> str | None:
        """The next encoded event (a gap marker first if events were dropped), or None after ``timeout_s``."""
        if not self._queue and not self.gap:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout_s)
            except TimeoutError:
                return None
        if self.gap:
            self.gap = False
            return gap_text(self.last_seq)
        return self._queue.popleft() if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while True:
            text = await self.get()
            if text is not None:
                yield text


def gap_text(seq: int = 0) -> str:
    return _encoder.encode({"type": "gap", "seq": seq, "ts_utc": now_utc(), "data": {}}).decode()


def encode_event(event: LiveEvent) -> str:
    return _encoder.encode(event).decode()


class EventHub:
    """Publish from any thread with `publish_threadsafe`; subscribe on the event loop given to `attach`."""

    def __init__(self, max_queue: int = DEFAULT_QUEUE) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscription] = set()
        self._max_queue = max_queue
        self.published = 0
        self.last_seq = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish_threadsafe(self, event: LiveEvent) -> None:
        """Hand an event to the loop; dropped (counted nowhere, nobody listens) when no loop is attached or it
        is closed."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        text = encode_event(event)
        try:
            loop.call_soon_threadsafe(self._fan_out, text, int(event.get("seq", 0)))
        except RuntimeError:  # the loop closed between the check and the call (shutdown)
            return

    def publish(self, event: LiveEvent) -> None:
        """Publish from the loop's own thread."""
        self._fan_out(encode_event(event), int(event.get("seq", 0)))

    def _fan_out(self, text: str, seq: int) -> None:
        self.published += 1
        self.last_seq = max(self.last_seq, seq)
        for subscription in self._subscribers:
            subscription.put(text, seq)

    @asynccontextmanager
    async def subscribe(self, max_queue: int | None = None) -> AsyncIterator[Subscription]:
        """A subscription for the duration of the block (call on the attached loop)."""
        subscription = Subscription(max_queue or self._max_queue)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

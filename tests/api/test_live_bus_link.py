"""BusLink's thread survives a failing source and odd messages, counts them, and closes its source on stop."""

from __future__ import annotations

import asyncio
import queue
import time
from pathlib import Path
from typing import Any

from api.bus_link import BusLink
from api.hub import EventHub
from api.live import LiveState
from api.settings import ApiSettings, LaneInfo
from bus.messages import Message
from tests.api.live_samples import passage


class QueueSource:
    """An in-process event source: what is put in comes out; an exception put in is raised by recv."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.closed = False

    def recv(self, timeout_s: float) -> Message | None:
        try:
            item = self.items.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        result: Message | None = item
        return result

    def close(self) -> None:
        self.closed = True


class CountingMetrics:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def observe_message(self, msg: Message) -> None:
        self.seen.append(type(msg).__name__)


def wait_for(condition: Any, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_the_link_keeps_going_through_failures_and_closes_its_source(tmp_path: Path) -> None:
    settings = ApiSettings(journal_url="", users_path=tmp_path / "u", data_dir=tmp_path,
                           lanes=(LaneInfo(id="in-1", direction="in"),))
    live, hub, source, metrics = LiveState(settings), EventHub(), QueueSource(), CountingMetrics()
    loop = asyncio.new_event_loop()
    hub.attach(loop)
    link = BusLink(source, live, hub, metrics)
    assert not link.connected
    link.start()
    try:
        source.items.put(OSError("socket gone"))
        source.items.put("not a message")
        source.items.put(passage("in-1-7"))
        wait_for(lambda: live.passage("in-1-7") is not None)
        assert link.connected
        assert link.recv_errors == 1
        assert link.rejected == 1
        assert link.received == 2
        assert metrics.seen == ["VehiclePassage"]
    finally:
        link.stop()
        loop.close()
    assert source.closed
    assert not link.connected

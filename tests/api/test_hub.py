"""EventHub: events from another thread reach every subscriber in order; a slow one loses the oldest and gets a gap."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from api.hub import EventHub


def event(seq: int) -> dict[str, Any]:
    return {"type": "passage", "seq": seq, "ts_utc": 1.0, "data": {"n": seq}}


def test_events_from_a_thread_reach_every_subscriber_in_order() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        hub = EventHub()
        hub.attach(asyncio.get_running_loop())
        async with hub.subscribe() as a, hub.subscribe() as b:
            assert hub.subscribers == 2
            def publish_all() -> None:
                for i in range(1, 51):
                    hub.publish_threadsafe(event(i))

            thread = threading.Thread(target=publish_all)
            thread.start()
            got_a = [json.loads(text)["seq"] for text in [await a.get(2.0) for _ in range(50)] if text]
            got_b = []
            async for text in b:
                got_b.append(json.loads(text)["seq"])
                if len(got_b) == 50:
                    break
            thread.join()
        assert hub.subscribers == 0
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b == list(range(1, 51))


def test_a_slow_subscriber_loses_the_oldest_and_is_told_of_the_gap() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hub = EventHub(max_queue=5)
        hub.attach(asyncio.get_running_loop())
        async with hub.subscribe() as slow:
            for i in range(1, 13):
                hub.publish(event(i))
            assert len(slow) == 5
            assert slow.dropped == 7
            out = [json.loads(text) for text in [await slow.get(0.5) for _ in range(6)] if text]
            assert await slow.get(0.05) is None                 # nothing more: a timeout, not a hang
            return out

    out = asyncio.run(scenario())
    assert out[0]["type"] == "gap"
    assert out[0]["seq"] == 12
    assert [e["seq"] for e in out[1:]] == [8, 9, 10, 11, 12]


def test_publishing_without_a_loop_or_after_it_closed_is_harmless() -> None:
    hub = EventHub()
    hub.publish_threadsafe(event(1))                            # no loop attached yet
    loop = asyncio.new_event_loop()
    hub.attach(loop)
    loop.close()
    hub.publish_threadsafe(event(2))                            # shutting down
    assert hub.published == 0

"""The day simulation's event queue: earliest first, first-come first-served on equal times, `due` inclusive."""

from __future__ import annotations

import pytest

from control.daysim.events import Event, EventQueue


def queue_of(*events: Event) -> EventQueue:
    queue = EventQueue()
    for event in events:
        queue.push(event)
    return queue


@pytest.mark.parametrize(("pushed", "expected"), [
    ([(3.0, "c"), (1.0, "a"), (2.0, "b")], ["a", "b", "c"]),
    ([(5.0, "first"), (5.0, "second"), (5.0, "third")], ["first", "second", "third"]),
    ([(2.0, "x1"), (1.0, "y"), (2.0, "x2"), (0.5, "z"), (2.0, "x3")], ["z", "y", "x1", "x2", "x3"]),
    ([(0.0, "midnight"), (86_400.0, "next day"), (0.0, "also midnight")], ["midnight", "also midnight", "next day"]),
])
def test_events_come_by_time_then_in_the_order_pushed(pushed: list[tuple[float, str]], expected: list[str]) -> None:
    queue = queue_of(*(Event(t, "tick", key) for t, key in pushed))
    assert [event.key for event in queue.due(float("inf"))] == expected
    assert len(queue) == 0


@pytest.mark.parametrize(("t", "keys", "left"), [
    (0.9, [], 3),
    (1.0, ["a"], 2),            # inclusive: an event at exactly t is due
    (1.5, ["a"], 2),
    (2.0, ["a", "b"], 1),
    (10.0, ["a", "b", "c"], 0),
])
def test_due_returns_every_event_at_or_before_t(t: float, keys: list[str], left: int) -> None:
    queue = queue_of(Event(2.0, "k", "b"), Event(1.0, "k", "a"), Event(3.0, "k", "c"))
    assert [event.key for event in queue.due(t)] == keys
    assert len(queue) == left


def test_events_pushed_while_handling_come_on_the_next_call() -> None:
    queue = queue_of(Event(1.0, "k", "a"), Event(4.0, "k", "late"))
    assert [e.key for e in queue.due(2.0)] == ["a"]
    queue.push(Event(2.0, "k", "same time"))
    queue.push(Event(1.5, "k", "in the past"))
    queue.push(Event(2.0001, "k", "future"))
    assert [e.key for e in queue.due(2.0)] == ["in the past", "same time"]
    assert queue.due(2.0) == []
    assert queue.next_time() == 2.0001


def test_next_time_and_len_follow_the_queue() -> None:
    queue = EventQueue()
    assert queue.next_time() is None
    assert len(queue) == 0
    assert queue.due(1e9) == []
    queue.push(Event(7.0, "k"))
    queue.push(Event(3.0, "k"))
    assert (queue.next_time(), len(queue)) == (3.0, 2)
    queue.due(3.0)
    assert (queue.next_time(), len(queue)) == (7.0, 1)


def test_events_keep_their_fields_and_are_compared_by_value() -> None:
    event = Event(12.5, "crane_done", "crane-1", token=3)
    queue = queue_of(event, Event(12.5, "crane_done", "crane-1", token=4))
    first, second = queue.due(12.5)
    assert first == event
    assert first is event
    assert second.token == 4
    assert second != event
    with pytest.raises(AttributeError):
        event.t = 0.0  # type: ignore[misc]


def test_unorderable_keys_do_not_matter_on_equal_times() -> None:
    """Ties are broken by push order, never by comparing the events themselves."""
    queue = queue_of(*(Event(1.0, kind, key) for kind, key in [("z", "9"), ("a", "1"), ("m", "5")]))
    assert [(e.kind, e.key) for e in queue.due(1.0)] == [("z", "9"), ("a", "1"), ("m", "5")]


def test_two_queues_count_their_own_order() -> None:
    one, two = EventQueue(), EventQueue()
    one.push(Event(1.0, "k", "one-a"))
    two.push(Event(1.0, "k", "two-a"))
    one.push(Event(1.0, "k", "one-b"))
    assert [e.key for e in one.due(1.0)] == ["one-a", "one-b"]
    assert [e.key for e in two.due(1.0)] == ["two-a"]

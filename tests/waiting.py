"""Waiting for something another thread or process does, in tests: poll a condition until it holds or time is up."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0, step: Callable[[], object] | None = None,
             poll_s: float = 0.01) -> bool:
    """True as soon as `condition()` holds, else its last answer after `timeout_s`; `step()` runs before each look
    (a link's `tick`, say, that must keep its heartbeats going while the test waits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if condition():
            return True
        time.sleep(poll_s)
    return condition()

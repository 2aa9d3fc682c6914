"""Gate KPIs over the last hour: trucks per hour, time at the gate, queue length, decisions by outcome.

Samples are kept in bounded deques and aged out by their own UTC time, so the figures never depend on how long
the API has run, and a flood of messages costs a fixed amount of memory.

- trucks per hour: passages whose ``last_seen_utc`` lies in the window;
- time at the gate: from a truck's first sighting to the first decision that opened its barrier (an operator's
  override included), for trucks that were let through in the window;
- queue length: the sum of the yard's truck queues now; its series takes the last value of each 5-minute bucket.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any, Final

WINDOW_S: Final = 3600.0
BUCKET_S: Final = 300.0
MAX_SAMPLES: Final = 50_000


class KpiWindow:
    """Samples of the last hour. Not thread-safe: `api.live.LiveState` holds its lock around every call."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self._passages: deque[float] = deque(maxlen=max_samples)
        self._gate_times: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._decisions: deque[tuple[float, str]] = deque(maxlen=max_samples)
        self._queue: deque[tuple[float, int]] = deque(maxlen=max_samples)
        self.queue_now = 0

    def passage(self, ts_utc: float) -> None:
        self._passages.append(ts_utc)

    def opened(self, ts_utc: float, seconds_at_gate: float) -> None:
        if math.isfinite(seconds_at_gate) and seconds_at_gate >= 0:
            self._gate_times.append((ts_utc, seconds_at_gate))

    def decision(self, ts_utc: float, outcome: str) -> None:
        self._decisions.append((ts_utc, outcome))

    def queue(self, ts_utc: float, total: int) -> None:
        self.queue_now = total
        self._queue.append((ts_utc, total))

    def summary(self, now_utc: float) -> dict[str, Any]:
        start = now_utc - WINDOW_S
        passages = [t for t in self._passages if start <= t <= now_utc]
        times = sorted(s for t, s in self._gate_times if start <= t <= now_utc)
        outcomes = Counter(o for t, o in self._decisions if start <= t <= now_utc)
        return {
            "trucks_per_hour": len(passages),
            "time_at_gate_s": {"p50": _percentile(times, 0.50), "p95": _percentile(times, 0.95)},
            "queue_length": self.queue_now,
            "decisions": dict(sorted(outcomes.items())),
            "series": {"trucks_per_hour": self._rate_series(passages, now_utc),
                       "queue_length": self._queue_series(now_utc)},
        }

    def _rate_series(self, passages: list[float], now_utc: float) -> list[list[float]]:
        """Trucks per hour in each 5-minute bucket (count x 12), oldest bucket first, stamped at its end."""
        buckets = int(WINDOW_S // BUCKET_S)
        counts = [0] * buckets
        for t in passages:
            index = buckets - 1 - min(int((now_utc - t) // BUCKET_S), buckets - 1)
            counts[index] += 1
        scale = WINDOW_S / BUCKET_S
        return [[now_utc - (buckets - 1 - i) * BUCKET_S, counts[i] * scale] for i in range(buckets)]

    def _queue_series(self, now_utc: float) -> list[list[float]]:
        """The queue length at the end of each bucket (the last sample before it; 0 before the first sample)."""
        buckets = int(WINDOW_S // BUCKET_S)
        ends = [now_utc - (buckets - 1 - i) * BUCKET_S for i in range(buckets)]
        series: list[list[float]] = []
        samples = [(t, n) for t, n in self._queue if t <= now_utc]
        j, value = 0, 0
        for end in ends:
            while j < len(samples) and samples[j][0] <= end:
                value = samples[j][1]
                j += 1
            series.append([end, float(value)])
        return series


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None when there is nothing to measure (rather than a misleading 0)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)

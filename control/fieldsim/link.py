"""The radio link to the IGVs: which orders are lost while a lost-messages fault is active, from a seeded
generator, so a day with faults replays exactly."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LossyLink"]


class LossyLink:  # decides which orders are lost (seeded), given the active lost_messages faults
    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self._rng = np.random.default_rng(seed)
        self.sent = 0
        self.lost_count = 0

    def lost(self, n: int, rate: float) -> np.ndarray:
        """(n,) bool: which of ``n`` orders sent now never arrive, each with probability ``rate``. With no loss
        (rate 0) nothing is drawn, so the generator only advances while a fault is active."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
            raise ValueError(f"rate must be a fraction in [0, 1], got {rate!r}")
        self.sent += int(n)
        if rate == 0.0:
            return np.zeros(int(n), dtype=bool)
        mask: np.ndarray = self._rng.random(int(n)) < rate
        self.lost_count += int(mask.sum())
        return mask

"""Slot states that do not flicker: every slot's timers as numpy arrays, stepped together once per frame.

A state changes only on evidence that lasted: a new kind must be seen over a span of ``enter_s`` (or
``kind_change_s`` when the slot already holds something else), with gaps up to ``gap_s`` bridged and any sighting
of the current kind starting the count again; an occupied slot empties once nothing has been seen in it for
``exit_s``. Times are seconds, so a missing frame is just a short gap
and a one-frame false detection is a span of zero. ``since`` is back-dated to when the evidence began (or, for
empty, to the last sighting), so dwell times do not include the hysteresis delay.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

STATE_UNKNOWN: Final = -2   # never observed since start (or rebuild)
STATE_EMPTY: Final = -1     # kinds 0.. are the detection kind codes
_NO_CANDIDATE: Final = -3
_EPS: Final = 1e-6          # UTC near 1.7e9 s resolves 2.4e-7 s: k * 0.1 s steps must still reach 1.0 s

StateArray = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]


class SlotHysteresis:
    """States and timers of ``size`` slots; ``step`` applies one frame's observations to all of them."""

    def __init__(self, size: int, *, enter_s: float, exit_s: float, kind_change_s: float, gap_s: float) -> None:
        self.enter_s, self.exit_s, self.kind_change_s, self.gap_s = enter_s, exit_s, kind_change_s, gap_s
        self.state: StateArray = np.full(size, STATE_UNKNOWN, np.int8)
        self.since: FloatArray = np.zeros(size)
        self._last_seen: FloatArray = np.full(size, np.nan)   # last time anything was seen in the slot
        self._candidate: StateArray = np.full(size, _NO_CANDIDATE, np.int8)
        self._candidate_first: FloatArray = np.zeros(size)
        self._candidate_last: FloatArray = np.zeros(size)

    def step(self, t: float, observed: StateArray) -> tuple[npt.NDArray[np.intp], StateArray]:
        """Apply one frame (``observed``: a kind code per slot, or STATE_EMPTY); returns (changed slots, old states)."""
        old = self.state.copy()
        self._start_unknown(t)
        seen = observed != STATE_EMPTY
        self._last_seen[seen] = t
        self._track_candidates(t, observed, seen)
        confirmed = self._confirm()
        self._expire(t, confirmed)
        changed = np.flatnonzero(self.state != old)
        return changed, old[changed]

    def restore(self, index: int, state: int, since: float) -> None:
        """Set one slot's state from the journal; its exit timer starts again at the next step."""
        self.state[index] = state
        self.since[index] = since
        self._last_seen[index] = np.nan
        self._candidate[index] = _NO_CANDIDATE

    def _start_unknown(self, t: float) -> None:
        """Slots never observed become empty now; timers restored from the journal start now."""
        unknown = self.state == STATE_UNKNOWN
        if unknown.any():
            self.state[unknown] = STATE_EMPTY
            self.since[unknown] = t
        np.copyto(self._last_seen, t, where=np.isnan(self._last_seen))

    def _track_candidates(self, t: float, observed: StateArray, seen: npt.NDArray[np.bool_]) -> None:
        stale = (self._candidate != _NO_CANDIDATE) & (t - self._candidate_last > self.gap_s + _EPS)
        self._candidate[stale | (seen & (observed == self.state))] = _NO_CANDIDATE  # a sighting of the state wins
        differs = seen & (observed != self.state)
        fresh = differs & (observed != self._candidate)
        self._candidate[fresh] = observed[fresh]
        self._candidate_first[fresh] = t
        self._candidate_last[differs] = t

    def _confirm(self) -> npt.NDArray[np.bool_]:
        hold = np.where(self.state == STATE_EMPTY, self.enter_s, self.kind_change_s)
        confirmed: npt.NDArray[np.bool_] = ((self._candidate != _NO_CANDIDATE)
                     & (self._candidate_last - self._candidate_first + _EPS >= hold))
        if confirmed.any():
            self.state[confirmed] = self._candidate[confirmed]
            self.since[confirmed] = self._candidate_first[confirmed]
            self._candidate[confirmed] = _NO_CANDIDATE
        return confirmed

    def _expire(self, t: float, confirmed: npt.NDArray[np.bool_]) -> None:
        gone = (self.state >= 0) & (t - self._last_seen + _EPS >= self.exit_s) & ~confirmed
        if gone.any():
            self.state[gone] = STATE_EMPTY
            self.since[gone] = self._last_seen[gone]

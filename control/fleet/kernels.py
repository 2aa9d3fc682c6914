"""The per-tick bookkeeping of the fleet as one numba kernel: on a fleet of tens to hundreds of IGVs a dozen small
numpy calls cost more than the planner's own step, one compiled loop costs a few microseconds."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def tick_update(before: np.ndarray, after: np.ndarray, mode: np.ndarray, charging_mode: int, target: np.ndarray,
                reported: np.ndarray, battery: np.ndarray, is_charger: np.ndarray, drain: float, charge: float,
                full: float, working: np.ndarray, arrived: np.ndarray) -> tuple[int, int, bool]:
    """Drain the battery of each IGV that moved, charge those in ``charging_mode`` on a charger, and write the
    IGVs newly on their (unreported) target into ``arrived``. Returns (how many arrived, how many IGVs are in a
    working mode, whether a charging IGV is now full)."""
    count = 0
    busy = 0
    topped_up = False
    for i in range(after.shape[0]):
        if after[i] != before[i]:
            battery[i] = max(battery[i] - drain, 0.0)
        if mode[i] == charging_mode and is_charger[after[i]]:
            battery[i] = min(battery[i] + charge, 1.0)
            if battery[i] >= full:
                topped_up = True
        if after[i] == target[i] and not reported[i]:
            arrived[count] = i
            count += 1
        if working[mode[i]]:
            busy += 1
    return count, busy, topped_up

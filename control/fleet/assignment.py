"""Min-cost assignment of IGVs (rows) to tasks (columns), rectangular, with forbidden pairs.

Forbidden pairs carry the cost `INFEASIBLE`. The solver (scipy's ``linear_sum_assignment``) always matches
min(rows, cols) pairs, so a forbidden pair can be forced into the solution; it is dropped afterwards. Because
`INFEASIBLE` dwarfs any real cost, the solution first uses as few forbidden pairs as possible (as many feasible
pairs as possible) and only then minimises the real cost.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

INFEASIBLE: float = 1e12


def assign(costs: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) pairs of a min-cost assignment, rows ascending; pairs costing ``INFEASIBLE`` or more (or NaN,
    or infinite) are never returned. ``ValueError`` unless ``costs`` is a 2-d real array."""
    matrix = np.asarray(costs)
    if matrix.ndim != 2 or not (np.issubdtype(matrix.dtype, np.floating) or np.issubdtype(matrix.dtype, np.integer)):
        raise ValueError(f"costs must be a 2-d real array, got {matrix.dtype} {matrix.shape}")
    if matrix.size == 0:
        return []
    clean = np.asarray(matrix, dtype=np.float64)
    forbidden = ~np.isfinite(clean) | (clean >= INFEASIBLE)
    if forbidden.all():
        return []
    clean = np.where(forbidden, INFEASIBLE, clean)
    rows, cols = linear_sum_assignment(clean)
    keep = ~forbidden[rows, cols]
    return [(int(r), int(c)) for r, c in zip(rows[keep], cols[keep], strict=True)]

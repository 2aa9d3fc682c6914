"""Optimal one-to-one matching of tracks to detections under a gate, without scipy or `lap`.

The matrix is split first: a pair that is the only candidate of its row *and* of its column is its own
component and is matched directly (the common case at a gate: one truck, one box). Only the rows and columns
left over, where candidates compete, go to an exact Hungarian solver (shortest augmenting paths, vectorised over
columns), padded so that leaving a row or a column unmatched is allowed, as `lap.lapjv(cost_limit=...)` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Matches = npt.NDArray[np.intp]  # (K, 2): row, column


def match(score: npt.NDArray[np.floating[Any]], threshold: float) -> Matches:
    """Pairs (row, col), each row and column used once, only pairs with ``score >= threshold``, maximising the
    sum of ``score - threshold`` over the pairs (the objective of `lap.lapjv` with ``cost_limit``, as ByteTrack)."""
    rows, cols = score.shape
    if rows == 0 or cols == 0:
        return np.zeros((0, 2), np.intp)
    allowed = score >= threshold
    row_count = allowed.sum(axis=1)
    col_count = allowed.sum(axis=0)
    simple = allowed & (row_count[:, None] == 1) & (col_count[None, :] == 1)
    direct = np.argwhere(simple)
    busy_rows = np.flatnonzero(row_count > 1)
    busy_cols = np.flatnonzero(col_count > 1)
    if busy_rows.size == 0 and busy_cols.size == 0:
        return direct.astype(np.intp)
    contested_rows = np.flatnonzero(allowed[:, busy_cols].any(axis=1) | (row_count > 1))
    contested_cols = np.flatnonzero(allowed[busy_rows, :].any(axis=0) | (col_count > 1))
    sub = score[np.ix_(contested_rows, contested_cols)]
    solved = _solve_gated(sub.astype(np.float64), threshold)
    found = np.stack([contested_rows[solved[:, 0]], contested_cols[solved[:, 1]]], axis=1)
    return np.concatenate([direct, found]).astype(np.intp)


def _solve_gated(score: npt.NDArray[np.float64], threshold: float) -> Matches:
    """Exact matching on a small contested block, with a 'stay unmatched' option priced at the gate."""
    n, m = score.shape
    forbidden = 1e9
    limit = 1.0 - threshold  # leaving both a row and a column unmatched costs `limit`
    cost = np.full((n + m, n + m), limit / 2.0)
    cost[:n, :m] = np.where(score >= threshold, 1.0 - score, forbidden)
    cost[n:, m:] = 0.0
    assigned = hungarian(cost)
    rows = np.arange(n)
    cols = assigned[:n]
    keep = (cols < m) & (score[rows, np.minimum(cols, m - 1)] >= threshold)
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.intp)


def hungarian(cost: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Column assigned to each row of a square cost matrix, minimising the total (O(n^3), numpy inner loop)."""
    n = cost.shape[0]
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    owner = np.zeros(n + 1, np.intp)  # owner[j]: row (1-based) holding column j; column 0 is the virtual root
    way = np.zeros(n + 1, np.intp)
    for row in range(1, n + 1):
        owner[0] = row
        col = 0
        min_slack = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, bool)
        while True:
            used[col] = True
            current = owner[col]
            slack = cost[current - 1] - u[current] - v[1:]
            free = ~used[1:]
            better = free & (slack < min_slack[1:])
            min_slack[1:][better] = slack[better]
            way[1:][better] = col
            candidates = np.where(free, min_slack[1:], np.inf)
            nxt = int(np.argmin(candidates)) + 1
            delta = candidates[nxt - 1]
            u[owner[used]] += delta
            v[used] -= delta
            min_slack[1:][free] -= delta
            col = nxt
            if owner[col] == 0:
                break
        while col:
            prev = way[col]
            owner[col] = owner[prev]
            col = prev
    result = np.zeros(n, np.intp)
    result[owner[1:] - 1] = np.arange(n)
    return result

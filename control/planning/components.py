"""Strongly connected components of a map's directed move graph.

On a one-way yard a cell can be reachable from another without the way back, so "same component" is what makes a
random goal reachable from its start and a vehicle able to come back. Tarjan's algorithm, iterative (no recursion
limit on 16 M cells), compiled with numba: one pass over the successor table.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int32]


def strong_components(successors: IntArray) -> IntArray:
    """(C,) int32 component label of every cell (labels 0..K-1, in no meaningful order); -1 for blocked cells
    (rows of ``successors`` whose first entry, the wait move, is -1)."""
    table = np.ascontiguousarray(successors, dtype=np.int32)
    if table.ndim != 2 or table.shape[1] < 1:
        raise ValueError(f"successors must have shape (C, K), got {table.shape}")
    labels: IntArray = _tarjan(table)
    return labels


@numba.njit(cache=True, nogil=True)
def _tarjan(successors: IntArray) -> IntArray:  # pragma: no cover - compiled
    n, width = successors.shape
    index = np.full(n, -1, np.int32)
    low = np.zeros(n, np.int32)
    label = np.full(n, -1, np.int32)
    on_stack = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int32)      # Tarjan's stack of visited, unassigned cells
    call = np.empty(n, np.int32)       # explicit DFS call stack: the cell and the next successor column to try
    column = np.empty(n, np.int32)
    top = 0
    counter = 0
    components = 0
    for root in range(n):
        if successors[root, 0] < 0 or index[root] >= 0:
            continue
        index[root] = counter
        low[root] = counter
        counter += 1
        stack[top] = root
        top += 1
        on_stack[root] = True
        call[0] = root
        column[0] = 1
        depth = 1
        while depth > 0:
            v = call[depth - 1]
            k = column[depth - 1]
            if k < width and successors[v, k] >= 0:
                column[depth - 1] = k + 1
                w = successors[v, k]
                if index[w] < 0:
                    index[w] = counter
                    low[w] = counter
                    counter += 1
                    stack[top] = w
                    top += 1
                    on_stack[w] = True
                    call[depth] = w
                    column[depth] = 1
                    depth += 1
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            if low[v] == index[v]:
                while True:
                    top -= 1
                    w = stack[top]
                    on_stack[w] = False
                    label[w] = components
                    if w == v:
                        break
                components += 1
            depth -= 1
            if depth > 0:
                parent = call[depth - 1]
                if low[v] < low[parent]:
                    low[parent] = low[v]
    return label

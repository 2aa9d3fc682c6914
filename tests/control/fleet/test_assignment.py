"""Min-cost assignment: optimal against brute force, rectangular both ways, forbidden pairs never returned, as many
feasible pairs as possible, hostile matrices refused or cleaned."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from control.fleet.assignment import INFEASIBLE, assign


def brute_force(costs: np.ndarray) -> tuple[int, float]:
    """(most feasible pairs, least cost among assignments with that many) over every assignment."""
    rows, cols = costs.shape
    best = (-1, np.inf)
    choices: list[tuple[tuple[int, ...], tuple[int, ...]]]
    if rows <= cols:
        choices = [(tuple(range(rows)), perm) for perm in permutations(range(cols), rows)]
    else:
        choices = [(perm, tuple(range(cols))) for perm in permutations(range(rows), cols)]
    for r, c in choices:
        chosen = costs[list(r), list(c)]
        ok = chosen < INFEASIBLE
        key = (int(ok.sum()), float(chosen[ok].sum()))
        if key[0] > best[0] or (key[0] == best[0] and key[1] < best[1]):
            best = key
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (4, 4), (1, 4), (4, 1)])
def test_matches_brute_force(seed, shape):
    rng = np.random.default_rng(seed)
    costs = rng.integers(0, 50, size=shape).astype(float)
    costs[rng.random(shape) < 0.3] = INFEASIBLE
    pairs = assign(costs)
    feasible, total = brute_force(costs)
    assert len(pairs) == feasible
    assert sum(costs[r, c] for r, c in pairs) == pytest.approx(total)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    assert all(costs[r, c] < INFEASIBLE for r, c in pairs)
    assert [r for r, _ in pairs] == sorted(r for r, _ in pairs)


def test_prefers_more_feasible_pairs_over_a_cheaper_one():
    costs = np.array([[1.0, 100.0], [INFEASIBLE, 2.0]])
    assert assign(costs) == [(0, 0), (1, 1)]
    forced = np.array([[1.0, 2.0], [5.0, INFEASIBLE]])        # row 1 can only take column 0
    assert assign(forced) == [(0, 1), (1, 0)]


@pytest.mark.parametrize(("costs", "expected"), [
    (np.zeros((0, 3)), []),
    (np.zeros((3, 0)), []),
    (np.full((2, 2), INFEASIBLE), []),
    (np.array([[np.nan, 1.0], [2.0, np.inf]]), [(0, 1), (1, 0)]),
    (np.array([[5e15, 1.0]]), [(0, 1)]),
    (np.array([[-np.inf, 3.0]]), [(0, 1)]),
    (np.array([[2, 1]], dtype=np.int64), [(0, 1)]),
    (np.array([[-5.0, 0.0], [0.0, -5.0]]), [(0, 0), (1, 1)]),
])
def test_edge_and_hostile_matrices(costs, expected):
    assert assign(costs) == expected


@pytest.mark.parametrize("costs", [np.zeros(3), np.zeros((2, 2, 2)), np.array([["a"]]), np.array([[True]])])
def test_bad_matrices_are_refused(costs):
    with pytest.raises(ValueError, match="2-d real array"):
        assign(costs)

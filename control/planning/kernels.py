"""The numba kernels of the planners: PIBT (Okumura et al., "Priority Inheritance with Backtracking for Iterative
Multi-agent Path Finding", AIJ 2022) and LaCAM's search (Okumura, "LaCAM: Search-Based Algorithm for Quick
Multi-Agent Pathfinding", AAAI 2023).

PIBT. Names follow the paper: ``q_from`` is the current configuration, ``q_to`` the next one being built,
``occ_now`` and ``occ_nxt`` map a cell to the agent on it now / reserved for the next step. The recursion of
``funcPIBT`` is an explicit stack (an agent is pushed only while it has no reservation, so at most once), so the
kernels compile with ``cache=True`` and never overflow the call stack. Two agents that must pass each other in a
corridor use the swap operation of LaCAM* (Okumura, IJCAI 2023): the first backs off towards the nearest branch and
pulls the other behind it; an agent about to block one behind it in a corridor backs off out of its way (the
"clear" case, which applies whether or not that agent has its cell already). Distances are looked up as
``dist[row_of[i], cell]`` (one row per agent for the one-shot planners, one per distinct goal for the lifelong
planner). Random tie-breaking uses a 32-bit xorshift whose state is a one-element int64 array, so a run is a pure
function of its seed. Priorities: steps waited since the agent was last on its goal, ties broken by a fixed base
order (farthest from its goal first, then random); the order of the agents by priority is carried from step to
step in O(N) (`next_order`), no sort.

LaCAM. A depth-first search over configurations (one cell per agent). Each high-level node keeps a queue of
low-level nodes, its constraint tree: a low-level node at depth d fixes the next cells of the first d agents in the
node's order ("agent ``who`` goes to ``where``", chained through ``ln_parent``). Visiting a node pops one
constraint, adds its children lazily (the next agent in order, every cell it can reach in one step, shuffled) and
asks PIBT for a successor configuration that obeys it. A configuration seen before is pushed again (as in the
paper); a new one becomes a child node. The search is complete: a node leaves the stack only when its constraint
tree is exhausted, and by then every successor configuration has been generated. The first visit of a node runs
PIBT in the node's priority order; later visits (the search came back: PIBT was going round in circles or stood
still in a deadlock, where a fixed order reproduces the same moves) run it with the agents in a fresh random order,
and the child inherits that order. That keeps the search complete (the constraint tree does
not change) and gets dense instances (rooms full of agents, packed dead ends) out of deadlocks in a few hundred
nodes instead of an exponential constraint tree. Storage is flat arrays (``hn_*`` high-level nodes, ``ln_*``
low-level nodes, an open-addressing hash table of node ids keyed by a 64-bit hash of the configuration, the DFS
stack ``open_stack``) and a counters array ``ctr``; `lacam_run` does a bounded number of iterations per call, so
the Python driver reads the clock between calls and grows the arrays when they fill up.

PIBT and LaCAM share this one module on purpose: numba's on-disk cache is keyed on the source file of each
function only, so a LaCAM kernel cached in another file would keep a stale copy of the PIBT code it inlines.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NIL = -1
FAR = (1 << 26) - 1           # sort key of a cell from which the goal is unreachable (above any distance)
_KEY_SHIFT = 37
# columns of the int32 work matrix: candidate count, next candidate to try, DFS stack, swap partner
W_COUNT, W_NEXT, W_STACK, W_SWAP = range(4)
W_COLUMNS = 4
_MASK32 = 0xFFFFFFFF


def seed_state(seed: int) -> np.ndarray:
    """A non-zero xorshift32 state mixed from ``seed`` (any integer). Plain Python: one numba dispatcher fewer
    to load on a process's first plan."""
    x = (int(seed) * 0x9E3779B1 + 0x7F4A7C15) & _MASK32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & _MASK32
    x ^= x >> 13
    return np.array([x if x != 0 else 0x6D2B79F5], dtype=np.int64)


@njit(cache=True)
def next_random(state: np.ndarray) -> int:
    """The next xorshift32 value (1 .. 2**32 - 1)."""
    x = state[0]
    x ^= (x << 13) & _MASK32
    x ^= x >> 17
    x ^= (x << 5) & _MASK32
    state[0] = x
    return int(x)


@njit(cache=True)
def _key(dist: np.ndarray, row: int, v: int) -> int:
    d = dist[row, v]
    return d if d >= 0 else FAR


@njit(cache=True)
def _exits(successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray, occ_now: np.ndarray, v: int,
           behind: int) -> tuple[int, int]:
    """Moves out of ``v`` other than into ``behind``, leaving out dead ends (one move out) where an agent sits on
    its goal, as it need not move; returns how many and the last one."""
    count = 0
    last = NIL
    for k in range(successors.shape[1]):
        u = successors[v, k]
        if u < 0 or u == v:
            continue
        if u == behind:
            continue
        if occ_now[u] != NIL:
            degree = 0
            for m in range(successors.shape[1]):
                w = successors[u, m]
                if w >= 0 and w != u:
                    degree += 1
            if degree == 1 and dist[row_of[occ_now[u]], u] == 0:
                continue
        count += 1
        last = u
    return count, last


@njit(cache=True)
def _swap_required(successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray, occ_now: np.ndarray,
                   pusher: int, puller: int, v_pusher: int, v_puller: int) -> bool:
    """Would pushing ``puller`` ahead of ``pusher`` along a corridor fail to let them pass each other? Walks the
    corridor while the pusher gets nearer its goal: a side exit means the puller can step aside (no swap)."""
    row_p = row_of[pusher]
    row_q = row_of[puller]
    for _ in range(successors.shape[0]):
        if _key(dist, row_p, v_puller) >= _key(dist, row_p, v_pusher):
            break
        count, ahead = _exits(successors, dist, row_of, occ_now, v_puller, v_pusher)
        if count >= 2:
            return False
        if count == 0:
            break
        v_pusher, v_puller = v_puller, ahead
    return (_key(dist, row_q, v_pusher) < _key(dist, row_q, v_puller)
            and (dist[row_p, v_pusher] == 0 or _key(dist, row_p, v_puller) < _key(dist, row_p, v_pusher)))


@njit(cache=True)
def _swap_possible(successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray, occ_now: np.ndarray,
                   v_pusher_origin: int, v_puller_origin: int) -> bool:
    """Can the puller back away from ``v_pusher_origin`` to a branching cell, where the two can pass?"""
    v_pusher = v_pusher_origin
    v_puller = v_puller_origin
    for _ in range(successors.shape[0]):
        if v_puller == v_pusher_origin:
            return False
        count, behind = _exits(successors, dist, row_of, occ_now, v_puller, v_pusher)
        if count >= 2:
            return True
        if count == 0:
            return False
        v_pusher, v_puller = v_puller, behind
    return False


@njit(cache=True)
def _has_move(successors: np.ndarray, u: int, v: int) -> bool:
    """Is there a move from ``u`` into ``v`` (a swap partner may only be pulled along a real move)?"""
    for k in range(successors.shape[1]):  # noqa: SIM110 - numba compiles no generator expressions
        if successors[u, k] == v:
            return True
    return False


@njit(cache=True)
def _swap_partner(i: int, successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray, q_from: np.ndarray,
                  q_to: np.ndarray, occ_now: np.ndarray, cand: np.ndarray) -> int:
    """The agent that ``i`` should pull behind it instead of pushing (LaCAM*'s swap: two agents that must pass
    each other in a corridor back up to the nearest branch), or NIL. The caller has ruled out the common cases
    (``i`` wants to stay, or the wanted cell has two exits or more besides ``i``'s: room to step aside, so neither
    check below can succeed)."""
    best = cand[i, 0] & _MASK32
    j = occ_now[best]
    if (j != NIL and q_to[j] == NIL and _has_move(successors, q_from[j], q_from[i])
            and _swap_required(successors, dist, row_of, occ_now, i, j, q_from[i], q_from[j])
            and _swap_possible(successors, dist, row_of, occ_now, q_from[j], q_from[i])):
        return int(j)
    # clearing: an agent k next to i that could not get past i in the corridor ahead makes i back off out of its
    # way, pulling k behind when k has no cell yet (k may already have one: it may be the agent pushing i)
    for m in range(successors.shape[1]):
        u = successors[q_from[i], m]
        if u < 0 or u == q_from[i]:
            continue
        k = occ_now[u]
        if (k != NIL and q_from[k] != best and _has_move(successors, q_from[k], q_from[i])
                and _swap_required(successors, dist, row_of, occ_now, k, i, q_from[i], best)
                and _swap_possible(successors, dist, row_of, occ_now, best, q_from[i])):
            return int(k)
    return NIL


@njit(cache=True)
def pibt_configure(order: np.ndarray, successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray,
                   q_from: np.ndarray, q_to: np.ndarray, occ_now: np.ndarray, occ_nxt: np.ndarray,
                   cand: np.ndarray, work: np.ndarray, rng: np.ndarray, swap: bool) -> bool:
    """Complete ``q_to`` (NIL for free agents, preset for constrained ones, which must already be in ``occ_nxt``)
    by funcPIBT over the agents in ``order``; ``occ_now`` must hold ``q_from``. False when an agent is left
    without a cell (only possible under constraints).

    funcPIBT(i) reserves i's best free candidate, pushing (priority inheritance) the agent standing there and
    backtracking to the next candidate when that agent cannot move; it never takes the cell of an agent moving
    into its own (a swap conflict). The inner loop makes no function call on purpose: numba compiles it about
    twice as fast that way, so the swap test (`_swap_partner`) is made in the outer loop, which the inner one
    leaves whenever an agent that wants to move needs it."""
    width = successors.shape[1]
    for r in range(order.shape[0]):
        root = order[r]
        if q_to[root] != NIL:
            continue
        work[root, W_NEXT] = -1
        work[0, W_STACK] = root
        sp = 1
        outcome = 0        # of the agent just popped: 1 it has a cell, 2 it failed and stays; 0 none yet
        while sp > 0:
            asking = NIL                                 # an agent waiting for the swap test
            while sp > 0:
                i = work[sp - 1, W_STACK]
                u = q_from[i]
                state = 0                                # 0 no cell, 1 has a cell, 2 pushed an agent
                if work[i, W_NEXT] < 0:                  # a fresh call: sort the candidates
                    row = row_of[i]
                    bits = next_random(rng)
                    n = 0
                    for k in range(width):
                        v = successors[u, k]
                        if v < 0:
                            continue
                        d = dist[row, v]
                        entry = ((d if d >= 0 else FAR) << _KEY_SHIFT) | ((bits & 31) << 32) | v
                        bits >>= 5
                        m = n
                        while m > 0 and cand[i, m - 1] > entry:
                            cand[i, m] = cand[i, m - 1]
                            m -= 1
                        cand[i, m] = entry
                        n += 1
                    work[i, W_COUNT] = n
                    work[i, W_NEXT] = 0
                    work[i, W_SWAP] = NIL
                    best = cand[i, 0] & _MASK32
                    if swap and best != u:
                        exits = 0                        # `_exits(best, u)` inlined: no swap with two or more
                        for k in range(width):
                            w = successors[best, k]
                            if w < 0 or w == best or w == u:  # noqa: SIM109 - plain compares in the hot loop
                                continue
                            a = occ_now[w]
                            if a != NIL and dist[row_of[a], w] == 0:
                                degree = 0
                                for m in range(width):
                                    x = successors[w, m]
                                    if x >= 0 and x != w:
                                        degree += 1
                                if degree == 1:
                                    continue
                            exits += 1
                        if exits < 2:
                            asking = i
                            break
                elif outcome == 1:                       # the agent i pushed has moved: i keeps its cell
                    state = 1
                outcome = 0
                while state == 0 and work[i, W_NEXT] < work[i, W_COUNT]:
                    v = cand[i, work[i, W_NEXT]] & _MASK32
                    work[i, W_NEXT] += 1
                    if occ_nxt[v] != NIL:
                        continue
                    j = occ_now[v]
                    if j != NIL and q_to[j] == u:
                        continue
                    q_to[i] = v
                    occ_nxt[v] = i
                    if j != NIL and j != i and q_to[j] == NIL:
                        work[j, W_NEXT] = -1
                        work[sp, W_STACK] = j
                        sp += 1
                        state = 2
                    else:
                        state = 1
                if state == 2:
                    continue
                sp -= 1
                if state == 0:
                    q_to[i] = u
                    occ_nxt[u] = i
                    outcome = 2
                    continue
                outcome = 1
                j = work[i, W_SWAP]                      # LaCAM*'s pull: the partner follows into i's cell
                if j != NIL and work[i, W_NEXT] == 1 and q_to[j] == NIL and occ_nxt[u] == NIL:
                    for k in range(width):
                        if successors[q_from[j], k] == u:
                            q_to[j] = u
                            occ_nxt[u] = j
                            break
            if asking != NIL:
                partner = _swap_partner(asking, successors, dist, row_of, q_from, q_to, occ_now, cand)
                work[asking, W_SWAP] = partner
                if partner != NIL:                       # back away first: worst candidate first
                    n = work[asking, W_COUNT]
                    for k in range(n // 2):
                        cand[asking, k], cand[asking, n - 1 - k] = cand[asking, n - 1 - k], cand[asking, k]
        if outcome != 1:
            return False
    return True


@njit(cache=True)
def clear_occupancy(q_from: np.ndarray, q_to: np.ndarray, occ_now: np.ndarray, occ_nxt: np.ndarray) -> None:
    """Reset the two occupancy maps after a step: every cell ever reserved is some agent's ``q_to``."""
    for i in range(q_from.shape[0]):
        occ_now[q_from[i]] = NIL
        if q_to[i] != NIL:
            occ_nxt[q_to[i]] = NIL


@njit(cache=True)
def step_into(successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray, q_from: np.ndarray,
              q_to: np.ndarray, priorities: np.ndarray, occ_now: np.ndarray, occ_nxt: np.ndarray,
              cand: np.ndarray, work: np.ndarray, rng: np.ndarray, swap: bool) -> None:
    """One unconstrained PIBT step from ``q_from`` into ``q_to``, agents in decreasing priority, with or without
    the swap operation; the work arrays (``occ_*`` all NIL on entry and on exit) are reused between steps."""
    n = q_from.shape[0]
    for i in range(n):
        occ_now[q_from[i]] = i
        q_to[i] = NIL
    order = np.argsort(-priorities)
    pibt_configure(order, successors, dist, row_of, q_from, q_to, occ_now, occ_nxt, cand, work, rng, swap)
    clear_occupancy(q_from, q_to, occ_now, occ_nxt)


def work_arrays(agents: int, cells: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(occ_now, occ_nxt, cand, work) for ``agents`` on ``cells`` cells, ready for `step_into`."""
    occ_now = np.full(cells, NIL, dtype=np.int32)
    occ_nxt = np.full(cells, NIL, dtype=np.int32)
    cand = np.empty((agents, width), dtype=np.int64)
    work = np.zeros((agents, W_COLUMNS), dtype=np.int32)
    return occ_now, occ_nxt, cand, work


@njit(cache=True)
def update_priorities(priorities: np.ndarray, positions: np.ndarray, goals: np.ndarray) -> None:
    """PIBT's priorities: one more step of waiting for an agent away from its goal, back to its random tie-break
    (the fractional part) once it is home."""
    for i in range(positions.shape[0]):
        if positions[i] == goals[i]:
            priorities[i] -= np.floor(priorities[i])
        else:
            priorities[i] += 1.0


def pibt_step(successors: np.ndarray, dist: np.ndarray, current: np.ndarray, priorities: np.ndarray,
              rng_seed: int) -> np.ndarray:
    """One PIBT step (the paper's, without the swap operation) for every agent: (N,) int32 next cells. ``dist``
    is (N, C), -1 where the goal is out of reach; ``priorities`` (N,) float, higher moves first; ``rng_seed``
    fixes the tie-breaking. The work is the numba kernel `step_into`."""
    n = current.shape[0]
    q_to = np.empty(n, dtype=np.int32)
    occ_now, occ_nxt, cand, work = work_arrays(n, successors.shape[0], successors.shape[1])
    step_into(successors, dist, np.arange(n, dtype=np.int32), np.ascontiguousarray(current, dtype=np.int32), q_to,
              np.asarray(priorities, dtype=np.float64), occ_now, occ_nxt, cand, work, seed_state(rng_seed), False)
    return q_to


@njit(cache=True)
def next_order(order: np.ndarray, base: np.ndarray, q: np.ndarray, goals: np.ndarray, out: np.ndarray) -> None:
    """PIBT's priority order after a step to ``q``, in O(N) instead of a sort: agents away from their goal keep
    their relative order (each waited one more step), followed by the agents on their goal in the base order
    (their waiting time is back to zero, so only the tie-break ranks them). ``order`` must be sorted by (steps
    waited, tie-break) and ``base`` by tie-break, both decreasing."""
    k = 0
    for r in range(order.shape[0]):
        i = order[r]
        if q[i] != goals[i]:
            out[k] = i
            k += 1
    for r in range(base.shape[0]):
        i = base[r]
        if q[i] == goals[i]:
            out[k] = i
            k += 1


@njit(cache=True)
def pibt_rollout(successors: np.ndarray, dist: np.ndarray, goals: np.ndarray, paths: np.ndarray, t: int,
                 steps: int, order: np.ndarray, base: np.ndarray, rng: np.ndarray, swap: bool, occ_now: np.ndarray,
                 occ_nxt: np.ndarray, cand: np.ndarray, work: np.ndarray) -> int:
    """Run up to ``steps`` PIBT steps from ``paths[t]`` writing ``paths[t + 1 ...]``, agents planned in
    ``order`` (updated in place, see `next_order`); stops early once every agent is on its goal. Returns the last
    step written. The work arrays come from `work_arrays`."""
    n = goals.shape[0]
    row_of = np.arange(n).astype(np.int32)
    spare = np.empty_like(order)
    end = min(t + steps, paths.shape[0] - 1)
    while t < end:
        q_from = paths[t]
        home = True
        for i in range(n):
            if q_from[i] != goals[i]:
                home = False
                break
        if home:
            break
        q_to = paths[t + 1]
        for i in range(n):
            occ_now[q_from[i]] = i
            q_to[i] = NIL
        pibt_configure(order, successors, dist, row_of, q_from, q_to, occ_now, occ_nxt, cand, work, rng, swap)
        clear_occupancy(q_from, q_to, occ_now, occ_nxt)
        t += 1
        next_order(order, base, q_to, goals, spare)
        order[:] = spare
    return t


# ---- LaCAM ----------------------------------------------------------------------------------------------------

# counters (ctr)
N_HNODES, N_LNODES, OPEN_SIZE, ITERATIONS, GOAL_NODE, BEST_NODE, BEST_HOME, BEST_DIST, REHASH = range(9)
COUNTERS = 9
# statuses returned by lacam_run
RUNNING, SOLVED, EXHAUSTED, FULL = 0, 1, 2, 3

_FNV_OFFSET = -3750763034362895579       # 0xcbf29ce484222325 as a signed int64
_FNV_PRIME = 1099511628211


@njit(cache=True)
def config_hash(q: np.ndarray) -> int:
    """64-bit FNV-1a style hash of a configuration (int64 arithmetic wraps around)."""
    h = np.int64(_FNV_OFFSET)
    for i in range(q.shape[0]):
        h = (h ^ np.int64(q[i])) * np.int64(_FNV_PRIME)
    return int(h)


@njit(cache=True)
def find_slot(table: np.ndarray, hn_hash: np.ndarray, hn_config: np.ndarray, q: np.ndarray, h: int) -> int:
    """The table slot holding configuration ``q`` or, when absent, the empty slot where it belongs."""
    mask = table.shape[0] - 1
    k = (h ^ (h >> 29)) & mask
    n = q.shape[0]
    while True:
        node = table[k]
        if node == NIL:
            return int(k)
        if hn_hash[node] == h:
            same = True
            for i in range(n):
                if hn_config[node, i] != q[i]:
                    same = False
                    break
            if same:
                return int(k)
        k = (k + 1) & mask


@njit(cache=True)
def rehash(table: np.ndarray, hn_hash: np.ndarray, hn_config: np.ndarray, nodes: int) -> None:
    """Insert nodes 0 .. nodes - 1 into an empty (all NIL) ``table``."""
    for node in range(nodes):
        table[find_slot(table, hn_hash, hn_config, hn_config[node], hn_hash[node])] = node


@njit(cache=True)
def _new_lnode(ln_parent: np.ndarray, ln_who: np.ndarray, ln_where: np.ndarray, ln_depth: np.ndarray,
               ln_next: np.ndarray, ctr: np.ndarray, parent: int, who: int, where: int, depth: int) -> int:
    node = ctr[N_LNODES]
    ctr[N_LNODES] += 1
    ln_parent[node] = parent
    ln_who[node] = who
    ln_where[node] = where
    ln_depth[node] = depth
    ln_next[node] = NIL
    return int(node)


@njit(cache=True)
def add_node(q: np.ndarray, parent: int, parent_order: np.ndarray, h: int, slot: int, goals: np.ndarray,
             base: np.ndarray, hn_config: np.ndarray, hn_order: np.ndarray, hn_parent: np.ndarray, hn_hash: np.ndarray,
             hn_head: np.ndarray, hn_tail: np.ndarray, ln_parent: np.ndarray, ln_who: np.ndarray,
             ln_where: np.ndarray, ln_depth: np.ndarray, ln_next: np.ndarray, table: np.ndarray,
             open_stack: np.ndarray, ctr: np.ndarray) -> int:
    """Store configuration ``q`` as a new high-level node (its agent order, an empty-constraint root) and push it
    on the DFS stack; returns its id. The order is PIBT's, carried from the order that generated ``q`` from its
    parent (`next_order`); the root's is ``base``."""
    node = ctr[N_HNODES]
    ctr[N_HNODES] += 1
    hn_config[node] = q
    if parent == NIL:
        hn_order[node] = base
    else:
        next_order(parent_order, base, q, goals, hn_order[node])
    hn_parent[node] = parent
    hn_hash[node] = h
    table[slot] = node
    root = _new_lnode(ln_parent, ln_who, ln_where, ln_depth, ln_next, ctr, NIL, NIL, NIL, 0)
    hn_head[node] = root
    hn_tail[node] = root
    open_stack[ctr[OPEN_SIZE]] = node
    ctr[OPEN_SIZE] += 1
    return int(node)


@njit(cache=True)
def _score(q: np.ndarray, goals: np.ndarray, dist: np.ndarray, row_of: np.ndarray) -> tuple[int, int]:
    home = 0
    total = 0
    for i in range(q.shape[0]):
        if q[i] == goals[i]:
            home += 1
        total += dist[row_of[i], q[i]]
    return home, total


@njit(cache=True)
def note_node(node: int, q: np.ndarray, goals: np.ndarray, dist: np.ndarray, row_of: np.ndarray,
              ctr: np.ndarray) -> bool:
    """Keep the best node so far (most agents home, then least total distance); True when ``q`` is the goal."""
    home, total = _score(q, goals, dist, row_of)
    if ctr[BEST_NODE] == NIL or home > ctr[BEST_HOME] or (home == ctr[BEST_HOME] and total < ctr[BEST_DIST]):
        ctr[BEST_NODE] = node
        ctr[BEST_HOME] = home
        ctr[BEST_DIST] = total
    if home == q.shape[0]:
        ctr[GOAL_NODE] = node
        return True
    return False


@njit(cache=True)
def _expand_constraints(h: int, lnode: int, agent: int, successors: np.ndarray, hn_config: np.ndarray,
                        hn_tail: np.ndarray, hn_head: np.ndarray, ln_parent: np.ndarray, ln_who: np.ndarray,
                        ln_where: np.ndarray, ln_depth: np.ndarray, ln_next: np.ndarray, ctr: np.ndarray,
                        rng: np.ndarray) -> None:
    """Append to node ``h``'s queue one child of ``lnode`` per cell ``agent`` can reach next, in random order."""
    u = hn_config[h, agent]
    width = successors.shape[1]
    first = ctr[N_LNODES]
    n = 0
    for k in range(width):
        v = successors[u, k]
        if v >= 0:
            _new_lnode(ln_parent, ln_who, ln_where, ln_depth, ln_next, ctr, lnode, agent, v, ln_depth[lnode] + 1)
            n += 1
    for k in range(n - 1, 0, -1):                 # shuffle the new nodes' cells
        r = (next_random(rng) * (k + 1)) >> 32
        a, b = first + k, first + r
        ln_where[a], ln_where[b] = ln_where[b], ln_where[a]
    for k in range(n):                            # link them at the tail of the queue
        child = first + k
        if hn_tail[h] == NIL:
            hn_head[h] = child
        else:
            ln_next[hn_tail[h]] = child
        hn_tail[h] = child


@njit(cache=True)
def _apply_constraints(lnode: int, q_from: np.ndarray, q_to: np.ndarray, occ_now: np.ndarray,
                       occ_nxt: np.ndarray, ln_parent: np.ndarray, ln_who: np.ndarray, ln_where: np.ndarray,
                       ln_depth: np.ndarray) -> bool:
    """Reserve the constrained moves of ``lnode``'s chain; False on a vertex or swap conflict among them."""
    x = lnode
    while ln_depth[x] > 0:
        i = ln_who[x]
        v = ln_where[x]
        if occ_nxt[v] != NIL:
            return False
        j = occ_now[v]
        if j != NIL and j != i and q_to[j] == q_from[i]:
            return False
        q_to[i] = v
        occ_nxt[v] = i
        x = ln_parent[x]
    return True


@njit(cache=True)
def _shuffled_order(order: np.ndarray, rng: np.ndarray, out: np.ndarray) -> None:
    """``order`` in a random order (Fisher-Yates), written to ``out``."""
    out[:] = order
    for r in range(out.shape[0] - 1, 0, -1):
        m = (next_random(rng) * (r + 1)) >> 32
        out[r], out[m] = out[m], out[r]


@njit(cache=True)
def lacam_run(budget: int, starts: np.ndarray, successors: np.ndarray, dist: np.ndarray, row_of: np.ndarray,
              goals: np.ndarray, base: np.ndarray, rng: np.ndarray, hn_config: np.ndarray, hn_order: np.ndarray,
              hn_parent: np.ndarray, hn_hash: np.ndarray, hn_head: np.ndarray, hn_tail: np.ndarray,
              ln_parent: np.ndarray, ln_who: np.ndarray, ln_where: np.ndarray, ln_depth: np.ndarray,
              ln_next: np.ndarray, table: np.ndarray, open_stack: np.ndarray, ctr: np.ndarray, q_to: np.ndarray,
              occ_now: np.ndarray, occ_nxt: np.ndarray, cand: np.ndarray, work: np.ndarray, swap: bool) -> int:
    """Up to ``budget`` constraint visits; returns SOLVED (ctr[GOAL_NODE] set), EXHAUSTED (no solution exists),
    FULL (an array must grow before the next visit) or RUNNING (budget spent). The first call adds the root node
    (``starts``); a call after the table was replaced by a bigger empty one (``ctr[REHASH]`` set) refills it. The
    whole search is this one kernel, so a process's first plan loads one compiled function from numba's cache."""
    n = goals.shape[0]
    width = successors.shape[1]
    if ctr[REHASH] != 0:
        rehash(table, hn_hash, hn_config, ctr[N_HNODES])
        ctr[REHASH] = 0
    if ctr[N_HNODES] == 0:
        hq = config_hash(starts)
        slot = find_slot(table, hn_hash, hn_config, starts, hq)
        node = add_node(starts, NIL, base, hq, slot, goals, base, hn_config, hn_order, hn_parent, hn_hash, hn_head,
                        hn_tail, ln_parent, ln_who, ln_where, ln_depth, ln_next, table, open_stack, ctr)
        if note_node(node, starts, goals, dist, row_of, ctr):
            return SOLVED
    shuffled = np.empty(n, dtype=np.int32)
    done = 0
    while done < budget:
        if (ctr[N_HNODES] + 1 > hn_config.shape[0] or 2 * (ctr[N_HNODES] + 1) > table.shape[0]
                or ctr[N_LNODES] + width + 1 > ln_parent.shape[0] or ctr[OPEN_SIZE] + 1 > open_stack.shape[0]):
            return FULL
        if ctr[OPEN_SIZE] == 0:
            return EXHAUSTED
        h = open_stack[ctr[OPEN_SIZE] - 1]
        lnode = hn_head[h]
        if lnode == NIL:                          # constraint tree exhausted: every successor was generated
            ctr[OPEN_SIZE] -= 1
            continue
        hn_head[h] = ln_next[lnode]
        if hn_head[h] == NIL:
            hn_tail[h] = NIL
        done += 1
        ctr[ITERATIONS] += 1
        if ln_depth[lnode] < n:
            _expand_constraints(h, lnode, hn_order[h, ln_depth[lnode]], successors, hn_config, hn_tail, hn_head,
                                ln_parent, ln_who, ln_where, ln_depth, ln_next, ctr, rng)
        q_from = hn_config[h]
        order = hn_order[h]
        if ln_depth[lnode] > 0:
            _shuffled_order(order, rng, shuffled)
            order = shuffled
        for i in range(n):
            occ_now[q_from[i]] = i
            q_to[i] = NIL
        ok = _apply_constraints(lnode, q_from, q_to, occ_now, occ_nxt, ln_parent, ln_who, ln_where, ln_depth)
        if ok:
            ok = pibt_configure(order, successors, dist, row_of, q_from, q_to, occ_now, occ_nxt, cand, work, rng,
                                swap)
        clear_occupancy(q_from, q_to, occ_now, occ_nxt)
        if not ok:
            continue
        hq = config_hash(q_to)
        slot = find_slot(table, hn_hash, hn_config, q_to, hq)
        known = table[slot]
        if known != NIL:
            open_stack[ctr[OPEN_SIZE]] = known
            ctr[OPEN_SIZE] += 1
            continue
        node = add_node(q_to, h, order, hq, slot, goals, base, hn_config, hn_order, hn_parent, hn_hash, hn_head,
                        hn_tail, ln_parent, ln_who, ln_where, ln_depth, ln_next, table, open_stack, ctr)
        if note_node(node, q_to, goals, dist, row_of, ctr):
            return SOLVED
    return RUNNING

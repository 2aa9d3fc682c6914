"""Which detected text lines may be pieces of one identifier, in reading order.

A container number is painted as one line, but a text detector often returns it in pieces: the owner code and
the serial on one row with a gap between them, the owner code above the serial (door panels), a vertical column
broken where the owner code ends, and the boxed check digit apart from the rest or not at all. Pieces follow one
another in three ways, each judged relative to the text's own size (its line height, or a column's width):

- **row**: the next piece starts a little to the right, at the same height;
- **stack**: the next horizontal piece starts below, left edges roughly aligned;
- **column**: the next vertical piece continues below, centres roughly aligned.

`reading_chains` lists every chain of up to `max_pieces` such pieces; the grammar then decides which chain is a
number. Pure geometry on (N, 4) boxes, so it is cheap and testable without a model.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

VERTICAL_RATIO = 2.0  # a box this many times taller than wide is a column of stacked characters
SIZE_RATIO = 1.7  # neighbouring pieces of one identifier have text sizes within this factor
LEAN = 0.15  # sideways drift of a column per unit of its length (wide-angle door views)


def is_vertical(box: npt.ArrayLike) -> bool:
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
    return (y1 - y0) > VERTICAL_RATIO * (x1 - x0)


def text_size(box: npt.ArrayLike) -> float:
    """The character size of a line: a row's height, a column's width."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
    return max(1.0, min(x1 - x0, y1 - y0))


def _similar(a: float, b: float) -> bool:
    return max(a, b) <= SIZE_RATIO * min(a, b)


def link(a: npt.ArrayLike, b: npt.ArrayLike) -> str | None:
    """How box `b` may follow box `a` as the next piece of one identifier: "row", "stack", "column" or None."""
    ax0, ay0, ax1, ay1 = (float(v) for v in np.asarray(a).reshape(4))
    bx0, by0, bx1, by1 = (float(v) for v in np.asarray(b).reshape(4))
    if is_vertical(a):
        size = max(ax1 - ax0, 1.0)
        width_ok = (bx1 - bx0) <= SIZE_RATIO * size and (is_vertical(b) or (by1 - by0) <= 2.5 * size)
        centre_gap = abs((ax0 + ax1) - (bx0 + bx1)) / 2
        below = -1.0 * size <= by0 - ay1 <= 2.0 * size and by1 > ay1
        return "column" if width_ok and centre_gap <= 0.8 * size and below else None
    if is_vertical(b):
        return None
    size_a, size_b = ay1 - ay0, by1 - by0
    if not _similar(size_a, size_b):
        return None
    size = max(size_a, size_b)
    overlap = min(ay1, by1) - max(ay0, by0)
    if overlap >= 0.5 * min(size_a, size_b) and -0.3 * size <= bx0 - ax1 <= 2.0 * size:
        return "row"
    if -0.5 * size <= by0 - ay1 <= 0.8 * size and abs(bx0 - ax0) <= 1.0 * size and overlap < 0.3 * size:
        return "stack"
    return None


def reading_chains(xyxy: FloatArray, max_pieces: int = 3) -> list[tuple[int, ...]]:
    """Every chain of 1 to `max_pieces` lines, each following the one before (single lines first). A chain
    turns to a new row at most once: an owner code above its serial, never a size-type code under that."""
    boxes = np.asarray(xyxy, np.float32).reshape(-1, 4)
    n = len(boxes)
    links = {(i, j): kind for i in range(n) for j in range(n)
             if i != j and (kind := link(boxes[i], boxes[j])) is not None}
    chains: list[tuple[int, ...]] = [(i,) for i in range(n)]
    frontier: list[tuple[tuple[int, ...], bool]] = [(chain, False) for chain in chains]
    for _ in range(max_pieces - 1):
        grown = []
        for chain, stacked in frontier:
            for (i, j), kind in links.items():
                if i == chain[-1] and j not in chain and not (stacked and kind == "stack"):
                    grown.append(((*chain, j), stacked or kind == "stack"))
        frontier = grown
        chains += [chain for chain, _ in frontier]
    return chains


def union(xyxy: FloatArray, indices: tuple[int, ...]) -> FloatArray:
    """The box around some lines."""
    boxes = np.asarray(xyxy, np.float32)[list(indices)]
    return np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)]).astype(np.float32)


def is_straight(xyxy: FloatArray, chain: tuple[int, ...]) -> bool:
    """Whether a chain's pieces lie along one line (a row, or a column), so that the box around them holds
    the text in reading order; stacked rows do not."""
    boxes = np.asarray(xyxy, np.float32)[list(chain)]
    if is_vertical(boxes[0]):
        return True
    box = union(boxes, tuple(range(len(boxes))))
    return float(box[3] - box[1]) <= 1.5 * float((boxes[:, 3] - boxes[:, 1]).max())


def extended(box: npt.ArrayLike, width: int, height: int, head: float = 0.0, tail: float = 1.6,
             vertical: bool | None = None) -> FloatArray:
    """A line's box grown along its reading direction, `head` characters before its start and `tail` past its
    end (right for a row, down for a column): a boxed check digit, or a first letter, is often not part of the
    detected line."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box).reshape(4))
    size = text_size(box)
    if is_vertical(box) if vertical is None else vertical:
        lean = LEAN * (head + tail) * size  # a column leans in a wide-angle view: widen it as it grows
        x0, x1 = max(0.0, x0 - lean), min(float(width), x1 + lean)
        y0, y1 = max(0.0, y0 - head * size), min(float(height), y1 + tail * size)
    else:
        x0, x1 = max(0.0, x0 - head * size), min(float(width), x1 + tail * size)
    return np.array([x0, y0, x1, y1], np.float32)

"""Vertical container numbers: find the characters stacked one under another and lay them out in one line.

A line recogniser cannot read a column of upright characters, and rotating the column lays the letters on their
side. The characters on a container are well separated, so connected components of the binarised crop, grouped by
row, give one cell per character; the cells are re-stacked left to right into a line the model reads as usual.
On the real image set this reads 24 of the 25 vertical numbers (see `evaluate.py`).
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]

_CELL_HEIGHT = 64
_GAP = 0.3


def _component_boxes(gray: np.ndarray, max_share: float) -> list[Box]:
    """Boxes of bright blobs of a character's size (a local threshold copes with shading along the column);
    a character is at most `max_share` of the column's height."""
    h, w = gray.shape
    block = max(3, (w // 2) * 2 + 1)
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    boxes = []
    for x, y, bw, bh, _area in stats[1:count]:
        if 0.025 * h <= bh <= max_share * h and bw <= 0.95 * w:
            boxes.append((int(x), int(y), int(x + bw), int(y + bh)))
    return boxes


def _rows(boxes: list[Box]) -> list[Box]:
    """Merge boxes that overlap vertically and lie side by side: the parts of one character, a boxed check digit
    and its frame. A blob far to the side at the same height (a corrugation edge, a scratch) stays apart, or it
    would swell the character's row past a plausible height."""
    rows: list[Box] = []
    for box in sorted(boxes, key=lambda b: b[1]):
        for k in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            r = rows[k]
            height = min(box[3] - box[1], r[3] - r[1])
            overlap = min(box[2], r[2]) - max(box[0], r[0])
            inside = overlap >= 0.5 * min(box[2] - box[0], r[2] - r[0])
            beside = overlap >= -0.3 * height and max(box[3] - box[1], r[3] - r[1]) <= 1.5 * height
            near = inside or beside
            if near and box[1] < r[3] - 0.3 * height:
                rows[k] = (min(r[0], box[0]), min(r[1], box[1]), max(r[2], box[2]), max(r[3], box[3]))
                break
        else:
            rows.append(box)
    return rows


def _column_line(centres: np.ndarray, tolerance: float) -> tuple[float, float] | None:
    """The straight line x = slope·y + offset through the most centres (within `tolerance`), tried through
    every pair of centres: a column leans in a wide-angle view, and the blobs beside it (corrugation edges,
    scratches) would pull a least-squares fit off it."""
    best: tuple[int, float, float, float] | None = None
    for i in range(len(centres)):
        for j in range(i + 1, len(centres)):
            dy = centres[j, 1] - centres[i, 1]
            if abs(dy) < tolerance:
                continue
            slope = (centres[j, 0] - centres[i, 0]) / dy
            if abs(slope) > 0.5:
                continue
            offset = centres[i, 0] - slope * centres[i, 1]
            residual = np.abs(centres[:, 0] - (slope * centres[:, 1] + offset))
            inliers = residual <= tolerance
            key = (int(inliers.sum()), -float(residual[inliers].sum()))
            if best is None or key > (best[0], best[1]):
                best = (key[0], key[1], float(slope), float(offset))
    return None if best is None else (best[2], best[3])


def _plausible(rows: list[Box]) -> list[Box]:
    """Rows of about the median character height that lie on the column (see `_column_line`); where two rows
    share a height, the one nearer the column."""
    if not rows:
        return []
    median = float(np.median([r[3] - r[1] for r in rows]))
    sized = [r for r in rows if 0.5 * median <= r[3] - r[1] <= 1.6 * median]
    if len(sized) < 3:
        return sized
    centres = np.array([((r[0] + r[2]) / 2, (r[1] + r[3]) / 2) for r in sized], np.float64)
    line = _column_line(centres, 0.4 * median)
    if line is None:
        return sized
    off = np.abs(centres[:, 0] - (line[0] * centres[:, 1] + line[1]))
    ranked = sorted((d, r) for d, r in zip(off.tolist(), sized, strict=True) if d <= 0.4 * median)
    kept: list[Box] = []
    for _, r in ranked:
        if all(r[3] <= k[1] + 0.3 * (r[3] - r[1]) or r[1] >= k[3] - 0.3 * (r[3] - r[1]) for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda b: b[1])


def character_cells(image: np.ndarray, max_share: float = 0.2) -> list[Box]:
    """Character boxes from top to bottom, trying light-on-dark and dark-on-light paint."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    best: tuple[float, list[Box]] = (-1e9, [])
    for inverted in (False, True):
        rows = _plausible(_rows(_component_boxes(255 - gray if inverted else gray, max_share)))
        if not rows:
            continue
        spread = float(np.std([(r[0] + r[2]) / 2 for r in rows])) / image.shape[1]
        score = len(rows) - 10.0 * spread
        if score > best[0]:
            best = (score, rows)
    return best[1]


def restack(image: np.ndarray, min_cells: int = 3) -> np.ndarray | None:
    """The column's characters laid side by side (height 64), or None when too few characters were found."""
    cells = character_cells(image)
    if len(cells) < 5:  # a short code (size type, 4 characters) has taller characters for its column
        cells = character_cells(image, max_share=0.35)
    if len(cells) < min_cells:
        return None
    h, w = image.shape[:2]
    background = np.median(image.reshape(-1, 3), axis=0).astype(np.uint8)
    spacer = np.empty((_CELL_HEIGHT, int(_CELL_HEIGHT * _GAP), 3), np.uint8)
    spacer[:] = background
    parts: list[np.ndarray] = [spacer]
    for x0, y0, x1, y1 in cells:
        pad = max(1, int(0.12 * (y1 - y0)))
        cell = image[max(0, y0 - pad):min(h, y1 + pad), max(0, x0 - pad):min(w, x1 + pad)]
        width = max(1, round(cell.shape[1] * _CELL_HEIGHT / cell.shape[0]))
        parts += [cv2.resize(cell, (width, _CELL_HEIGHT), interpolation=cv2.INTER_AREA), spacer]
    return np.hstack(parts)

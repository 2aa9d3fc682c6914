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
    """Merge boxes that overlap vertically: the parts of one character, a boxed check digit and its frame."""
    rows: list[Box] = []
    for box in sorted(boxes, key=lambda b: b[1]):
        if rows and box[1] < rows[-1][3] - 0.3 * (box[3] - box[1]):
            r = rows[-1]
            rows[-1] = (min(r[0], box[0]), min(r[1], box[1]), max(r[2], box[2]), max(r[3], box[3]))
        else:
            rows.append(box)
    return rows


def _plausible(rows: list[Box]) -> list[Box]:
    """Rows of about the median character height."""
    if not rows:
        return []
    median = float(np.median([r[3] - r[1] for r in rows]))
    return [r for r in rows if 0.5 * median <= r[3] - r[1] <= 1.6 * median]


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

"""Door-handle crops to fixed-length feature vectors: shape (HOG), colour and the crop's aspect.

A bolt seal is a small, usually brightly coloured barrel hanging below the handle's catch, so the features say where
strong colour, bright plastic and extra edges sit in the crop, relative to the crop's own paint: door colours vary
(red, blue, white), so absolute colour alone would learn the door rather than the seal.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: Every crop is resized to this (width, height) before features are taken.
CROP_SIZE: tuple[int, int] = (32, 48)
#: Crops smaller or larger than this on a side are refused (→ `unknown`), never classified.
MIN_SIDE_PX, MAX_SIDE_PX = 6, 1024
GRID_COLS, GRID_ROWS = 4, 6
HUE_BINS = 6
#: Extra context around a detector's handle box; see `crop_handle`.
SIDE_PAD, TOP_PAD, BOTTOM_PAD = 0.15, 0.15, 0.15

HOG_CELL, HOG_BINS = 8, 9
HOG_SIZE = (CROP_SIZE[0] // HOG_CELL - 1) * (CROP_SIZE[1] // HOG_CELL - 1) * 4 * HOG_BINS
COLOUR_SIZE = GRID_COLS * GRID_ROWS * 4 + HUE_BINS
FEATURE_SIZE = HOG_SIZE + COLOUR_SIZE + 1


def crop_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The pixel region to cut for a handle box: padded, and extended downward for a flat box.

    A box wider than tall covers the lever only (the synthetic labels do that); the seal hangs below the catch,
    so such a box is extended down until it is square. Tall boxes (the real labels) already include the seal.
    Returns None for a box with no area inside the image.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(np.isfinite((x0, y0, x1, y1))) or x1 <= x0 or y1 <= y0:
        return None
    w, h = x1 - x0, y1 - y0
    extra = max(0.0, w - h)
    ix0, iy0 = max(0, int(x0 - SIDE_PAD * w)), max(0, int(y0 - TOP_PAD * h))
    ix1 = min(width, int(np.ceil(x1 + SIDE_PAD * w)))
    iy1 = min(height, int(np.ceil(y1 + BOTTOM_PAD * h + extra)))
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    return ix0, iy0, ix1, iy1


def crop_handle(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Cut the classifier's input for one handle box from a frame (an empty array when the box is outside)."""
    region = crop_box(box, int(image.shape[1]), int(image.shape[0]))
    if region is None:
        return np.zeros((0, 0, 3), np.uint8)
    x0, y0, x1, y1 = region
    return image[y0:y1, x0:x1]


def usable(crop: object) -> bool:
    """Whether a crop can be classified: a uint8 BGR or grey image within the size limits."""
    if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8:
        return False
    if crop.ndim == 3 and crop.shape[2] not in (1, 3):
        return False
    if crop.ndim not in (2, 3):
        return False
    h, w = int(crop.shape[0]), int(crop.shape[1])
    return min(h, w) >= MIN_SIDE_PX and max(h, w) <= MAX_SIDE_PX


def normalise(crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Usable crops as one (N, H, W, 3) BGR batch at CROP_SIZE, and log(height / width) of each original."""
    width, height = CROP_SIZE
    batch = np.empty((len(crops), height, width, 3), np.uint8)
    aspect = np.empty(len(crops), np.float32)
    for i, crop in enumerate(crops):
        image = crop if crop.ndim == 3 and crop.shape[2] == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        batch[i] = cv2.resize(image, CROP_SIZE, interpolation=cv2.INTER_AREA)
        aspect[i] = np.log(crop.shape[0] / crop.shape[1])
    return batch, aspect


def features(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(N, FEATURE_SIZE) float32 features of usable crops (check with `usable` first)."""
    if not crops:
        return np.zeros((0, FEATURE_SIZE), np.float32)
    return batch_features(*normalise(crops))


def batch_features(batch: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    """The features of a `normalise`d batch (the classifier resizes once for both of its models)."""
    return np.hstack([hog(batch), colour(batch), aspect[:, None]]).astype(np.float32)


def hog(batch: np.ndarray) -> np.ndarray:
    """HOG of each crop's grey image (the outline of handle, catch and a hanging barrel), vectorised over the
    batch: unsigned orientations in HOG_BINS bins, 8-px cells, 2×2-cell blocks with L2-Hys normalisation.
    (OpenCV 5 no longer ships `cv2.HOGDescriptor` in the main modules.)"""
    n, h, w, _ = batch.shape
    grey = cv2.cvtColor(batch.reshape(n * h, w, 3), cv2.COLOR_BGR2GRAY).reshape(n, h, w).astype(np.float32)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, :, 1:-1] = grey[:, :, 2:] - grey[:, :, :-2]
    gy[:, 1:-1, :] = grey[:, 2:, :] - grey[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi) * (HOG_BINS / np.pi)  # 0 .. HOG_BINS
    low = np.floor(angle - 0.5)
    upper_share = angle - 0.5 - low
    cells_y, cells_x = h // HOG_CELL, w // HOG_CELL
    cell = (np.arange(h)[:, None] // HOG_CELL * cells_x + np.arange(w)[None, :] // HOG_CELL).astype(np.int64)
    base = (np.arange(n)[:, None, None] * (cells_y * cells_x) + cell[None]) * HOG_BINS
    size = n * cells_y * cells_x * HOG_BINS
    hist = np.zeros(size, np.float64)
    for offset, share in ((0, 1.0 - upper_share), (1, upper_share)):
        index = base + np.mod(low + offset, HOG_BINS).astype(np.int64)
        hist += np.bincount(index.ravel(), (magnitude * share).ravel(), minlength=size)
    hist = hist.reshape(n, cells_y, cells_x, HOG_BINS)
    blocks = np.concatenate([hist[:, :-1, :-1], hist[:, :-1, 1:], hist[:, 1:, :-1], hist[:, 1:, 1:]], axis=-1)
    blocks = blocks / (np.linalg.norm(blocks, axis=-1, keepdims=True) + 1e-3)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / (np.linalg.norm(blocks, axis=-1, keepdims=True) + 1e-3)
    out: np.ndarray = blocks.reshape(n, -1)
    return out


def colour(batch: np.ndarray) -> np.ndarray:
    """Per grid cell: saturation and brightness against the crop's median, shares of vivid and of white pixels;
    and a hue histogram of the vivid pixels. Vectorised over the batch."""
    n, h, w, _ = batch.shape
    hsv = cv2.cvtColor(batch.reshape(n * h, w, 3), cv2.COLOR_BGR2HSV).reshape(n, h, w, 3).astype(np.float32)
    hue, sat, val = hsv[..., 0], hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    sat_ref = np.median(sat.reshape(n, -1), axis=1)[:, None, None]
    val_ref = np.median(val.reshape(n, -1), axis=1)[:, None, None]
    vivid = (sat > sat_ref + 0.25) & (val > 0.25)
    white = (sat < 0.2) & (val > np.maximum(val_ref + 0.2, 0.7))
    planes = np.stack([sat - sat_ref, val - val_ref, vivid, white], axis=-1)
    cells = planes.reshape(n, GRID_ROWS, h // GRID_ROWS, GRID_COLS, w // GRID_COLS, 4).mean(axis=(2, 4))
    bins = np.minimum((hue * HUE_BINS / 180.0).astype(np.int64), HUE_BINS - 1)
    index = (np.arange(n)[:, None, None] * HUE_BINS + bins)[vivid]
    hist = np.bincount(index, minlength=n * HUE_BINS).reshape(n, HUE_BINS) / float(h * w)
    out: np.ndarray = np.hstack([cells.reshape(n, -1), hist])
    return out

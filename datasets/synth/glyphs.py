"""Text as tight ink masks: the exact pixels a string covers, so truth boxes equal the painted ink.

Text is rendered with Pillow at the requested cap height, cropped to its ink, optionally squeezed horizontally
(plate and container fonts are condensed), and painted into a sprite with `paint`.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw

from datasets.synth.fonts import load_font

REFERENCE_SIZE = 200


@lru_cache(maxsize=32)
def cap_ratio(font_name: str) -> float:
    """Height of a capital `H` per unit of font size; sizes fonts by the cap height that standards specify."""
    font = load_font(font_name, REFERENCE_SIZE)
    _, top, _, bottom = font.getbbox("H")
    return (bottom - top) / REFERENCE_SIZE


def text_ink(text: str, font_name: str, cap_h: float, *, condense: float = 1.0, tracking: float = 0.0) -> np.ndarray:
    """A uint8 mask of `text` cropped to its ink, with capitals `cap_h` pixels high.

    `condense` scales widths (below 1 narrows); `tracking` adds that many cap heights between characters.
    """
    size = max(4, round(cap_h / cap_ratio(font_name)))
    font = load_font(font_name, size)
    if tracking:
        return _tracked(text, font_name, cap_h, condense, tracking)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (int(right - left) + 4, int(bottom - top) + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, fill=255, font=font)
    mask = _crop(np.asarray(image))
    if condense != 1.0 and mask.size:
        width = max(1, round(mask.shape[1] * condense))
        mask = cv2.resize(mask, (width, mask.shape[0]), interpolation=cv2.INTER_AREA)
    return mask


def _tracked(text: str, font_name: str, cap_h: float, condense: float, tracking: float) -> np.ndarray:
    """Characters placed one by one with extra spacing, on a shared baseline."""
    size = max(4, round(cap_h / cap_ratio(font_name)))
    font = load_font(font_name, size)
    gap = tracking * cap_h
    ascent, descent = font.getmetrics()
    widths = [font.getlength(ch) * condense for ch in text]
    total = int(sum(widths) + gap * max(0, len(text) - 1)) + 8
    canvas = np.zeros((ascent + descent + 4, total), np.uint8)
    x = 2.0
    for ch, width in zip(text, widths, strict=True):
        mask = text_ink(ch, font_name, cap_h, condense=condense) if ch.strip() else None
        if mask is not None and mask.size:
            left, top, _, _ = font.getbbox(ch)
            x0 = round(x + left * condense)
            y0 = 2 + top
            h, w = mask.shape
            region = canvas[y0:y0 + h, x0:x0 + w]
            np.maximum(region, mask[:region.shape[0], :region.shape[1]], out=region)
        x += width + gap
    return _crop(canvas)


def stacked_ink(text: str, font_name: str, cap_h: float, *, line_gap: float = 0.25) -> np.ndarray:
    """Characters one under another, centred in a column: the vertical marking on container sides."""
    masks = [text_ink(ch, font_name, cap_h) for ch in text if ch.strip()]
    width = max(m.shape[1] for m in masks)
    step = round(cap_h * (1 + line_gap))
    canvas = np.zeros((step * len(masks) + round(cap_h), width), np.uint8)
    for i, mask in enumerate(masks):
        y = i * step + (round(cap_h) - mask.shape[0] if mask.shape[0] < cap_h else 0)
        x = (width - mask.shape[1]) // 2
        canvas[y:y + mask.shape[0], x:x + mask.shape[1]] = np.maximum(canvas[y:y + mask.shape[0],
                                                                             x:x + mask.shape[1]], mask)
    return _crop(canvas)


def fit_ink(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """The mask resized to exactly width x height pixels (plate characters fill fixed cells)."""
    return cv2.resize(mask, (max(1, width), max(1, height)), interpolation=cv2.INTER_AREA)


def boxed(mask: np.ndarray, pad: float = 0.18, stroke: float = 0.09) -> np.ndarray:
    """The mask inside a rectangle outline, as the ISO 6346 check digit is painted."""
    h, w = mask.shape
    p = max(1, round(h * pad))
    s = max(1, round(h * stroke))
    out = np.zeros((h + 2 * (p + s), w + 2 * (p + s)), np.uint8)
    out[p + s:p + s + h, p + s:p + s + w] = mask
    cv2.rectangle(out, (0, 0), (out.shape[1] - 1, out.shape[0] - 1), 255, s)
    return out


def hconcat(masks: list[np.ndarray], gaps: list[int], *, align: str = "bottom") -> np.ndarray:
    """Masks side by side with the given gaps, aligned at the bottom or centred vertically."""
    height = max(m.shape[0] for m in masks)
    width = sum(m.shape[1] for m in masks) + sum(gaps)
    out = np.zeros((height, width), np.uint8)
    x = 0
    for i, mask in enumerate(masks):
        y = height - mask.shape[0] if align == "bottom" else (height - mask.shape[0]) // 2
        out[y:y + mask.shape[0], x:x + mask.shape[1]] = mask
        x += mask.shape[1] + (gaps[i] if i < len(gaps) else 0)
    return out


def paint(image: np.ndarray, mask: np.ndarray, x: int, y: int, color: tuple[int, int, int],
          opacity: float = 1.0) -> tuple[int, int, int, int]:
    """Blend `color` into a BGR(A) image through the mask at (x, y); returns the painted ink box (x0, y0, x1, y1).

    The box is that of the mask's nonzero pixels that landed inside the image, so it is exact.
    """
    h, w = mask.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x + w), min(image.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return (x0, y0, x0, y0)
    sub = mask[y0 - y:y1 - y, x0 - x:x1 - x]
    alpha = sub.astype(np.float32)[..., None] * (opacity / 255.0)
    region = image[y0:y1, x0:x1, :3].astype(np.float32)
    region += (np.asarray(color, np.float32) - region) * alpha
    image[y0:y1, x0:x1, :3] = region.astype(np.uint8)
    if image.shape[2] == 4:
        np.maximum(image[y0:y1, x0:x1, 3], (sub.astype(np.float32) * opacity).astype(np.uint8),
                   out=image[y0:y1, x0:x1, 3])
    ys, xs = np.nonzero(sub)
    if len(xs) == 0:
        return (x0, y0, x0, y0)
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)


def _crop(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask > 8)
    if len(xs) == 0:
        return np.zeros((1, 1), np.uint8)
    return np.ascontiguousarray(mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1])

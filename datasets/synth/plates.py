"""Licence plates drawn to scale: Vietnamese one- and two-line, Chinese yellow, blue and trailer plates.

A plate is drawn at three times its final resolution and reduced, so strokes stay crisp and edges soft like a
camera sees them. Sizes are the legal ones in millimetres; characters fill fixed cells as the standard fonts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from datasets.synth.fonts import CHINESE_FONT, PLATE_FONT
from datasets.synth.glyphs import fit_ink, paint, text_ink
from datasets.synth.identifiers import CN_DOT, cn_plate_lines, vn_plate_lines
from datasets.synth.textures import Color, noise

PlateFormat = Literal["vn", "cn"]
PlateColor = Literal["white", "yellow", "blue", "green"]

SUPERSAMPLE = 3

_BACKGROUNDS: dict[str, Color] = {"white": (236, 238, 238), "yellow": (20, 196, 246), "blue": (150, 62, 12),
                                  "green": (120, 200, 110)}
_INKS: dict[str, Color] = {"white": (22, 22, 22), "yellow": (18, 18, 18), "blue": (245, 245, 245),
                           "green": (18, 18, 18)}


@dataclass(frozen=True)
class PlateSpec:
    """What a plate says and looks like; `text` is canonical (`12C-123.45`, `桂A·12345`)."""

    text: str
    format: PlateFormat
    color: PlateColor
    lines: Literal[1, 2]

    def size_mm(self) -> tuple[int, int]:
        """Width and height in millimetres."""
        if self.format == "vn":
            return (520, 110) if self.lines == 1 else (330, 165)
        return (440, 140) if self.lines == 1 else (440, 220)


def render_plate(spec: PlateSpec, width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    """The plate as an opaque BGR image of exactly width_px x height_px."""
    ss = SUPERSAMPLE
    w, h = max(8, width_px * ss), max(4, height_px * ss)
    mm = w / spec.size_mm()[0]
    image = np.empty((h, w, 3), np.uint8)
    image[:] = _BACKGROUNDS[spec.color]
    shade = 0.93 + 0.1 * noise(rng, h, w, 7)
    image[:] = np.clip(image.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8)
    ink = _INKS[spec.color]
    border = max(1, round(4 * mm))
    inset = max(1, round(5 * mm))
    cv2.rectangle(image, (inset, inset), (w - 1 - inset, h - 1 - inset), ink, border, lineType=cv2.LINE_AA)
    if spec.format == "vn":
        _draw_vn(image, spec, mm, ink)
    else:
        _draw_cn(image, spec, mm, ink)
    return cv2.resize(image, (width_px, height_px), interpolation=cv2.INTER_AREA)


def _row(image: np.ndarray, cells: list[tuple[str, str, float]], y: float, cap_mm: float, mm: float,
         ink: Color, x_centre: float) -> None:
    """Characters in fixed-width cells, centred on x_centre: (char, font, cell width mm) per cell."""
    total = sum(width for _, _, width in cells) * mm
    x = x_centre - total / 2
    cap = cap_mm * mm
    for ch, font, width in cells:
        cell = width * mm
        if ch in ".-" + CN_DOT:
            dot = round(cap * (0.13 if ch != "-" else 0.1))
            mark = np.full((dot, dot if ch != "-" else round(cell * 0.7)), 255, np.uint8)
            y_mark = y + (cap - dot if ch == "." else (cap - dot) / 2)
            paint(image, mark, round(x + (cell - mark.shape[1]) / 2), round(y_mark), ink)
        else:
            glyph = text_ink(ch, font, cap)
            glyph_w = min(round(cell * 0.86), max(1, round(glyph.shape[1] * 0.82)))
            if ch == "1":
                glyph_w = max(1, round(glyph.shape[1] * 0.8))
            glyph = fit_ink(glyph, glyph_w, round(cap))
            paint(image, glyph, round(x + (cell - glyph_w) / 2), round(y), ink)
        x += cell


def _cells(text: str, digit_mm: float, narrow_mm: float, font: str = PLATE_FONT) -> list[tuple[str, str, float]]:
    return [(ch, font, narrow_mm if ch in ".-" + CN_DOT else digit_mm) for ch in text]


def _draw_vn(image: np.ndarray, spec: PlateSpec, mm: float, ink: Color) -> None:
    w_mm, h_mm = spec.size_mm()
    if spec.lines == 1:
        cells = _cells(spec.text, 46, 22)
        scale = min(1.0, (w_mm - 40) / sum(c[2] for c in cells))
        cells = [(ch, font, width * scale) for ch, font, width in cells]
        _row(image, cells, (h_mm - 76) / 2 * mm, 76, mm, ink, image.shape[1] / 2)
        return
    top, bottom = vn_plate_lines(spec.text)
    _row(image, _cells(top, 50, 22), 14 * mm, 62, mm, ink, image.shape[1] / 2)
    cells = _cells(bottom, 52, 20)
    scale = min(1.0, (w_mm - 30) / sum(c[2] for c in cells))
    _row(image, [(c, f, wd * scale) for c, f, wd in cells], 88 * mm, 64, mm, ink, image.shape[1] / 2)


def _draw_cn(image: np.ndarray, spec: PlateSpec, mm: float, ink: Color) -> None:
    w_mm, h_mm = spec.size_mm()
    for x in (w_mm * 0.22, w_mm * 0.78):  # the two fixing rivets
        cv2.circle(image, (round(x * mm), round(12 * mm)), max(1, round(5 * mm)), (110, 110, 110), -1, cv2.LINE_AA)
    head, rest = cn_plate_lines(spec.text)
    province, authority = head[0], head[1:]
    if spec.lines == 1:
        cells = [(province, CHINESE_FONT, 50.0), (authority, PLATE_FONT, 50.0), (CN_DOT, PLATE_FONT, 24.0)]
        cells += [(ch, CHINESE_FONT if ch == "挂" else PLATE_FONT, 50.0) for ch in rest]
        _row(image, cells, (h_mm - 90) / 2 * mm, 90, mm, ink, image.shape[1] / 2)
        return
    _row(image, [(province, CHINESE_FONT, 80.0), (authority, PLATE_FONT, 80.0)], 24 * mm, 60, mm, ink,
         image.shape[1] / 2)
    cells = [(ch, CHINESE_FONT if ch == "挂" else PLATE_FONT, 75.0) for ch in rest]
    _row(image, cells, 98 * mm, 106, mm, ink, image.shape[1] / 2)

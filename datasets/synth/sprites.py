"""Sprites: a truck face drawn once per passage, with its labelled elements and its place on the truck."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from datasets.recording import ObjectClass
from datasets.synth.textures import Color

Rect = tuple[float, float, float, float]


@dataclass
class Element:
    """A labelled thing on a sprite: its convex outline in sprite pixels (edge convention) and its truth."""

    cls: ObjectClass
    key: str
    polygon: np.ndarray
    text: str | None = None
    attrs: dict[str, str | float | bool] = field(default_factory=dict)


def rect_quad(rect: Rect) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


@dataclass
class Canvas:
    """A BGRA drawing surface (straight alpha) in metres-aware pixels, collecting elements as it is drawn."""

    image: np.ndarray
    ppm: float
    elements: list[Element] = field(default_factory=list)
    lights: list[tuple[float, float, float, Color]] = field(default_factory=list)

    @classmethod
    def blank(cls, width_m: float, height_m: float, ppm: float) -> Canvas:
        shape = (max(1, round(height_m * ppm)), max(1, round(width_m * ppm)), 4)
        return cls(np.zeros(shape, np.uint8), ppm)

    def px(self, metres: float) -> int:
        return round(metres * self.ppm)

    def fill(self, rect: Rect, color: Color, alpha: int = 255) -> None:
        x0, y0, x1, y1 = (round(v) for v in rect)
        cv2.rectangle(self.image, (x0, y0), (x1 - 1, y1 - 1), (*color, alpha), -1)

    def put(self, rect: Rect, texture: np.ndarray) -> None:
        """Place an opaque float or uint8 BGR texture into a rect (clipped to the canvas and to the texture, which
        its caller sized by rounding metres on its own and may be a pixel short of the rounded rect)."""
        x0, y0, x1, y1 = (round(v) for v in rect)
        h, w = self.image.shape[:2]
        th, tw = texture.shape[:2]
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1, x0 + tw), min(h, y1, y0 + th)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        tex = texture[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        self.image[cy0:cy1, cx0:cx1, :3] = np.clip(tex, 0, 255).astype(np.uint8)
        self.image[cy0:cy1, cx0:cx1, 3] = 255

    def add(self, cls: ObjectClass, key: str, rect: Rect | np.ndarray, text: str | None = None,
            **attrs: str | float | bool) -> Element:
        """Label a region: a rect (x0, y0, x1, y1) or a convex polygon (N, 2) in sprite pixels."""
        polygon = rect if isinstance(rect, np.ndarray) else rect_quad(rect)
        element = Element(cls, key, polygon, text, dict(attrs))
        self.elements.append(element)
        return element

    def outline(self) -> np.ndarray:
        """Convex hull (edge convention) of the drawn pixels: under perspective its projection bounds them exactly,
        where a rectangle's corners would overshoot the empty corners of the sprite."""
        mask = self.image[..., 3] > 24
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows) == 0:
            return np.zeros((0, 2))
        first = mask[rows].argmax(axis=1)
        last = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
        extremes = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)]).astype(np.float32)
        hull = cv2.convexHull(extremes).reshape(-1, 2).astype(np.float64)
        corners = (hull[:, None, :] + np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float64)).reshape(-1, 2)
        return np.asarray(cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2), np.float64)

    def opaque_rect(self) -> Rect:
        x, y, w, h = cv2.boundingRect((self.image[..., 3] > 24).view(np.uint8))
        return (float(x), float(y), float(x + w), float(y + h))


@dataclass
class Sprite:
    """A finished face: premultiplied BGRA mip levels, its local placement and its elements."""

    name: str
    levels: list[np.ndarray]
    origin: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    normal: np.ndarray
    elements: list[Element]
    opaque: Rect
    lights: list[tuple[float, float, float, Color]]

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.levels[0].shape[:2]
        return w, h


def finish(canvas: Canvas, name: str, origin: np.ndarray, e_u: np.ndarray, e_v: np.ndarray,
           normal: np.ndarray, opaque: Rect, levels: int = 3) -> Sprite:
    """Premultiply alpha and build half-size levels (area-averaged, so level k pixel i spans 2^k i .. 2^k (i+1))."""
    image = canvas.image
    alpha = image[..., 3]
    premultiplied = cv2.multiply(image, cv2.merge([alpha, alpha, alpha, np.full_like(alpha, 255)]), scale=1 / 255)
    pyramid = [premultiplied]
    for _ in range(levels - 1):
        h, w = pyramid[-1].shape[:2]
        if w < 8 or h < 8:
            break
        pyramid.append(cv2.resize(pyramid[-1], (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    return Sprite(name, pyramid, origin, e_u, e_v, normal, canvas.elements, opaque, canvas.lights)

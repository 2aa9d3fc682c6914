"""Hard conditions: what makes reading a plate or a container number hard, drawn cheaply.

Conditions that belong to the truck (dirt, partly hidden characters, specular glare on the plate, wet paint, night
lighting) are baked into its sprites once per passage. Conditions of the camera (rain streaks, lens flare, motion
blur, sensor noise, JPEG artefacts) are applied per frame with precomputed layers, so they cost little.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from datasets.synth.sprites import Canvas
from datasets.synth.textures import apply_dirt, dirt_alpha

CONDITIONS: tuple[str, ...] = ("night", "glare", "rain", "dirt", "motion_blur", "perspective", "jpeg", "occlusion")
TEXT_CLASSES = ("plate", "container_number")


def sample_conditions(rng: np.random.Generator, share: float) -> tuple[str, ...]:
    """With probability `share`, one to three conditions (night and rain count as ambient)."""
    if rng.random() >= share:
        return ()
    count = int(rng.choice([1, 2, 3], p=[0.55, 0.33, 0.12]))
    picked = rng.choice(len(CONDITIONS), size=count, replace=False)
    return tuple(CONDITIONS[i] for i in sorted(int(p) for p in picked))


# --- on the truck ----------------------------------------------------------------------------------------------

def weather_sprite(canvas: Canvas, conditions: tuple[str, ...], rng: np.random.Generator, face: str) -> None:
    """Apply the truck-borne conditions to a face being drawn (before it is premultiplied)."""
    if "occlusion" in conditions:
        _occlude(canvas, rng)
    if "dirt" in conditions:
        _soil(canvas, rng)
    if "glare" in conditions:
        _specular(canvas, rng)
    if "rain" in conditions:
        canvas.image[..., :3] = (canvas.image[..., :3].astype(np.uint16) * 217 >> 8).astype(np.uint8)
    if "night" in conditions:
        _night(canvas)


def _text_elements(canvas: Canvas) -> list[int]:
    return [i for i, e in enumerate(canvas.elements) if e.cls in TEXT_CLASSES]


def _occlude(canvas: Canvas, rng: np.random.Generator) -> None:
    """Hide 15-35 % of a text's width behind a strap, a bracket or a lump of mud."""
    for i in _text_elements(canvas):
        if rng.random() < 0.35:
            continue
        element = canvas.elements[i]
        x0, y0 = element.polygon.min(axis=0)
        x1, y1 = element.polygon.max(axis=0)
        w, h = x1 - x0, y1 - y0
        vertical = bool(element.attrs.get("vertical", False))
        share = float(rng.uniform(0.15, 0.35))
        color = (int(rng.integers(20, 70)), int(rng.integers(35, 80)), int(rng.integers(45, 95)))
        if vertical:
            top = y0 + h * float(rng.uniform(0.0, 1.0 - share))
            box = (x0 - w * 0.3, top, x1 + w * 0.3, top + h * share)
        else:
            left = x0 + w * float(rng.uniform(0.0, 1.0 - share))
            box = (left, y0 - h * 0.15, left + w * share, y1 + h * 0.15)
        bx0, by0, bx1, by1 = (round(v) for v in box)
        pts = np.array([[bx0, by0], [bx1, by0 + int(rng.integers(-2, 3))], [bx1, by1], [bx0, by1 - 1]])
        cv2.fillConvexPoly(canvas.image, pts, (*color, 255), cv2.LINE_AA)
        element.attrs["occluded"] = True


def _soil(canvas: Canvas, rng: np.random.Generator) -> None:
    """Mud over the lower body and on the plates, as trucks from unpaved roads carry."""
    h, w = canvas.image.shape[:2]
    alpha = dirt_alpha(rng, h, w, float(rng.uniform(0.35, 0.8)))
    alpha *= canvas.image[..., 3].astype(np.float32) / 255.0
    apply_dirt(canvas.image, alpha)
    for element in canvas.elements:
        if element.cls in TEXT_CLASSES:
            element.attrs["dirty"] = True


def _specular(canvas: Canvas, rng: np.random.Generator) -> None:
    """A bright reflection over part of each plate and door marking, washing out some strokes."""
    for i in _text_elements(canvas):
        element = canvas.elements[i]
        x0, y0 = element.polygon.min(axis=0)
        x1, y1 = element.polygon.max(axis=0)
        cx = x0 + (x1 - x0) * float(rng.uniform(0.1, 0.9))
        cy = y0 + (y1 - y0) * float(rng.uniform(0.2, 0.8))
        radius = max(4.0, (y1 - y0) * float(rng.uniform(0.6, 1.4)))
        _add_glow(canvas.image, cx, cy, radius, (255, 255, 255), float(rng.uniform(0.55, 0.95)))
        element.attrs["glare"] = True


def _night(canvas: Canvas) -> None:
    """Dim everything, keep retro-reflective plates readable, switch the lamps on."""
    image = canvas.image
    bright = image[..., :3].astype(np.float32)
    factor = np.full(image.shape[:2], 0.3, np.float32)
    for element in canvas.elements:
        if element.cls == "plate":
            x0, y0 = element.polygon.min(axis=0).astype(int)
            x1, y1 = element.polygon.max(axis=0).astype(int)
            factor[max(0, y0):y1, max(0, x0):x1] = 0.72
    bright *= factor[..., None]
    bright[..., 0] *= 1.15
    image[..., :3] = np.clip(bright, 0, 255).astype(np.uint8)
    for x, y, radius, color in canvas.lights:
        cv2.circle(image, (round(x), round(y)), max(1, round(radius * 0.35)), (*color, 255), -1, cv2.LINE_AA)


def _add_glow(image: np.ndarray, cx: float, cy: float, radius: float, color: tuple[int, int, int],
              strength: float) -> None:
    """Additive Gaussian light in place (BGR or BGRA; alpha untouched)."""
    r = int(radius * 2.5)
    x0, y0 = max(0, int(cx) - r), max(0, int(cy) - r)
    x1, y1 = min(image.shape[1], int(cx) + r + 1), min(image.shape[0], int(cy) + r + 1)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius * radius)) * strength
    region = image[y0:y1, x0:x1, :3].astype(np.float32)
    region += (np.asarray(color, np.float32) - region) * weight[..., None]
    image[y0:y1, x0:x1, :3] = region.astype(np.uint8)


# --- on the camera ---------------------------------------------------------------------------------------------

@dataclass
class FrameEffects:
    """Per-passage, per-camera effect layers, built once and applied to every frame of the passage."""

    quality: int
    noise_sigma: float
    rain: list[np.ndarray]
    flare: np.ndarray | None
    blur_exposure_s: float
    night: bool

    @classmethod
    def build(cls, conditions: tuple[str, ...], size: tuple[int, int], rng: np.random.Generator,
              base_quality: int) -> FrameEffects:
        width, height = size
        quality = int(rng.integers(12, 32)) if "jpeg" in conditions else base_quality
        night = "night" in conditions
        rain = [_rain_layer(rng, width, height) for _ in range(3)] if "rain" in conditions else []
        flare = _flare_layer(rng, width, height) if "glare" in conditions else None
        exposure = float(rng.uniform(0.05, 0.12)) if "motion_blur" in conditions else 0.0
        return cls(quality, 7.0 if night else 2.5, rain, flare, exposure, night)

    def apply(self, frame: np.ndarray, index: int, noise_bank: NoiseBank, rng: np.random.Generator) -> None:
        """Rain, flare and sensor noise, in place."""
        if self.rain:
            cv2.convertScaleAbs(frame, frame, 0.86, 18)
            cv2.add(frame, self.rain[index % len(self.rain)], frame)
        if self.flare is not None:
            cv2.add(frame, self.flare, frame)
        noise_bank.add(frame, self.noise_sigma, rng)


def motion_blur(frame: np.ndarray, roi: tuple[int, int, int, int], velocity_px_s: np.ndarray,
                exposure_s: float) -> None:
    """Smear a region along the image velocity of the vehicle over the exposure time."""
    shift = velocity_px_s * exposure_s
    length = float(np.hypot(*shift))
    if length < 1.5:
        return
    length = min(length, 40.0)
    k = int(np.ceil(length)) | 1
    x0, y0, x1, y1 = roi
    x0, y0 = max(0, x0 - k), max(0, y0 - k)
    x1, y1 = min(frame.shape[1], x1 + k), min(frame.shape[0], y1 + k)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    region = frame[y0:y1, x0:x1]
    angle = float(np.degrees(np.arctan2(shift[1], shift[0]))) % 180.0
    if min(angle, 180.0 - angle) < 15.0 or abs(angle - 90.0) < 15.0:  # box filter along an axis: cheap
        size = (k, 1) if min(angle, 180.0 - angle) < 15.0 else (1, k)
        frame[y0:y1, x0:x1] = cv2.blur(region, size, borderType=cv2.BORDER_REPLICATE)
        return
    kernel = np.zeros((k, k), np.float32)
    cv2.line(kernel, (0, k // 2), (k - 1, k // 2), 1.0, 1)
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), -angle, 1.0)
    kernel = np.asarray(cv2.warpAffine(kernel, rot, (k, k)), np.float32)
    kernel /= max(float(kernel.sum()), 1e-6)
    frame[y0:y1, x0:x1] = cv2.filter2D(region, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def add_light_glows(frame: np.ndarray, points: np.ndarray, radii: np.ndarray,
                    colors: list[tuple[int, int, int]]) -> None:
    """Bloom around lit lamps at night (frame coordinates)."""
    for (x, y), radius, color in zip(points, radii, colors, strict=True):
        if -radius < x < frame.shape[1] + radius and -radius < y < frame.shape[0] + radius:
            _add_glow(frame, float(x), float(y), max(2.0, float(radius)), color, 0.85)


class NoiseBank:
    """Gaussian sensor noise as two precomputed non-negative layers, cut at random offsets per frame."""

    MARGIN = 64

    def __init__(self, size: tuple[int, int], seed: int) -> None:
        width, height = size
        rng = np.random.default_rng(seed)
        field = rng.normal(0.0, 1.0, (height + self.MARGIN, width + self.MARGIN, 3)).astype(np.float32)
        self._unit = field
        self._cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self.size = size

    def add(self, frame: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
        layers = self._cache.get(sigma)
        if layers is None:
            scaled = self._unit * sigma
            layers = (np.clip(scaled, 0, 255).astype(np.uint8), np.clip(-scaled, 0, 255).astype(np.uint8))
            self._cache[sigma] = layers
        width, height = self.size
        dx, dy = (int(v) for v in rng.integers(0, self.MARGIN, 2))
        cv2.add(frame, layers[0][dy:dy + height, dx:dx + width], frame)
        cv2.subtract(frame, layers[1][dy:dy + height, dx:dx + width], frame)


def _rain_layer(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    layer = np.zeros((height, width), np.uint8)
    count = int(width * height / 900)
    slant = float(rng.uniform(-0.25, 0.25))
    xs = rng.integers(0, width, count)
    ys = rng.integers(0, height, count)
    lengths = rng.integers(height // 40 + 4, height // 14 + 8, count)
    values = rng.integers(25, 75, count)
    for x, y, n, v in zip(xs, ys, lengths, values, strict=True):
        cv2.line(layer, (int(x), int(y)), (int(x + slant * n), int(y + n)), int(v), 1, cv2.LINE_AA)
    return np.asarray(cv2.cvtColor(cv2.GaussianBlur(layer, (3, 3), 0), cv2.COLOR_GRAY2BGR), np.uint8)


def _flare_layer(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Sun or floodlight glare: a bright halo with a few streaks, added to the frame."""
    cx = float(rng.uniform(0.1, 0.9)) * width
    cy = float(rng.uniform(0.0, 0.6)) * height
    radius = float(rng.uniform(0.12, 0.35)) * width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    halo = np.exp(-(dist / radius) ** 2) * float(rng.uniform(90, 180))
    streaks = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        angle = float(rng.uniform(0, np.pi))
        dx, dy = np.cos(angle) * width, np.sin(angle) * width
        cv2.line(streaks, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), float(rng.uniform(25, 60)),
                 max(1, int(radius * 0.02)), cv2.LINE_AA)
    halo += streaks * np.exp(-dist / (radius * 1.2))
    layer = np.repeat(halo[..., None], 3, axis=2)
    layer[..., 0] *= 0.92
    return np.asarray(np.clip(layer, 0, 255), np.uint8)

"""Procedural surface textures: smooth noise, corrugation, weathering and dirt, all seeded.

Everything is float32 in [0, 1] or a BGR uint8 image; the heavy noise fields are built once per process and cut
into windows, so a passage's sprites cost milliseconds.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

Color = tuple[int, int, int]


@lru_cache(maxsize=4)
def _noise_bank(octave: int) -> np.ndarray:
    """A 1024x1024 smooth noise field in [0, 1] whose blobs are about 2**octave pixels across."""
    rng = np.random.default_rng(1000 + octave)
    cells = max(2, 1024 >> octave)
    small = rng.random((cells, cells), dtype=np.float32)
    return cv2.resize(small, (1024, 1024), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def noise(rng: np.random.Generator, height: int, width: int, octave: int = 5) -> np.ndarray:
    """A window of smooth noise of the requested size (tiled and stretched if larger than the bank)."""
    bank = _noise_bank(octave)
    if height > 1024 or width > 1024:
        return cv2.resize(bank, (max(width, 1), max(height, 1)), interpolation=cv2.INTER_LINEAR)
    y = int(rng.integers(0, 1024 - height + 1))
    x = int(rng.integers(0, 1024 - width + 1))
    out = bank[y:y + height, x:x + width]
    return out[:, ::-1] if rng.random() < 0.5 else out


def fractal(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Sum of three octaves, normalised to [0, 1]: weathering, grime, stains."""
    total = noise(rng, height, width, 3) * 0.25 + noise(rng, height, width, 5) * 0.35 + noise(rng, height, width, 7)
    total -= total.min()
    return np.asarray(total / max(float(total.max()), 1e-6), np.float32)


def corrugation(width: int, height: int, pitch: float, *, vertical: bool = True, depth: float = 0.22) -> np.ndarray:
    """Shading factor of a trapezoid-corrugated steel panel (about 1 on flats, darker on the slopes)."""
    n = width if vertical else height
    phase = (np.arange(n, dtype=np.float32) % pitch) / pitch
    profile = np.where(phase < 0.4, 1.0 + depth * 0.25,
                       np.where(phase < 0.5, 1.0 - depth, np.where(phase < 0.9, 1.0 - depth * 0.35, 1.0 + depth * 0.5)))
    profile = cv2.GaussianBlur(profile.astype(np.float32)[None, :], (0, 0), max(0.6, pitch * 0.04)).ravel()
    if vertical:
        return np.broadcast_to(profile[None, :], (height, width)).astype(np.float32)
    return np.broadcast_to(profile[:, None], (height, width)).astype(np.float32)


def tint(shape: tuple[int, int], color: Color) -> np.ndarray:
    """A float32 BGR image filled with a colour."""
    out = np.empty((*shape, 3), np.float32)
    out[:] = color
    return out


def weathered(rng: np.random.Generator, base: np.ndarray, amount: float) -> np.ndarray:
    """Fade, grime and rust streaks on a float BGR surface; `amount` 0 (new) to 1 (old, rusty)."""
    h, w = base.shape[:2]
    grime = fractal(rng, h, w)
    out = base * (1.0 - 0.25 * amount * grime[..., None])
    if amount > 0.3:
        streaks = noise(rng, min(h, 1024), min(w, 1024), 4)
        streaks = cv2.resize(streaks[: max(2, min(h, 1024) // 10), :], (w, h), interpolation=cv2.INTER_LINEAR)
        fade = np.linspace(1.0, 0.2, h, dtype=np.float32)[:, None]
        rust = (np.clip((streaks - 0.6) * 2.5 * amount, 0, 0.45) * fade)[..., None]
        out = out * (1 - rust) + np.asarray((35, 60, 105), np.float32) * rust
    return out


def dirt_alpha(rng: np.random.Generator, height: int, width: int, strength: float) -> np.ndarray:
    """Opacity of mud splashes, heavier towards the bottom of the surface."""
    blobs = np.clip((fractal(rng, height, width) - (0.55 - 0.35 * strength)) * 3.0, 0, 1)
    ramp = np.linspace(0.35, 1.0, height, dtype=np.float32)[:, None]
    return (blobs * ramp * strength).astype(np.float32)


def apply_dirt(image: np.ndarray, alpha: np.ndarray, color: Color = (45, 70, 95)) -> None:
    """Paint mud (brownish) into a uint8 BGR(A) image in place."""
    region = image[..., :3].astype(np.float32)
    region += (np.asarray(color, np.float32) - region) * alpha[..., None]
    image[..., :3] = region.astype(np.uint8)


def to_u8(image: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(image, 0, 255), np.uint8)


def darker(color: Color, factor: float) -> Color:
    """The colour scaled by factor (below 1 darkens), clipped to 255."""
    b, g, r = (min(255, int(c * factor)) for c in color)
    return (b, g, r)


def jitter_color(rng: np.random.Generator, color: Color, spread: int = 14) -> Color:
    b, g, r = (int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in color)
    return (b, g, r)

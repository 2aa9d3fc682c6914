"""Undoing the horizontal smear of a truck passing a side camera, so that its container numbers can be read.

A side camera sees the truck move across the image; over the shutter time every point is smeared into a line
along x: the image is the sharp one convolved with a box kernel of length L = speed × exposure (30-40 px at a
brisk pace and a slow shutter, more than a character's width). Such a crop reads as noise. Knowing L, a Wiener
filter along x undoes most of it.

L is measured from the crop itself: the x-derivative of a box-smeared image is the sharp image minus itself
shifted by L, so the derivative's autocorrelation along x has its deepest trough at lag L. A sharp text's trough
is at its stroke width, a small share of the text height; a trough much further out is a smear (`smear_length`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, kw_only=True)
class DeblurConfig:
    min_length_px: int = 8
    """A smear shorter than this is left alone (the recogniser reads through it)."""
    min_length_share: float = 0.3
    """...and so is one shorter than this share of the text's size (the shorter side of its box): a trough there
    may be the strokes' own width."""
    max_length_px: int = 48
    """Longest smear looked for (a truck at 40 km/h, 1/15 s shutter, 1280 px across a 20 m view)."""
    margin_px: int = 48
    """Columns taken on each side of the crop for the filter, so that its wrap-around falls outside the crop."""
    noise: float = 0.02
    """Wiener noise-to-signal ratio: lower undoes more of the smear and amplifies more JPEG and sensor noise."""


def smear_length(gray: npt.NDArray[np.generic], max_length: int) -> int:
    """The lag (px) of the deepest trough of the x-derivative's autocorrelation: a smear's length, or for a sharp
    image its strokes' width. 0 for an image too narrow to tell. (OpenCV's row-wise DFT: a tenth of numpy's time.)"""
    d = np.diff(gray.astype(np.float32), axis=1)
    rows, width = d.shape
    if width < 2 * max_length or rows == 0:
        return 0
    padded = np.zeros((rows, cv2.getOptimalDFTSize(2 * width)), np.float32)
    padded[:, :width] = d - d.mean(axis=1, keepdims=True)
    spectrum = cv2.dft(padded, flags=cv2.DFT_ROWS | cv2.DFT_COMPLEX_OUTPUT)
    real, imaginary = spectrum[..., 0], spectrum[..., 1]
    power = (real * real + imaginary * imaginary).sum(axis=0)
    correlation = np.fft.ifft(power).real[: max_length + 1]
    return 2 + int(np.argmin(correlation[2:]))


def unsmear(image: Image, length: int, noise: float) -> Image:
    """`image` with a horizontal box smear of `length` px undone by a Wiener filter along x."""
    width = image.shape[1]
    kernel = np.zeros(width, np.float32)
    kernel[:length] = 1.0 / length
    kernel = np.roll(kernel, -(length // 2))
    response = np.fft.rfft(kernel)
    wiener = np.conj(response) / (np.abs(response) ** 2 + noise)
    spectrum = np.fft.rfft(image.astype(np.float32), axis=1)
    shape = (1, -1) + (1,) * (image.ndim - 2)
    sharp = np.fft.irfft(spectrum * wiener.reshape(shape), n=width, axis=1)
    return np.clip(sharp, 0, 255).astype(np.uint8)


def unsmeared_crop(frame: Image, region: tuple[int, int, int, int], text_size: float,
                   config: DeblurConfig | None = None) -> Image | None:
    """The `region` (x0, y0, x1, y1, clipped to the frame) of `frame` with its horizontal smear undone, or None
    where the smear is too short to matter (`DeblurConfig`)."""
    cfg = config or DeblurConfig()
    x0, y0, x1, y1 = region
    h, w = frame.shape[:2]
    bx0, bx1 = max(0, x0 - cfg.margin_px), min(w, x1 + cfg.margin_px)
    band = frame[max(0, y0):min(h, y1), bx0:bx1]
    if band.size == 0:
        return None
    rows = np.ascontiguousarray(band[::2])  # the smear runs along x: every second row tells it as well, at half cost
    gray = rows if rows.ndim == 2 else cv2.cvtColor(rows, cv2.COLOR_BGR2GRAY)
    length = smear_length(gray, cfg.max_length_px)
    if length < max(cfg.min_length_px, cfg.min_length_share * text_size):
        return None
    return unsmear(band, length, cfg.noise)[:, max(0, x0) - bx0:min(w, x1) - bx0]

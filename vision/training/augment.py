"""Random photometric changes to a batch of colour crops, drawn afresh for every batch while a small CNN trains.

The seal CNN, trained on fixed copies of its crops, read a red bolt seal hanging in plain view as `absent` in
every frame of a night passage (held-out seed 9406, truck 1: P(sealed) 0.02-0.06 on 60-80 px crops), and lost
seals it had seen up close once the truck drew away and the crops shrank below the network's 48 px. Each change
here is one a gate camera makes: exposure and contrast, white balance and hue (sodium lamps, dusk), washed-out
colour (night, haze), sensor noise, defocus, motion smear, a glare streak across the door, and a crop seen from
further away.

Crops are (N, 3, H, W) tensors scaled to [-0.5, 0.5]; torch is imported inside the function (training extra).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Half the side of the smear kernel: smears up to 2 × this + 1 pixels long.
SMEAR_RADIUS = 5


@dataclass(frozen=True)
class Jitter:
    brightness: float = 0.2
    """Shift of every pixel, up to this much either way (the crop spans 1.0)."""
    contrast: tuple[float, float] = (0.6, 1.4)
    saturation: tuple[float, float] = (0.25, 1.5)
    hue_degrees: float = 25.0
    """Rotation of hue about the grey axis, up to this much either way: a seal's colour keeps its family."""
    channel_gain: float = 0.12
    """White balance: each channel scaled by up to this share either way."""
    noise: float = 0.04
    blur_share: float = 0.25
    smear_share: float = 0.3
    smear_px: tuple[float, float] = (2.0, 9.0)
    """A share of the crops smeared along a line of random direction and this length (pixels of the crop as
    trained): a truck moving away from the rear camera at night smears a seal to a faint streak."""
    glare_share: float = 0.25
    shrink_share: float = 0.3
    shrink: tuple[float, float] = (0.35, 0.8)
    """A share of the crops is seen smaller (downscaled by a factor drawn here, then scaled back up)."""


def jittered(x: Any, jitter: Jitter, generator: Any) -> Any:
    """`x` with every change applied per crop at random strength; the same shape, clamped to [-0.5, 0.5]."""
    import torch

    n = x.shape[0]

    def uniform(low: float, high: float, *shape: int) -> Any:
        return low + (high - low) * torch.rand(n, *shape, generator=generator)

    x = _shrunk(x, jitter, uniform)
    x = _blurred(x, uniform(0.0, 1.0) < jitter.blur_share)
    x = _smeared(x, uniform(0.0, math.pi), uniform(*jitter.smear_px), uniform(0.0, 1.0) < jitter.smear_share)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * uniform(*jitter.saturation, 1, 1, 1)
    x = torch.einsum("nij,njhw->nihw", _hue_rotations(uniform(-1.0, 1.0) * math.radians(jitter.hue_degrees)), x)
    x = x * (1.0 + uniform(-jitter.channel_gain, jitter.channel_gain, 3, 1, 1))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * uniform(*jitter.contrast, 1, 1, 1) + uniform(-jitter.brightness, jitter.brightness, 1, 1, 1)
    x = _glared(x, uniform, jitter.glare_share)
    x = x + torch.randn(x.shape, generator=generator) * uniform(0.0, jitter.noise, 1, 1, 1)
    return x.clamp(-0.5, 0.5)


def _hue_rotations(angles: Any) -> Any:
    """(N, 3, 3) rotations about the grey axis (1, 1, 1)/√3 by `angles` (Rodrigues' formula)."""
    import torch

    k = torch.full((3,), 1.0 / math.sqrt(3.0))
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    cos, sin = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]
    return cos * torch.eye(3) + sin * cross + (1.0 - cos) * torch.outer(k, k)


def _shrunk(x: Any, jitter: Jitter, uniform: Any) -> Any:
    """A share of the crops downscaled (area) and scaled back up (bilinear): a handle seen from further away. One
    factor per batch (`interpolate` takes one size), drawn anew for every batch."""
    import torch.nn.functional as functional

    height, width = x.shape[2:]
    pick = uniform(0.0, 1.0) < jitter.shrink_share
    if not bool(pick.any()):
        return x
    scale = float(uniform(*jitter.shrink)[0])
    small = functional.interpolate(x[pick], size=(max(4, round(height * scale)), max(3, round(width * scale))),
                                   mode="area")
    out = x.clone()
    out[pick] = functional.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    return out


def _blurred(x: Any, pick: Any) -> Any:
    """The picked crops through a 3×3 binomial blur (defocus, or motion too slight to smear)."""
    import torch

    taps = torch.tensor([1.0, 2.0, 1.0])
    kernel = torch.outer(taps, taps) / 16.0
    return _convolved(x, pick, kernel.expand(int(pick.sum()), 3, 3))


def _smeared(x: Any, angles: Any, lengths: Any, pick: Any) -> Any:
    """The picked crops, each convolved with its own line kernel (direction `angles`, length `lengths` px)."""
    import torch

    steps = torch.arange(-SMEAR_RADIUS, SMEAR_RADIUS + 1, dtype=torch.float32)
    v, u = torch.meshgrid(steps, steps, indexing="ij")
    cos, sin = torch.cos(angles[pick])[:, None, None], torch.sin(angles[pick])[:, None, None]
    across = (cos * v - sin * u).abs()
    along = (cos * u + sin * v).abs()
    kernels = (1.0 - across).clamp(min=0.0) * (along <= lengths[pick][:, None, None] / 2.0).float()
    return _convolved(x, pick, kernels / kernels.sum(dim=(1, 2), keepdim=True))


def _convolved(x: Any, pick: Any, kernels: Any) -> Any:
    """`x` with each picked crop convolved with its own odd-sided (k, k) kernel, all channels alike (edges
    replicated); one grouped convolution for them all."""
    import torch.nn.functional as functional

    if not bool(pick.any()):
        return x
    chosen = x[pick]
    n, channels, height, width = chosen.shape
    half = kernels.shape[-1] // 2
    weights = kernels.repeat_interleave(channels, dim=0)[:, None]
    padded = functional.pad(chosen.reshape(1, n * channels, height, width), (half, half, half, half), mode="replicate")
    out = x.clone()
    out[pick] = functional.conv2d(padded, weights, groups=n * channels).reshape(n, channels, height, width)
    return out


def _glared(x: Any, uniform: Any, share: float) -> Any:
    """A share of the crops crossed by a bright straight streak, blended toward white (sun or floodlight glare)."""
    import torch

    height, width = x.shape[2:]
    ys = torch.linspace(0.0, 1.0, height)[:, None]
    xs = torch.linspace(0.0, 1.0, width)[None, :]
    angle = uniform(0.0, math.pi)[:, None, None]
    offset = uniform(0.2, 0.8)[:, None, None]
    distance = (xs * torch.cos(angle) + ys * torch.sin(angle) - offset * (torch.cos(angle) + torch.sin(angle))).abs()
    streak = (distance < uniform(0.03, 0.12)[:, None, None]).float()[:, None]
    alpha = uniform(0.3, 0.8, 1, 1, 1) * (uniform(0.0, 1.0, 1, 1, 1) < share).float()
    return x + (0.5 - x) * streak * alpha

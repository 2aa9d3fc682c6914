"""The training-time photometric jitter (`vision.training.augment`): each change does what it claims, no more."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from vision.training.augment import Jitter
from vision.training.command import missing_packages

pytestmark = pytest.mark.skipif(bool(missing_packages(("torch",))), reason="training extra torch missing")

#: No change at all: every strength zero, every share zero.
NONE = Jitter(brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0), hue_degrees=0.0, channel_gain=0.0,
              noise=0.0, blur_share=0.0, smear_share=0.0, glare_share=0.0, shrink_share=0.0)


def _batch(n: int = 16) -> Any:
    import torch

    return torch.rand(n, 3, 48, 32, generator=torch.Generator().manual_seed(1)) - 0.5


def test_zero_strength_is_the_identity() -> None:
    import torch

    from vision.training.augment import jittered

    x = _batch()
    assert torch.allclose(jittered(x, NONE, torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_default_jitter_changes_crops_keeps_shape_and_range_and_repeats_for_a_seed() -> None:
    import torch

    from vision.training.augment import jittered

    x = _batch()
    a = jittered(x, Jitter(), torch.Generator().manual_seed(0))
    b = jittered(x, Jitter(), torch.Generator().manual_seed(0))
    c = jittered(x, Jitter(), torch.Generator().manual_seed(1))
    assert a.shape == x.shape
    assert float(a.min()) >= -0.5
    assert float(a.max()) <= 0.5
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert float((a - x).abs().mean()) > 0.01


def test_hue_rotation_keeps_grey_grey_and_brightness_and_turns_red_away_from_red() -> None:
    import torch

    from vision.training.augment import _hue_rotations

    turn = _hue_rotations(torch.tensor([0.0, math.radians(120.0)]))
    grey = torch.tensor([0.2, 0.2, 0.2])
    red = torch.tensor([0.4, -0.2, -0.2])
    assert torch.allclose(turn[1] @ grey, grey, atol=1e-6)
    assert torch.allclose(turn[0] @ red, red, atol=1e-6)
    turned = turn[1] @ red
    assert math.isclose(float(turned.sum()), float(red.sum()), abs_tol=1e-6)  # the grey component is kept
    assert int(turned.argmax()) != 0  # a third of the way round the hue circle: no longer red


def test_glare_brightens_a_streak_and_shrink_softens_fine_detail() -> None:
    import torch

    from vision.training.augment import jittered

    dark = torch.full((8, 3, 48, 32), -0.4)
    glared = jittered(dark, replace(NONE, glare_share=1.0), torch.Generator().manual_seed(0))
    lit = (glared > -0.39).flatten(1).float().mean(1)
    assert bool(((lit > 0.02) & (lit < 0.6)).all()), lit  # a streak, not the whole crop

    stripes = torch.zeros(8, 3, 48, 32)
    stripes[..., ::2] = 0.4
    stripes[..., 1::2] = -0.4
    shrunk = jittered(stripes, replace(NONE, shrink_share=1.0), torch.Generator().manual_seed(0))
    assert float(shrunk.std()) < 0.5 * float(stripes.std())


def test_smear_spreads_a_dot_along_one_line_and_keeps_its_light() -> None:
    import torch

    from vision.training.augment import _smeared

    dot = torch.zeros(2, 3, 48, 32)
    dot[:, :, 24, 16] = 1.0
    angles, lengths = torch.tensor([0.0, math.pi / 2]), torch.tensor([9.0, 9.0])
    smeared = _smeared(dot, angles, lengths, torch.tensor([True, True]))
    assert torch.allclose(smeared.sum(dim=(2, 3)), torch.ones(2, 3), atol=1e-5)  # light is kept
    along_x, along_y = smeared[0, 0], smeared[1, 0]
    assert int((along_x[24] > 0).sum()) == 9
    assert int((along_x[:, 16] > 0).sum()) == 1
    assert int((along_y[:, 16] > 0).sum()) == 9
    assert int((along_y[24] > 0).sum()) == 1

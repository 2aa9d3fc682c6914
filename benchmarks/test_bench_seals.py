"""Seal classifier throughput: a batch of 64 door-handle crops per call (crops/s = 64 / mean), the shipped CNN
against the MLP on hand-made features it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from vision.seals import SealClassifier
from vision.seals.classifier import MLP_MODEL

pytestmark = pytest.mark.benchmark(group="vision-seals")

BATCH = 64


def _crops() -> list[np.ndarray]:
    """Handle-sized crops of varied shape (no shared data needed); half carry a coloured barrel."""
    rng = np.random.default_rng(4)
    crops = []
    for i in range(BATCH):
        h, w = int(rng.integers(40, 80)), int(rng.integers(24, 50))
        crop = np.full((h, w, 3), rng.integers(30, 220, 3), np.uint8)
        crop[h // 6: h // 2, w // 3: 2 * w // 3] = 110
        if i % 2:
            crop[h // 2: h - 4, w // 2 - 3: w // 2 + 3] = (20, 210, 240)
        crops.append(crop)
    return crops


@pytest.fixture(scope="module")
def classifier() -> SealClassifier:
    return SealClassifier.load()


def test_seal_classifier_batch_of_64(benchmark: BenchmarkFixture, classifier: SealClassifier) -> None:
    crops = _crops()
    states = benchmark(classifier.classify, crops)
    assert len(states) == BATCH
    assert all(s.confidence > 0 for s in states)


def test_seal_mlp_batch_of_64(benchmark: BenchmarkFixture) -> None:
    mlp = SealClassifier.load(MLP_MODEL)
    states = benchmark(mlp.classify, _crops())
    assert len(states) == BATCH
    assert all(s.confidence > 0 for s in states)

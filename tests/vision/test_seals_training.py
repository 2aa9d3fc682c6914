"""Seal classifier training: the numpy MLP learns and is deterministic for a seed, the CNN learns and exports a
model the product loads, and group splits stay whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.seals import SealClassifier
from vision.seals.cnn import CnnSealModel
from vision.seals.data import CropSet, group_split, passage_of
from vision.seals.features import FEATURE_SIZE, features
from vision.seals.trainer import TrainConfig, class_weights, train_mlp
from vision.training.command import missing_packages


def _crops(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Painted handles on random door colours; the sealed ones carry a small yellow barrel below the catch."""
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for i in range(count):
        door = rng.integers(20, 230, 3)
        crop = np.empty((60, 36, 3), np.uint8)
        crop[:] = door.astype(np.uint8)
        crop[10:30, 12:24] = 110  # hub and catch
        sealed = i % 2 == 0
        if sealed:
            crop[32:50, 15:21] = (20, 210, 240)
        crop[:] = np.clip(crop + rng.normal(0, 6, crop.shape), 0, 255).astype(np.uint8)
        crops.append(crop)
        labels.append(float(sealed))
    return crops, np.array(labels)


def test_features_shape_and_finite() -> None:
    crops, _ = _crops(6, 0)
    x = features(crops)
    assert x.shape == (6, FEATURE_SIZE)
    assert np.isfinite(x).all()


def test_training_learns_and_is_deterministic() -> None:
    crops, y = _crops(80, 1)
    x = features(crops)
    config = TrainConfig(hidden=8, max_epochs=40, patience=10, batch_size=16, seed=3)
    first = train_mlp(x[:60], y[:60], x[60:], y[60:], config)
    second = train_mlp(x[:60], y[:60], x[60:], y[60:], config)
    for name, array in first.arrays().items():
        assert np.array_equal(array, second.arrays()[name]), name
    test_crops, test_y = _crops(20, 2)
    assert np.mean((first.predict(features(test_crops)) > 0.5) == test_y) >= 0.95


def test_other_seed_gives_other_weights() -> None:
    crops, y = _crops(40, 1)
    x = features(crops)
    a = train_mlp(x[:30], y[:30], x[30:], y[30:], TrainConfig(hidden=4, max_epochs=3, seed=0))
    b = train_mlp(x[:30], y[:30], x[30:], y[30:], TrainConfig(hidden=4, max_epochs=3, seed=1))
    assert not np.array_equal(a.w1, b.w1)


def test_empty_split_refused() -> None:
    with pytest.raises(ValueError, match="validation"):
        train_mlp(np.zeros((4, 3)), np.zeros(4), np.zeros((0, 3)), np.zeros(0))


def test_class_weights_balance_classes() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0.0])
    w = class_weights(y)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    assert w.mean() == pytest.approx(1.0)


def test_group_split_keeps_groups_whole_and_honours_forced() -> None:
    groups = [f"p{i % 30}" for i in range(300)]
    parts = group_split(groups, (0.7, 0.15, 0.15), seed=5, forced={"p7": 2})
    assert sorted(row for part in parts for row in part) == list(range(300))
    owners = [{groups[r] for r in part} for part in parts]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not owners[a] & owners[b]
    assert "p7" in owners[2]
    assert group_split(groups, (0.7, 0.15, 0.15), seed=5, forced={"p7": 2}) == parts


@pytest.mark.parametrize(("name", "passage"), [
    ("1-122830001-OCR-AS-B01_sealed_3.jpg", "122830001"),
    ("1-124126001-OCR-AH-A01.jpg", "124126001"),
    ("odd.jpg", "odd.jpg"),
])
def test_passage_of(name: str, passage: str) -> None:
    assert passage_of(name) == passage


@pytest.mark.skipif(bool(missing_packages(("torch", "onnx"))), reason="training extras (torch, onnx) missing")
def test_the_cnn_learns_and_its_export_loads_as_the_product_loads_it(tmp_path: Path) -> None:
    from vision.seals.cnn_train import CnnRecipe, export, train

    crops, labels = _crops(256, 0)
    model, losses = train(CropSet(crops, [int(v) for v in labels], ["g"] * len(crops)), CnnRecipe(epochs=10, batch=32))
    assert losses[-1] < losses[0]
    classifier = SealClassifier.load(export(model, tmp_path / "seal.onnx", CnnRecipe(epochs=10, batch=32)))
    assert [type(m) for m in classifier.models] == [CnnSealModel]
    assert (classifier.low, classifier.high) == (0.2, 0.8)
    held_out, truth = _crops(64, 1)
    states = classifier.classify(held_out)
    right = sum((s.state == "present") == bool(t) for s, t in zip(states, truth, strict=True))
    assert right >= 0.9 * len(truth), right

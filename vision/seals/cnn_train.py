"""`python -m vision.seals.cnn_train`: train the seal CNN (vision/seals/cnn.py) on the MLP's data and splits, write
`vision/models/seal_cnn.onnx` (what the product runs), and score it, the MLP and the two pooled side by side on the
held-out sets.

Data, splits and copies are `vision.seals.train`'s: real crops split by passage, synthetic seeds 11-15 (boxes
jittered as a detector's), mirrored copies, photometric copies of the real crops; seed 101 held out. Every training
batch is also jittered afresh (`vision.training.augment`: colour, glare, noise, blur, motion smear, distance). Torch
and onnx (the training extras) are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vision.seals.classifier import DEFAULT_MODEL, HIGH, LOW, MLP_MODEL, SealClassifier
from vision.seals.cnn import RECIPE_KEY, THRESHOLDS_KEY, crop_tensor
from vision.seals.data import CropSet
from vision.seals.evaluate import evaluate, table
from vision.seals.train import (
    DEFAULT_SYNTH_DIR,
    REAL_COPIES,
    augmented,
    held_out_sets,
    photometric,
    real_parts,
    synthetic_parts,
)
from vision.training.augment import Jitter, jittered
from vision.training.small_cnn import conv, export_onnx, fit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CnnRecipe:
    epochs: int = 20
    learning_rate: float = 2e-3
    batch: int = 128
    seed: int = 0
    jitter: bool = True
    """Each batch through `vision.training.augment.jittered` (colour, glare, noise, blur, smear, distance)."""


def network() -> Any:
    """Two conv blocks and a conv halving the 32 × 48 crop to 4 × 6, then one logit: about 25 M multiply-adds.
    No global pooling: where the colour sits (below the catch) matters."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(*conv(3, 24), *conv(24, 24), nn.MaxPool2d(2), *conv(24, 48), *conv(48, 48), nn.MaxPool2d(2),
                         *conv(48, 96), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96 * 6 * 4, 1))


def train(crops: CropSet, recipe: CnnRecipe) -> tuple[Any, list[float]]:
    """Binary cross-entropy with both classes weighted equally; and the loss per epoch."""
    import torch

    x = torch.from_numpy(crop_tensor(crops.crops))
    y = torch.tensor(crops.labels, dtype=torch.float32)
    positives = max(1.0, float(y.sum()))
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - positives) / positives))
    model = network()
    generator = torch.Generator().manual_seed(recipe.seed)
    losses = fit(model, x, y, lambda out, target: bce(out.reshape(-1), target), epochs=recipe.epochs,
                 batch=recipe.batch, learning_rate=recipe.learning_rate, seed=recipe.seed,
                 augment=(lambda batch: jittered(batch, Jitter(), generator)) if recipe.jitter else None)
    return model, losses


def export(model: Any, target: Path, recipe: CnnRecipe) -> Path:
    """ONNX with a free batch dimension; the thresholds and recipe in its metadata."""
    return export_onnx(model, target, (3, 48, 32), ("crops", "logit"),
                       {THRESHOLDS_KEY: f"{LOW},{HIGH}", RECIPE_KEY: json.dumps(asdict(recipe))})


def training_sets(synth_dir: Path, seed: int) -> tuple[CropSet, CropSet]:
    """The MLP's training and validation crops (`vision.seals.train.main`)."""
    real_train, real_val, _ = real_parts(seed)
    synth_train, synth_val = synthetic_parts(synth_dir, seed=seed)
    train_set, val = augmented(real_train), CropSet()
    train_set.extend(augmented(photometric(real_train, REAL_COPIES, seed)))
    train_set.extend(augmented(synth_train))
    val.extend(real_val)
    val.extend(synth_val)
    return train_set, val


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the door-handle seal CNN and compare it with the MLP")
    parser.add_argument("--synth-dir", type=Path, default=DEFAULT_SYNTH_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--metrics", type=Path, help="figures as JSON (default: beside --out)")
    parser.add_argument("--epochs", type=int, default=CnnRecipe.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-jitter", action="store_true", help="train on the fixed crops only (the 1st recipe)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recipe = CnnRecipe(epochs=args.epochs, seed=args.seed, jitter=not args.no_jitter)
    train_set, val = training_sets(args.synth_dir, args.seed)
    log.info("training on %d crops (%d sealed), validating on %d", len(train_set), sum(train_set.labels), len(val))
    model, losses = train(train_set, recipe)
    export(model, args.out, recipe)
    sets = {"validation (real + synthetic)": val, **held_out_sets(args.synth_dir, args.seed)}
    figures: dict[str, Any] = {"recipe": asdict(recipe), "losses": [round(v, 4) for v in losses]}
    for name, paths in (("cnn", (args.out,)), ("mlp", (MLP_MODEL,)), ("pooled", (args.out, MLP_MODEL))):
        classifier = SealClassifier.load(*paths)
        results = {label: evaluate(classifier, s.crops, s.labels) for label, s in sets.items()}
        log.info("%s (%s)\n%s", name, " + ".join(map(str, paths)), table(results))
        figures[name] = {label: asdict(r) for label, r in results.items()}
    metrics = args.metrics or args.out.with_suffix(".json")
    metrics.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

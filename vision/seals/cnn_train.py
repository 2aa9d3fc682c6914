"""`python -m vision.seals.cnn_train`: train the seal CNN (vision/seals/cnn.py) on the MLP's data and splits, write
`vision/models/seal_cnn.onnx`, and score it, the MLP and the two pooled (what the product runs) side by side on the
held-out sets.

Data, splits and copies are `vision.seals.train`'s: real crops split by passage, synthetic seeds 11-14 (boxes
jittered as a detector's), mirrored copies, photometric copies of the real crops; seed 101 held out. Torch and onnx
(the training extras) are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CnnRecipe:
    epochs: int = 10
    learning_rate: float = 2e-3
    batch: int = 128
    seed: int = 0


def network() -> Any:
    """Two conv blocks and a conv halving the 32 × 48 crop to 4 × 6, then one logit: about 25 M multiply-adds.
    No global pooling: where the colour sits (below the catch) matters."""
    import torch
    from torch import nn

    def conv(cin: int, cout: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    torch.manual_seed(0)
    return nn.Sequential(*conv(3, 24), *conv(24, 24), nn.MaxPool2d(2), *conv(24, 48), *conv(48, 48), nn.MaxPool2d(2),
                         *conv(48, 96), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96 * 6 * 4, 1))


def train(crops: CropSet, recipe: CnnRecipe) -> tuple[Any, list[float]]:
    """Binary cross-entropy, both classes weighted equally; AdamW with a one-cycle schedule."""
    import torch

    torch.manual_seed(recipe.seed)
    x = torch.from_numpy(crop_tensor(crops.crops))
    y = torch.tensor(crops.labels, dtype=torch.float32)
    positives = max(1.0, float(y.sum()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - positives) / positives))
    model = network()
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=1e-4)
    steps = recipe.epochs * -(-len(y) // recipe.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, recipe.learning_rate, total_steps=steps)
    rng = np.random.default_rng(recipe.seed)
    losses = []
    for epoch in range(recipe.epochs):
        model.train()
        began, total = time.monotonic(), 0.0
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), recipe.batch):
            idx = order[start:start + recipe.batch]
            loss = loss_fn(model(x[idx]).reshape(-1), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(y))
        log.info("epoch %d: loss %.4f (%.0f s)", epoch, losses[-1], time.monotonic() - began)
    model.eval()
    return model, losses


def export(model: Any, target: Path, recipe: CnnRecipe) -> Path:
    """ONNX with a free batch dimension; the thresholds and recipe in its metadata."""
    import onnx
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    torch.onnx.export(model, (torch.zeros(1, 3, 48, 32),), str(partial), input_names=["crops"],
                      output_names=["logit"], dynamic_axes={"crops": {0: "n"}, "logit": {0: "n"}}, opset_version=17,
                      dynamo=False)
    graph = onnx.load(str(partial))
    for key, value in ((THRESHOLDS_KEY, f"{LOW},{HIGH}"), (RECIPE_KEY, json.dumps(asdict(recipe)))):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(partial))
    partial.replace(target)
    return target


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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recipe = CnnRecipe(epochs=args.epochs, seed=args.seed)
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

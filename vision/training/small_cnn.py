"""What the small CNN classifiers share (the province classifier, the seal CNN): conv blocks, a one-cycle training
loop on in-memory tensors, and the ONNX export with metadata that the product reads.

Torch and onnx (the training extras) are imported inside the functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def conv(cin: int, cout: int) -> list[Any]:
    """A 3×3 convolution (same size), batch norm and ReLU."""
    from torch import nn

    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def fit(model: Any, x: Any, y: Any, loss: Callable[[Any, Any], Any], *, epochs: int, batch: int,
        learning_rate: float, seed: int, augment: Callable[[Any], Any] | None = None) -> list[float]:
    """Train `model` on tensors `x`, `y` by `loss(output, target)` with AdamW (weight decay 1e-4) and a one-cycle
    learning rate, shuffled each epoch, each batch of `x` passed through `augment` first where given; the mean loss
    per epoch. The model is left in eval mode."""
    import torch

    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate,
                                                   total_steps=epochs * max(1, -(-len(y) // batch)))
    rng = np.random.default_rng(seed)
    losses = []
    for epoch in range(epochs):
        model.train()
        began, total = time.monotonic(), 0.0
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            inputs = x[idx] if augment is None else augment(x[idx])
            value = loss(model(inputs), y[idx])
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            schedule.step()
            total += float(value.detach()) * len(idx)
        losses.append(total / len(y))
        log.info("epoch %d: loss %.4f (%.0f s)", epoch, losses[-1], time.monotonic() - began)
    model.eval()
    return losses


def export_onnx(model: Any, target: Path, input_shape: tuple[int, ...], names: tuple[str, str],
                metadata: dict[str, str]) -> Path:
    """The model as ONNX with a free batch dimension (`input_shape` without it), `metadata` in its properties;
    written beside `target` and moved into place."""
    import onnx
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    torch.onnx.export(model, (torch.zeros(1, *input_shape),), str(partial), input_names=[names[0]],
                      output_names=[names[1]], dynamic_axes={names[0]: {0: "n"}, names[1]: {0: "n"}},
                      opset_version=17, dynamo=False)
    graph = onnx.load(str(partial))
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(partial))
    partial.replace(target)
    return target

"""A small binary MLP in plain numpy: standardised inputs, one ReLU hidden layer, a sigmoid output.

Trained with Adam on class-weighted cross-entropy plus L2, and stopped early on a validation split; the best
validation epoch's weights are kept. Deterministic for a seed (numpy's Generator drives the init and the shuffles).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 64
    l2: float = 1e-3
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 150
    patience: int = 20
    seed: int = 0


@dataclass(frozen=True)
class MLP:
    """Weights and the standardisation they expect; `predict` gives P(class 1) per row."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        hidden = np.maximum(z @ self.w1 + self.b1, 0.0)
        return _sigmoid(hidden @ self.w2 + self.b2)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
    return out


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights that give both classes the same total weight (mean weight 1)."""
    positives = max(1, int(y.sum()))
    negatives = max(1, len(y) - int(y.sum()))
    return np.where(y > 0.5, len(y) / (2.0 * positives), len(y) / (2.0 * negatives))


def weighted_loss(p: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(weights * -(y * np.log(p) + (1 - y) * np.log(1 - p))))


def train_mlp(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              config: TrainConfig = TrainConfig()) -> MLP:
    """Fit on (x_train, y_train) with labels 0/1; keep the weights of the best validation loss."""
    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError(f"need training and validation rows, got {len(x_train)} and {len(x_val)}")
    rng = np.random.default_rng(config.seed)
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0) + 1e-6
    z_train = ((x_train - mean) / scale).astype(np.float64)
    y = y_train.astype(np.float64)
    sample_w = class_weights(y)
    val_w = class_weights(y_val.astype(np.float64))
    params = _init(rng, x_train.shape[1], config.hidden)
    adam = _Adam(params, config.learning_rate)
    best, best_loss, stale = _model(mean, scale, params), np.inf, 0
    for epoch in range(config.max_epochs):
        order = rng.permutation(len(z_train))
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            adam.step(_gradients(params, z_train[rows], y[rows], sample_w[rows], config.l2))
        model = _model(mean, scale, params)
        loss = weighted_loss(model.predict(x_val), y_val, val_w)
        if loss < best_loss - 1e-5:
            best, best_loss, stale = model, loss, 0
        else:
            stale += 1
            if stale >= config.patience:
                log.info("early stop at epoch %d, best validation loss %.4f", epoch, best_loss)
                break
    return best


def _init(rng: np.random.Generator, inputs: int, hidden: int) -> dict[str, np.ndarray]:
    return {"w1": rng.normal(0.0, np.sqrt(2.0 / inputs), (inputs, hidden)), "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, np.sqrt(1.0 / hidden), hidden), "b2": np.zeros(1)}


def _model(mean: np.ndarray, scale: np.ndarray, params: dict[str, np.ndarray]) -> MLP:
    return MLP(mean.astype(np.float32), scale.astype(np.float32), params["w1"].astype(np.float32),
               params["b1"].astype(np.float32), params["w2"].astype(np.float32), params["b2"].astype(np.float32))


def _gradients(params: dict[str, np.ndarray], z: np.ndarray, y: np.ndarray, w: np.ndarray,
               l2: float) -> dict[str, np.ndarray]:
    pre = z @ params["w1"] + params["b1"]
    hidden = np.maximum(pre, 0.0)
    p = _sigmoid(hidden @ params["w2"] + params["b2"])
    d_out = w * (p - y) / len(y)
    d_hidden = np.outer(d_out, params["w2"]) * (pre > 0)
    return {"w1": z.T @ d_hidden + l2 * params["w1"], "b1": d_hidden.sum(axis=0),
            "w2": hidden.T @ d_out + l2 * params["w2"], "b2": np.array([d_out.sum()])}


class _Adam:
    """Adam on a dict of arrays, updated in place."""

    def __init__(self, params: dict[str, np.ndarray], rate: float, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.params, self.rate, self.beta1, self.beta2 = params, rate, beta1, beta2
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for key, grad in grads.items():
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * grad
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * grad * grad
            m_hat = self.m[key] / (1 - self.beta1 ** self.t)
            v_hat = self.v[key] / (1 - self.beta2 ** self.t)
            self.params[key] -= self.rate * m_hat / (np.sqrt(v_hat) + 1e-8)

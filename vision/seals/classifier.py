"""Seal state of door-handle crops: `present`, `absent` or `unknown`, with a confidence.

The second stage after the detector: it sees a crop around each `door_handle` box (see `features.crop_handle`)
and says whether a bolt seal hangs from it. P(sealed) between the two thresholds gives `unknown`, so an unsure
crop never counts as evidence either way. A crop that cannot be classified gives `unknown` with confidence 0.

Two models give P(sealed): a CNN on the crop itself (`seal_cnn.onnx`, vision/seals/cnn.py) and an MLP on
hand-made features (`seal_classifier.npz`). The product runs the CNN alone; `load` with both files pools them (the
mean of their log-odds), which is how they are compared (vision/seals/MODEL.md). `load` reads each file by its
suffix.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vision.seals.cnn import CnnSealModel
from vision.seals.features import FEATURE_SIZE, batch_features, normalise, usable
from vision.seals.trainer import MLP

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODELS / "seal_cnn.onnx"
MLP_MODEL = MODELS / "seal_classifier.npz"
#: What the product runs: the CNN alone. Pooled with the MLP it scores real held-out crops 2 points higher, but it
#: puts sealed handles under glare and at night lower, and lost two such seals in a replay (vision/seals/MODEL.md).
DEFAULT_MODELS = (DEFAULT_MODEL,)
#: P(sealed) at or above HIGH → present; at or below LOW → absent; between → unknown. Chosen before training,
#: not tuned on the evaluation sets (see vision/seals/MODEL.md).
LOW, HIGH = 0.2, 0.8
MAX_MODEL_BYTES = 4 * 1024 * 1024
_ARRAYS = ("mean", "scale", "w1", "b1", "w2", "b2")

State = Literal["present", "absent", "unknown"]
SealModel = MLP | CnnSealModel


class SealModelError(ValueError):
    """A seal model file that is missing, corrupt or does not fit the feature extractor."""


@dataclass(frozen=True)
class SealState:
    state: State
    confidence: float
    number: str | None = None  # seal serials are not read yet (see MODEL.md)


UNKNOWN = SealState("unknown", 0.0)


def state_of(p_sealed: float, low: float = LOW, high: float = HIGH) -> SealState:
    """The state and its confidence for one P(sealed)."""
    if p_sealed >= high:
        return SealState("present", float(p_sealed))
    if p_sealed <= low:
        return SealState("absent", float(1.0 - p_sealed))
    return SealState("unknown", float(max(p_sealed, 1.0 - p_sealed)))


class SealClassifier:
    """Door-handle crops in, one `SealState` per crop out, in order; one model call per batch."""

    def __init__(self, models: SealModel | Sequence[SealModel], low: float = LOW, high: float = HIGH) -> None:
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 <= low <= high <= 1, got {low} and {high}")
        self.models: tuple[SealModel, ...] = tuple(models) if isinstance(models, Sequence) else (models,)
        if not self.models:
            raise ValueError("a seal classifier needs at least one model")
        self.low, self.high = low, high
        self.rejected = 0

    @classmethod
    def load(cls, *paths: str | Path) -> SealClassifier:
        """The models in `paths` pooled (default: the shipped CNN and MLP); their thresholds must agree."""
        loaded = [_load_one(Path(path)) for path in paths or DEFAULT_MODELS]
        thresholds = {(round(low, 4), round(high, 4)) for _, low, high in loaded}  # .npz keeps float32
        if len(thresholds) > 1:
            raise SealModelError(f"seal models {', '.join(map(str, paths))} disagree on thresholds: {thresholds}")
        (low, high), = thresholds
        return cls([model for model, _, _ in loaded], low, high)

    def save(self, path: str | Path) -> None:
        """Write a lone MLP and the thresholds as `.npz` (the CNN is written by its trainer as ONNX)."""
        if len(self.models) != 1 or not isinstance(self.models[0], MLP):
            raise TypeError("only a lone MLP seal model is saved as .npz; the CNN is exported by its trainer")
        arrays = self.models[0].arrays() | {"thresholds": np.array([self.low, self.high], np.float32)}
        np.savez_compressed(Path(path), **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds badly

    def probabilities(self, crops: Sequence[object]) -> np.ndarray:
        """P(sealed) per crop, the models' log-odds averaged; NaN for a crop that cannot be classified."""
        ok = [i for i, crop in enumerate(crops) if usable(crop)]
        self.rejected += len(crops) - len(ok)
        out = np.full(len(crops), np.nan, np.float32)
        if ok:
            good: list[np.ndarray] = [crops[i] for i in ok]  # type: ignore[misc]  # usable() checked the type
            batch, aspect = normalise(good)  # resized once for both models
            each = [m.predict(batch_features(batch, aspect)) if isinstance(m, MLP) else m.predict_batch(batch)
                    for m in self.models]
            out[ok] = each[0] if len(each) == 1 else _pooled(np.stack(each))
        return out

    def classify(self, crops: Sequence[object]) -> list[SealState]:
        return [UNKNOWN if np.isnan(p) else state_of(float(p), self.low, self.high)
                for p in self.probabilities(crops)]


def _load_one(file: Path) -> tuple[SealModel, float, float]:
    """One model file (`.onnx`: the CNN, else the MLP's `.npz`) and its thresholds."""
    if not file.is_file():
        raise SealModelError(f"{file}: seal model not found (the CNN: `python -m vision.seals.cnn_train`; "
                             "the MLP: `python -m vision.seals.train`)")
    if file.stat().st_size > MAX_MODEL_BYTES:
        raise SealModelError(f"{file}: {file.stat().st_size} bytes is too large for a seal model")
    if file.suffix == ".onnx":
        try:
            cnn = CnnSealModel.load(file)
        except ValueError as exc:
            raise SealModelError(f"{file}: not a seal model: {exc}") from None
        return cnn, *cnn.thresholds
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name], np.float32) for name in _ARRAYS}
            low, high = (float(v) for v in data["thresholds"])
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SealModelError(f"{file}: not a seal model: {exc}") from None
    model = MLP(**arrays)
    _check_shapes(file, model)
    return model, low, high


def _pooled(p: np.ndarray) -> np.ndarray:
    """Mean log-odds over the first axis, back to a probability: where the models disagree, neither wins alone."""
    clipped = np.clip(p.astype(np.float64), 1e-4, 1.0 - 1e-4)
    mean = np.log(clipped / (1.0 - clipped)).mean(axis=0)
    return np.asarray(1.0 / (1.0 + np.exp(-mean)), np.float32)


def _check_shapes(file: Path, model: MLP) -> None:
    hidden = model.w1.shape[1] if model.w1.ndim == 2 else -1
    expected = {"mean": (FEATURE_SIZE,), "scale": (FEATURE_SIZE,), "w1": (FEATURE_SIZE, hidden), "b1": (hidden,),
                "w2": (hidden,), "b2": (1,)}
    for name, shape in expected.items():
        got = getattr(model, name).shape
        if got != shape or hidden < 1:
            raise SealModelError(f"{file}: array {name} has shape {got}, expected {shape}")
    if not all(np.isfinite(getattr(model, name)).all() for name in _ARRAYS):
        raise SealModelError(f"{file}: model holds non-finite numbers")

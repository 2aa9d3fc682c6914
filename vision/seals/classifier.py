"""Seal state of door-handle crops: `present`, `absent` or `unknown`, with a confidence.

The second stage after the detector: it sees a crop around each `door_handle` box (see `features.crop_handle`)
and says whether a bolt seal hangs from it. P(sealed) between the two thresholds gives `unknown`, so an unsure
crop never counts as evidence either way. A crop that cannot be classified gives `unknown` with confidence 0.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vision.seals.features import FEATURE_SIZE, features, usable
from vision.seals.trainer import MLP

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "seal_classifier.npz"
#: P(sealed) at or above HIGH → present; at or below LOW → absent; between → unknown. Chosen before training,
#: not tuned on the evaluation sets (see vision/seals/MODEL.md).
LOW, HIGH = 0.2, 0.8
MAX_MODEL_BYTES = 4 * 1024 * 1024
_ARRAYS = ("mean", "scale", "w1", "b1", "w2", "b2")

State = Literal["present", "absent", "unknown"]


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
    """Door-handle crops in, one `SealState` per crop out, in order; one feature pass and one matmul per batch."""

    def __init__(self, model: MLP, low: float = LOW, high: float = HIGH) -> None:
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 <= low <= high <= 1, got {low} and {high}")
        self.model, self.low, self.high = model, low, high
        self.rejected = 0

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL) -> SealClassifier:
        file = Path(path)
        if not file.is_file():
            raise SealModelError(f"{file}: seal model not found (run `python -m vision.seals.train`)")
        if file.stat().st_size > MAX_MODEL_BYTES:
            raise SealModelError(f"{file}: {file.stat().st_size} bytes is too large for a seal model")
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {name: np.asarray(data[name], np.float32) for name in _ARRAYS}
                low, high = (float(v) for v in data["thresholds"])
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise SealModelError(f"{file}: not a seal model: {exc}") from None
        model = MLP(**arrays)
        _check_shapes(file, model)
        return cls(model, low, high)

    def save(self, path: str | Path) -> None:
        arrays = self.model.arrays() | {"thresholds": np.array([self.low, self.high], np.float32)}
        np.savez_compressed(Path(path), **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds badly

    def probabilities(self, crops: Sequence[object]) -> np.ndarray:
        """P(sealed) per crop; NaN for a crop that cannot be classified."""
        ok = [i for i, crop in enumerate(crops) if usable(crop)]
        self.rejected += len(crops) - len(ok)
        out = np.full(len(crops), np.nan, np.float32)
        if ok:
            good: list[np.ndarray] = [crops[i] for i in ok]  # type: ignore[misc]  # usable() checked the type
            out[ok] = self.model.predict(features(good))
        return out

    def classify(self, crops: Sequence[object]) -> list[SealState]:
        return [UNKNOWN if np.isnan(p) else state_of(float(p), self.low, self.high)
                for p in self.probabilities(crops)]


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

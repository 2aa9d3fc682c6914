"""A small CNN that gives P(sealed) for door-handle crops, run by ONNX Runtime (`vision/models/seal_cnn.onnx`).

The MLP on hand-made features (HOG, colour against the crop's median) missed seals it should see: a yellow bolt
hanging in plain view on a cream door, in clear weather, was read `absent` at 0.87-0.97 in every frame (held-out
seed 9405, truck 8), and white seals on white doors too. The CNN sees the crop itself, at the features' size
(`CROP_SIZE`, 32 × 48), in colour. It is trained by `python -m vision.seals.cnn_train` on the MLP's data and splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vision.seals.features import normalise

#: Metadata keys of the ONNX file: the classifier's thresholds "low,high", and the recipe that trained it.
THRESHOLDS_KEY, RECIPE_KEY = "seal_thresholds", "smartgate_seal_recipe"


def crop_tensor(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 3, 48, 32) float32 in [-0.5, 0.5]: usable crops (`features.usable`) resized as the features resize them."""
    return batch_tensor(normalise(crops)[0])


def batch_tensor(batch: np.ndarray) -> np.ndarray:
    """The network's input for a `normalise`d (N, 48, 32, 3) uint8 batch."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), np.float32) / 255.0 - 0.5


class CnnSealModel:
    """The ONNX session; `predict_batch` gives P(sealed) per crop of a `normalise`d batch in one call."""

    def __init__(self, session: ort.InferenceSession, thresholds: tuple[float, float]) -> None:
        self.session, self.thresholds = session, thresholds
        self.input_name = session.get_inputs()[0].name

    @classmethod
    def load(cls, path: Path, threads: int | None = 1) -> CnnSealModel:
        """`ValueError` naming the file for one that is not a seal CNN (the classifier turns it into its own)."""
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for a corrupt file
            raise ValueError(f"cannot load: {' '.join(str(err).split())[:200]}") from None
        text = session.get_modelmeta().custom_metadata_map.get(THRESHOLDS_KEY, "")
        try:
            low, high = (float(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"no thresholds in its metadata ({THRESHOLDS_KEY}={text!r})") from None
        shape = session.get_inputs()[0].shape
        if len(shape) != 4 or shape[1:] != [3, 48, 32]:
            raise ValueError(f"input shape {shape} is not (N, 3, 48, 32)")
        return cls(session, (low, high))

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        logits = self.session.run(None, {self.input_name: batch_tensor(batch)})[0].reshape(-1)
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logits)), np.float32)

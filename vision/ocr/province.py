"""The province character of a Chinese plate, read by a classifier of its own.

The text recogniser reads a plate's first character through a 6,623-class head whose features were learnt on
documents; on a plate 12-20 px high it spreads that character's probability over look-alikes (for `蒙M·NY885`,
`蒙` got 0.02-0.27 across frames), and no vote over frames recovers it. Yet the province glyph sits in a fixed
cell of the plate (GA 36-2018: the first of seven 45 mm cells of a 440 × 140 mm one-line plate; the first of two
in the upper line of a 440 × 220 mm two-line rear plate), so it can be cut out by geometry alone and put to a small
CNN that knows only the 31 provinces (`smartgate train-province`, vision/ocr/province_training.py).

Where the recogniser's first character is a province, the two opinions are pooled (`refine`): the classifier's
probabilities times the recogniser's to the power `RECOGNISER_WEIGHT`, renormalised, then scaled to the mass the
recogniser gave provinces there. The recogniser still says *whether* the plate starts with a province; the
classifier mostly says *which*. On the 1,283 such Chinese plate crops of development recordings 8801 and 9403
(MODEL_CARD.md, "Province classifier"), the recogniser alone picked the right province on 90.3 %, the classifier
alone on 94.2 %, pooled with weight 0.25 on 96.7 % (0.5: 97.0 %, 0.1: 95.6 %).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from vision.grammar.alphabet import ALPHABET, INDEX
from vision.grammar.evidence import Evidence
from vision.ocr.lines import two_line_shape

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "province_classifier.onnx"
GLYPH_SIZE = 32
#: Where the province glyph lies, as shares (x0, y0, x1, y1) of the plate box, with room for a detector's error.
#: One-line plate: cell 33-83 mm of 440 (seven characters) or 8-58 mm (eight, new energy), 25-115 mm of 140 high.
ONE_LINE_WINDOW = (0.02, 0.08, 0.23, 0.92)
#: Two-line plate: cell 140-220 mm of 440, 24-84 mm of 220 high.
TWO_LINE_WINDOW = (0.27, 0.03, 0.54, 0.45)
#: The recogniser's say in the pooled province probabilities (the classifier's is 1).
RECOGNISER_WEIGHT = 0.25


class ProvinceModelError(ValueError):
    """A province model file that is missing, corrupt or does not list its classes."""


def glyph_window(crop: np.ndarray, pad: tuple[float, float]) -> np.ndarray:
    """The province cell of a plate crop (BGR uint8, the plate box grown by `pad` on each side) as the
    classifier's input: grey, `GLYPH_SIZE` square, ink bright on a dark ground, zero mean and unit spread.

    Polarity is set by the ground: most of a cell is plate, so when the mean lies above the median the ground is
    the dark part (white ink on a blue plate) and is kept; a yellow plate's dark ink is inverted to match.
    """
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = ONE_LINE_WINDOW if not two_line_shape(w / (1 + 2 * pad[0]), h / (1 + 2 * pad[1])) \
        else TWO_LINE_WINDOW
    left, top = (pad[0] + x0) / (1 + 2 * pad[0]), (pad[1] + y0) / (1 + 2 * pad[1])
    right, bottom = (pad[0] + x1) / (1 + 2 * pad[0]), (pad[1] + y1) / (1 + 2 * pad[1])
    cell = crop[int(top * h):max(int(top * h) + 1, int(np.ceil(bottom * h))),
                int(left * w):max(int(left * w) + 1, int(np.ceil(right * w)))]
    grey = cv2.cvtColor(cell, cv2.COLOR_BGR2GRAY) if cell.ndim == 3 else cell
    glyph = cv2.resize(grey, (GLYPH_SIZE, GLYPH_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    if glyph.mean() < np.median(glyph):
        glyph = 255.0 - glyph
    return np.asarray((glyph - glyph.mean()) / max(float(glyph.std()), 8.0), np.float32)


class ProvinceClassifier:
    """Glyph windows in, one probability row over its provinces out; one ONNX Runtime call per batch."""

    def __init__(self, path: Path = DEFAULT_MODEL, threads: int | None = None) -> None:
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for a missing or corrupt file
            raise ProvinceModelError(f"province model {path} cannot be loaded: {err}") from err
        provinces = self.session.get_modelmeta().custom_metadata_map.get("provinces", "")
        if not provinces or any(ch not in INDEX for ch in provinces):
            raise ProvinceModelError(f"province model {path} does not list its provinces in the alphabet")
        self.provinces = provinces
        self.columns = np.array([INDEX[ch] for ch in provinces])
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def installed(cls, threads: int | None = None) -> ProvinceClassifier | None:
        """The shipped model, or None (logged) where it is absent: plates are then read by the recogniser alone."""
        if not DEFAULT_MODEL.is_file():
            log.warning("no province model at %s: province characters read by the recogniser alone", DEFAULT_MODEL)
            return None
        return cls(DEFAULT_MODEL, threads)

    def probabilities(self, glyphs: Sequence[np.ndarray]) -> np.ndarray:
        """(n, provinces) probabilities for windows made by `glyph_window`."""
        if not glyphs:
            return np.zeros((0, len(self.provinces)), np.float32)
        batch = np.stack(glyphs).astype(np.float32)[:, None]
        logits = self.session.run(None, {self.input_name: batch})[0]
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), np.float32)

    def starts_with_province(self, evidence: Evidence) -> bool:
        """Whether the recogniser's first character is one of the classifier's provinces."""
        return len(evidence) > 0 and ALPHABET[int(evidence.probs[0].argmax())] in self.provinces

    def refine(self, evidence: Evidence, probs: np.ndarray) -> Evidence:
        """The evidence with its first row's province part pooled with the classifier's `probs`, keeping its mass."""
        rows = evidence.probs.copy()
        own = rows[0, self.columns].astype(np.float64)
        mass = min(1.0, float(own.sum()))
        pooled = probs * (own / max(float(own.sum()), 1e-12) + 1e-4) ** RECOGNISER_WEIGHT
        rows[0, self.columns] = mass * pooled / max(float(pooled.sum()), 1e-12)
        return Evidence(rows.astype(np.float32), evidence.raw)

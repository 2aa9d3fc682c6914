"""The PP-OCR text-recognition model, loaded from the wheel that ships it (no download at run time).

`rapidocr_onnxruntime` 1.4.4 ships PP-OCRv4's Chinese recogniser (6,623 characters: digits, Latin letters and the
Chinese province characters of plates). It reads 49 of the 50 labelled real container numbers, where the
multilingual PP-OCRv6 small model of `rapidocr` 3.10 reads 45; the v6 model is used only when v4 is absent.

The product runs that model with its last layer fine-tuned on gate text (`vision/models/gate_ocr_rec.onnx`, made by
`smartgate train-ocr`; MODEL_CARD.md, "Text recogniser"); without that file, the wheel's own model.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)

#: (package, file under its `models/`), in order of preference.
MODEL_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("rapidocr_onnxruntime", "ch_PP-OCRv4_rec_infer.onnx"),
    ("rapidocr", "ch_PP-OCRv4_rec_infer.onnx"),
    ("rapidocr", "PP-OCRv6_rec_small.onnx"),
)
INPUT_HEIGHT = 48
#: PP-OCRv4 with its last layer fine-tuned on synthetic gate text (`vision/ocr/head_training.py`).
TUNED_MODEL = Path(__file__).resolve().parents[1] / "models" / "gate_ocr_rec.onnx"


class ModelNotFoundError(RuntimeError):
    """The recognition model file is not installed where it was expected."""


def installed_model(candidates: tuple[tuple[str, str], ...], what: str) -> Path:
    """A model file inside an installed wheel (`models/NAME` of a package), found without importing the package
    (its code is not used); `ModelNotFoundError` names `what` and how to install it."""
    for package, name in candidates:
        spec = importlib.util.find_spec(package)
        for location in list(spec.submodule_search_locations or []) if spec else []:
            path = Path(location) / "models" / name
            if path.is_file():
                return path
    raise ModelNotFoundError(f"no {what} installed (pip install --no-deps rapidocr_onnxruntime==1.4.4)")


def wheel_model_path() -> Path:
    """The PP-OCR recognition model of the rapidocr wheel, as PaddleOCR trained it."""
    return installed_model(MODEL_CANDIDATES, "PP-OCR recognition model")


def default_model_path() -> Path:
    """The shipped model, whose last layer `smartgate train-ocr` fine-tuned on gate text; else the wheel's own."""
    return TUNED_MODEL if TUNED_MODEL.is_file() else wheel_model_path()


class RecognitionModel:
    """An ONNX Runtime session of a CTC text recogniser and its class list (index 0 is the CTC blank)."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        self.path = path or default_model_path()
        options = ort.SessionOptions()
        # Idle worker threads spin by default; on a shared 2-core gate box that spinning steals the CPU from the
        # other stages (and from this session's own threads when several sessions run).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        height = self.session.get_inputs()[0].shape[2]
        self.height = height if isinstance(height, int) else INPUT_HEIGHT
        self.classes = self._classes()
        log.info("OCR model %s: %d classes, input height %d", self.path.name, len(self.classes), self.height)

    def _classes(self) -> list[str]:
        """PP-OCR keeps its dictionary in the model metadata; blank first and a space last, as PaddleOCR adds."""
        meta = self.session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelNotFoundError(f"{self.path} carries no character dictionary in its metadata")
        classes = ["", *meta["character"].splitlines(), " "]
        outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(outputs, int) and outputs != len(classes):
            raise ModelNotFoundError(f"{self.path}: {outputs} outputs but {len(classes)} dictionary classes")
        return classes

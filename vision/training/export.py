"""Trained weights (`.pt`) → the fixed-size ONNX model that `vision.detector.Detector` runs.

The export goes through ultralytics' own exporter, so the file has the same input (`images [1, 3, H, W]`),
output (`output0 [1, 4 + classes, anchors]`) and metadata (`names`, `stride`, `imgsz`) as the shipped model.
Before exporting, the weights are checked to be a YOLO detector for the gate's classes in the runtime's order;
after, the ONNX file is opened with ONNX Runtime the way the product opens it.

A `.pt` file is a pickle: loading it can run code. Export only weights you trained or trust.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from datasets.recording import OBJECT_CLASSES

STRIDE = 32  # the detector's input must be a multiple of the model's largest stride


class WeightsError(ValueError):
    """A weights file that is missing, corrupt, or not a gate detector."""


class ExportError(RuntimeError):
    """An export whose ONNX file the runtime detector would not load."""


def offline_ultralytics(config_dir: Path | None = None) -> None:
    """Keep ultralytics from reaching the network or installing packages; call before importing it.

    Its dataset check fetches Arial.ttf (for plots, which are off) unless the font is in its config folder, and the
    fetch has no timeout on a machine whose packets are dropped; a local font under that name stops it.
    """
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("WANDB_DISABLED", "true")
    if config_dir is not None and "YOLO_CONFIG_DIR" not in os.environ:
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir.resolve())
    folder = Path(os.environ.get("YOLO_CONFIG_DIR", Path.home() / ".config" / "Ultralytics"))
    font = folder / "Arial.ttf"
    if not font.exists():
        from datasets.synth.fonts import find_font

        folder.mkdir(parents=True, exist_ok=True)
        font.write_bytes(find_font("DejaVuSans.ttf").read_bytes())


def check_imgsz(height: int, width: int) -> tuple[int, int]:
    """(height, width) of the ONNX input: positive multiples of the stride, as the runtime detector requires."""
    if height < STRIDE or width < STRIDE or height % STRIDE or width % STRIDE:
        raise ValueError(f"input size must be multiples of {STRIDE} of at least {STRIDE}, got {height}x{width} "
                         "(height x width)")
    return height, width


def check_weights_file(path: Path) -> None:
    """Cheap checks before torch reads the file: it exists and is a zip archive, as `torch.save` writes."""
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path}: not a PyTorch weights file (truncated, or not written by torch.save)")


def load_weights(path: Path, shown_as: Path | None = None) -> Any:
    """The ultralytics model in `path`, or `WeightsError` (naming `shown_as`) saying why it is not a gate detector."""
    shown = shown_as or path
    check_weights_file(path)
    offline_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(path), task="detect")
        names = model.names
    except Exception as exc:  # torch and ultralytics raise many untyped errors for a damaged checkpoint
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsError(f"{shown}: cannot load YOLO weights: {reason}") from None
    classes = tuple(str(names[i]) for i in sorted(names)) if isinstance(names, dict) else ()
    if classes != OBJECT_CLASSES:
        listed = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
        raise WeightsError(f"{shown}: its {len(classes)} classes ({listed}) are not the gate detector's "
                           f"{len(OBJECT_CLASSES)} ({', '.join(OBJECT_CLASSES)})")
    return model


def export_onnx(weights: Path, target: Path, imgsz: tuple[int, int], opset: int = 18) -> Path:
    """Write `target`: fixed input `imgsz` (height, width), batch 1, no NMS, not simplified (onnxslim may be
    missing). The exporter writes next to the weights, so it works on a copy in a temporary folder."""
    height, width = check_imgsz(*imgsz)
    check_weights_file(weights)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smartgate-export-") as work:
        copy = Path(work) / "detector.pt"
        shutil.copyfile(weights, copy)
        model = load_weights(copy, shown_as=weights)
        exported = Path(model.export(format="onnx", imgsz=[height, width], opset=opset, simplify=False,
                                     dynamic=False, half=False, nms=False, device="cpu"))
        check_onnx(exported, (height, width))
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(exported, partial)
        partial.replace(target)
    return target


def check_onnx(path: Path, imgsz: tuple[int, int]) -> None:
    """Open `path` as the product does and check its input size and number of outputs per anchor."""
    from vision.detector import Detector, DetectorModelError

    try:
        detector = Detector.load(path, threads=1)
    except DetectorModelError as exc:
        raise ExportError(f"exported model does not load in the runtime detector: {exc}") from None
    outputs = detector.session.get_outputs()
    rows = outputs[0].shape[1] if len(outputs) == 1 and len(outputs[0].shape) == 3 else None
    if detector.input_size != imgsz or rows != 4 + len(OBJECT_CLASSES):
        raise ExportError(f"exported model has input {detector.input_size} and {rows} rows per anchor, expected "
                          f"{imgsz} and {4 + len(OBJECT_CLASSES)}")

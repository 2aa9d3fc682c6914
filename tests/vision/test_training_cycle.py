"""Train → export → load: `smartgate train --quick` and `smartgate export` as real processes, then the runtime
detector on their ONNX files; and the commands' one-line refusals (missing extras, bad options, bad weights).

The cycle needs the training extras (`requirements-train.lock`, installed by `make test`) and is skipped without
them; the refusal for missing extras is checked either way, in a process where Python cannot import them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from datasets.recording import OBJECT_CLASSES, Recording
from vision.detector import DEFAULT_MODEL, Detector
from vision.seals.data import SHARED
from vision.training.command import missing_packages

REPO = Path(__file__).resolve().parents[2]
needs_extras = pytest.mark.skipif(bool(missing_packages()), reason=f"training extras missing: {missing_packages()}")


def smartgate(*args: str | Path, cwd: Path, block: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`smartgate ARGS` in a fresh process; `block` names modules made unimportable first (a `None` entry in
    `sys.modules` is how Python marks a module as absent), to see the command on a machine without them."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_CONFIG_DIR": str(cwd / "ultralytics-config")}
    code = ("import sys\n"
            f"sys.modules.update(dict.fromkeys({block.split()!r}))\n"
            "from smartgate.cli import main\n"
            "raise SystemExit(main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("smartgate: error: "), lines
    return lines[0]


def model_names(path: Path) -> str:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return str(session.get_modelmeta().custom_metadata_map["names"])


def first_truck_frame(recording_dir: Path) -> np.ndarray:
    """A frame of the held-out recording that shows a truck."""
    recording = Recording.open(recording_dir)
    truth = next(t for t in recording.frames() if t.objects)
    image = cv2.imread(str(recording.frame_path(truth)), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def check_detector(onnx: Path, input_size: tuple[int, int], frame: np.ndarray) -> None:
    """The product's detector loads the file and gives well-formed detections in the frame's pixels."""
    detector = Detector.load(onnx, threads=1)
    assert detector.input_size == input_size
    assert model_names(onnx) == model_names(DEFAULT_MODEL)
    shipped = ort.InferenceSession(str(DEFAULT_MODEL), providers=["CPUExecutionProvider"])
    assert [i.name for i in detector.session.get_inputs()] == [i.name for i in shipped.get_inputs()]
    assert [o.shape[1] for o in detector.session.get_outputs()] == [o.shape[1] for o in shipped.get_outputs()]
    detections, times = detector.detect_one(frame)
    height, width = frame.shape[:2]
    boxes = detections.xyxy
    assert boxes.dtype == np.float32
    assert boxes.shape == (len(detections), 4)
    assert np.isfinite(boxes).all()
    assert (boxes >= 0).all()
    assert (boxes[:, [0, 2]] <= width).all()
    assert (boxes[:, [1, 3]] <= height).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    assert ((detections.confidence >= 0) & (detections.confidence <= 1)).all()
    assert ((detections.class_id >= 0) & (detections.class_id < len(OBJECT_CLASSES))).all()
    assert times.infer_ms > 0


@needs_extras
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_train_export_and_load(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trained = smartgate("train", "--quick", "--out", run, "--device", "cpu", "--processes", "2", cwd=tmp_path,
                        timeout=840)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "mAP50 held-out synthetic:" in trained.stdout
    assert f"weights  {run / 'detector.pt'}" in trained.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1
    assert metrics["device"] == "cpu"
    assert metrics["classes"] == list(OBJECT_CLASSES)
    assert metrics["synthetic_val"], "the held-out split must be scored"
    real_expected = (SHARED / "labels.jsonl").is_file()
    assert ("real" in metrics) == real_expected
    for rows in (metrics["synthetic_val"], metrics.get("real", {})):
        for cls, row in rows.items():
            assert cls in OBJECT_CLASSES
            assert 0.0 <= row["map50"] <= 1.0
            assert row["instances"] > 0
    if real_expected:
        assert set(metrics["real"]) == {"container_number", "size_type", "door_handle"}

    exported = smartgate("export", run / "detector.pt", "--out", tmp_path / "other.onnx", "--imgsz", "192", "320",
                         cwd=tmp_path, timeout=600)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert json.loads(exported.stdout) == {"onnx": str(tmp_path / "other.onnx"),
                                           "bytes": (tmp_path / "other.onnx").stat().st_size,
                                           "input": [1, 3, 192, 320]}
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".onnx") == ["other.onnx"]  # nothing left over

    frame = first_truck_frame(run / "recordings" / "seed3")
    check_detector(run / "detector.onnx", (160, 256), frame)
    check_detector(tmp_path / "other.onnx", (192, 320), frame)

    # the int8 copy, calibrated on the training seed's recording (reused, not rendered again)
    quantized = smartgate("quantize", "--model", run / "detector.onnx", "--out", tmp_path / "int8.onnx", "--work",
                          run / "recordings", "--seeds", "2", "--frames", "8", "--duration", "16", cwd=tmp_path,
                          timeout=300)
    assert quantized.returncode == 0, quantized.stderr[-3000:]
    summary = json.loads(quantized.stdout)
    assert summary["calibration_frames"] == 8
    assert summary["bytes"] == (tmp_path / "int8.onnx").stat().st_size < summary["source_bytes"]
    check_detector(tmp_path / "int8.onnx", (160, 256), frame)
    import onnx  # a training extra

    ops = {node.op_type for node in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


@pytest.mark.parametrize(("args", "message"), [
    (["export", "w.pt", "--out", "m.onnx", "--imgsz", "100", "256"], "must be a multiple of 32"),
    (["export", "w.pt", "--out", "m.onnx", "--imgsz", "160"], "expected 2 arguments"),
    (["export", "w.pt"], "the following arguments are required: --out"),
    (["train", "--quick"], "the following arguments are required: --out"),
    (["train", "--out", "x", "--epochs", "0"], "must be a whole number of at least 1"),
    (["train", "--out", "x", "--device", "gpu"], "must be auto, cpu or a CUDA index"),
    (["train", "--out", "x", "--time-h", "nan"], "must be a positive number"),
    (["train", "--out", "x", "--train-seeds", "5-1"], "seeds must look like"),
    (["train", "--out", "x", "--real", "r", "--no-real"], "not allowed with argument"),
    (["quantize"], "the following arguments are required: --out"),
    (["quantize", "--out", "m.onnx", "--frames", "0"], "must be a whole number of at least 1"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    done = smartgate(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("command", "block"), [
    (["train", "--quick", "--out", "run"], "ultralytics onnxscript"),
    (["export", "w.pt", "--out", "m.onnx"], "ultralytics onnxscript"),
    (["train-ocr", "--quick", "--out", "run"], "torch"),
    (["train-province", "--quick", "--out", "run"], "torch"),
    (["quantize", "--out", "m.onnx", "--work", "run"], "onnx"),
])
def test_missing_extras_say_how_to_install_them(tmp_path: Path, command: list[str], block: str) -> None:
    done = smartgate(*command, cwd=tmp_path, block=block)
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"needs {block.replace(' ', ', ')} (not installed)" in line
    assert "requirements-train.lock" in line
    assert not (tmp_path / "run").exists()


@needs_extras
@pytest.mark.parametrize(("args", "message"), [
    (["train", "--out", "run", "--train-seeds", "1-3", "--val-seeds", "3"], "seeds [3] are both trained on and "
                                                                             "held out"),
    (["train", "--out", "run", "--real", "nowhere"], "--real nowhere: no labels.jsonl (containervision) or val.txt"),
])
def test_train_refuses_inconsistent_options(tmp_path: Path, args: list[str], message: str) -> None:
    done = smartgate(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in one_error_line(done)
    assert not (tmp_path / "run").exists()


@needs_extras
@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "1,9402"], "seeds [9402] are held out for evaluation"),
    (["--seeds", "9001-9002"], "seeds [9001, 9002] are held out for evaluation"),
    (["--model", "nowhere.onnx"], "nowhere.onnx: detector model not found"),
])
def test_quantize_refuses_held_out_seeds_and_a_missing_model(tmp_path: Path, args: list[str], message: str) -> None:
    done = smartgate("quantize", "--out", "m.onnx", "--work", "run", *args, cwd=tmp_path)
    assert done.returncode in (1, 2)
    assert message in one_error_line(done)
    assert not (tmp_path / "m.onnx").exists()
    assert not (tmp_path / "run").exists()


@needs_extras
def test_train_refuses_a_missing_gpu_before_rendering(tmp_path: Path) -> None:
    done = smartgate("train", "--quick", "--out", "run", "--device", "99", "--no-real", cwd=tmp_path)
    assert done.returncode == 1
    assert "CUDA device 99 not found" in one_error_line(done)
    assert not (tmp_path / "run" / "recordings").exists()


def _junk_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("detector/data.pkl", b"\x80\x05not a pickle")


@needs_extras
@pytest.mark.parametrize(("make", "message"), [
    (None, "w.pt: weights file not found"),
    (lambda p: p.mkdir(), "w.pt: weights file not found"),
    (lambda p: p.write_bytes(b""), "w.pt: not a PyTorch weights file"),
    (lambda p: p.write_bytes(DEFAULT_MODEL.read_bytes()[:4096]), "w.pt: not a PyTorch weights file"),
    (_junk_zip, "w.pt: cannot load YOLO weights:"),
], ids=["missing", "folder", "empty", "onnx-not-pt", "junk-zip"])
def test_export_refuses_bad_weights(tmp_path: Path, make: object, message: str) -> None:
    weights = tmp_path / "w.pt"
    if callable(make):
        make(weights)
    done = smartgate("export", "w.pt", "--out", "m.onnx", cwd=tmp_path)
    assert done.returncode == 1
    assert message in one_error_line(done)
    assert not (tmp_path / "m.onnx").exists()


@needs_extras
def test_export_refuses_weights_of_other_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real YOLO checkpoint, but with 80 classes: the runtime would misread its outputs, so no export."""
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics-config"))
    from vision.training.export import offline_ultralytics

    offline_ultralytics()
    from ultralytics import YOLO

    YOLO("yolo11n.yaml").save(tmp_path / "coco.pt")
    done = smartgate("export", "coco.pt", "--out", "m.onnx", cwd=tmp_path)
    assert done.returncode == 1
    assert one_error_line(done) == ("smartgate: error: coco.pt: its 80 classes (0, 1, 2, 3, 4, 5, 6, 7, ...) are "
                                    "not the gate detector's 7 (vehicle, plate, container, container_number, "
                                    "size_type, seal, door_handle)")
    assert not (tmp_path / "m.onnx").exists()

"""`smartgate train-ocr`: the recogniser's last layer fine-tuned on synthetic gate text, end to end in a process,
then read by the product; its refusals (missing extras: `test_training_cycle.py`); and the graph surgery it relies
on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.vision.test_training_cycle import needs_extras, one_error_line, smartgate
from vision.ocr.model import wheel_model_path
from vision.ocr.reader import TextReader
from vision.ocr.recognizer import TextRecognizer


@needs_extras
def test_quick_fine_tune_writes_a_model_the_reader_loads(tmp_path: Path) -> None:
    import onnx

    from vision.ocr.head_training import find_head, head_weights

    done = smartgate("train-ocr", "--quick", "--out", "run", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    model = tmp_path / "run" / "gate_ocr_rec.onnx"
    assert tmp_path / summary["model"] == model
    assert summary["lines"]["train"] > 20
    assert summary["lines"]["val"] > 20
    assert all(math.isfinite(loss) and loss > 0 for loss in summary["losses"])
    assert set(summary["val_exact_after"]) <= {"plate", "container_number", "size_type"}
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["recipe"]["epochs"] == 1

    base, tuned = onnx.load(str(wheel_model_path())), onnx.load(str(model))
    (w0, b0), (w1, b1) = head_weights(base, find_head(base)), head_weights(tuned, find_head(tuned))
    assert w1.shape == w0.shape
    assert b1.shape == b0.shape
    assert not np.allclose(w1, w0)  # the layer learnt
    assert float(np.abs(w1 - w0).max()) < 1.0  # and stayed near where it started
    metadata = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert "smartgate_head_recipe" in metadata.custom_metadata_map

    recognizer = TextRecognizer(model, threads=1)
    assert recognizer.model.classes == TextRecognizer(wheel_model_path(), threads=1).model.classes
    plate = np.full((40, 200, 3), 230, np.uint8)
    import cv2

    cv2.putText(plate, "51C12345", (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2)
    read = TextReader(recognizer).read_plates([plate])[0]
    assert read.text  # the tuned model still reads a plain printed plate into something


@needs_extras
def test_train_ocr_refuses_seeds_both_trained_on_and_held_out(tmp_path: Path) -> None:
    done = smartgate("train-ocr", "--out", "run", "--train-seeds", "1-3", "--val-seeds", "3", cwd=tmp_path)
    assert done.returncode == 2
    assert "seeds [3] are both trained on and held out" in one_error_line(done)
    assert not (tmp_path / "run").exists()


@needs_extras
def test_find_head_refuses_a_graph_without_a_final_linear_softmax() -> None:
    import onnx
    from onnx import TensorProto, helper

    from vision.ocr.head_training import find_head

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(ValueError, match="MatMul"):
        find_head(helper.make_model(graph))
    base = onnx.load(str(wheel_model_path()))
    head = find_head(base)
    assert head.weight != head.bias


@pytest.mark.parametrize(("kind", "box", "expected"), [
    ("plate", (0, 0, 60, 12), True),  # one line, 12 px high
    ("plate", (0, 0, 60, 9), False),
    ("plate", (0, 0, 40, 22), True),  # two lines of 11 px
    ("plate", (0, 0, 40, 19), False),  # two lines of 9.5 px: not trained on
    ("container_number", (0, 0, 200, 12), True),
    ("container_number", (0, 0, 12, 200), True),  # vertical: its width is a character's
    ("container_number", (0, 0, 9, 200), False),
    ("size_type", (5, 5, 45, 14), False),
])
def test_only_legible_truth_lines_are_trained_on(kind: str, box: tuple[float, float, float, float],
                                                  expected: bool) -> None:
    from vision.ocr.head_training import legible

    assert legible(kind, box, min_line_px=10) is expected


def test_training_crops_are_padded_as_the_pipeline_pads_a_detected_box() -> None:
    from vision.ocr.head_training import detector_like_crop
    from vision.reader import ReaderConfig

    frame = np.zeros((200, 400, 3), np.uint8)
    box = (100.0, 50.0, 200.0, 90.0)  # 100 x 40
    pad_x, pad_y = ReaderConfig().plate_pad
    exact = detector_like_crop(frame, "plate", box, 0.0, np.random.default_rng(0))
    assert exact.shape[:2] == (math.ceil(40 * (1 + 2 * pad_y)), math.ceil(100 * (1 + 2 * pad_x)))
    shapes = {detector_like_crop(frame, "plate", box, 0.04, np.random.default_rng(seed)).shape for seed in range(8)}
    assert len(shapes) > 1  # the edges move as a detector's would
    assert all(abs(h - exact.shape[0]) <= 8 and abs(w - exact.shape[1]) <= 20 for h, w, _ in shapes)


def test_the_reader_runs_the_shipped_fine_tuned_model_never_trained_on_the_held_out_seeds() -> None:
    from vision.ocr.model import TUNED_MODEL, default_model_path

    assert default_model_path() == TUNED_MODEL
    session = ort.InferenceSession(str(TUNED_MODEL), providers=["CPUExecutionProvider"])
    recipe = json.loads(session.get_modelmeta().custom_metadata_map["smartgate_head_recipe"])
    assert not {9401, 9402} & set(recipe["train_seeds"])  # the OCR and replay held-out recordings
    assert recipe["min_line_px"] > 0
    assert recipe["box_jitter"] > 0

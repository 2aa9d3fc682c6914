"""Detector alone on one 960×540 synthetic frame: letterbox, ONNX Runtime inference, decode and NMS; the float32
export and the int8 model the lanes run, side by side in one run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from datasets.synth.generator import generate
from vision.detector import FLOAT_MODEL, INT8_MODEL, Detector
from vision.reader import load_image

pytestmark = pytest.mark.benchmark(group="vision-detector")


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    root = tmp_path_factory.mktemp("synth")
    generate(root, duration_s=20.0, fps=2.0, trucks_per_hour=400, seed=11, workers=1, cameras=("rear",))
    return load_image(sorted(Path(root, "cameras", "rear").glob("*.jpg"))[15])


@pytest.mark.parametrize("model", [FLOAT_MODEL, INT8_MODEL], ids=["float32", "int8"])
def test_bench_detect_960x540(benchmark: BenchmarkFixture, frame: np.ndarray, model: Path) -> None:
    detector = Detector.load(model)
    detections = benchmark(detector.detect, [frame])
    assert frame.shape == (540, 960, 3)
    assert len(detections[0]) > 0

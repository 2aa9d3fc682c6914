"""mAP50 of the run-time detector (`vision.detector_eval`): the AP arithmetic on hand-made cases, the matching
rule, and the shipped model scored on a small rendered recording and on the real held-out images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datasets.synth import generate
from vision.detector import DEFAULT_MODEL, Detector
from vision.detector_eval import EVAL_CONFIG, average_precision, evaluate, main, match, real_samples, recording_samples
from vision.seals.data import SHARED


def test_a_perfect_ranking_scores_one_and_no_truth_is_undefined() -> None:
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9]), np.array([True]), 0) is None
    assert average_precision(np.zeros(0), np.zeros(0, bool), 3) == 0.0


def test_a_false_positive_ranked_first_costs_precision_and_a_missed_box_costs_recall() -> None:
    # ranked: miss, hit → precision 0.5 at recall 1
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 1) == pytest.approx(0.5)
    # one of two boxes found, first: precision 1 up to recall 0.5 (51 of 101 points), nothing after
    assert average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(51 / 101)


def test_each_truth_box_is_matched_once_best_score_first() -> None:
    truth = np.array([[0, 0, 10, 10]], np.float32)
    pred = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], np.float32)
    hits = match(pred, np.array([0.5, 0.9, 0.7], np.float32), truth)
    assert hits.tolist() == [False, True, False]  # the better-scored duplicate takes the box
    assert not match(pred, np.ones(3, np.float32), np.zeros((0, 4), np.float32)).any()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(DEFAULT_MODEL, threads=2, config=EVAL_CONFIG)


@pytest.mark.slow
def test_the_shipped_detector_finds_the_trucks_of_a_recording_it_never_saw(tmp_path: Path,
                                                                            detector: Detector) -> None:
    recording = tmp_path / "r"
    generate(recording, seed=9004, duration_s=16.0, fps=1.0, trucks_per_hour=900.0, size=(960, 540), workers=1)
    samples = list(recording_samples(recording))
    assert samples
    assert all(s.boxes.shape[0] == s.classes.shape[0] for s in samples)
    scores = evaluate(detector, samples)
    assert scores["vehicle"]["instances"] > 0
    vehicle = scores["vehicle"]["map50"]
    assert vehicle is not None
    assert vehicle > 0.8
    for row in scores.values():
        value = row["map50"]
        assert value is None or 0.0 <= value <= 1.0


@pytest.mark.skipif(not (SHARED / "labels.jsonl").is_file(), reason="shared ContainerVision images not present")
def test_real_images_score_only_the_classes_they_label(detector: Detector) -> None:
    samples = list(real_samples(SHARED))
    assert len(samples) == 20  # 4 held-out passages of 5 views
    scores = evaluate(detector, samples[:5])
    assert set(scores) <= {"container_number", "size_type", "door_handle"}
    number = scores["container_number"]["map50"]
    assert number is not None
    assert number > 0.5


def test_the_command_writes_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = tmp_path / "r"
    generate(recording, seed=9003, duration_s=8.0, fps=1.0, trucks_per_hour=900.0, size=(480, 270), workers=1)
    out = tmp_path / "eval.json"
    assert main(["--model", str(DEFAULT_MODEL), "--recording", str(recording), "--threads", "1",
                 "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written == json.loads(capsys.readouterr().out)
    assert set(written[str(DEFAULT_MODEL)]) == {"synthetic"}

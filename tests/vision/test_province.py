"""The province classifier of Chinese plates: where it cuts the glyph, how its say enters the evidence, how the
shipped model reads rendered plates, and `smartgate train-province` end to end in a process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datasets.synth.identifiers import CN_PROVINCES, random_cn_plate
from datasets.synth.plates import PlateSpec, render_plate
from tests.vision.test_training_cycle import needs_extras, smartgate
from vision.grammar.alphabet import ALPHABET, INDEX
from vision.grammar.evidence import evidence_from_text
from vision.ocr.province import DEFAULT_MODEL, ProvinceClassifier, ProvinceModelError, glyph_window
from vision.ocr.reader import TextReader

PAD = (0.08, 0.15)


def padded_plate(text: str, color: str, lines: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A rendered plate inside a grey margin of `PAD`, as the lane pipeline crops a detected plate."""
    spec = PlateSpec(text, "cn", color, lines)  # type: ignore[arg-type]
    w_mm, h_mm = spec.size_mm()
    plate = render_plate(spec, round(height * w_mm / h_mm), height, rng)
    dy, dx = round(PAD[1] * plate.shape[0]), round(PAD[0] * plate.shape[1])
    crop = np.full((plate.shape[0] + 2 * dy, plate.shape[1] + 2 * dx, 3), 90, np.uint8)
    crop[dy:dy + plate.shape[0], dx:dx + plate.shape[1]] = plate
    return crop


@pytest.mark.parametrize("lines", [1, 2])
def test_the_window_holds_the_province_glyph_and_not_the_rest_of_the_plate(lines: int) -> None:
    rng = np.random.default_rng(3)
    a = padded_plate("桂A·12345" if lines == 1 else "桂A·1234挂", "yellow", lines, 60, rng)
    b = padded_plate("桂A·98765" if lines == 1 else "桂A·9876挂", "yellow", lines, 60, rng)
    c = padded_plate("京A·12345" if lines == 1 else "京A·1234挂", "yellow", lines, 60, rng)
    d = padded_plate("桂B·12345" if lines == 1 else "桂B·1234挂", "yellow", lines, 60, rng)
    window = glyph_window(a, PAD)

    def likeness(crop: np.ndarray) -> float:
        return float(np.corrcoef(window.ravel(), glyph_window(crop, PAD).ravel())[0, 1])

    assert likeness(b) > 0.95  # the serial is not in the window
    assert likeness(c) < 0.7  # the province is
    assert likeness(c) < likeness(d) - 0.15  # and it weighs more than the authority letter beside it


def test_the_window_shows_ink_bright_on_blue_and_yellow_plates_alike() -> None:
    rng = np.random.default_rng(4)
    yellow = glyph_window(padded_plate("湘B·12345", "yellow", 1, 60, rng), PAD)
    blue = glyph_window(padded_plate("湘B·12345", "blue", 1, 60, rng), PAD)
    assert yellow.shape == blue.shape == (32, 32)
    assert abs(float(yellow.mean())) < 1e-4
    assert float(np.corrcoef(yellow.ravel(), blue.ravel())[0, 1]) > 0.7


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped province model")
def test_refine_keeps_the_recognisers_province_mass_and_the_other_characters() -> None:
    classifier = ProvinceClassifier(DEFAULT_MODEL, threads=1)
    evidence = evidence_from_text("粤A12345", 0.9)
    choice = np.full(len(classifier.provinces), 0.01 / (len(classifier.provinces) - 2), np.float32)
    choice[classifier.provinces.index("川")] = 0.9
    choice[classifier.provinces.index("粤")] = 0.09
    refined = classifier.refine(evidence, choice)
    assert refined.best_text() == "川A12345"  # a sure classifier outweighs the recogniser
    mass = float(evidence.probs[0, classifier.columns].sum())
    assert float(refined.probs[0, classifier.columns].sum()) == pytest.approx(mass, rel=1e-5)
    assert refined.probs[0, INDEX["粤"]] > refined.probs[0, INDEX["桂"]]  # the recogniser still has a say
    torn = choice.copy()
    torn[classifier.provinces.index("川")] = torn[classifier.provinces.index("粤")] = 0.495
    assert classifier.refine(evidence, torn).best_text() == "粤A12345"  # and decides a torn classifier
    assert refined.probs[0, INDEX["A"]] == evidence.probs[0, INDEX["A"]]  # non-province classes untouched
    assert np.array_equal(refined.probs[1:], evidence.probs[1:])
    assert classifier.starts_with_province(evidence)
    assert not classifier.starts_with_province(evidence_from_text("51C12345"))


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped province model")
def test_the_shipped_classifier_reads_every_province_on_clear_plates() -> None:
    classifier = ProvinceClassifier(DEFAULT_MODEL, threads=1)
    assert set(classifier.provinces) == set(CN_PROVINCES)
    rng = np.random.default_rng(5)
    windows, truth = [], []
    for province in CN_PROVINCES:
        for lines, height in ((1, 30), (2, 48)):
            text = random_cn_plate(rng, trailer=lines == 2, province=province)
            windows.append(glyph_window(padded_plate(text, "yellow", lines, height, rng), PAD))
            truth.append(province)
    probs = classifier.probabilities(windows)
    assert probs.shape == (len(windows), len(CN_PROVINCES))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    right = sum(classifier.provinces[int(p.argmax())] == t for p, t in zip(probs, truth, strict=True))
    assert right >= 0.9 * len(truth)


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped province model")
def test_the_reader_reads_chinese_plates_with_the_classifiers_province() -> None:
    rng = np.random.default_rng(6)
    plates = [random_cn_plate(rng, province=p) for p in CN_PROVINCES]
    crops = [padded_plate(text, "yellow", 1, 26, rng) for text in plates]
    reader = TextReader(threads=1)
    assert reader.province is not None
    reads = reader.read_plates(crops)
    right = sum(read.text[:1] == text[0] for read, text in zip(reads, plates, strict=True))
    assert right >= 0.85 * len(plates)
    vn = reader.read_plates([np.full((20, 80, 3), 200, np.uint8)])  # a blank crop: nothing to refine, no error
    assert vn[0].text[:1] not in CN_PROVINCES or vn[0].confidence < 0.5


def test_a_corrupt_province_model_is_refused_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "province.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ProvinceModelError, match=r"province\.onnx"):
        ProvinceClassifier(bad)


def test_every_province_is_in_the_alphabet() -> None:
    assert all(ch in ALPHABET for ch in CN_PROVINCES)


@needs_extras
def test_quick_training_writes_a_model_the_reader_loads(tmp_path: Path) -> None:
    done = smartgate("train-province", "--quick", "--out", "run", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    model = tmp_path / "run" / "province_classifier.onnx"
    assert tmp_path / summary["model"] == model
    assert summary["windows"]["train"] > 500
    assert all(np.isfinite(summary["losses"]))
    assert 0.0 <= summary["val_accuracy_rendered"] <= 1.0
    classifier = ProvinceClassifier(model, threads=1)
    assert classifier.provinces == "".join(CN_PROVINCES)
    reader = TextReader(threads=1, province=classifier)
    assert len(reader.read_plates([padded_plate("桂A·12345", "yellow", 1, 30, np.random.default_rng(0))])) == 1


@needs_extras
def test_train_province_refuses_a_check_folder_that_is_not_a_recording(tmp_path: Path) -> None:
    done = smartgate("train-province", "--out", "run", "--check", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a rendered recording" in done.stderr


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped province model")
def test_the_shipped_model_never_trained_on_a_held_out_replay_seed() -> None:
    from vision.training.command import HELD_OUT_REPLAY_SEEDS

    classifier = ProvinceClassifier(DEFAULT_MODEL, threads=1)
    recipe = json.loads(classifier.session.get_modelmeta().custom_metadata_map["smartgate_province_recipe"])
    assert recipe["train_seeds"]
    assert not set(recipe["train_seeds"]) & set(HELD_OUT_REPLAY_SEEDS)

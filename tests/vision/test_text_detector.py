"""The PP-OCR text detector (DBNet through ONNX Runtime), its post-processing, and the line chains the number
finder builds from it: on real gate photographs where the shared data set is present, on drawn maps otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vision.ocr import TextReader
from vision.ocr.line_groups import extended, is_straight, link, reading_chains
from vision.ocr.number_finder import FinderConfig, NumberFinder
from vision.ocr.text_detector import (
    MAX_INPUT_SIDE,
    TextDetectionError,
    TextDetector,
    TextDetectorConfig,
    TextLines,
    input_size,
    lines_from_map,
)

REAL = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "containervision"
needs_real = pytest.mark.skipif(not (REAL / "labels.jsonl").is_file(), reason="shared ContainerVision set absent")


@pytest.fixture(scope="module")
def detector() -> TextDetector:
    return TextDetector(threads=2)


def _label(image: str) -> dict[str, Any]:
    for line in (REAL / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label: dict[str, Any] = json.loads(line)
        if label["image"] == f"images/{image}":
            return label
    raise LookupError(image)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _coverage(label: np.ndarray, lines: TextLines) -> float:
    """Share of the label box covered by detected lines."""
    x0, y0, x1, y1 = (int(v) for v in label)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for bx0, by0, bx1, by1 in lines.xyxy.astype(int):
        mask[max(0, by0 - y0):max(0, by1 - y0), max(0, bx0 - x0):max(0, bx1 - x0)] = True
    return float(mask.mean())


@needs_real
@pytest.mark.parametrize(("image", "kinds"), [
    ("1-124126001-OCR-LF-C01.jpg", ("number", "size_type")),  # vertical columns
    ("1-142900001-OCR-LF-C01.jpg", ("owner", "serial", "size_type")),  # owner code above the serial
])
def test_finds_each_labelled_line(detector: TextDetector, image: str, kinds: tuple[str, ...]) -> None:
    label = _label(image)
    lines = detector.detect(cv2.imread(str(REAL / label["image"])))
    assert 2 <= len(lines) <= detector.config.max_lines
    boxes = {b["kind"]: np.array(b["xyxy"], np.float32) for b in label["text_boxes"]}
    for kind in kinds:
        best = max(_iou(boxes[kind], line) for line in lines.xyxy)
        assert best >= 0.6, f"{kind}: best IoU {best:.2f}"
    if kinds[0] == "number":
        column = max(range(len(lines)), key=lambda i: _iou(boxes["number"], lines.xyxy[i]))
        assert lines.vertical[column]


@needs_real
def test_a_horizontal_number_comes_in_pieces_inside_its_box(detector: TextDetector) -> None:
    """The door number of a top view: owner code and serial found as separate lines, each inside the labelled
    number; together they cover most of it (the boxed check digit is the part DBNet leaves out)."""
    label = _label("1-124126001-OCR-AH-A01.jpg")
    lines = detector.detect(cv2.imread(str(REAL / label["image"])))
    number = np.array(label["text_boxes"][0]["xyxy"], np.float32)
    grown = number + np.array([-20, -20, 20, 20], np.float32)
    inside = [i for i in range(len(lines)) if _iou(number, lines.xyxy[i]) > 0.1]
    assert len(inside) >= 2
    for i in inside:
        x0, y0, x1, y1 = lines.xyxy[i]
        assert grown[0] <= x0
        assert grown[1] <= y0
        assert x1 <= grown[2]
        assert y1 <= grown[3]
    assert _coverage(number, lines) >= 0.5
    assert lines.elapsed_ms > 0


def test_blank_image_has_no_lines(detector: TextDetector) -> None:
    lines = detector.detect(np.full((540, 960, 3), 128, np.uint8))
    assert len(lines) == 0
    assert lines.xyxy.shape == (0, 4)
    assert lines.quads.shape == (0, 4, 2)


def test_drawn_text_is_found_where_it_was_drawn(detector: TextDetector) -> None:
    image = np.full((480, 800, 3), 40, np.uint8)
    text, font, scale, thickness = "MSKU 386603 6", cv2.FONT_HERSHEY_SIMPLEX, 2.0, 5
    cv2.putText(image, text, (100, 200), font, scale, (255, 255, 255), thickness)
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    drawn = np.array([100, 200 - height, 100 + width, 200], np.float32)
    lines = detector.detect(image)
    assert len(lines) >= 1
    found = np.array([*lines.xyxy[:, :2].min(axis=0), *lines.xyxy[:, 2:].max(axis=0)])
    assert _iou(drawn, found) >= 0.6


@pytest.mark.parametrize(("image", "message"), [
    ("not an image", "numpy array"),
    (np.zeros((64, 64, 3), np.float32), "uint8"),
    (np.zeros((64, 64, 2), np.uint8), "shape"),
    (np.zeros((64,), np.uint8), "shape"),
    (np.zeros((4, 64, 3), np.uint8), "at least 8x8"),
    (np.zeros((MAX_INPUT_SIDE + 1, 8), np.uint8), "at most"),
])
def test_bad_images_are_refused(detector: TextDetector, image: object, message: str) -> None:
    with pytest.raises(TextDetectionError, match=message):
        detector.detect(image)


def test_grey_and_bgra_images_are_taken(detector: TextDetector) -> None:
    assert len(detector.detect(np.zeros((64, 64), np.uint8))) == 0
    assert len(detector.detect(np.zeros((64, 64, 4), np.uint8))) == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_side": 1000}, "multiple of 32"),
    ({"threshold": 1.5}, "threshold"),
    ({"max_lines": 0}, "max_lines"),
])
def test_bad_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TextDetectorConfig(**kwargs)


def test_max_side_override_is_checked(detector: TextDetector) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        detector.detect(np.zeros((64, 64, 3), np.uint8), max_side=100)


@pytest.mark.parametrize(("shape", "max_side", "expected"), [
    ((1080, 1920), 960, (544, 960)),
    ((1080, 1920), 1280, (704, 1280)),
    ((100, 200), 960, (96, 192)),  # small images are never scaled up
    ((10, 10), 960, (32, 32)),
])
def test_input_size(shape: tuple[int, int], max_side: int, expected: tuple[int, int]) -> None:
    assert input_size(*shape, max_side) == expected


def test_post_processing_unclips_each_kernel_and_drops_weak_ones() -> None:
    prob = np.zeros((100, 200), np.float32)
    prob[20:30, 20:120] = 0.9  # a line's shrunk kernel
    prob[60:70, 20:60] = 0.35  # above the pixel threshold, below the box threshold
    prob[80:82, 150:152] = 0.9  # too small
    lines = lines_from_map(prob, TextDetectorConfig())
    assert len(lines) == 1
    x0, y0, x1, y1 = lines.xyxy[0]
    grow = 100 * 10 * 1.6 / (2 * (100 + 10))  # DBNet's offset: area × ratio / perimeter
    assert x0 == pytest.approx(20 - grow, abs=1.0)
    assert x1 == pytest.approx(120 + grow, abs=1.0)
    assert y0 == pytest.approx(20 - grow, abs=1.0)
    assert y1 == pytest.approx(30 + grow, abs=1.0)
    assert lines.scores[0] == pytest.approx(0.9)


def test_post_processing_keeps_the_largest_lines() -> None:
    prob = np.zeros((100, 400), np.float32)
    for k in range(8):
        prob[10:20, 10 + 45 * k:10 + 45 * k + 10 + 3 * k] = 0.9
    lines = lines_from_map(prob, TextDetectorConfig(max_lines=3))
    widths = lines.xyxy[:, 2] - lines.xyxy[:, 0]
    assert len(lines) == 3
    assert list(widths) == sorted(widths, reverse=True)


# --- line chains -------------------------------------------------------------------------------------------------

OWNER = [100, 100, 260, 160]  # "MSKU", 60 px text
SERIAL = [300, 102, 560, 158]  # "386603" on the same row
CHECK = [580, 100, 630, 160]  # the boxed check digit
BELOW = [100, 170, 380, 230]  # a stacked serial
SIZE = [100, 240, 260, 300]  # the size-type code under that
COLUMN_TOP = [900, 100, 950, 400]  # a vertical owner code, 50 px wide
COLUMN_BOTTOM = [895, 430, 948, 900]  # the serial column below it


@pytest.mark.parametrize(("a", "b", "kind"), [
    (OWNER, SERIAL, "row"),
    (SERIAL, CHECK, "row"),
    (SERIAL, OWNER, None),  # reading goes left to right
    (OWNER, BELOW, "stack"),
    (BELOW, OWNER, None),
    (COLUMN_TOP, COLUMN_BOTTOM, "column"),
    (COLUMN_BOTTOM, COLUMN_TOP, None),
    (OWNER, COLUMN_TOP, None),
    (OWNER, [300, 100, 360, 400], None),  # a column after a row
    (OWNER, [300, 110, 330, 130], None),  # much smaller text
])
def test_link(a: list[int], b: list[int], kind: str | None) -> None:
    assert link(np.array(a, np.float32), np.array(b, np.float32)) == kind


def test_reading_chains_turn_to_a_new_row_once() -> None:
    boxes = np.array([OWNER, SERIAL, CHECK, BELOW, SIZE, COLUMN_TOP, COLUMN_BOTTOM], np.float32)
    chains = set(reading_chains(boxes))
    assert {(0, 1, 2), (0, 1), (1, 2), (0, 3), (5, 6), (6,)} <= chains
    assert (0, 3, 4) not in chains  # owner / serial / size type: two turns
    assert all(len(chain) <= 3 for chain in chains)
    assert is_straight(boxes, (0, 1, 2))
    assert is_straight(boxes, (5, 6))
    assert not is_straight(boxes, (0, 3))


def test_extended_grows_along_the_reading_direction() -> None:
    row = extended(np.array(SERIAL, np.float32), 1920, 1080, head=0.0, tail=1.5)
    assert list(row) == pytest.approx([300, 102, 560 + 1.5 * 56, 158])
    column = extended(np.array(COLUMN_BOTTOM, np.float32), 1920, 1080, head=2.0, tail=0.0)
    assert column[1] == pytest.approx(430 - 2.0 * 53)
    assert column[3] == pytest.approx(900)
    assert column[0] < COLUMN_BOTTOM[0]
    assert column[2] > COLUMN_BOTTOM[2]
    edge = extended(np.array([1800, 10, 1900, 60], np.float32), 1920, 1080, tail=5.0)
    assert edge[2] == 1920


# --- the number finder (text lines → OCR → grammar) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def finder(detector: TextDetector) -> NumberFinder:
    return NumberFinder(detector, TextReader(threads=2))


def _painted_door() -> tuple[np.ndarray, np.ndarray]:
    """A dark panel with a number whose boxed check digit stands apart, and its size-type code below."""
    image = np.full((540, 960, 3), (90, 60, 30), np.uint8)
    font, scale, thick, white = cv2.FONT_HERSHEY_DUPLEX, 2.2, 4, (255, 255, 255)
    cv2.putText(image, "MSKU 386603", (120, 200), font, scale, white, thick)
    (width, height), _ = cv2.getTextSize("MSKU 386603", font, scale, thick)
    x = 120 + width + 25
    cv2.putText(image, "6", (x, 200), font, scale, white, thick)
    cv2.rectangle(image, (x - 8, 200 - height - 10), (x + 45, 210), white, 3)
    cv2.putText(image, "22G1", (120, 290), font, scale, white, thick)
    return image, np.array([120, 200 - height, 120 + width, 200], np.float32)


def test_finder_joins_a_number_and_its_boxed_check_digit(finder: NumberFinder) -> None:
    image, painted = _painted_door()
    result = finder.find(image)
    assert [n.read.number for n in result.numbers] == ["MSKU3866036"]
    found = result.numbers[0]
    assert found.read.check_digit_ok
    assert found.size_type is not None
    assert found.size_type.code == "22G1"
    assert not found.vertical
    assert _iou(painted, np.array(found.box, np.float32)) >= 0.6
    assert result.timings_ms["passes"] == 1  # a 960 px image: one pass serves every scale
    assert result.timings_ms["lines_read"] <= finder.config.max_lines


def test_finder_reads_nothing_on_a_blank_image(finder: NumberFinder) -> None:
    assert finder.find(np.full((300, 400, 3), 200, np.uint8)).numbers == []


def test_finder_refuses_what_is_not_an_image(finder: NumberFinder) -> None:
    with pytest.raises(TextDetectionError, match="numpy array"):
        finder.find(b"\xff\xd8 not decoded")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scales": ()}, "scales"),
    ({"scales": (960, 1000)}, "multiples of 32"),
    ({"max_lines": 0}, "max_lines"),
])
def test_bad_finder_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FinderConfig(**kwargs)

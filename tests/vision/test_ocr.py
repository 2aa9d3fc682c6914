"""OCR runner on real crops cut at test time, batching, and hostile crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vision.ocr import CropError, TextReader
from vision.ocr.lines import check_crop

REAL = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "containervision"
needs_real = pytest.mark.skipif(not (REAL / "labels.jsonl").is_file(),
                                reason=f"real image set not found at {REAL}")


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader(threads=2)


def _real_crops(kind: str, vertical: bool, count: int) -> list[tuple[np.ndarray, str]]:
    import cv2

    out: list[tuple[np.ndarray, str]] = []
    for line in (REAL / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        for box in label.get("text_boxes") or []:
            x0, y0, x1, y1 = box["xyxy"]
            if box["kind"] == kind and ((y1 - y0) > 2 * (x1 - x0)) == vertical and len(out) < count:
                image = cv2.imread(str(REAL / label["image"]))
                if image is None:
                    continue
                out.append((image[y0:y1, x0:x1], box["text"]))
    return out


@needs_real
@pytest.mark.parametrize("vertical", [False, True])
def test_real_container_numbers(reader: TextReader, vertical: bool) -> None:
    crops = _real_crops("number", vertical, 4)
    reads = reader.read_container_numbers([c for c, _ in crops])
    assert [r.number if r else "" for r in reads] == [t for _, t in crops]
    assert sum(r is not None and r.check_digit_ok for r in reads) >= len(reads) - 1


@needs_real
def test_real_split_number_joined(reader: TextReader) -> None:
    owners, serials = _real_crops("owner", False, 2), _real_crops("serial", False, 2)
    reads = reader.read_split_numbers([[o, s] for (o, _), (s, _) in zip(owners, serials, strict=True)])
    assert [r.number if r else "" for r in reads] == [o + s for (_, o), (_, s) in zip(owners, serials, strict=True)]


@needs_real
def test_batch_equals_one_by_one(reader: TextReader) -> None:
    crops = [c for c, _ in _real_crops("number", False, 3) + _real_crops("size_type", False, 3)]
    _assert_batched_equals_alone(reader, crops)


def _assert_batched_equals_alone(reader: TextReader, crops: list[np.ndarray]) -> None:
    """Reading crops together gives the same text and probabilities, in order, as reading each alone."""
    together = reader.evidence(crops)
    alone = [reader.evidence([c])[0] for c in crops]
    for a, b in zip(together, alone, strict=True):
        assert a is not None
        assert b is not None
        assert a.raw == b.raw
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def _rendered_numbers(widths: list[int]) -> list[np.ndarray]:
    import cv2

    crops = []
    for i, width in enumerate(widths):
        image = np.full((56, width, 3), (140, 60, 20), np.uint8)
        cv2.putText(image, f"MSKU{360516 + i:06d}", (8, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
        crops.append(image)
    return crops


def test_batch_over_several_width_buckets_equals_one_by_one(reader: TextReader) -> None:
    """Widths spread over several buckets and more lines than one call holds: same evidence, same order."""
    crops = _rendered_numbers([360, 280, 520, 300, 350, 290, 610, 330, 285, 345])
    _assert_batched_equals_alone(reader, crops)


def test_synthetic_plate_rendered_text(reader: TextReader) -> None:
    import cv2

    image = np.full((60, 330, 3), (0, 210, 255), np.uint8)  # yellow VN truck plate
    cv2.putText(image, "12C-123.45", (12, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3, cv2.LINE_AA)
    read = reader.read_plates([image])[0]
    assert (read.text, read.format) == ("12C-123.45", "vn")


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "at least 4x4"),
        (np.zeros((1, 1, 3), np.uint8), "at least 4x4"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_crops_rejected(crop: object, message: str) -> None:
    with pytest.raises(CropError, match=message):
        check_crop(crop)


def test_bad_crops_give_empty_reads_and_the_batch_goes_on(reader: TextReader) -> None:
    rng = np.random.default_rng(1)
    garbage = rng.integers(0, 256, (40, 200, 3), dtype=np.uint8)
    huge = rng.integers(0, 256, (300, 9000, 3), dtype=np.uint8)
    crops: list[object] = [np.zeros((0, 0, 3), np.uint8), np.zeros((1, 1, 3), np.uint8), garbage, huge, None]
    before = reader.rejected
    plates = reader.read_plates(crops)
    numbers = reader.read_container_numbers(crops)
    assert len(plates) == len(numbers) == len(crops)
    assert plates[0].text == ""
    assert numbers[0] is None
    assert numbers[4] is None
    assert reader.rejected - before == 6  # three bad crops, read twice
    assert all(isinstance(p.text, str) for p in plates)


def test_grayscale_and_alpha_crops_accepted() -> None:
    assert check_crop(np.zeros((20, 40), np.uint8)).shape == (20, 40, 3)
    assert check_crop(np.zeros((20, 40, 4), np.uint8)).shape == (20, 40, 3)
    assert max(check_crop(np.zeros((10, 20000, 3), np.uint8)).shape) == 4096

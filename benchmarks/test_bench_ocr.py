"""OCR per crop: a batch of 16 crops in one call against the same crops one by one (crops/s = 16 / mean); and 16
Chinese plates read with the province classifier against the recogniser alone (its cost per batch of plates)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from datasets.synth.identifiers import CN_PROVINCES, random_cn_plate
from datasets.synth.plates import PlateSpec, render_plate
from vision.ocr import TextReader

pytestmark = pytest.mark.benchmark(group="vision-ocr")

BATCH = 16


def _crops() -> list[np.ndarray]:
    """Container-number-like lines of varying width, rendered (no shared data needed)."""
    rng = np.random.default_rng(3)
    crops = []
    for i in range(BATCH):
        width = int(rng.integers(280, 360))
        image = np.full((56, width, 3), (140, 60, 20), np.uint8)
        cv2.putText(image, f"MSKU{360516 + i:06d}", (8, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
        crops.append(image)
    return crops


def _cn_plates() -> list[np.ndarray]:
    """One-line Chinese plates 28 px high in a grey margin, as the lane pipeline crops them."""
    rng = np.random.default_rng(4)
    crops = []
    for i in range(BATCH):
        plate = render_plate(PlateSpec(random_cn_plate(rng, province=CN_PROVINCES[i]), "cn", "yellow", 1), 88, 28, rng)
        crops.append(cv2.copyMakeBorder(plate, 4, 4, 7, 7, cv2.BORDER_CONSTANT, value=(90, 90, 90)))
    return crops


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


@pytest.fixture(scope="module")
def recogniser_only(reader: TextReader) -> TextReader:
    return TextReader(reader.recognizer, province=None)


def test_ocr_batch_of_16(benchmark: BenchmarkFixture, reader: TextReader) -> None:
    crops = _crops()
    reads = benchmark(reader.read_container_numbers, crops)
    assert sum(r is not None for r in reads) >= BATCH - 1


def test_ocr_one_by_one_16(benchmark: BenchmarkFixture, reader: TextReader) -> None:
    crops = _crops()
    reads = benchmark(lambda: [reader.read_container_numbers([c])[0] for c in crops])
    assert sum(r is not None for r in reads) >= BATCH - 1


def test_ocr_cn_plates_16(benchmark: BenchmarkFixture, reader: TextReader) -> None:
    assert reader.province is not None
    reads = benchmark(reader.read_plates, _cn_plates())
    assert sum(r.text[:1] in CN_PROVINCES for r in reads) >= BATCH // 2


def test_ocr_cn_plates_16_recogniser_only(benchmark: BenchmarkFixture, recogniser_only: TextReader) -> None:
    reads = benchmark(recogniser_only.read_plates, _cn_plates())
    assert sum(r.text[:1] in CN_PROVINCES for r in reads) >= BATCH // 2

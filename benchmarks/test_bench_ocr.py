"""OCR per crop: a batch of 16 crops in one call against the same crops one by one (crops/s = 16 / mean)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

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


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


def test_ocr_batch_of_16(benchmark: BenchmarkFixture, reader: TextReader) -> None:
    crops = _crops()
    reads = benchmark(reader.read_container_numbers, crops)
    assert sum(r is not None for r in reads) >= BATCH - 1


def test_ocr_one_by_one_16(benchmark: BenchmarkFixture, reader: TextReader) -> None:
    crops = _crops()
    reads = benchmark(lambda: [reader.read_container_numbers([c])[0] for c in crops])
    assert sum(r is not None for r in reads) >= BATCH - 1

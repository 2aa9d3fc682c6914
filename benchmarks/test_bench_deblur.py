"""What undoing motion smear costs the lane's number reads (`vision.ocr.deblur`): four container numbers of a
1280×720 frame read with and without the check, on a sharp frame (the check measures the smear and finds none) and
on a frame smeared 24 px along x (each smeared crop is read twice, once with the smear undone)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from vision.detections import Detections, class_index
from vision.reader import ImageReader

pytestmark = pytest.mark.benchmark(group="vision-deblur")

NUMBERS = ("GLDU2380678", "CMAU7820990", "MSKU3605161", "TEMU7630326")
SMEAR_PX = 24


def _frame(smear: int) -> tuple[np.ndarray, Detections]:
    frame = np.full((720, 1280, 3), (70, 110, 150), np.uint8)
    boxes = []
    for i, number in enumerate(NUMBERS):
        x, y = 60 + 600 * (i % 2), 120 + 300 * (i // 2)
        cv2.putText(frame, f"{number[:4]} {number[4:10]} {number[10]}", (x + 10, y + 45), cv2.FONT_HERSHEY_SIMPLEX,
                    1.6, (240, 240, 240), 4)
        boxes.append((x, y, x + 560, y + 60))
    if smear:
        frame = np.asarray(cv2.blur(frame, (smear, 1), borderType=cv2.BORDER_REPLICATE), np.uint8)
    return frame, Detections.from_arrays(boxes, [0.9] * len(boxes), class_index("container_number"))


@pytest.fixture(scope="module")
def readers() -> dict[str, ImageReader]:
    reader = ImageReader.load(threads=2)
    plain = ImageReader(reader.detector, reader.text, reader.seals, dataclasses.replace(reader.config, deblur=None))
    return {"with": reader, "without": plain}


@pytest.mark.parametrize("smear", [0, SMEAR_PX], ids=["sharp", "smeared"])
@pytest.mark.parametrize("deblur", ["with", "without"])
def test_number_reads_per_frame(benchmark: BenchmarkFixture, readers: dict[str, ImageReader], smear: int,
                                deblur: str) -> None:
    frame, dets = _frame(smear)
    whole, _ = benchmark(readers[deblur].read_containers_and_parts, frame, dets)
    right = sum(c.number in NUMBERS for c in whole)
    if deblur == "with" or not smear:
        assert right >= len(NUMBERS) - 1

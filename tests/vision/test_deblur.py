"""Undoing a passing truck's horizontal smear before a container number is read (`vision.ocr.deblur`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.detections import Detections, class_index
from vision.grammar import ContainerNumberRead, Evidence
from vision.grammar.alphabet import ALPHABET
from vision.ocr.deblur import DeblurConfig, smear_length, unsmear, unsmeared_crop
from vision.reader import ImageReader, NumberEvidence, better_number_read, padded_region

NUMBER_BOX = (30.0, 55.0, 640.0, 115.0)


def painted_number(text: str = "GLDU 238067 8") -> np.ndarray:
    image = np.full((160, 900, 3), (60, 120, 180), np.uint8)
    cv2.putText(image, text, (40, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (240, 240, 240), 4)
    return image


def smeared(image: np.ndarray, length: int) -> np.ndarray:
    """A box smear along x as a slow shutter makes it, then the camera's JPEG."""
    out = cv2.blur(image, (length, 1), borderType=cv2.BORDER_REPLICATE)
    decoded = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], cv2.IMREAD_COLOR)
    assert decoded is not None
    return np.asarray(decoded, np.uint8)


@pytest.mark.parametrize("length", [10, 16, 24, 32, 40])
def test_the_smear_length_is_measured_from_the_image(length: int) -> None:
    gray = smeared(painted_number(), length).mean(axis=2)[50:120]
    assert abs(smear_length(gray, 48) - length) <= 1


def test_a_sharp_number_is_left_alone_and_a_smeared_one_is_sharpened() -> None:
    sharp = painted_number()
    region = padded_region(sharp.shape, np.asarray(NUMBER_BOX), (0.04, 0.2))
    assert unsmeared_crop(sharp, region, 60.0) is None  # its trough is the strokes' width, not a smear
    blurred = smeared(sharp, 24)
    restored = unsmeared_crop(blurred, region, 60.0)
    assert restored is not None
    x0, y0, x1, y1 = region
    truth = sharp[y0:y1, x0:x1].astype(np.float32)
    assert restored.shape == truth.shape
    def likeness(image: np.ndarray) -> float:  # correlation of the x-gradients: are the strokes' edges back?
        a, b = np.diff(image.astype(np.float32), axis=1).ravel(), np.diff(truth, axis=1).ravel()
        return float(np.corrcoef(a, b)[0, 1])

    assert likeness(restored) > likeness(blurred[y0:y1, x0:x1]) + 0.3  # about -0.1 before, 0.5 after


def test_unsmear_keeps_shape_and_type_of_gray_and_colour_images() -> None:
    colour = smeared(painted_number(), 20)
    assert unsmear(colour, 20, 0.02).shape == colour.shape
    gray = colour[..., 0]
    out = unsmear(gray, 20, 0.02)
    assert out.shape == gray.shape
    assert out.dtype == np.uint8


def test_too_narrow_or_empty_regions_are_not_filtered() -> None:
    image = smeared(painted_number(), 30)
    assert unsmeared_crop(image, (0, 0, 0, 0), 10.0) is None
    assert smear_length(np.zeros((10, 40), np.float32), 48) == 0
    assert unsmeared_crop(image, (0, 0, 20, 20), 10.0, DeblurConfig(margin_px=0)) is None


def test_a_number_smeared_by_motion_is_read_with_the_smear_undone() -> None:
    reader = ImageReader.load(threads=2)
    image = smeared(painted_number(), 20)
    dets = Detections.from_arrays([NUMBER_BOX], [0.9], class_index("container_number"))
    whole, _ = reader.read_containers_and_parts(image, dets)
    assert [(c.number, c.check_digit_ok) for c in whole] == [("GLDU2380678", True)]


def evidence(raw: str) -> Evidence:
    return Evidence(np.full((len(raw), len(ALPHABET)), 1.0 / len(ALPHABET), np.float32), raw)


def read(number: str, ok: bool, confidence: float) -> ContainerNumberRead:
    return ContainerNumberRead(number=number, check_digit_ok=ok, confidence=confidence, raw=number)


@pytest.mark.parametrize(("a", "b", "winner"), [
    ((None, None), (None, read("GLDU2380678", True, 0.4)), "b"),  # a number beats no read
    ((None, read("GZIU1233805", False, 0.9)), (None, read("GLDU2380678", True, 0.4)), "b"),  # a read check digit
    ((None, read("GLDU2380678", True, 0.8)), (None, read("GLDU2389675", True, 0.5)), "a"),  # the surer one
    ((None, read("GLDU2380678", True, 0.3)), (None, None), "a"),
    ((evidence("G3U24"), None), (evidence("GLDU2380"), None), "b"),  # no number: the longer part, for fusion
])
def test_of_two_reads_of_one_crop_the_one_that_makes_a_surer_number_wins(a: NumberEvidence, b: NumberEvidence,
                                                                         winner: str) -> None:
    assert better_number_read(a, b) is (a if winner == "a" else b)

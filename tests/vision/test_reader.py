"""`smartgate read` as a user runs it, on synthetic frames rendered at test time, a corrupt file and a missing one;
and the `ImageReader` parts that need no subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets.recording import FrameTruth, Recording
from vision.detections import Detections
from vision.reader import ImageRead, ImageReader, ImageReadError, PlateResult, load_image

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"image", "plates", "containers", "seals"}


def largest(recording: Recording, camera: str, cls: str) -> FrameTruth:
    """The frame of `camera` whose `cls` box is tallest (a plate or number the OCR can read)."""
    def height(truth: FrameTruth) -> float:
        return max((o.box[3] - o.box[1] for o in truth.objects if o.cls == cls and o.box[1] > 0), default=0.0)
    return max(recording.frames(camera), key=height)


def smartgate_read(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartgate.cli", "read", "--threads", "2", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_smartgate_read_prints_one_line_per_image(recording: Recording, tmp_path: Path) -> None:
    front = largest(recording, "front", "plate")
    rear = largest(recording, "rear", "container_number")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    missing = tmp_path / "missing.jpg"
    paths = [recording.frame_path(front), recording.frame_path(rear), corrupt, missing]
    done = smartgate_read(*paths)
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for p in paths]
    assert set(lines[0]) == KEYS
    assert set(lines[1]) == KEYS
    assert set(lines[2]) == {"image", "error"}
    assert "decodable" in lines[2]["error"]
    assert set(lines[3]) == {"image", "error"}
    assert "no such file" in lines[3]["error"]
    plate = next(o for o in front.objects if o.cls == "plate")
    assert plate.text in [p["text"] for p in lines[0]["plates"]]
    number = next(o for o in rear.objects if o.cls == "container_number")
    assert number.text is not None
    assert number.text.replace(" ", "") in [c["number"] for c in lines[1]["containers"]]
    for line in lines[:2]:
        for item in line["plates"] + line["containers"] + line["seals"]:
            x0, y0, x1, y1 = item["box"]
            assert 0 <= x0 <= x1 <= 960
            assert 0 <= y0 <= y1 <= 540
            assert 0 <= item["confidence"] <= 1


def test_smartgate_read_exit_0_when_all_read(recording: Recording) -> None:
    done = smartgate_read(recording.frame_path(largest(recording, "front", "plate")))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"", "not a decodable image"),
    (b"GIF89a garbage", "not a decodable image"),
])
def test_load_image_refuses_bad_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        load_image(path)


def test_as_dict_matches_the_issue_format() -> None:
    ok = ImageRead("a.jpg", plates=[PlateResult("51C12345", "vn", 0.9, [1.0, 2.0, 3.0, 4.0])])
    assert ok.as_dict() == {"image": "a.jpg", "containers": [], "seals": [],
                            "plates": [{"text": "51C12345", "format": "vn", "confidence": 0.9,
                                        "box": [1.0, 2.0, 3.0, 4.0]}]}
    assert ImageRead("b.jpg", error="broken").as_dict() == {"image": "b.jpg", "error": "broken"}
    assert np.isfinite(ok.plates[0].confidence)


# --- real gate photographs (the shared ContainerVision set, where present) ---------------------------------------

REAL = ROOT.parent / "shared" / "datasets" / "containervision"
needs_real = pytest.mark.skipif(not (REAL / "labels.jsonl").is_file(), reason="shared ContainerVision set absent")


@pytest.fixture(scope="module")
def image_reader() -> ImageReader:
    return ImageReader.load(threads=2)


@needs_real
@pytest.mark.parametrize(("image", "number", "size_type"), [
    ("1-124126001-OCR-AH-A01.jpg", "BEAU2656931", "22G1"),  # a row in pieces, the boxed check digit apart
    ("1-142900001-OCR-LF-C01.jpg", "HALU2089976", "22G1"),  # owner code above the serial
    ("1-130713001-OCR-AH-A01.jpg", "PCIU2743129", None),  # a vertical column
    ("1-125722001-OCR-RF-D01.jpg", "XINU1577214", "22G1"),  # a thin column, found only by the second look
    ("1-152733001-OCR-RF-D01.jpg", "TEMU5037029", "22G1"),  # the detector reads the number, the search its code
])
def test_reads_the_labelled_number_of_a_real_image(image_reader: ImageReader, image: str, number: str,
                                                   size_type: str | None) -> None:
    result = image_reader.read_file(REAL / "images" / image)
    assert result.error is None
    assert result.containers, "no container number read"
    top = max(result.containers, key=lambda c: c.confidence)
    assert (top.number, top.check_digit_ok) == (number, True)
    assert size_type is None or top.size_type == size_type
    x0, y0, x1, y1 = top.box
    assert 0 <= x0 < x1 <= 1920
    assert 0 <= y0 < y1 <= 1080
    assert 0.0 < top.confidence <= 1.0
    assert set(result.as_dict()) == KEYS


@needs_real
def test_the_lane_path_never_searches_text(image_reader: ImageReader) -> None:
    """`read_containers` (what the lane pipeline calls) reads the detector's boxes only; the text search is the
    still-image fallback, too slow for every frame."""
    frame = load_image(REAL / "images" / "1-125722001-OCR-RF-D01.jpg")
    assert image_reader.finder is not None
    before = sum(image_reader.finder.looks.values())
    assert image_reader.read_containers(frame, Detections.empty()) == []
    assert sum(image_reader.finder.looks.values()) == before


def test_a_blank_image_reads_no_number(image_reader: ImageReader) -> None:
    result = image_reader.read(np.full((540, 960, 3), 90, np.uint8), "blank")
    assert result.containers == []


def test_a_number_read_only_in_part_is_kept_as_a_part_for_fusion(image_reader: ImageReader) -> None:
    import cv2

    from vision.detections import class_index

    image = np.full((200, 640, 3), (40, 90, 200), np.uint8)
    cv2.putText(image, "GLDU 4229", (30, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (245, 245, 245), 5)
    cv2.rectangle(image, (400, 60), (600, 140), (30, 60, 30), -1)  # a strap over the rest of the number
    dets = Detections.from_arrays([[20, 60, 600, 140]], [0.9], class_index("container_number"))
    whole, parts = image_reader.read_containers_and_parts(image, dets)
    assert whole == []
    assert len(parts) == 1
    assert parts[0].text.startswith("GLDU4229")
    assert 0.0 < parts[0].confidence <= 0.9
    assert image_reader.read_containers(image, dets) == []  # still images report no parts

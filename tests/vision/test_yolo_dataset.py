"""YOLO dataset export: labels match the frame truth, are normalised, and the split follows passages, not frames.

Runs without torch or ultralytics: only the export is exercised, on a tiny generated recording.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.recording import OBJECT_CLASSES, ObjectTruth, Recording
from datasets.synth import generate
from vision.seals.data import SHARED
from vision.training.pseudo_labels import DEFAULT_FILE as PSEUDO_FILE
from vision.training.pseudo_labels import PSEUDO_CLASSES, load_pseudo_labels
from vision.training.pseudo_labels import main as pseudo_main
from vision.training.yolo_dataset import (
    CLASS_ID,
    DatasetError,
    count_labels,
    export_real,
    export_recording,
    frame_passage,
    label_file,
    listed_images,
    oversampled_list,
    parse_real_label,
    passage_split,
    real_split,
    write_data_yaml,
    yolo_line,
)

WIDTH, HEIGHT = 320, 180


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    root = tmp_path_factory.mktemp("rec") / "tiny"
    generate(root, duration_s=40.0, fps=2.0, trucks_per_hour=900, seed=11, cameras=("rear", "side_left"),
             size=(WIDTH, HEIGHT), workers=1)
    return Recording.open(root)


def _shape(path: Path) -> tuple[int, ...]:
    image = cv2.imread(str(path))
    return () if image is None else tuple(image.shape)


def _parse(path: Path) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for line in path.read_text().splitlines():
        cls, *values = line.split()
        rows.append((int(cls), *map(float, values)))
    return rows  # type: ignore[return-value]


@pytest.mark.parametrize(("box", "expected"), [
    ((0, 0, 320, 180), "2 0.500000 0.500000 1.000000 1.000000"),
    ((80, 45, 160, 90), "2 0.375000 0.375000 0.250000 0.250000"),
    ((-40, -10, 40, 20), "2 0.062500 0.055556 0.125000 0.111111"),  # clipped to the frame
    ((300, 170, 400, 250), "2 0.968750 0.972222 0.062500 0.055556"),
    ((10, 10, 10.5, 50), None),  # thinner than a pixel
    ((400, 10, 500, 50), None),  # wholly outside
    ((math.nan, 0, 10, 10), None),
    ((0, 0, math.inf, 10), None),
])
def test_yolo_line_normalises_and_clips(box: tuple[float, ...], expected: str | None) -> None:
    assert yolo_line(CLASS_ID["container"], box, WIDTH, HEIGHT) == expected


def test_yolo_line_refuses_an_empty_frame_size() -> None:
    with pytest.raises(DatasetError, match="positive"):
        yolo_line(0, (0, 0, 1, 1), 0, 10)


def test_labels_match_the_frame_truth(recording: Recording, tmp_path: Path) -> None:
    stats = export_recording(recording, tmp_path, val_share=0.5, prefix="r")
    assert sum(stats.images.values()) > 0
    truths = {f"r-{t.camera}-{t.frame:06d}": t for t in recording.frames()}
    checked = 0
    for label in (tmp_path / "labels").glob("*/*.txt"):
        truth = truths[label.stem]
        image = label.parent.parent.parent / "images" / label.parent.name / f"{label.stem}.jpg"
        assert image.is_file()
        assert _shape(image) == (HEIGHT, WIDTH, 3)
        rows = _parse(label)
        assert sorted(r[0] for r in rows) == sorted(CLASS_ID[o.cls] for o in truth.objects)
        for cls, cx, cy, w, h in rows:
            assert 0 <= cls < len(OBJECT_CLASSES)
            assert 0 < w <= 1
            assert 0 < h <= 1
            assert cx - w / 2 + 1e-6 >= 0
            assert cx + w / 2 <= 1 + 1e-6
            assert cy - h / 2 + 1e-6 >= 0
            assert cy + h / 2 <= 1 + 1e-6
        for obj in truth.objects:  # every truth box is found, in pixels, among the lines of its class
            x0, y0, x1, y1 = obj.box
            wanted = np.array([(x0 + x1) / 2 / WIDTH, (y0 + y1) / 2 / HEIGHT, (x1 - x0) / WIDTH, (y1 - y0) / HEIGHT])
            rows_of_class = np.array([r[1:] for r in rows if r[0] == CLASS_ID[obj.cls]])
            assert np.abs(rows_of_class - wanted).max(axis=1).min() < 1e-4
        checked += bool(rows)
    assert checked > 0
    lines = sum(len(_parse(p)) for p in (tmp_path / "labels").glob("*/*.txt"))
    assert sum(stats.objects.values()) == lines
    assert stats.skipped_boxes == 0


def test_split_follows_passages_not_frames(recording: Recording, tmp_path: Path) -> None:
    export_recording(recording, tmp_path, val_share=0.5, prefix="r")
    splits_of_passage: dict[str, set[str]] = defaultdict(set)
    truths = {f"r-{t.camera}-{t.frame:06d}": t for t in recording.frames()}
    for label in (tmp_path / "labels").glob("*/*.txt"):
        passage = frame_passage(truths[label.stem])
        if passage is not None:
            splits_of_passage[passage].add(label.parent.name)
    assert len(splits_of_passage) >= 3
    assert {next(iter(s)) for s in splits_of_passage.values()} == {"train", "val"}  # seed 11 draws both
    assert all(len(splits) == 1 for splits in splits_of_passage.values())
    expected = {p: passage_split(recording.meta.seed, p, 0.5) for p in splits_of_passage}
    assert {p: next(iter(s)) for p, s in splits_of_passage.items()} == expected


def test_a_held_out_recording_goes_wholly_to_val(recording: Recording, tmp_path: Path) -> None:
    stats = export_recording(recording, tmp_path, split="val", max_empty_per_camera=1)
    assert stats.images["train"] == 0
    assert stats.images["val"] > 0
    assert not (tmp_path / "images" / "train").exists()
    empties = [p for p in (tmp_path / "labels" / "val").glob("*.txt") if not p.read_text()]
    assert len(empties) <= len(recording.meta.cameras)  # the repeated empty-lane frame is kept once per camera


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_passage_split_refuses_a_bad_share(share: float) -> None:
    with pytest.raises(DatasetError, match="val share"):
        passage_split(1, "p0001", share)


def test_passage_split_is_stable_and_near_its_share() -> None:
    drawn = [passage_split(7, f"p{i:04d}", 0.2) for i in range(2000)]
    assert drawn == [passage_split(7, f"p{i:04d}", 0.2) for i in range(2000)]
    assert 0.15 < drawn.count("val") / len(drawn) < 0.25


def test_frame_passage_takes_the_most_common_id() -> None:
    from datasets.recording import FrameTruth

    objs = [ObjectTruth(cls="plate", box=(0, 0, 5, 5), passage_id=p) for p in ("a", "b", "b")]
    assert frame_passage(FrameTruth(camera="c", frame=0, t=0, file="x.jpg", objects=objs)) == "b"
    assert frame_passage(FrameTruth(camera="c", frame=0, t=0, file="x.jpg")) is None


def test_data_yaml_names_the_classes_in_order(tmp_path: Path) -> None:
    path = write_data_yaml(tmp_path / "data.yaml", tmp_path)
    data = json.loads(path.read_text())
    assert [data["names"][str(i)] for i in range(len(OBJECT_CLASSES))] == list(OBJECT_CLASSES)
    assert data["train"] == "images/train"
    assert data["val"] == "images/val"


# --- real images -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("record", "expected", "doors"), [
    ({"image": "a.jpg", "text_boxes": [{"kind": "number", "xyxy": [10, 10, 50, 20]},
                                       {"kind": "size_type", "xyxy": [10, 30, 30, 40]}], "door_handles": None},
     [("container_number", (10, 10, 50, 20)), ("size_type", (10, 30, 30, 40))], False),
    ({"image": "a.jpg", "text_boxes": [{"kind": "owner", "xyxy": [10, 10, 30, 20]},
                                       {"kind": "serial", "xyxy": [12, 22, 40, 32]}],
      "door_handles": [{"state": "sealed", "xyxy": [1, 2, 3, 4]}]},
     [("container_number", (10, 10, 40, 32)), ("door_handle", (1, 2, 3, 4))], True),
    ({"image": "a.jpg", "text_boxes": [{"kind": "number", "xyxy": [10, 10, 5, 20]},  # inverted: dropped
                                       {"kind": "number", "xyxy": "oops"}, "junk",
                                       {"kind": "other", "xyxy": [1, 1, 2, 2]}], "door_handles": []},
     [], True),
])
def test_parse_real_label(record: dict[str, object], expected: list[tuple[str, tuple[float, ...]]],
                          doors: bool) -> None:
    real = parse_real_label(record)
    assert list(real.boxes) == expected
    assert real.doors_labelled is doors


@pytest.mark.parametrize("record", [None, [], {"text_boxes": []}, {"image": 5}])
def test_parse_real_label_refuses_records_without_an_image(record: object) -> None:
    with pytest.raises(DatasetError):
        parse_real_label(record)


def test_export_real_splits_by_passage_and_adds_pseudo_labels_to_training_images(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "images").mkdir(parents=True)
    for name in ("p0", "p1", "p2", "p3", "p4"):
        cv2.imwrite(str(source / "images" / f"{name}.jpg"), np.full((540, 1920, 3), 90, np.uint8))
    (source / "images" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    number = [{"kind": "number", "xyxy": [960, 270, 1920, 540]}]
    handle = [{"state": "unsealed", "xyxy": [0, 0, 192, 54]}]
    lines = [{"image": f"images/{name}.jpg", "container": name, "text_boxes": number,
              "door_handles": handle if name in ("p0", "p1") else None} for name in ("p0", "p1", "p2", "p3", "p4")]
    lines += [{"image": "images/broken.jpg", "container": "p2", "text_boxes": [], "door_handles": None},
              {"image": "../../etc/passwd", "container": "p4", "text_boxes": [], "door_handles": None}]
    (source / "labels.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n")
    whole = ("container", (0.0, 0.0, 1920.0, 540.0))
    pseudo = {"images/p0.jpg": (whole,), "images/p1.jpg": (whole,)}
    out = tmp_path / "out"

    counts = export_real(source / "labels.jsonl", source, out, max_width=960, pseudo=pseudo)

    assert counts == {"images": 5, "train": 3, "val": 2, "door_images": 1, "pseudo_boxes": 1, "bad_records": 1,
                      "bad_images": 2}
    image = out / "images"
    assert listed_images(out / "train.txt") == [image / "p0.jpg", image / "p2.jpg", image / "p4.jpg"]
    assert listed_images(out / "val.txt") == [image / "p1.jpg", image / "p3.jpg"]  # sorted places 1 and 3
    assert listed_images(out / "doors.txt") == [image / "p1.jpg"]  # held out, handles labelled
    assert _shape(image / "p0.jpg") == (270, 960, 3)
    number_row = (CLASS_ID["container_number"], 0.75, 0.75, 0.5, 0.5)
    handle_row = (CLASS_ID["door_handle"], 0.05, 0.05, 0.1, 0.1)
    assert _parse(label_file(image / "p0.jpg")) == [number_row, handle_row, (CLASS_ID["container"], 0.5, 0.5, 1, 1)]
    assert _parse(label_file(image / "p1.jpg")) == [number_row, handle_row]  # scored: no pseudo boxes
    assert count_labels([label_file(image / "p1.jpg"), tmp_path / "missing.txt"])["door_handle"] == 1


def test_oversampled_list_repeats_each_image(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("./images/a.jpg\n./images/b.jpg\n")
    listing = oversampled_list(tmp_path / "train.txt", 3)
    assert listing is not None
    assert listing.parent == tmp_path
    assert [p.name for p in listed_images(listing)] == ["a.jpg", "b.jpg"] * 3
    assert oversampled_list(tmp_path / "train.txt", 0) is None
    assert oversampled_list(tmp_path / "missing.txt", 3) is None


def test_real_split_holds_out_four_of_ten_passages() -> None:
    passages = [f"{n:03d}" for n in range(10)]
    held_out = [p for p in passages if real_split(p, passages) == "val"]
    assert held_out == ["001", "003", "006", "008"]
    assert real_split("003", reversed(passages)) == "val"  # by sorted place, not by order of appearance


def test_shipped_pseudo_labels_load_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    shipped = load_pseudo_labels(PSEUDO_FILE)
    assert len(shipped) == 50
    assert {cls for boxes in shipped.values() for cls, _ in boxes} <= set(PSEUDO_CLASSES)
    path = tmp_path / "pseudo.jsonl"
    good = {"image": "a.jpg", "boxes": [{"cls": "vehicle", "xyxy": [0, 0, 10, 10], "confidence": 0.9}]}
    bad = [{"image": "b.jpg", "boxes": [{"cls": "plate", "xyxy": [0, 0, 10, 10]}]},
           {"image": "c.jpg", "boxes": [{"cls": "vehicle", "xyxy": [5, 0, 1, 10]}]},
           {"image": "d.jpg", "boxes": [{"cls": "vehicle", "xyxy": [0, 0, "nan", 10]}]}, {"image": "e.jpg"}]
    path.write_text("\n".join(json.dumps(x) for x in [good, *bad]) + "\n[1, 2\n")
    assert load_pseudo_labels(path) == {"a.jpg": (("vehicle", (0.0, 0.0, 10.0, 10.0)),)}


@pytest.mark.skipif(not (SHARED / "labels.jsonl").is_file(), reason="the shared containervision images are not here")
def test_pseudo_labels_command_labels_trucks_in_real_images_and_skips_unreadable_ones(tmp_path: Path) -> None:
    source = tmp_path / "real"
    (source / "images").mkdir(parents=True)
    record = json.loads((SHARED / "labels.jsonl").read_text().splitlines()[1])
    (source / record["image"]).write_bytes((SHARED / record["image"]).read_bytes())
    (source / "images" / "cut.jpg").write_bytes((SHARED / record["image"]).read_bytes()[:300])
    lines = [record, {"image": "images/cut.jpg"}, {"image": "images/missing.jpg"}]
    (source / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + "not json\n")
    out = tmp_path / "pseudo.jsonl"

    assert pseudo_main(["--real", str(source), "--out", str(out)]) == 0

    labels = load_pseudo_labels(out)
    assert list(labels) == [record["image"]]
    classes = [cls for cls, _ in labels[record["image"]]]
    assert "container" in classes  # the side view of a loaded truck: the teacher finds its container
    assert set(classes) <= set(PSEUDO_CLASSES)
    assert all(0 <= box[0] < box[2] <= 1920 and 0 <= box[1] < box[3] <= 1080 for _, box in labels[record["image"]])

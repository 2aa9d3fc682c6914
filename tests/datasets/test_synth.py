"""The synthetic footage generator: real recordings written to disk and read back with `Recording`."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.recording import OBJECT_CLASSES, PassageTruth, Recording, View
from datasets.synth import (
    ensure_demo_recording,
    generate,
    is_valid_cn_plate,
    is_valid_iso6346,
    is_valid_vn_plate,
    rendered,
)
from datasets.synth.cameras import Camera, intrinsics, look_at
from datasets.synth.command import main
from datasets.synth.conditions import CONDITIONS, FrameEffects, NoiseBank
from datasets.synth.generator import DEFAULT_START_UTC, GeneratorError, _Lane, _settings
from datasets.synth.glyphs import paint, text_ink
from datasets.synth.render import Pose, render_view, visible_faces
from datasets.synth.scenario import plan
from datasets.synth.sprites import Canvas
from datasets.synth.truck import FACES, build_face, face_frames

SIZE = (480, 270)
FOUR = ("front", "rear", "side_left", "top")


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, float]:
    """20 s of lane footage at the default size: two or so trucks."""
    root = tmp_path_factory.mktemp("synth") / "short"
    started = time.monotonic()
    generate(root, duration_s=20.0, trucks_per_hour=400, seed=11, workers=1, conditions_share=0.5)
    return Recording.open(root), time.monotonic() - started


def test_twenty_seconds_generate_in_a_few_seconds(short: tuple[Recording, float]) -> None:
    recording, seconds = short
    assert recording.meta.fps == 4.0
    assert recording.meta.duration_s == 20.0
    assert set(recording.meta.cameras) == set(FOUR)
    assert len(list(recording.frames())) == 80 * 4
    assert len(list(recording.passages())) >= 1
    assert seconds < 20.0, f"20 s of footage took {seconds:.1f} s"


def test_truth_boxes_lie_inside_the_frame_and_texts_are_canonical(short: tuple[Recording, float]) -> None:
    recording, _ = short
    passages = {p.passage_id: p for p in recording.passages()}
    seen: Counter[str] = Counter()
    for frame in recording.frames():
        cam = recording.meta.cameras[frame.camera]
        for obj in frame.objects:
            x0, y0, x1, y1 = obj.box
            assert 0 <= x0 < x1 <= cam.width, obj
            assert 0 <= y0 < y1 <= cam.height, obj
            assert x1 - x0 >= 4
            assert y1 - y0 >= 4
            assert obj.cls in OBJECT_CLASSES
            passage = passages[obj.passage_id or ""]
            seen[obj.cls] += 1
            if obj.cls == "plate":
                plates = [passage.tractor_plate.text] + ([passage.trailer_plate.text] if passage.trailer_plate else [])
                assert obj.text in plates
                assert is_valid_vn_plate(obj.text or "") or is_valid_cn_plate(obj.text or "")
            if obj.cls in ("container", "container_number"):
                assert is_valid_iso6346(obj.text or "")
                assert obj.text in [c.number for c in passage.containers]
            if obj.cls == "size_type":
                assert obj.text in [c.size_type for c in passage.containers]
            if obj.cls == "seal":
                assert obj.text in [c.seal.number for c in passage.containers if c.seal.present]
    assert seen["vehicle"] > 20
    assert seen["plate"] > 5


def test_plate_and_number_boxes_cover_drawn_content(short: tuple[Recording, float]) -> None:
    """Inside a labelled text box the frame differs from the empty lane seen by the same camera."""
    recording, _ = short
    empty = {f.camera: _image(recording.frame_path(f)) for f in recording.frames() if f.frame == 0}
    checked = 0
    for frame in recording.frames():
        for obj in frame.objects:
            x0, y0, x1, y1 = (round(v) for v in obj.box)
            if obj.cls not in ("plate", "container_number") or (x1 - x0) * (y1 - y0) < 150:
                continue
            image = _image(recording.frame_path(frame))
            diff = cv2.absdiff(image[y0:y1, x0:x1], empty[frame.camera][y0:y1, x0:x1])
            assert float(diff.mean()) > 12.0, (frame.camera, frame.frame, obj)
            checked += 1
    assert checked > 3


def _image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return np.asarray(image)


@pytest.mark.parametrize(("position", "view"), [
    ((22.0, -9.0, 7.0), "front"), ((-40.0, 8.0, 8.0), "rear"), ((2.0, 22.0, 6.0), "side_left"),
    ((-8.0, -22.0, 3.0), "side_right"), ((-5.0, 3.0, 42.0), "top"),
])
def test_vehicle_box_is_the_drawn_truck_exactly(position: tuple[float, float, float], view: View) -> None:
    """A wide camera sees the whole truck on a black frame: its box is the bounding box of the painted pixels."""
    passage = plan(duration_s=300, trucks_per_hour=200, seed=4, lane_id="in-1", direction="in", mismatch_share=0,
                   conditions_share=0, start_utc=0)[0]
    camera = Camera(name="wide", view=view, width=960, height=540, K=intrinsics(960, 540, 52.0),
                    R=look_at(np.array(position), np.array([-8.0, 0.0, 2.0]),
                              np.array([1.0, 0.0, 0.0]) if view == "top" else np.array([0.0, 0.0, 1.0])),
                    C=np.array(position))
    sprites = {name: build_face(passage.spec, name) for name in FACES}
    pose = Pose(0.0, 0.3, 0.05)
    frame = np.zeros((540, 960, 3), np.uint8)
    faces = visible_faces(camera, pose, face_frames(passage.spec))
    result = render_view(frame, camera, pose, faces, sprites.__getitem__, "p")
    vehicle = next(o for o in result.objects if o.cls == "vehicle")
    assert not vehicle.attrs.get("truncated")
    assert faces
    ys, xs = np.nonzero(frame.max(axis=2) > 3)
    drawn = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert np.allclose(drawn, vehicle.box, atol=1.5), (drawn, vehicle.box)
    for obj in result.objects:  # every labelled part lies within the truck
        assert vehicle.box[0] <= obj.box[0]
        assert vehicle.box[1] <= obj.box[1]
        assert obj.box[2] <= vehicle.box[2]
        assert obj.box[3] <= vehicle.box[3]


def test_painted_ink_box_is_exact() -> None:
    canvas = np.zeros((60, 200, 4), np.uint8)
    mask = text_ink("MSKU 360516", "DejaVuSans-Bold.ttf", 20)
    box = paint(canvas, mask, 13, 17, (255, 255, 255))
    ys, xs = np.nonzero(canvas[..., 3])
    assert box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert 19 <= box[3] - box[1] <= 22  # cap height as asked


def test_a_texture_a_pixel_short_of_its_rounded_rect_is_placed_not_refused() -> None:
    """Seed 8801 drew a bumper 114 px high into a rect that rounds to 115 px, and the whole recording failed."""
    canvas = Canvas.blank(2.0, 1.0, 100.0)
    canvas.put((10.4, 20.5, 60.4, 35.5), np.full((15, 50, 3), 200, np.uint8))   # the rect rounds to 16 rows
    assert canvas.image[20:35, 10:60, :3].min() == 200
    assert canvas.image[35, 10:60, 3].max() == 0                                 # the missing row stays clear


def test_a_recording_is_reused_only_when_rendered_with_the_same_settings(tmp_path: Path) -> None:
    render = partial(rendered, seed=3, fps=2.0, trucks_per_hour=400.0, size=(320, 180))
    target = render(tmp_path / "rec", duration_s=4.0)
    stamp = (target / "recording.json").stat().st_mtime_ns
    assert render(target, duration_s=4.0) == target
    assert (target / "recording.json").stat().st_mtime_ns == stamp
    render(target, duration_s=6.0)
    assert Recording.open(target).meta.duration_s == 6.0
    (target / "recording.json").write_text("{")  # broken: rendered again
    render(target, duration_s=4.0)
    assert Recording.open(target).meta.duration_s == 4.0


def test_same_seed_gives_identical_files_whatever_the_workers(tmp_path: Path) -> None:
    kwargs = {"duration_s": 20.0, "trucks_per_hour": 900, "seed": 5, "cameras": ("rear", "side_left"), "size": SIZE}
    generate(tmp_path / "a", workers=1, **kwargs)  # type: ignore[arg-type]
    generate(tmp_path / "b", workers=2, **kwargs)  # type: ignore[arg-type]
    generate(tmp_path / "c", workers=1, **{**kwargs, "seed": 6})  # type: ignore[arg-type]
    for name in ("frames.jsonl", "passages.jsonl", "declarations.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "passages.jsonl").read_bytes() != (tmp_path / "c" / "passages.jsonl").read_bytes()
    images = sorted((tmp_path / "a" / "cameras").rglob("*.jpg"))
    assert len(images) == 2 * 80
    assert all(p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes() for p in images)


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 1.0])
def test_declarations_match_passages_except_the_labelled_mismatches(share: float) -> None:
    passages = plan(duration_s=4 * 3600, trucks_per_hour=150, seed=3, lane_id="in-1", direction="in",
                    mismatch_share=share, conditions_share=0.5, start_utc=1.8e9)
    assert len(passages) > 400
    for before, after in itertools.pairwise(passages):
        assert before.t_exit < after.t_enter
    kinds = Counter(p.truth.mismatch for p in passages)
    assert kinds["none"] == len(passages) - round(share * len(passages))
    if share >= 0.2:
        assert {"wrong_container", "missing_seal", "unknown_truck", "wrong_seal_number"} <= set(kinds)
    for p in passages:
        truth, declaration = p.truth, p.declaration
        if truth.mismatch == "unknown_truck":
            assert declaration is None
            assert truth.declaration_id is None
            continue
        assert declaration is not None
        assert truth.declaration_id == declaration.declaration_id
        assert declaration.tractor_plate == truth.tractor_plate.text
        assert declaration.valid_from_utc < 1.8e9 + truth.t_enter < declaration.valid_until_utc
        pairs = list(zip(truth.containers, declaration.containers, strict=True))
        wrong_number = [t for t, d in pairs if t.number != d.number]
        wrong_seal = [t for t, d in pairs if t.seal.present and t.seal.number != d.seal_number]
        missing = [t for t, d in pairs if not t.seal.present and d.seal_number is not None]
        problems = {"wrong_container": len(wrong_number), "wrong_seal_number": len(wrong_seal),
                    "missing_seal": len(missing)}
        expected = {k: int(k == truth.mismatch) for k in problems}
        assert problems == expected, (truth.mismatch, truth, declaration)


def test_passages_fit_the_recording_and_use_both_plate_formats() -> None:
    passages = plan(duration_s=3600, trucks_per_hour=150, seed=9, lane_id="out-2", direction="out",
                    mismatch_share=0.2, conditions_share=0.5, start_utc=0)
    assert 110 <= len(passages) <= 190
    assert passages[-1].t_exit <= 3600
    assert {p.truth.tractor_plate.format for p in passages} == {"vn", "cn"}
    assert {len(p.truth.containers) for p in passages} == {0, 1, 2}
    assert any(c.vertical for p in passages for c in p.truth.containers)
    assert any(not c.seal.present for p in passages for c in p.truth.containers)
    assert all(p.truth.passage_id.startswith("out-2-9-") and p.truth.direction == "out" for p in passages)
    assert all(p.declaration is None or p.declaration.direction == "import" for p in passages)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_hard_condition_renders(condition: str) -> None:
    passages = plan(duration_s=600, trucks_per_hour=300, seed=2, lane_id="in-1", direction="in", mismatch_share=0,
                    conditions_share=0, start_utc=0)
    passage = next(p for p in passages if p.spec.containers and p.spec.containers[-1].seal_present)
    spec = replace(passage.spec, conditions=(condition,))
    settings = _settings("in-1", "in", 60, 4, 150, 2, FOUR, SIZE, 0.2, "frames", 1.0, 0.0)
    lane = _Lane.build(settings, [passage])
    sprites = {name: build_face(spec, name) for name in FACES}
    effects = FrameEffects.build(spec.conditions, SIZE, np.random.default_rng(0), 85)
    noise = NoiseBank(SIZE, 1)
    labelled = 0
    for cam, camera in enumerate(lane.cameras):
        frame = lane.background(cam, ("night" in spec.conditions, "rain" in spec.conditions)).copy()
        pose = Pose(-0.5, spec.lateral_m, spec.yaw_rad)
        result = render_view(frame, camera, pose, visible_faces(camera, pose, face_frames(spec)),
                             sprites.__getitem__, "p")
        effects.apply(frame, 3, noise, np.random.default_rng(1))
        assert frame.shape == (SIZE[1], SIZE[0], 3)
        labelled += len(result.objects)
    assert labelled > 5
    texts = [e for s in sprites.values() for e in s.elements if e.cls in ("plate", "container_number")]
    if condition == "occlusion":
        assert any(e.attrs.get("occluded") for e in texts)
    if condition == "dirt":
        assert all(e.attrs.get("dirty") for e in texts)
    if condition == "jpeg":
        assert effects.quality < 40


def _flags(truth: PassageTruth) -> dict[tuple[str, str, str], bool]:
    """(class, role, text) → hidden, for each plate and number of a truth passage."""
    flags = {("plate", "tractor", truth.tractor_plate.text): truth.tractor_plate.hidden}
    if truth.trailer_plate:
        flags[("plate", "trailer", truth.trailer_plate.text)] = truth.trailer_plate.hidden
    return flags | {("container_number", "", c.number): c.number_hidden for c in truth.containers}


def test_truth_marks_hidden_what_no_camera_shows_whole_and_uncovered(tmp_path: Path) -> None:
    """A plate or number is hidden when occlusion covers part of every whole copy the lane's cameras show: with only
    a front and a rear camera, a number whose door copy is covered is hidden though a side or the roof holds a
    clean copy. Passages without occlusion hide nothing."""
    generate(tmp_path / "r", duration_s=120.0, trucks_per_hour=300, seed=0, conditions_share=1.0, workers=1,
             size=SIZE, cameras=("front", "rear"))
    rec = Recording.open(tmp_path / "r")
    whole = {(o.passage_id, o.cls, str(o.attrs.get("role", "")), o.text) for frame in rec.frames()
             for o in frame.objects if o.text and not o.attrs.get("occluded") and not o.attrs.get("truncated")}
    planned = plan(duration_s=120.0, trucks_per_hour=300, seed=0, conditions_share=1.0, lane_id="in-1",
                   direction="in", mismatch_share=0.2, start_utc=DEFAULT_START_UTC)
    specs = {p.truth.passage_id: p.spec for p in planned}
    clean_elsewhere = []
    for truth in rec.passages():
        marked = _flags(truth)
        if "occlusion" not in truth.conditions:
            assert not any(marked.values()), truth
            continue
        assert marked == {key: (truth.passage_id, *key) not in whole for key in marked}
        painted_clean = {e.text for face in FACES for e in build_face(specs[truth.passage_id], face).elements
                         if e.cls == "container_number" and not e.attrs.get("occluded")}
        clean_elsewhere += [c.number for c in truth.containers if c.number_hidden and c.number in painted_clean]
    assert clean_elsewhere


def test_video_storage_writes_a_readable_video(tmp_path: Path) -> None:
    meta = generate(tmp_path / "v", duration_s=4.0, cameras=("front",), size=SIZE, storage="video", seed=1)
    capture = cv2.VideoCapture(str(tmp_path / "v" / "cameras" / "front.avi"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 16
    assert meta.cameras["front"].storage == "video"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"direction": "sideways"}, "direction"),
    ({"fps": 0}, "fps"),
    ({"cameras": ("front", "front")}, "distinct"),
    ({"cameras": ("roof",)}, "unknown camera view"),
    ({"size": (10, 10)}, "size"),
    ({"mismatch_share": 1.5}, "mismatch share"),
    ({"storage": "tape"}, "storage"),
])
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GeneratorError, match=message):
        generate(tmp_path / "x", duration_s=1.0, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_command_prints_a_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["--out", str(out), "--duration", "3", "--fps", "2", "--cameras", "front", "top", "--size", "320x180",
                 "--seed", "4", "--trucks-per-hour", "200", "--mismatch-share", "0.5"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 12
    assert summary["passages"] >= 0
    assert summary["frames_per_s"] > 0
    assert Recording.open(out).meta.cameras["top"].width == 320


def test_command_reports_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "x"), "--mismatch-share", "2"]) == 2
    assert "mismatch share" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), "--size", "big"])


def test_demo_recording_is_made_once(tmp_path: Path) -> None:
    started = time.monotonic()
    root = ensure_demo_recording(tmp_path / "demo")
    seconds = time.monotonic() - started
    recording = Recording.open(root)
    assert recording.meta.name == "demo"
    assert recording.meta.lane_id == "in-1"
    assert recording.meta.duration_s == 90
    assert 4 <= len(list(recording.passages())) <= 8
    assert seconds < 60
    stamp = (root / "recording.json").stat().st_mtime_ns
    ensure_demo_recording(root)
    assert (root / "recording.json").stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob(".demo.tmp-*"))


def test_demo_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(GeneratorError, match="not empty"):
        ensure_demo_recording(tmp_path / "busy")

"""Synthetic yard recordings: determinism, truth that matches its objects, fitted calibration, the reader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity

from calibration.files import CalibrationStore
from calibration.projection import pixels_to_ground, pixels_to_plane
from datasets.yard_synth import (
    YardGeneratorError,
    YardRecordingError,
    open_yard_recording,
    run_generate_yard,
    write_yard_recording,
)
from datasets.yard_synth.cameras import yard_cameras
from datasets.yard_synth.generator import DEFAULT_LAYOUT
from datasets.yard_synth.scenario import YardScenario
from datasets.yard_synth.truth import YardTruth
from yard.layout import YardLayout, load_layout

SEED = 11


@pytest.fixture(scope="module")
def layout() -> YardLayout:
    return load_layout(DEFAULT_LAYOUT)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yard_recording(tmp_path_factory.mktemp("yard") / "rec", SEED, 6.0, 2.0)


def _copy(recording: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(recording, target)
    return target


def test_same_seed_gives_the_same_recording_and_another_seed_another(recording: Path, tmp_path: Path) -> None:
    again = write_yard_recording(tmp_path / "again", SEED, 6.0, 2.0)
    assert (again / "truth.jsonl").read_bytes() == (recording / "truth.jsonl").read_bytes()
    for camera in ("top", "oblique"):
        for name in ("000000.jpg", "000011.jpg", "background.jpg"):
            assert (again / "cameras" / camera / name).read_bytes() == \
                (recording / "cameras" / camera / name).read_bytes()
    other = write_yard_recording(tmp_path / "other", SEED + 1, 1.0, 2.0)
    first = (other / "truth.jsonl").read_bytes().splitlines()[0]
    assert first != (recording / "truth.jsonl").read_bytes().splitlines()[0]


def test_round_trip_through_the_reader(recording: Path, layout: YardLayout) -> None:
    reader = open_yard_recording(recording)
    assert reader.meta.format == "smartgate-yard-recording"
    assert (reader.meta.frames, reader.meta.fps, reader.meta.seed) == (12, 2.0, SEED)
    assert {name: cam.view for name, cam in reader.meta.cameras.items()} == {"top": "top", "oblique": "oblique"}
    assert load_layout(reader.layout_path) == layout
    steps = list(reader)
    assert [truth.frame for _, _, truth in steps] == list(range(12))
    assert [t for t, _, _ in steps] == pytest.approx([i / 2.0 for i in range(12)])
    for _, images, truth in steps:
        assert set(images) == {"top", "oblique"}
        for image in images.values():
            assert image is not None
            assert image.shape == (720, 1280, 3)
            assert image.dtype == np.uint8
        assert set(truth.slots) == {slot.id for slot in layout.slots}
        assert set(truth.queue_lengths) == {zone.id for zone in layout.zones_of("truck_queue")}
    for camera in ("top", "oblique"):
        assert reader.background(camera) is not None
    assert reader.errors.count == 0
    assert reader.frame_errors.count == 0


def test_the_scene_has_every_kind_of_activity(recording: Path) -> None:
    truths = list(open_yard_recording(recording).truths())
    kinds = {obj.kind for truth in truths for obj in truth.objects}
    assert kinds == {"truck", "container", "igv"}
    assert any(obj.base > 0 for obj in truths[0].objects), "containers are stacked in tiers"
    assert max(n for truth in truths for n in truth.queue_lengths.values()) >= 1
    moved = {obj.id: obj.xy for obj in truths[0].objects if obj.kind != "container"}
    assert any(obj.id in moved and obj.xy != moved[obj.id] for obj in truths[-1].objects), "vehicles move"


def _expected_states(truth: YardTruth, layout: YardLayout) -> tuple[dict[str, tuple[str, str | None]], dict[str, int]]:
    """Slot states and queue lengths recomputed from the truth's own objects, slot by slot (no spatial index)."""
    xy = np.array([o.xy for o in truth.objects])
    top = np.array([o.base + o.height for o in truth.objects])
    trucks = np.array([o.kind == "truck" for o in truth.objects])
    states: dict[str, tuple[str, str | None]] = {}
    for slot in layout.slots:
        inside = np.flatnonzero(shapely.contains_xy(slot.polygon, xy[:, 0], xy[:, 1]))
        if len(inside) == 0:
            states[slot.id] = ("empty", None)
            continue
        highest = truth.objects[int(inside[np.argmax(top[inside])])]
        states[slot.id] = (highest.kind, highest.container)
    queues = {zone.id: int(np.count_nonzero(trucks & shapely.contains_xy(zone.polygon, xy[:, 0], xy[:, 1])))
              for zone in layout.zones_of("truck_queue")}
    return states, queues


def test_slot_states_and_queues_match_the_objects(recording: Path, layout: YardLayout) -> None:
    occupied = 0
    for truth in open_yard_recording(recording).truths():
        states, queues = _expected_states(truth, layout)
        assert {k: (v.kind, v.container) for k, v in truth.slots.items()} == states
        assert truth.queue_lengths == queues
        occupied += sum(kind != "empty" for kind, _ in states.values())
    assert occupied > 0


def test_stacks_are_physical(layout: YardLayout) -> None:
    scenario = YardScenario(layout, SEED)
    tiers = {slot.centre: slot.tiers for slot in layout.slots}
    for _ in range(300):
        scenario.advance(0.5)
        stacks: dict[tuple[float, float], list[float]] = {}
        for obj in scenario.stacked_objects():
            stacks.setdefault(obj.xy, []).append(obj.base_m)
        for centre, bases in stacks.items():
            assert sorted(bases) == pytest.approx([2.59 * k for k in range(len(bases))])
            assert len(bases) <= tiers[centre]
        numbers = [o.container for o in scenario.objects() if o.container]
        assert len(numbers) == len(set(numbers)), "a container number is in one place at a time"


def test_vehicles_never_drive_through_each_other(layout: YardLayout) -> None:
    scenario = YardScenario(layout, SEED)
    moved = 0.0
    for _ in range(200):
        before = {v.id: v.xy for v in scenario.vehicles()}
        scenario.advance(1.0)
        vehicles = scenario.vehicles()
        moved += sum(np.hypot(v.xy[0] - before[v.id][0], v.xy[1] - before[v.id][1])
                     for v in vehicles if v.id in before)
        boxes = [shapely.affinity.rotate(shapely.box(v.xy[0] - v.length_m / 2, v.xy[1] - v.width_m / 2,
                                                     v.xy[0] + v.length_m / 2, v.xy[1] + v.width_m / 2),
                                         v.heading, use_radians=True) for v in vehicles]
        tree = shapely.STRtree(boxes)
        pairs = tree.query(boxes, predicate="intersects")
        overlapping = [(vehicles[a].id, vehicles[b].id) for a, b in pairs.T
                       if a < b and boxes[a].intersection(boxes[b]).area > 0.5]
        assert overlapping == []
    assert moved > 1000.0


def test_calibration_is_fitted_and_accurate(recording: Path, layout: YardLayout) -> None:
    store = CalibrationStore(recording / "calibration")
    assert store.cameras() == ["oblique", "top"]
    rng = np.random.default_rng(0)
    for camera in yard_cameras(layout, SEED):
        fitted = store.latest(camera.name)
        assert fitted.revision == 1
        assert (recording / "calibration" / camera.name / "r0001.json").is_file()
        assert fitted.fit is not None
        assert fitted.fit.rmse_m < 0.15
        assert len(fitted.ground_points) >= 20
        ground = np.column_stack([rng.uniform(0, layout.size_m[0], 20000), rng.uniform(0, layout.size_m[1], 20000)])
        near = np.linalg.norm(ground - camera.C[:2], axis=1) < (60.0 if camera.view == "oblique" else 1e9)
        for height in (0.0, 2.6):
            pixels, depth = camera.project(np.column_stack([ground, np.full(len(ground), height)]))
            seen = near & (depth > 0) & (pixels[:, 0] >= 0) & (pixels[:, 0] < 1280) & (pixels[:, 1] >= 0) & \
                (pixels[:, 1] < 720)
            assert seen.sum() > 50
            mapped = pixels_to_ground(fitted, pixels[seen]) if height == 0 else \
                pixels_to_plane(fitted, pixels[seen], height)
            rmse = float(np.sqrt(np.mean(np.sum((mapped - ground[seen]) ** 2, axis=1))))
            assert rmse < 0.05, (camera.name, height, rmse)


def test_corrupt_truth_lines_are_counted_and_skipped(recording: Path, tmp_path: Path) -> None:
    copy = _copy(recording, tmp_path)
    lines = (copy / "truth.jsonl").read_bytes().splitlines(keepends=True)
    damaged = [lines[0], b"{not json\n", lines[1], b'{"frame": 99, "t": 1.0, "slots": {}, "queue_lengths": {}, '
               b'"objects": []}\n', lines[2], b'{"frame": -1}\n', b"x" * (4 * 1024 * 1024 + 10) + b"\n",
               *lines[3:], lines[4][: len(lines[4]) // 2]]
    (copy / "truth.jsonl").write_bytes(b"".join(damaged))
    reader = open_yard_recording(copy)
    frames = [truth.frame for _, _, truth in reader]
    assert frames == list(range(12))
    assert reader.errors.count == 5
    assert len(reader.errors.examples) == 5


def _rewrite_meta(root: Path, **changes: object) -> None:
    meta = json.loads((root / "yard_recording.json").read_text())
    meta.update(changes)
    (root / "yard_recording.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "smartgate-recording"}, "format"),
    ({"version": 2}, "version"),
    ({"fps": 0}, "fps"),
    ({"frames": -1}, "frames"),
    ({"cameras": {}}, "cameras"),
    ({"cameras": {"../etc": {"view": "top", "width": 10, "height": 10}}}, "cameras"),
    ({"cameras": {"top": {"view": "side", "width": 10, "height": 10}}}, "view"),
    ({"layout": "../../layout.yaml"}, "layout"),
    ({"layout": "missing.yaml"}, "layout file missing"),
])
def test_bad_metadata_is_refused(recording: Path, tmp_path: Path, change: dict[str, object], message: str) -> None:
    copy = _copy(recording, tmp_path)
    _rewrite_meta(copy, **change)
    with pytest.raises(YardRecordingError, match=message):
        open_yard_recording(copy)


def test_missing_oversized_or_garbled_metadata_is_refused(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(YardRecordingError, match="not found"):
        open_yard_recording(tmp_path)
    copy = _copy(recording, tmp_path)
    (copy / "yard_recording.json").write_bytes(b"{" + b" " * 300_000 + b"}")
    with pytest.raises(YardRecordingError, match="too large"):
        open_yard_recording(copy)
    (copy / "yard_recording.json").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(YardRecordingError, match=r"yard_recording\.json"):
        open_yard_recording(copy)


def test_damaged_frames_read_as_none_and_are_counted(recording: Path, tmp_path: Path) -> None:
    copy = _copy(recording, tmp_path)
    top = copy / "cameras" / "top"
    (top / "000001.jpg").write_bytes((top / "000001.jpg").read_bytes()[:5000])   # cut
    (top / "000002.jpg").unlink()
    (top / "000003.jpg").write_bytes(b"")
    (top / "000004.jpg").write_bytes(b"not a jpeg at all\xff\xd9")
    (top / "000005.jpg").unlink()
    (top / "000005.jpg").symlink_to(copy / "cameras" / "oblique" / "000005.jpg")
    reader = open_yard_recording(copy)
    missing = [truth.frame for _, images, truth in reader if images["top"] is None]
    assert missing == [1, 2, 3, 4, 5]
    assert reader.frame_errors.count == 5


@pytest.mark.parametrize(("duration", "fps"), [(0.0, 2.0), (-1.0, 2.0), (5000.0, 2.0), (2.0, 0.0), (2.0, 100.0)])
def test_bad_generator_options_are_refused(tmp_path: Path, duration: float, fps: float) -> None:
    with pytest.raises(YardGeneratorError):
        write_yard_recording(tmp_path / "out", 1, duration, fps)


def test_generator_refuses_a_foreign_directory_and_replaces_its_own(recording: Path, tmp_path: Path) -> None:
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("keep me")
    with pytest.raises(YardGeneratorError, match="not empty"):
        write_yard_recording(tmp_path / "foreign", 1, 1.0, 2.0)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "keep me"
    copy = _copy(recording, tmp_path)
    write_yard_recording(copy, 2, 1.0, 2.0)
    reader = open_yard_recording(copy)
    assert reader.meta.frames == 2
    assert not (copy / "cameras" / "top" / "000011.jpg").exists()
    assert CalibrationStore(copy / "calibration").revisions("top") == [1]


def test_cli_entry_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_generate_yard(tmp_path / "cli", 3, 1.0, 2.0) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 2
    assert Path(summary["out"]) == tmp_path / "cli"
    assert run_generate_yard(tmp_path / "bad", 3, 0.0, 2.0) == 2
    assert "duration" in capsys.readouterr().err

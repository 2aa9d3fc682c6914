"""The lane pipeline and `smartgate replay` on a short synthetic recording generated here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bus.codec import decode, encode
from datasets import sources
from datasets.recording import Recording
from datasets.sources import Frame, RecordingSource
from datasets.synth import generate
from vision.detections import Detections, class_index
from vision.frame_gate import GateConfig
from vision.pipeline import LanePipeline, PipelineConfig, _plate
from vision.reader import ImageReader, PlateResult
from vision.replay import ReplayReport, replay
from vision.tracking.byte_tracker import ByteTracker

ROOT = Path(__file__).resolve().parents[2]
CAMERAS = ("rear", "side_left")
KEYS = {"passages_truth", "passages_found", "plate_accuracy", "container_accuracy", "seal_accuracy", "fps",
        "latency_ms", "plate_accuracy_readable", "container_accuracy_readable", "plates_hidden", "containers_hidden"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "lane"
    generate(root, duration_s=20.0, fps=2.0, cameras=CAMERAS, size=(960, 540), seed=4242, workers=2)
    return root


@pytest.fixture(scope="module")
def reader() -> ImageReader:
    return ImageReader.load(threads=2)


@pytest.fixture(scope="module")
def report(recording: Path, reader: ImageReader) -> ReplayReport:
    meta = Recording.open(recording).meta
    return replay(recording, pipeline=LanePipeline(meta.lane_id, meta.direction, reader))


def test_replay_report_has_the_issue_keys_and_sane_figures(report: ReplayReport) -> None:
    result = report
    data = json.loads(json.dumps(result.to_json()))
    assert data.keys() >= KEYS
    for key in ("plate_accuracy", "container_accuracy", "seal_accuracy", "plate_accuracy_readable",
                "container_accuracy_readable"):
        assert 0.0 <= data[key] <= 1.0
    assert data["passages_truth"] >= 1
    assert 1 <= data["passages_found"] <= data["passages_truth"]
    assert data["passages_emitted"] <= data["passages_truth"] + 1
    assert data["frames"] == 80
    assert data["fps"] > 0
    assert set(data["latency_ms"]) == {"p50", "p99"}
    assert data["latency_ms"]["p50"] > 0
    assert set(data["stage_ms"]) == {"detect", "track", "ocr", "seals", "fuse"}
    assert data["stage_ms"]["detect"] > 0
    assert "passages" in result.summary()


def test_emitted_passages_round_trip_through_the_bus_codec(report: ReplayReport) -> None:
    assert len(report.passages) == report.passages_emitted >= 1
    for passage in report.passages:
        assert decode(encode(passage)) == passage


def test_tracks_age_and_the_passage_is_emitted_on_frames_without_detections(recording: Path,
                                                                              reader: ImageReader) -> None:
    meta = Recording.open(recording).meta
    pipeline = LanePipeline(meta.lane_id, meta.direction, reader)
    source = RecordingSource(recording, "side_left")
    seen: list[Frame] = []
    for frame, truth in source.with_truth():
        if not any(o.cls == "vehicle" for o in truth.objects):
            continue  # frames before the truck: nothing to track yet
        pipeline.process(frame)
        seen.append(frame)
        if len(pipeline.active_tracks("side_left")):
            break
    source.close()
    assert len(pipeline.active_tracks("side_left")), "no vehicle was tracked on the side camera"
    last = seen[-1]
    emitted = []
    for step in range(1, 7):  # three seconds of dead camera: frames that carry no image
        emitted += pipeline.process(Frame("side_left", last.index + step, last.t + 0.5 * step,
                                          last.ts_utc + 0.5 * step, None, "camera offline"))
    assert len(pipeline.active_tracks("side_left")) == 0
    assert pipeline.counters["corrupt"] == 6
    assert pipeline.stage_ms["track"] > 0
    assert len(emitted) == 1
    assert emitted[0].frames_seen >= 1


def test_a_corrupt_frame_is_counted_not_fatal(recording: Path, reader: ImageReader, tmp_path: Path) -> None:
    copy = tmp_path / "lane"
    shutil.copytree(recording, copy)
    victim = copy / "cameras" / "rear" / "000001.jpg"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    meta = Recording.open(copy).meta
    result = replay(copy, max_frames=6, pipeline=LanePipeline(meta.lane_id, meta.direction, reader))
    assert result.frames == 6
    assert result.corrupt_frames == 1
    assert result.counters["corrupt"] == 1


def test_a_replay_can_drop_frames_as_a_busy_lane_does(recording: Path, reader: ImageReader) -> None:
    """A lane that cannot keep up drops stale frames; the truck is still one passage, found."""
    meta = Recording.open(recording).meta
    result = replay(recording, pipeline=LanePipeline(meta.lane_id, meta.direction, reader), drop_frames=0.4, seed=3)
    dropped = result.counters["replay_dropped"]
    assert result.frames == 80
    assert 10 <= dropped <= 60
    assert result.counters["frames"] == 80 - dropped
    assert result.passages_found == result.passages_truth
    assert result.passages_emitted <= result.passages_truth + 1
    assert f"{dropped} dropped on purpose" in result.summary()
    with pytest.raises(ValueError, match="drop_frames"):
        replay(recording, pipeline=LanePipeline(meta.lane_id, meta.direction, reader), drop_frames=1.0)


def test_smartgate_replay_refuses_a_share_of_dropped_frames_out_of_range(recording: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smartgate.cli", "replay", str(recording), "--drop-frames", "1.5"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--drop-frames" in done.stderr


def test_smartgate_replay_writes_the_report(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "smartgate.cli", "replay", str(recording), "--max-frames", "4",
                           "--threads", "2", "--report", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "frames/s" in done.stdout
    data = json.loads(out.read_text())
    assert data.keys() >= KEYS
    assert data["frames"] == 4


def test_smartgate_replay_refuses_a_missing_dataset(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smartgate.cli", "replay", str(tmp_path / "nothing")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "nothing" in done.stderr


def test_a_standing_truck_is_detected_once_and_stays_tracked(recording: Path, reader: ImageReader) -> None:
    """Unchanged frames reuse the last detections: one detector run, no new reads, and the track does not end
    although the standing truck is seen for longer than the tracker's `max_lost_s`. (The slower pace of a camera
    with nothing left to read is off here: it would skip more of these frames; it has its own test.)"""
    meta = Recording.open(recording).meta
    steady = PipelineConfig(gate=GateConfig(max_detect_hz=3.0, settled_detect_hz=0.0))
    pipeline = LanePipeline(meta.lane_id, meta.direction, reader, config=steady)
    source = RecordingSource(recording, "rear")
    frame = next(f for f, truth in source.with_truth() if sum(o.cls == "vehicle" for o in truth.objects))
    source.close()
    assert frame.image is not None
    for step in range(12):  # three seconds of the same picture at 4 fps
        pipeline.process(Frame("rear", frame.index + step, frame.t + 0.25 * step, frame.ts_utc + 0.25 * step,
                               frame.image))
    assert pipeline.counters["detected"] == 1
    assert pipeline.counters["skipped"] == 1  # 0.25 s after the detected frame: sooner than the 3 Hz cap
    assert pipeline.counters["reused"] == 10
    reads = pipeline.counters["reads"]
    assert len(pipeline.active_tracks("rear")) >= 1
    moved = frame.image.copy()
    moved[: moved.shape[0] // 2] = 255 - moved[: moved.shape[0] // 2]  # a different picture: looked at again
    pipeline.process(Frame("rear", frame.index + 12, frame.t + 3.0, frame.ts_utc + 3.0, moved))
    assert pipeline.counters["detected"] == 2
    assert pipeline.counters["reads"] >= reads


def test_frames_the_detector_does_not_look_at_are_never_decoded(recording: Path, reader: ImageReader,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A recording's frames come encoded; the pipeline decodes only those it runs the detector on (a skipped frame
    needs its time, a reused one a 1/8-scale thumbnail). A frame whose bytes do not decode is counted, not fatal."""
    decoded: list[str] = []
    real = sources._decoded

    def counted(data: bytes, name: str) -> np.ndarray:
        decoded.append(name)
        return real(data, name)

    monkeypatch.setattr(sources, "_decoded", counted)
    meta = Recording.open(recording).meta
    pipeline = LanePipeline(meta.lane_id, meta.direction, reader)
    source = RecordingSource(recording, "rear")
    frames = list(source)[:40]
    source.close()
    for frame in frames:
        pipeline.process(frame)
    counters = pipeline.counters
    assert counters["skipped"] + counters["reused"] > 0
    assert len(decoded) == counters["detected"] < len(frames)
    last = frames[-1]
    assert last.encoded is not None
    scan = last.encoded.index(b"\xff\xda")
    broken = Frame("rear", last.index + 1, last.t + 5.0, last.ts_utc + 5.0, None,
                   encoded=last.encoded[: scan + 2] + b"\x00\x01" + last.encoded[scan + 4 :])
    assert pipeline.process(broken) == []
    assert counters["corrupt"] == 1
    assert broken.error is not None
    assert "corrupt image data" in broken.error


@pytest.fixture(scope="module")
def front_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "front"
    generate(root, duration_s=20.0, fps=4.0, cameras=("front",), size=(960, 540), seed=4242, workers=2)
    return root


def test_a_front_camera_reading_an_unsettled_plate_looks_at_every_frame(front_recording: Path,
                                                                        reader: ImageReader) -> None:
    """At 4 frames/s the 3 Hz cap skips every second changed frame. A front camera whose plate has not read the same
    twice is not capped: more frames looked at, more plate reads. The same camera declared a side camera is capped,
    as is a front camera with the rule off. (The slower pace of a settled camera is off here: it has its own test.)"""
    def run(view: str, gate: GateConfig) -> dict[str, int]:
        meta = Recording.open(front_recording).meta
        pipeline = LanePipeline(meta.lane_id, meta.direction, reader, config=PipelineConfig(gate=gate),
                                views={"front": view})
        source = RecordingSource(front_recording, "front")
        for frame in source:
            pipeline.process(frame)
        source.close()
        return pipeline.counters

    capped = run("front", GateConfig(max_detect_hz=3.0, cap_while_reading=True, settled_detect_hz=0.0))
    reading = run("front", GateConfig(max_detect_hz=3.0, settled_detect_hz=0.0))
    side = run("side_left", GateConfig(max_detect_hz=3.0, settled_detect_hz=0.0))
    assert capped["skipped"] > 0
    assert reading["skipped"] < capped["skipped"]
    assert reading["detected"] > capped["detected"]
    assert reading["reads"] > capped["reads"]
    assert (side["detected"], side["skipped"]) == (capped["detected"], capped["skipped"])


def test_a_camera_with_nothing_left_to_read_is_looked_at_less_often(front_recording: Path,
                                                                    reader: ImageReader) -> None:
    """Once the tractor's plate has settled and no door is in view, the front camera only keeps the truck tracked:
    fewer detector runs than with the slower pace off, and the same passages with the same plates."""
    def run(gate: GateConfig) -> tuple[dict[str, int], list[tuple[str, ...]]]:
        meta = Recording.open(front_recording).meta
        pipeline = LanePipeline(meta.lane_id, meta.direction, reader, config=PipelineConfig(gate=gate),
                                views={"front": "front"})
        source = RecordingSource(front_recording, "front")
        passages = [p for frame in source for p in pipeline.process(frame)] + pipeline.flush()
        source.close()
        return pipeline.counters, [tuple(plate.text for plate in p.plates) for p in passages]

    slower, slower_plates = run(GateConfig(max_detect_hz=3.0, settled_detect_hz=1.5))
    steady, steady_plates = run(GateConfig(max_detect_hz=3.0, settled_detect_hz=0.0))
    assert slower["detected"] < steady["detected"]
    assert slower["skipped"] > steady["skipped"]
    assert slower_plates == steady_plates
    assert any(slower_plates)


def test_a_truck_not_yet_tracked_keeps_a_settled_camera_looking_often(reader: ImageReader) -> None:
    """A rear camera whose truck has been read may slow down; a second vehicle box with no confirmed track (a truck
    just come into view) keeps the steady pace: looks 0.67 s apart did not confirm its track, the truck's rear came
    back as a new track, and its passage split (seed 9407, truck 9)."""
    pipeline = LanePipeline("in-1", "in", reader, views={"rear": "rear"},
                            config=PipelineConfig(gate=GateConfig(settled_detect_hz=1.5)))
    pipeline._trackers["rear"] = ByteTracker()
    read = Detections.from_arrays([[100, 100, 700, 700], [300, 500, 420, 540]],
                                  class_id=[class_index("vehicle"), class_index("plate")], tracker_id=[7, -1])
    keys = pipeline.memory.keys("rear", read)
    pipeline.memory.remember(keys, read, {1: ("51R-123.45", True)})
    assert pipeline.memory.tracks_read("rear") == {7}
    nothing_to_read = np.zeros(1, bool)
    tracked = Detections.from_arrays([[100, 100, 700, 700]], class_id=class_index("vehicle"), tracker_id=[7])
    assert pipeline._paced("rear", tracked, nothing_to_read) == "settled"
    coming = Detections.from_arrays([[100, 100, 700, 700], [800, 300, 1200, 700]], class_id=class_index("vehicle"),
                                    tracker_id=[7, -1])
    assert pipeline._paced("rear", coming, np.zeros(2, bool)) == "steady"


def test_reads_of_a_rear_camera_are_hinted_to_the_rear_box(reader: ImageReader) -> None:
    pipeline = LanePipeline("in-1", "in", reader, views={"in-1-rear": "rear", "in-1-side": "side_left"})
    assert pipeline._position_hint("in-1-rear") == "rear"
    assert pipeline._position_hint("in-1-side") == "unknown"
    assert pipeline._position_hint("not-in-the-site") == "unknown"
    assert LanePipeline("in-1", "in", reader)._position_hint("in-1-rear") == "unknown"  # no views: no guessing


@pytest.mark.parametrize(("fmt", "front", "role"), [
    ("vn_trailer", True, "tractor"),     # a front camera sees only the tractor's plate, series R or not
    ("vn_trailer", False, "trailer"),
    ("cn_trailer", False, "trailer"),
    ("vn", False, "tractor"),
    ("unknown", True, "unknown"),        # left to fusion: it votes for a known plate of the same text
])
def test_a_plate_s_role_comes_from_the_front_camera_or_else_from_its_format(fmt: str, front: bool,
                                                                            role: str) -> None:
    read = _plate(PlateResult("20R-320.43", fmt, 0.9, [0.0, 0.0, 40.0, 10.0]), front)
    assert read.role == role

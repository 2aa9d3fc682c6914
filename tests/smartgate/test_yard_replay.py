"""`smartgate replay` on a synthetic yard recording: the occupancy map against the truth, run as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from datasets.yard_synth import write_yard_recording
from tests.smartgate.test_cli import smartgate


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yard_recording(tmp_path_factory.mktemp("yard") / "rec", seed=3, duration_s=12.0, fps=2.0)


def test_replay_scores_slots_and_queues(recording: Path, tmp_path: Path) -> None:
    done = smartgate("replay", recording, "--report", tmp_path / "r.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "slot-state accuracy" in done.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kind"] == "yard"
    assert report["steps"] == 24
    assert report["slots_in_view"] == 262
    assert report["slot_accuracy"] >= 0.98
    assert report["queue_error"]["mean"] <= 1.0
    assert set(report["queue_lanes"]) == {"queue-in-1", "queue-in-2", "queue-out"}
    assert report["counters"]["frames_unreadable"] == 0


def test_a_corrupt_frame_is_counted_and_the_replay_goes_on(recording: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"

    shutil.copytree(recording, copy)
    (copy / "cameras" / "top" / "000005.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with (copy / "truth.jsonl").open("ab") as handle:
        handle.write(b'{"frame": 3, "t": "cut')
    done = smartgate("replay", copy, "--report", tmp_path / "r.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counters"]["frames_unreadable"] == 1
    assert report["counters"]["truth_lines_skipped"] == 1
    assert report["counters"]["missing_frames"] == 1
    assert report["steps"] == 24


def test_a_folder_that_is_no_recording_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "yard_recording.json").write_text("{not json")
    done = smartgate("replay", tmp_path, cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "yard_recording.json" in done.stderr

"""`smartgate calibrate` as a technician runs it: lens from chessboards, then the ground survey, then show."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from calibration.files import CalibrationStore
from calibration.pose import look_at
from calibration.projection import pixels_to_ground
from calibration.synthetic import chessboard_images, pinhole, survey_points
from tests.smartgate.test_cli import smartgate

FOCAL_PX = 1000.0


def _write_chessboards(folder: Path) -> None:
    folder.mkdir()
    for index, image in enumerate(chessboard_images(pinhole(focal_px=FOCAL_PX), count=8, seed=3)):
        assert cv2.imwrite(str(folder / f"board{index:02d}.png"), image)


def test_lens_then_survey_then_show(tmp_path: Path) -> None:
    boards, store = tmp_path / "boards", tmp_path / "store"
    _write_chessboards(boards)
    (boards / "broken.png").write_bytes(b"\x89PNG not really")
    done = smartgate("calibrate", "intrinsics", boards, "--camera", "yard-1", "--board", "9x6", "--square-mm", "50",
                     "--store", store, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lens = json.loads(done.stdout)
    assert lens["revision"] == 1
    assert {r["image"] for r in lens["rejected"]} == {str(boards / "broken.png")}

    pose = look_at((0.0, -12.0, 12.0), (0.0, 18.0, 0.0))
    pixels, ground = survey_points(pinhole(focal_px=FOCAL_PX), pose, 8, np.random.default_rng(5), max_range_m=40.0)
    rows = ["u,v,x,y"] + [f"{u},{v},{x},{y}" for (u, v), (x, y) in zip(pixels, ground, strict=True)]
    (tmp_path / "survey.csv").write_text("\n".join(rows) + "\n")
    done = smartgate("calibrate", "homography", tmp_path / "survey.csv", "--camera", "yard-1", "--store", store,
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["revision"] == 2

    calibration = CalibrationStore(store).latest("yard-1")
    assert calibration.intrinsics is not None
    assert abs(calibration.intrinsics.camera_matrix[0, 0] - FOCAL_PX) / FOCAL_PX < 0.01
    assert np.abs(pixels_to_ground(calibration, pixels) - ground).max() < 0.05

    shown = smartgate("calibrate", "show", "--camera", "yard-1", "--store", store, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["revisions"] == [1, 2]


def test_too_few_points_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "survey.csv").write_text("u,v,x,y\n1,2,3,4\n5,6,7,8\n9,9,1,1\n")
    done = smartgate("calibrate", "homography", tmp_path / "survey.csv", "--camera", "yard-1", "--image-size",
                     "1280x720", "--store", tmp_path / "store", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "4" in done.stderr
    assert not (tmp_path / "store" / "yard-1").exists()

"""``smartgate calibrate`` bodies and survey files: real files in, one JSON object out, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from calibration.command import run_homography, run_intrinsics, run_show
from calibration.errors import CalibrationError
from calibration.files import CalibrationStore
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose
from calibration.survey import MAX_SURVEY_BYTES, read_survey
from calibration.synthetic import survey_points
from tests.calibration.conftest import BOARD, MAST_HEIGHT_M, SQUARE_M


def _output(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    result: dict[str, Any] = json.loads(out)
    return result


def _write_csv(path: Path, image: np.ndarray, ground: np.ndarray) -> Path:
    lines = ["# surveyed 2026-01-10, total station", "x,y,u,v"]
    lines += [f"{x},{y},{u},{v}" for (u, v), (x, y) in zip(image.tolist(), ground.tolist(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_homography_then_intrinsics_then_show(tmp_path: Path, camera: Intrinsics, mast_pose: CameraPose,
                                              board_images: list[np.ndarray],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "calibration"
    image, ground = survey_points(camera, mast_pose, 8, np.random.default_rng(1), max_range_m=45.0)
    ground[2] += [0.0, 4.0]  # one mistyped survey point
    survey = _write_csv(tmp_path / "survey.csv", image, ground)

    assert run_homography(survey, "mast-1", store, (1280, 720)) == 0
    first = _output(capsys)
    assert first["revision"] == 1
    assert first["points"] == 8
    assert first["intrinsics"] is None
    assert first["pose"] is None
    assert 2 in first["outliers"]  # (without the lens model, barrel distortion costs another point or so)

    folder = tmp_path / "boards"
    folder.mkdir()
    for index, photo in enumerate(board_images[:6]):
        cv2.imwrite(str(folder / f"view{index}.png"), photo)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cv2.imwrite(str(folder / "wall.png"), np.full((720, 1280), 90, dtype=np.uint8))
    assert run_intrinsics([folder], BOARD, SQUARE_M, "mast-1", store) == 0
    second = _output(capsys)
    assert second["revision"] == 2
    assert second["images"] == 8
    assert second["used"] == 6
    assert abs(second["intrinsics"]["focal_px"][0] - 1000.0) < 10.0
    assert {Path(r["image"]).name: r["reason"] for r in second["rejected"]} == {
        "broken.png": "not a readable image", "wall.png": "no 9x6 chessboard found"}
    # the stored survey was refitted through the new lens: only the mistyped point is out, the pose is known now
    assert second["homography"]["inliers"] == 7
    assert second["warnings"] == []
    assert second["homography"]["rmse_m"] < first["homography"]["rmse_m"]
    np.testing.assert_allclose(second["pose"]["camera_position_m"], [0.0, 0.0, MAST_HEIGHT_M], atol=0.15)

    assert run_show(store, "mast-1", None) == 0
    shown = _output(capsys)
    assert shown["revision"] == 2
    assert shown["revisions"] == [1, 2]
    assert shown["path"].endswith("mast-1/r0002.json")
    assert run_show(store, "mast-1", 1) == 0
    assert _output(capsys)["intrinsics"] is None

    stored = CalibrationStore(store).latest("mast-1")
    assert stored.intrinsics is not None
    assert stored.pose is not None
    assert stored.fit is not None
    assert not stored.fit.inliers[2]


def test_homography_with_known_lens_uses_stored_image_size(tmp_path: Path, camera: Intrinsics,
                                                            mast_pose: CameraPose, board_images: list[np.ndarray],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    paths = []
    for index, photo in enumerate(board_images[:4]):
        paths.append(tmp_path / f"b{index}.png")
        cv2.imwrite(str(paths[-1]), photo)
    assert run_intrinsics(paths, BOARD, SQUARE_M, "mast-2", store) == 0
    capsys.readouterr()
    image, ground = survey_points(camera, mast_pose, 6, np.random.default_rng(2), max_range_m=45.0)
    survey = tmp_path / "survey.json"
    survey.write_text(json.dumps({"points": [{"image": i, "ground": g}
                                             for i, g in zip(image.tolist(), ground.tolist(), strict=True)]}))
    assert run_homography(survey, "mast-2", store, None) == 0
    result = _output(capsys)
    assert result["revision"] == 2
    assert result["outliers"] == []
    assert result["homography"]["rmse_m"] < 0.05
    assert result["pose"]["rmse_px"] < 1.5
    np.testing.assert_allclose(result["pose"]["camera_position_m"], [0.0, 0.0, MAST_HEIGHT_M], atol=0.15)


def test_failures_exit_1_with_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    square = tmp_path / "square.csv"
    square.write_text("0,0,0,0\n100,0,10,0\n100,100,10,10\n0,100,0,10\n")
    line = tmp_path / "line.csv"
    line.write_text("0,0,0,0\n10,10,1,1\n20,20,2,2\n30,30,3,3\n")
    cases: list[tuple[Callable[[], int], str]] = [
        (lambda: run_homography(tmp_path / "none.csv", "cam", store, (640, 480)), "survey file not found"),
        (lambda: run_homography(square, "cam", store, None), "image size unknown"),
        (lambda: run_homography(square, "cam", store, (64, 48)), "lie outside the 64x48 image"),
        (lambda: run_homography(line, "cam", store, (640, 480)), "collinear"),
        (lambda: run_homography(square, "../cam", store, (640, 480)), "camera_id must match"),
        (lambda: run_show(store, "cam", None), "no calibration for camera 'cam'"),
        (lambda: run_homography(square, "cam", square, (640, 480)), "Not a directory"),  # store is a file
        (lambda: run_intrinsics([tmp_path / "missing.png"], BOARD, SQUARE_M, "cam", store), "could be read"),
        (lambda: run_intrinsics([tmp_path / "empty-dir"], BOARD, SQUARE_M, "cam", store), "no chessboard images"),
    ]
    (tmp_path / "empty-dir").mkdir()
    for run, message in cases:
        assert run() == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("smartgate calibrate: error: ")
        assert message in captured.err
        assert captured.err.count("\n") == 1
    assert not store.exists() or CalibrationStore(store).cameras() == []
    assert run_homography(square, "cam", store, (640, 480)) == 0  # four exact points: fine
    assert _output(capsys)["homography"]["rmse_m"] < 1e-6


@pytest.mark.parametrize(("text", "expected"), [
    ("u,v,x,y\n1,2,3,4\n5,6,7,8\n", [[1, 2, 3, 4], [5, 6, 7, 8]]),
    ("# comment\n\n1, 2, 3, 4\n", [[1, 2, 3, 4]]),
    ("Y,X,V,U\n4,3,2,1\n", [[1, 2, 3, 4]]),
    ('[[1, 2, 3, 4], [5, 6, 7, 8]]', [[1, 2, 3, 4], [5, 6, 7, 8]]),
    ('[{"image": [1, 2], "ground": [3, 4]}]', [[1, 2, 3, 4]]),
    ('{"points": [[1.5, 2, 3, -4e1]]}', [[1.5, 2, 3, -40]]),
])
def test_survey_formats(tmp_path: Path, text: str, expected: list[list[float]]) -> None:
    path = tmp_path / "survey"
    path.write_text(text)
    image, ground = read_survey(path)
    np.testing.assert_array_equal(np.hstack([image, ground]), np.array(expected, dtype=float))


@pytest.mark.parametrize(("data", "match"), [
    (b"1,2,3\n", "expected 4 columns"),
    (b"1,2,3,abc\n", "'abc' is not a number"),
    (b"1,2,3,nan\n", "not a finite number"),
    (b"", "no point pairs"),
    (b"[[1, 2, 3, NaN]]", "invalid JSON"),
    (b"[[1, 2, 3, true]]", "True is not a number"),
    (b'[[1, 2, 3]]', "expected \\[u, v, x, y\\]"),
    (b'[{"image": [1, 2]}]', "expected {\"image\""),
    (b'{"other": []}', "expected a list"),
    (b'[[1, 2, 3, 4]', "invalid JSON"),
    (b"\xff\xfe1,2,3,4", "not UTF-8"),
    (b" " * (MAX_SURVEY_BYTES + 1), "larger than the limit"),
])
def test_bad_survey_files(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "survey"
    path.write_bytes(data)
    with pytest.raises(CalibrationError, match=match):
        read_survey(path)

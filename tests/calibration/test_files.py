"""Calibration files and the versioned store: exact round trips, and every way a file can be bad."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.files import (
    MAX_FILE_BYTES,
    CalibrationStore,
    CameraCalibration,
    load_calibration,
    save_calibration,
    to_document,
)
from calibration.homography import fit_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose, estimate_pose
from calibration.synthetic import survey_points
from calibration.undistort import undistort_points


@pytest.fixture(scope="module")
def full(camera: Intrinsics, mast_pose: CameraPose) -> CameraCalibration:
    """A calibration with every part present and awkward floats (noise), as a real one would have."""
    rng = np.random.default_rng(8)
    image, ground = survey_points(camera, mast_pose, 9, rng, pixel_noise_px=0.5, max_range_m=45.0)
    ground[4] += [3.0, 0.0]  # an outlier, so the inlier mask is not all True
    lens = Intrinsics(camera.camera_matrix + rng.normal(0, 1e-3, (3, 3)) * [[1, 1, 1], [0, 1, 1], [0, 0, 0]],
                      camera.distortion + rng.normal(0, 1e-4, 5), camera.image_size, rms_px=0.0712345678901)
    fit = fit_homography(undistort_points(lens, image), ground)
    pose = estimate_pose(lens, image[fit.inliers], ground[fit.inliers])
    return CameraCalibration("yard-cam.03", camera.image_size, lens, fit, pose, image, ground, 7, 1_767_225_600.123)


def _document(calibration: CameraCalibration) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(to_document(calibration)))
    return document


def test_round_trip_is_exact(tmp_path: Path, full: CameraCalibration) -> None:
    assert not full.fit.inliers.all()  # type: ignore[union-attr]
    path = tmp_path / "cam.json"
    save_calibration(path, full)
    loaded = load_calibration(path)
    assert loaded == full
    assert loaded.intrinsics is not None
    assert full.intrinsics is not None
    assert np.array_equal(loaded.intrinsics.camera_matrix, full.intrinsics.camera_matrix)
    assert np.array_equal(loaded.image_points, full.image_points)
    assert loaded.created_utc == full.created_utc
    assert list(tmp_path.iterdir()) == [path]  # no staging file left behind


def test_round_trip_without_optional_parts(tmp_path: Path) -> None:
    bare = CameraCalibration("top-1", (1920, 1080), None, None, None, np.zeros((0, 2)), np.zeros((0, 2)))
    save_calibration(tmp_path / "bare.json", bare)
    assert load_calibration(tmp_path / "bare.json") == bare


def test_file_follows_the_documented_format(tmp_path: Path, full: CameraCalibration) -> None:
    save_calibration(tmp_path / "cam.json", full)
    data = json.loads((tmp_path / "cam.json").read_text())
    assert data["format"] == "smartgate-calibration"
    assert data["version"] == 1
    assert set(data) == {"format", "version", "camera_id", "revision", "created_utc", "image_size", "intrinsics",
                         "homography", "pose", "points"}
    assert set(data["intrinsics"]) == {"camera_matrix", "distortion", "rms_px"}
    assert set(data["homography"]) == {"image_to_ground", "rmse_m", "max_error_m", "inliers"}
    assert set(data["pose"]) == {"rvec", "tvec"}
    assert data["points"][0] == {"image": full.image_points[0].tolist(), "ground": full.ground_points[0].tolist()}


def _edit(full: CameraCalibration, change: Any) -> bytes:
    document = _document(full)
    change(document)
    return json.dumps(document).encode()


def _set(path: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return change


def _remove(key: str) -> Any:
    return lambda document: document.pop(key)


BAD_DOCUMENTS = [
    ("corrupt JSON", lambda full: b'{"format": "smartgate-calibration", "version": 1,,}', "not a calibration file"),
    ("truncated", lambda full: json.dumps(_document(full)).encode()[:300], "truncated"),
    ("not an object", lambda full: b"[1, 2, 3]", "not a calibration file"),
    ("wrong format", lambda full: _edit(full, _set("format", "other")), "format must be 'smartgate-calibration'"),
    ("wrong version", lambda full: _edit(full, _set("version", 2)), "unsupported version 2"),
    ("NaN literal", lambda full: json.dumps(_document(full)).replace("0.0712345678901", "NaN").encode(),
     "not a calibration file|malformed|invalid"),
    ("huge number", lambda full: json.dumps(_document(full)).replace("0.0712345678901", "1e400").encode(),
     "out of range"),
    ("missing field", lambda full: _edit(full, _remove("pose")), "missing required field `pose`"),
    ("unknown field", lambda full: _edit(full, _set("extra", 1)), "unknown field `extra`"),
    ("string number", lambda full: _edit(full, _set("pose.rvec.0", "1.0")), "Expected `float`, got `str`"),
    ("camera matrix shape", lambda full: _edit(full, _set("intrinsics.camera_matrix.2", [0.0, 1.0])),
     "different lengths"),
    ("distortion length", lambda full: _edit(full, _set("intrinsics.distortion", [0.0] * 4)), r"shape \(5,\)"),
    ("singular homography", lambda full: _edit(full, _set("homography.image_to_ground", [[1, 2, 3], [2, 4, 6],
                                                                                          [0, 0, 1]])),
     "not invertible"),
    ("homography sign", lambda full: _edit(full, lambda d: d["homography"].update(
        image_to_ground=[[-v for v in row] for row in d["homography"]["image_to_ground"]])), "beyond the horizon"),
    ("inlier count", lambda full: _edit(full, _set("homography.inliers", [True])), "inliers has 1 entries for 9"),
    ("negative error", lambda full: _edit(full, _set("homography.rmse_m", -0.1)), "rmse_m must be at least 0"),
    ("short point", lambda full: _edit(full, _set("points.0.image", [1.0])), r"image \[u, v\]"),
    ("image size", lambda full: _edit(full, _set("image_size", [1280, 0])), "image_size"),
    ("lens for other size", lambda full: _edit(full, _set("image_size", [320, 240])), "principal point"),
    ("bad camera id", lambda full: _edit(full, _set("camera_id", "../etc")), "camera_id must match"),
    ("revision zero", lambda full: _edit(full, _set("revision", 0)), "revision must be"),
    ("not UTF-8", lambda full: b'{"format": "\xff\xfe"}', "not a calibration file"),
]


@pytest.mark.parametrize(("make", "match"), [pytest.param(make, match, id=name) for name, make, match in BAD_DOCUMENTS])
def test_bad_files_are_refused(tmp_path: Path, full: CameraCalibration, make: Any, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(make(full))
    with pytest.raises(CalibrationError, match=match) as caught:
        load_calibration(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_empty_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="calibration file not found"):
        load_calibration(tmp_path / "none.json")
    (tmp_path / "empty.json").write_bytes(b"  \n")
    with pytest.raises(CalibrationError, match="empty file"):
        load_calibration(tmp_path / "empty.json")
    (tmp_path / "big.json").write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(CalibrationError, match="larger than the limit"):
        load_calibration(tmp_path / "big.json")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(tmp_path)  # a directory


@pytest.mark.parametrize(("change", "match"), [
    ({"camera_id": ".."}, "camera_id must match"),
    ({"camera_id": "a/b"}, "camera_id must match"),
    ({"camera_id": 3}, "camera_id must match"),
    ({"revision": True}, "revision must be"),
    ({"created_utc": float("nan")}, "created_utc must be finite"),
    ({"image_points": np.zeros((3, 2))}, "3 image points but 9 ground points"),
    ({"image_size": (640, 360)}, "intrinsics are for"),
])
def test_calibration_validates_every_field(full: CameraCalibration, change: dict[str, Any], match: str) -> None:
    fields = {name: getattr(full, name) for name in ("camera_id", "image_size", "intrinsics", "fit", "pose",
                                                     "image_points", "ground_points", "revision", "created_utc")}
    with pytest.raises(CalibrationError, match=match):
        CameraCalibration(**{**fields, **change})


def test_store_revisions_increment_and_latest_is_newest(tmp_path: Path, full: CameraCalibration) -> None:
    store = CalibrationStore(tmp_path / "calibration")
    assert store.cameras() == []
    assert store.revisions("yard-cam.03") == []
    first = store.save(full)
    second = store.save(CameraCalibration(full.camera_id, full.image_size, full.intrinsics, None, None,
                                          np.zeros((0, 2)), np.zeros((0, 2)), created_utc=0.0))
    assert (first.revision, second.revision) == (1, 2)
    assert second.created_utc > 1.7e9  # stamped at save time
    assert store.path("yard-cam.03", 2) == tmp_path / "calibration" / "yard-cam.03" / "r0002.json"
    assert store.latest("yard-cam.03") == second
    assert store.load("yard-cam.03", 1) == first
    assert store.load("yard-cam.03", 1).fit == full.fit
    store.save(CameraCalibration("other", (640, 480), None, None, None, np.zeros((0, 2)), np.zeros((0, 2))))
    (tmp_path / "calibration" / "no-files").mkdir()
    assert store.cameras() == ["other", "yard-cam.03"]
    assert store.revisions("yard-cam.03") == [1, 2]


def test_store_errors(tmp_path: Path, full: CameraCalibration) -> None:
    store = CalibrationStore(tmp_path)
    with pytest.raises(CalibrationError, match="no calibration for camera 'ghost'"):
        store.latest("ghost")
    with pytest.raises(CalibrationError, match="camera_id must match"):
        store.latest("../secrets")
    with pytest.raises(CalibrationError, match="revision must be"):
        store.load("yard-cam.03", 0)
    store.save(full)
    misplaced = tmp_path / "yard-cam.03" / "r0002.json"
    misplaced.write_bytes((tmp_path / "yard-cam.03" / "r0001.json").read_bytes())
    with pytest.raises(CalibrationError, match=r"holds camera 'yard-cam\.03' revision 1"):
        store.latest("yard-cam.03")
    misplaced.write_bytes(b"{")
    with pytest.raises(CalibrationError, match=r"r0002\.json"):
        store.latest("yard-cam.03")  # a corrupt newest revision is an error, never a silent fallback


def test_concurrent_saves_get_distinct_revisions(tmp_path: Path, full: CameraCalibration) -> None:
    store = CalibrationStore(tmp_path)
    results: list[int] = []
    lock = threading.Lock()

    def save() -> None:
        revision = store.save(full).revision
        with lock:
            results.append(revision)

    threads = [threading.Thread(target=save) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 9))
    assert store.revisions(full.camera_id) == list(range(1, 9))
    assert sorted(p.name for p in (tmp_path / full.camera_id).iterdir()) == [f"r{i:04d}.json" for i in range(1, 9)]

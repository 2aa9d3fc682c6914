"""Seal state per door and per passage: handle ratios averaged over the door's handles, seal boxes as evidence,
summed log-odds over frames, and the fast end-to-end evaluation on a rendered recording."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from datasets.recording import Recording
from vision.detections import Detections, class_index
from vision.fusion import Ballot, Sighting
from vision.fusion.passage_evidence import seal_state
from vision.seals import SealClassifier, door_p_sealed, read_doors, seal_box_ratio
from vision.seals.evaluate_passages import detections, score

HANDLE, SEAL, CONTAINER = class_index("door_handle"), class_index("seal"), class_index("container")


@pytest.mark.parametrize(("ratios", "expected"), [
    ([], 0.5),                                  # nothing seen: no evidence
    ([0.02, 0.02, 0.02, 0.02], 0.02 / 1.02),    # every handle clearly unsealed: absent
    ([0.02, 0.02, 0.02], 0.265 / 1.265),        # the sealed handle may be the missed one: weak
    ([50.0, 0.02, 0.02, 0.02], 12.515 / 13.515),  # one handle carries the seal: present
    ([1.0] * 6, 0.5),                           # more boxes than handles: averaged over what was seen
])
def test_door_p_sealed(ratios: list[float], expected: float) -> None:
    assert door_p_sealed(ratios) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(("score", "expected"), [
    (0.1, 1.0), (0.2, 1.0), (0.5, 4.0), (0.8, 16.0), (1.0, 50.0), (-3.0, 1.0),
])
def test_seal_box_ratio(score: float, expected: float) -> None:
    assert seal_box_ratio(score) == pytest.approx(expected, rel=1e-3)


def _ballot(reads: list[tuple[str, float]]) -> Ballot:
    from vision.fusion.passage_evidence import _seal_logit

    ballot = Ballot()
    for k, (state, conf) in enumerate(reads):
        votes = {"logit": _seal_logit(conf)} if state != "unknown" else {}
        ballot.add(state, conf, Sighting("rear", k, k * 0.25, k * 0.25, (0, 0, 1, 1)), None, votes)
    return ballot


@pytest.mark.parametrize(("reads", "expected"), [
    ([("present", 0.8)], "present"),                                   # exactly the margin
    ([("present", 0.7)], "unknown"),                                   # one weak read decides nothing
    ([("absent", 0.999), ("present", 0.9), ("present", 0.9)], "present"),  # a capped outlier loses to two frames
    ([("absent", 0.95)] * 3 + [("present", 0.85)], "absent"),
    ([("unknown", 0.7)] * 10, "unknown"),
    ([("present", 0.9), ("absent", 0.9)], "unknown"),                  # a split vote
])
def test_seal_state_sums_capped_log_odds(reads: list[tuple[str, float]], expected: str) -> None:
    state, confidence = seal_state(_ballot(reads))
    assert state == expected
    assert 0.0 <= confidence <= 1.0


def test_seal_state_confidence_grows_slower_than_independent_frames() -> None:
    one = seal_state(_ballot([("present", 0.9)]))[1]
    nine = seal_state(_ballot([("present", 0.9)] * 9))[1]
    assert one < nine < 1 / (1 + math.exp(-9 * math.log(9)))


@pytest.fixture(scope="module")
def classifier() -> SealClassifier:
    return SealClassifier.load()


def test_read_doors_groups_handles_by_container_and_uses_seal_boxes(classifier: SealClassifier) -> None:
    frame = np.full((200, 400, 3), 90, np.uint8)
    dets = Detections.from_arrays(
        [[10, 10, 190, 190], [20, 100, 40, 110], [60, 100, 80, 110], [62, 112, 66, 130], [300, 50, 306, 70]],
        [0.9, 0.8, 0.8, 0.9, 0.6], [CONTAINER, HANDLE, HANDLE, SEAL, SEAL])
    doors = read_doors(frame, dets, classifier)
    assert len(doors) == 2  # the container's two handles are one door; the lone seal box is another
    door, lone = doors
    assert door.box == (20.0, 100.0, 80.0, 110.0)
    (without_seal,) = read_doors(frame, dets[np.array([True, True, True, False, False])], classifier)
    assert door.p_sealed > without_seal.p_sealed  # the seal box near the second handle is evidence
    assert lone.p_sealed == pytest.approx(door_p_sealed([seal_box_ratio(0.6)]))
    assert lone.state.state in ("present", "absent", "unknown")


def test_read_doors_on_no_detections(classifier: SealClassifier) -> None:
    assert read_doors(np.zeros((50, 50, 3), np.uint8), Detections.empty(), classifier) == []


class _TruthDetector:
    """Stands in for the detector with the recording's own truth boxes (the scoring is what is tested here)."""

    def __init__(self, recording: Recording) -> None:
        self.truth = {(f.camera, f.frame): f for f in recording.frames()}
        self.rows = iter(self.truth.values())

    def detect_one(self, image: np.ndarray) -> Detections:
        truth = next(self.rows)
        while not any(o.cls == "door_handle" for o in truth.objects):
            truth = next(self.rows)
        objects = [o for o in truth.objects if o.cls in ("door_handle", "seal", "container", "vehicle")]
        return Detections.from_arrays([o.box for o in objects], [0.9] * len(objects),
                                      [class_index(o.cls) for o in objects])


def test_evaluation_scores_doors_end_to_end(recording: Recording, classifier: SealClassifier,
                                            tmp_path: Path) -> None:
    root = Path(recording.root)
    found = detections(root, _TruthDetector(recording), tmp_path)
    again = detections(root, _TruthDetector(recording), tmp_path)  # from the cache
    assert found
    assert list(found) == list(again)
    tally = score(root, found, classifier)
    summary = tally.summary()
    assert tally.handles == tally.handles_found > 0  # truth boxes: every handle found
    visible = tally.containers - tally.hidden
    assert visible > 0
    assert summary["seal_accuracy_visible_doors"] == 1.0  # clear conditions, truth boxes, seal boxes
    assert tally.containers_right == tally.containers - tally.hidden + tally.hidden_right

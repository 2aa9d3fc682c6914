"""Fusion: summed evidence beats a confident outlier, containers are ordered, seals voted, passages round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bus.codec import decode, encode
from bus.messages import VehiclePassage
from datasets.synth import iso6346_check_digit
from vision.detections import Detections, class_index
from vision.evidence import EvidenceStore, crop, safe_name
from vision.fusion import (
    CameraFrame,
    ContainerObservation,
    FusionConfig,
    PassageFuser,
    PlateObservation,
    SealObservation,
)
from vision.tracking import EndedTrack

VEHICLE = class_index("vehicle")
TRUCK_BOX = (100.0, 50.0, 600.0, 350.0)
PLATE_BOX = (300.0, 300.0, 360.0, 330.0)


def number(prefix: str) -> str:
    return prefix + str(iso6346_check_digit(prefix))


def frames(reads_per_frame, camera: str = "front", track_id: int = 1, start: int = 0, image=None, box=TRUCK_BOX):
    """Camera frames with one tracked truck; reads_per_frame is a list of dicts of plates/containers/seals."""
    out = []
    for k, reads in enumerate(reads_per_frame):
        vehicles = Detections.from_arrays([box], [0.9], VEHICLE, tracker_id=[track_id])
        out.append(CameraFrame(camera=camera, frame=start + k, t_s=(start + k) * 0.25,
                               ts_utc=1.7e9 + (start + k) * 0.25, vehicles=vehicles, image=image, **reads))
    return out


def run(fuser: PassageFuser, all_frames, end_camera: str = "front", track_id: int = 1) -> VehiclePassage:
    published = []
    for frame in all_frames:
        published += fuser.update(frame)
    last = all_frames[-1]
    ended = EndedTrack(track_id, VEHICLE, 0.0, last.t_s, len(all_frames), TRUCK_BOX, "lost")
    t = last.t_s + 1.0
    published += fuser.update(CameraFrame(camera=end_camera, frame=last.frame + 4, t_s=t, ts_utc=1.7e9 + t,
                                          ended=[ended]))
    published += fuser.update(CameraFrame(camera=end_camera, frame=last.frame + 12, t_s=t + 2.0,
                                          ts_utc=1.7e9 + t + 2.0))
    published += fuser.update(CameraFrame(camera=end_camera, frame=last.frame + 52, t_s=t + 12.0,
                                          ts_utc=1.7e9 + t + 12.0))  # past the hold of a passage of few frames
    assert len(published) == 1
    return published[0]


def plate(text: str, conf: float, role: str = "tractor") -> PlateObservation:
    return PlateObservation(text=text, confidence=conf, box=PLATE_BOX, format="vn", role=role)  # type: ignore[arg-type]


def test_summed_evidence_beats_one_confident_outlier() -> None:
    reads = [{"plates": [plate("12C-123.45", 0.8)]}] * 5 + [{"plates": [plate("12C-128.45", 0.95)]}]
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    (read,) = passage.plates
    assert read.text == "12C-123.45"
    assert read.role == "tractor"
    assert read.format == "vn"
    assert read.confidence == pytest.approx(4.0 / 4.95 * 0.8)  # winner share x its mean confidence
    assert passage.frames_seen == 6


def test_tractor_and_trailer_plates_are_fused_separately() -> None:
    reads = [{"plates": [plate("34C-720.01", 0.9), plate("64R-580.77", 0.8, "trailer")]}] * 3
    reads += [{"plates": [plate("34C-720.01", 0.7, "unknown")]}]
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    by_role = {p.role: p for p in passage.plates}
    assert by_role["tractor"].text == "34C-720.01"
    assert by_role["trailer"].text == "64R-580.77"
    assert "unknown" not in by_role  # a role-less read of a known plate was one more vote for it


def test_two_20ft_containers_are_ordered_and_a_misread_joins_its_container() -> None:
    front, rear = number("MSCU123456"), number("TGHU765432")
    misread = front[:4] + "8" + front[5:]
    reads = ([{"containers": [ContainerObservation(front, 0.9, (150, 60, 300, 100), "22G1")]}] * 3
             + [{"containers": [ContainerObservation(rear, 0.85, (350, 60, 500, 100), "22G1"),
                                ContainerObservation(misread, 0.95, (150, 60, 300, 100))]}] * 2)
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [(c.number, c.position) for c in passage.containers] == [(front, "front"), (rear, "rear")]
    assert all(c.check_digit_ok and c.size_type == "22G1" for c in passage.containers)


def test_position_hints_override_first_seen_order() -> None:
    a, b = number("MSCU123456"), number("TGHU765432")
    reads = [{"containers": [ContainerObservation(a, 0.9, (150, 60, 300, 100), position="rear"),
                             ContainerObservation(b, 0.9, (350, 60, 500, 100), position="front")]}] * 3
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [(c.number, c.position) for c in passage.containers] == [(b, "front"), (a, "rear")]


def test_a_40ft_container_is_reported_alone() -> None:
    big, noise = number("HALU912759"), number("CBHU000001")
    reads = [{"containers": [ContainerObservation(big, 0.9, (150, 60, 500, 100), "42U1")]}] * 4
    reads += [{"containers": [ContainerObservation(noise, 0.9, (150, 60, 500, 100))]}] * 2
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [(c.number, c.position) for c in passage.containers] == [(big, "single")]


def test_a_chassis_or_equipment_number_is_not_a_container() -> None:
    box, chassis, genset = number("SUDU438283"), number("SCOZ058286"), number("CXDJ000123")
    reads = [{"containers": [ContainerObservation(box, 0.9, (150, 60, 500, 100))]}] * 3
    reads += [{"containers": [ContainerObservation(chassis, 0.95, (150, 300, 300, 320)),
                              ContainerObservation(genset, 0.95, (150, 330, 300, 350))]}] * 4
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [(c.number, c.position) for c in passage.containers] == [(box, "single")]


@pytest.mark.parametrize(
    ("read_flags", "expected"),
    [
        ([True, True, True], True),  # the check digit was read every time
        ([None, None, None], True),  # the reader did not say: validity of the string decides
        ([False, False, True], False),  # mostly computed by the grammar: not a read check digit
        ([True, True, False], True),
    ],
)
def test_check_digit_ok_follows_the_reads_not_only_the_string(read_flags, expected) -> None:
    read = number("HLXU514705")
    reads = [{"containers": [ContainerObservation(read, 0.9, (150, 60, 500, 100), "42G1", check_digit_read=flag)]}
             for flag in read_flags]
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [(c.number, c.check_digit_ok) for c in passage.containers] == [(read, expected)]


def test_seal_absent_in_one_frame_present_in_many() -> None:
    box = (500.0, 150.0, 520.0, 170.0)
    reads: list[dict[str, list[object]]] = [{"seals": [SealObservation("present", 0.8, box, number="TG34575623")]}] * 4
    reads += [{"seals": [SealObservation("absent", 0.9, box)]}, {"seals": [SealObservation("unknown", 0.9, box)]}]
    reads[0] = {**reads[0], "containers": [ContainerObservation(number("HALU912759"), 0.9, (150, 60, 500, 100))]}
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    (seal,) = passage.seals
    assert seal.state == "present"
    assert seal.number == "TG34575623"
    assert seal.container_number == number("HALU912759")
    logit = 4 * np.log(0.8 / 0.2) - np.log(0.9 / 0.1)  # four present reads less one absent read
    assert seal.confidence == pytest.approx(1 / (1 + np.exp(-logit / np.sqrt(5))))


def test_reads_of_a_camera_without_vehicle_box_join_by_time_window() -> None:
    reads = [{"plates": [plate("34C-720.01", 0.9)]}] * 4
    all_frames = frames(reads)
    rear_frame = CameraFrame(camera="rear", frame=2, t_s=0.5, ts_utc=1.7e9 + 0.5,
                             seals=[SealObservation("present", 0.9, (10, 10, 20, 20))])
    all_frames.insert(3, rear_frame)
    passage = run(PassageFuser("in-1", "in"), all_frames)
    assert passage.seals[0].state == "present"
    assert passage.seals[0].evidence[0].camera == "rear"


def test_passage_is_valid_and_round_trips_with_evidence_crops(tmp_path: Path) -> None:
    image = np.full((400, 700, 3), 127, np.uint8)
    store = EvidenceStore(tmp_path)
    reads = [{"plates": [plate("12C-123.45", 0.8)],
              "containers": [ContainerObservation(number("MSCU123456"), 0.9, (150, 60, 300, 100), "22G1")],
              "seals": [SealObservation("present", 0.7, (500, 150, 520, 170))]}] * 3
    passage = run(PassageFuser("in-1", "in", evidence=store), frames(reads, camera="../evil", image=image),
                  end_camera="../evil")
    again = decode(encode(passage))
    assert again == passage
    assert isinstance(again, VehiclePassage)
    parts = [*passage.plates, *passage.containers, *passage.seals]
    refs = [ref for part in parts for ref in part.evidence]  # type: ignore[attr-defined]
    assert len(refs) == 3
    assert store.saved == 3
    for ref in refs:
        path = (tmp_path / ref.path).resolve()
        assert path.is_file()
        assert path.is_relative_to(tmp_path.resolve())
        assert ".." not in ref.path
    assert passage.first_seen_utc <= passage.last_seen_utc


NEXT_TRUCK_BOX = (700.0, 40.0, 1200.0, 340.0)  # entering on the other side of the frame


@pytest.mark.parametrize(("second_box", "texts", "rejoined"), [
    (NEXT_TRUCK_BOX, ["11A-111.11", "22B-222.22"], 0),  # a new truck enters: a new passage
    ((120.0, 60.0, 400.0, 340.0), ["11A-111.11"], 1),   # the first truck re-found, half hidden: the same passage
])
def test_a_new_track_on_a_used_camera_is_a_new_passage_unless_it_refinds_the_truck(
        second_box, texts: list[str], rejoined: int) -> None:
    fuser = PassageFuser("in-1", "in", config=FusionConfig(exit_grace_s=1.0))
    first = frames([{"plates": [plate("11A-111.11", 0.9)]}] * 3, track_id=1)
    x0, _, _, y1 = second_box
    plate_box = (x0 + 100.0, y1 - 40.0, x0 + 160.0, y1 - 10.0)
    second_plate = PlateObservation(text="22B-222.22", confidence=0.4, box=plate_box, format="vn", role="tractor")
    second = frames([{"plates": [second_plate]}] * 3, track_id=2, start=3, box=second_box)
    published = []
    for frame in [*first, *second]:
        published += fuser.update(frame)
    published += fuser.flush()
    assert [p.plates[0].text for p in published] == texts
    assert fuser.counters["tracks_rejoined"] == rejoined


def test_bad_frames_are_counted_not_fatal() -> None:
    fuser = PassageFuser("in-1", "in")
    assert fuser.update(CameraFrame(camera="front", frame=0, t_s=float("nan"), ts_utc=0.0)) == []
    assert fuser.counters["bad_frames"] == 1
    with pytest.raises(ValueError, match="lane_id"):
        PassageFuser("bad lane/../", "in")


@pytest.mark.parametrize(("text", "expected"), [("../..", "_"), ("front", "front"), ("a/b\\c", "a_b_c"), ("", "_")])
def test_safe_names(text: str, expected: str) -> None:
    assert safe_name(text) == expected


def test_crop_is_bounded_and_refuses_boxes_outside() -> None:
    image = np.zeros((2000, 3000, 3), np.uint8)
    assert max(crop(image, (0, 0, 3000, 2000)).shape[:2]) == 480
    with pytest.raises(ValueError, match="outside"):
        crop(image, (5000, 5000, 5100, 5100))


def test_a_container_whose_doors_no_camera_saw_gets_an_unknown_seal() -> None:
    front, rear = number("MSCU123456"), number("TGHU765432")
    box = (500.0, 150.0, 520.0, 170.0)
    reads = [{"containers": [ContainerObservation(front, 0.9, (150, 60, 300, 100), position="front"),
                             ContainerObservation(rear, 0.9, (350, 60, 500, 100), position="rear")],
              "seals": [SealObservation("present", 0.9, box)]}] * 3
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    by_number = {s.container_number: s for s in passage.seals}
    assert set(by_number) == {front, rear}
    unseen = [s for s in passage.seals if s.state == "unknown"]
    assert len(unseen) == 1
    assert unseen[0].confidence == 0.0
    assert unseen[0].evidence == ()
    assert [s.state for s in passage.seals if s.state != "unknown"] == ["present"]


def _publish_after(fuser: PassageFuser, all_frames, track_id: int = 1) -> list[VehiclePassage]:
    published = [p for frame in all_frames for p in fuser.update(frame)]
    last = all_frames[-1]
    ended = EndedTrack(track_id, VEHICLE, 0.0, last.t_s, len(all_frames), TRUCK_BOX, "lost")
    t = last.t_s + 3.0
    published += fuser.update(CameraFrame(camera="front", frame=last.frame + 8, t_s=t, ts_utc=1.7e9 + t,
                                          ended=[ended]))
    for later in (2.0, 12.0):  # the lane goes on; the second is past a short passage's hold
        published += fuser.update(CameraFrame(camera="front", frame=last.frame + 8 + int(4 * later), t_s=t + later,
                                              ts_utc=1.7e9 + t + later))
    return published


@pytest.mark.parametrize(("n_frames", "with_read", "published"), [
    (2, False, 0),    # 0.25 s sighted, nothing read: a split track's fragment, dropped
    (2, True, 1),     # short, but something was read: a truck
    (8, False, 1),    # 1.75 s sighted with nothing read: an unreadable truck still makes a passage (HOLD)
])
def test_a_short_passage_with_nothing_read_is_a_fragment(n_frames: int, with_read: bool, published: int) -> None:
    reads = [{"plates": [plate("12C-123.45", 0.8)]} if with_read else {} for _ in range(n_frames)]
    fuser = PassageFuser("in-1", "in")
    assert len(_publish_after(fuser, frames(reads))) == published
    assert fuser.counters["fragments_dropped"] == 1 - published


def test_a_broken_track_s_first_piece_is_merged_into_the_rest_of_its_truck() -> None:
    """A truck seen in two frames, then lost (frames dropped), then found again as a new track: one passage."""
    fuser = PassageFuser("in-1", "in")
    seen_first = ContainerObservation(number("HALU912759"), 0.8, (150.0, 60.0, 300.0, 100.0))
    seen_then = ContainerObservation(number("HALU912759"), 0.9, (750.0, 50.0, 900.0, 90.0))
    piece = frames([{"containers": [seen_first]}] * 2, track_id=1)
    ended = EndedTrack(1, VEHICLE, 0.0, 0.25, 2, TRUCK_BOX, "lost")
    published = [p for f in piece for p in fuser.update(f)]
    published += fuser.update(CameraFrame(camera="front", frame=6, t_s=1.5, ts_utc=1.7e9 + 1.5, ended=[ended]))
    published += fuser.update(CameraFrame(camera="front", frame=12, t_s=3.0, ts_utc=1.7e9 + 3.0))
    assert published == []                                  # held: it may be the start of a truck
    rest = frames([{"containers": [seen_then]}] * 6, track_id=2, start=16, box=NEXT_TRUCK_BOX)
    published = _publish_after(fuser, rest, track_id=2)
    assert len(published) == 1
    assert published[0].frames_seen == 8
    assert fuser.counters["fragments_merged"] == 1


def test_a_short_passage_of_another_truck_is_published_after_its_hold() -> None:
    fuser = PassageFuser("in-1", "in")
    piece = frames([{"plates": [plate("11A-111.11", 0.8)]}] * 2, track_id=1)
    rest = frames([{"plates": [plate("22B-222.22", 0.9)]}] * 6, track_id=2, start=60)
    published = _publish_after(fuser, piece) + _publish_after(fuser, rest, track_id=2)
    assert sorted(p.plates[0].text for p in published) == ["11A-111.11", "22B-222.22"]
    assert fuser.counters["fragments_merged"] == 0


def test_the_tail_of_a_truck_already_published_is_not_a_second_truck() -> None:
    fuser = PassageFuser("in-1", "in", config=FusionConfig(fragment_hold_s=30.0))  # the test's clock jumps ahead
    body = frames([{"containers": [ContainerObservation(number("HALU912759"), 0.9, (150.0, 60.0, 300.0, 100.0))]}]
                  * 6, track_id=1)
    tail = frames([{"containers": [ContainerObservation(number("HALU912759"), 0.6, (750.0, 50.0, 900.0, 90.0))]}]
                  * 2, track_id=2, start=40, box=NEXT_TRUCK_BOX)
    published = _publish_after(fuser, body) + _publish_after(fuser, tail, track_id=2)
    assert [p.containers[0].number for p in published] == [number("HALU912759")]
    assert fuser.counters["fragments_dropped"] == 1

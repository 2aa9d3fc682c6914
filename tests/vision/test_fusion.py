"""Fusion: summed evidence beats a confident outlier, containers are ordered, seals voted, passages round-trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

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


def frames(reads_per_frame, camera: str = "front", track_id: int = 1, start: int = 0, image=None):
    """Camera frames with one tracked truck; reads_per_frame is a list of dicts of plates/containers/seals."""
    out = []
    for k, reads in enumerate(reads_per_frame):
        vehicles = Detections.from_arrays([TRUCK_BOX], [0.9], VEHICLE, tracker_id=[track_id])
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


def part(text: str, conf: float) -> PlateObservation:
    return PlateObservation(text=text, confidence=conf, box=PLATE_BOX, format="unknown", role="trailer")


def test_a_read_of_part_of_the_plate_does_not_dilute_its_confidence() -> None:
    """One line of a two-line plate read alone (`46079` of `81R-460.79`) neither confirms nor contradicts it; a read
    of another plate still does."""
    reads = [{"plates": [plate("81R-460.79", 0.9, "trailer")]}] * 3
    reads += [{"plates": [part("46079", 0.9)]}] * 4 + [{"plates": [part("81R", 0.5)]}]
    reads += [{"plates": [plate("61R-460.79", 0.6, "trailer")]}]
    (read,) = run(PassageFuser("in-1", "in"), frames(reads)).plates
    assert read.text == "46079"  # the part read most often still wins: parts are not added to a whole
    assert read.format == "unknown"
    assert read.confidence == pytest.approx(3.6 / 7.4 * 0.9)  # and, of no known format, gets no help
    reads += [{"plates": [plate("81R-460.79", 0.9, "trailer")]}] * 2
    (read,) = run(PassageFuser("in-1", "in"), frames(reads)).plates
    assert read.text == "81R-460.79"
    assert read.confidence == pytest.approx(4.5 / (4.5 + 0.6) * 0.9)  # 46079 and 81R left out of the total


def test_a_plate_read_in_full_a_few_times_outweighs_many_reads_with_a_character_lost() -> None:
    """Seed 9403's truck 24: a pole hid a digit of `12C-825.65` in most frames; `12C-8265` and `12C-8255` (each a
    valid old-style plate) are that plate with one digit lost, so they count as parts of it, not against it."""
    reads = [{"plates": [plate("12C-8265", 0.84)]}] * 5 + [{"plates": [plate("12C-8255", 0.75)]}] * 3
    reads += [{"plates": [plate("12C-825.65", 0.91)]}] * 2 + [{"plates": [plate("43G-3255", 0.41)]}]
    (read,) = run(PassageFuser("in-1", "in"), frames(reads)).plates
    assert read.text == "12C-825.65"
    assert read.confidence == pytest.approx(1.82 / (1.82 + 0.41) * 0.91)   # the one-short reads left out


@pytest.mark.parametrize("fuller", [
    [plate("12C-825.65", 0.91)],                          # read once: may be a character made up
    [plate("12C-825.65", 0.3)] * 2,                       # too little evidence beside the short reads
    # of no known plate format:
    [PlateObservation(text="12C82565", confidence=0.91, box=PLATE_BOX, format="unknown", role="tractor")] * 2,
    [plate("12C-825.66", 0.91)] * 2,                      # not the short read with one character lost
])
def test_a_short_plate_keeps_its_win_without_a_fuller_plate_read_well(fuller: list[PlateObservation]) -> None:
    reads = [{"plates": [plate("12C-8265", 0.84)]}] * 5 + [{"plates": [read]} for read in fuller]
    (read, *_) = run(PassageFuser("in-1", "in"), frames(reads)).plates
    assert read.text == "12C-8265"


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


def test_a_number_read_shifted_by_one_digit_joins_its_container() -> None:
    """`CRXU1020709` (first digit lost, one read past the end; its check digit happens to pass) is a misread of
    `CRXU7102070`, not a second 20 ft container."""
    right, shifted = "CRXU7102070", "CRXU1020709"
    assert number(shifted[:10]) == shifted  # both pass the check digit
    assert number(right[:10]) == right
    reads = [{"containers": [ContainerObservation(number=right, confidence=0.9, box=PLATE_BOX)]}] * 4
    reads += [{"containers": [ContainerObservation(number=shifted, confidence=0.8, box=PLATE_BOX)]}] * 2
    (container,) = run(PassageFuser("in-1", "in"), frames(reads)).containers
    assert container.number == right
    assert container.confidence == pytest.approx(3.6 / 5.2 * 0.9)  # the shifted reads still count against it


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


def test_a_new_track_on_a_used_camera_is_a_new_passage() -> None:
    fuser = PassageFuser("in-1", "in", config=FusionConfig(exit_grace_s=1.0))
    first = frames([{"plates": [plate("11A-111.11", 0.9)]}] * 3, track_id=1)
    second = frames([{"plates": [plate("22B-222.22", 0.9)]}] * 3, track_id=2, start=3)
    published = []
    for frame in [*first, *second]:
        published += fuser.update(frame)
    published += fuser.flush()
    assert [p.plates[0].text for p in published] == ["11A-111.11", "22B-222.22"]


def sighting(camera: str, t_s: float, track_id: int, box=TRUCK_BOX, ended=(), reads=None) -> CameraFrame:
    vehicles = Detections.from_arrays([box], [0.9], VEHICLE, tracker_id=[track_id])
    return CameraFrame(camera=camera, frame=round(t_s * 4), t_s=t_s, ts_utc=1.7e9 + t_s, vehicles=vehicles,
                       ended=ended, **(reads or {}))


def lost_and_found(found_box: tuple[float, float, float, float],
                   gone: EndedTrack | None = None) -> list[VehiclePassage]:
    """Front track 1 sees a truck, is lost (ended at 1.75 s), front track 2 starts at 2.25 s on `found_box`; the
    rear camera tracks the truck all along."""
    fuser = PassageFuser("in-1", "in")
    published: list[VehiclePassage] = []
    for k in range(13):
        t = k * 0.25
        published += fuser.update(sighting("rear", t, 7))
        if t <= 0.75:
            published += fuser.update(sighting("front", t, 1, reads={"plates": [plate("11A-111.11", 0.9)]}))
        elif t == 1.75:
            gone = gone or EndedTrack(1, VEHICLE, 0.0, 0.75, 4, (300.0, 40.0, 700.0, 360.0), "lost")
            published += fuser.update(CameraFrame(camera="front", frame=k, t_s=t, ts_utc=1.7e9 + t, ended=[gone]))
        elif t >= 2.25:
            published += fuser.update(sighting("front", t, 2, box=found_box))
    return published + fuser.flush()


def test_a_truck_the_tracker_lost_and_found_again_on_one_camera_stays_one_passage() -> None:
    """The front camera lost the truck filling its view and found it again where it was: one passage."""
    published = lost_and_found((250.0, 40.0, 690.0, 380.0))
    assert len(published) == 1
    assert published[0].plates[0].text == "11A-111.11"


def test_a_truck_found_again_where_it_was_seen_continues_its_passage_whatever_was_predicted() -> None:
    """A box entering the image edge grows, so its centre seemed to race: the predicted box flew off the image."""
    flung = EndedTrack(1, VEHICLE, 0.0, 0.75, 4, (25.0, -623.0, 1280.0, 274.0), "lost",
                       seen_xyxy=(0.0, 240.0, 1258.0, 720.0))
    assert len(lost_and_found((266.0, 3.0, 1021.0, 720.0), flung)) == 1
    assert len(lost_and_found((266.0, 3.0, 1021.0, 720.0), replace(flung, seen_xyxy=None))) == 2


def test_a_truck_entering_where_the_one_before_did_not_leave_is_a_new_passage() -> None:
    published = lost_and_found((10.0, 0.0, 110.0, 60.0))  # small and far: the next truck
    assert len(published) == 2


def tractor_then_trailer(trailer_x0: float) -> list[VehiclePassage]:
    """A right-side camera: the tractor (track 1) drives across the image, left to right, from 0 to 2 s; at 1.5 s
    a second vehicle box comes into view behind it (track 2, its left edge at 0, its right edge at `trailer_x0` +
    its width), while track 1 is still live."""
    fuser = PassageFuser("in-1", "in")
    published: list[VehiclePassage] = []
    for k in range(13):
        t = k * 0.25
        boxes, ids, plates = [], [], []
        if t <= 2.0:
            x = 100.0 + 400.0 * t
            boxes.append((x, 100.0, x + 300.0, 600.0))
            ids.append(1)
            plates = [plate("11A-111.11", 0.9)]
        if t >= 1.5:
            boxes.append((0.0, 120.0, trailer_x0 + 150.0 * (t - 1.5), 620.0))
            ids.append(2)
        ended = [EndedTrack(1, VEHICLE, 0.0, 2.0, 9, boxes[0], "lost")] if t == 2.25 else []
        vehicles = Detections.from_arrays(boxes, [0.9] * len(boxes), VEHICLE, tracker_id=ids) if boxes else (
            Detections.empty())
        published += fuser.update(CameraFrame(camera="side_right", frame=k, t_s=t, ts_utc=1.7e9 + t,
                                              vehicles=vehicles, ended=ended, plates=plates))
    return published + fuser.flush()


def test_a_trailer_coming_into_a_side_view_behind_its_tractor_joins_its_passage() -> None:
    """At 1.5 s the tractor's box spans 700-1000 px; a trailer box reaching 720 px overlaps it from behind: the
    same truck, one passage. A box that ends at 500 px, 200 px behind, is a truck queued behind: its own passage."""
    assert len(tractor_then_trailer(trailer_x0=720.0)) == 1
    assert len(tractor_then_trailer(trailer_x0=500.0)) == 2


def with_a_moment_of_a_second_box(second_reads: dict[str, list[object]]) -> tuple[list[VehiclePassage], PassageFuser]:
    """The front camera tracks a truck for 4 s (track 1); at 1.5 s a second box of it (track 2, elsewhere in the
    image) is tracked for one frame with `second_reads`, and lost."""
    fuser = PassageFuser("in-1", "in")
    published: list[VehiclePassage] = []
    second_box = (700.0, 400.0, 900.0, 700.0)
    for k in range(17):
        t = k * 0.25
        published += fuser.update(sighting("front", t, 1, reads={"plates": [plate("11A-111.11", 0.9)]}))
        if t == 1.5:
            published += fuser.update(sighting("front", t, 2, box=second_box, reads=second_reads))
        if t == 2.0:
            ended = EndedTrack(2, VEHICLE, 1.5, 1.5, 1, second_box, "lost")
            published += fuser.update(CameraFrame(camera="front", frame=k, t_s=t, ts_utc=1.7e9 + t, ended=[ended]))
    return published + fuser.flush(), fuser


def test_a_moment_of_a_second_box_on_a_truck_joins_its_passage() -> None:
    published, fuser = with_a_moment_of_a_second_box(
        {"plates": [replace(plate("11A-111.11", 0.8), box=(750.0, 600.0, 820.0, 630.0))]})
    assert len(published) == 1
    assert fuser.counters["fragments_joined"] == 1
    assert published[0].plates[0].text == "11A-111.11"
    assert published[0].frames_seen == 17  # the second box's frame is the same camera frame as track 1's at 1.5 s
    nothing, _ = with_a_moment_of_a_second_box({})
    assert len(nothing) == 1
    weak, _ = with_a_moment_of_a_second_box(  # one weak read, too weak to be published: nothing of its own
        {"plates": [replace(plate("57S-1148", 0.2), box=(750.0, 600.0, 820.0, 630.0))]})
    assert len(weak) == 1


def after_its_truck_was_published(second_reads: dict[str, list[object]]) -> tuple[list[VehiclePassage], PassageFuser]:
    """The front camera tracks a truck for 2 s; in its last frame a second box (track 2) reads `second_reads` and
    is lost half a second after the truck: it is done after the truck's passage was published."""
    fuser = PassageFuser("in-1", "in")
    published: list[VehiclePassage] = []
    second_box = (700.0, 400.0, 900.0, 700.0)
    for k in range(25):
        t = k * 0.25
        if t <= 2.0:
            published += fuser.update(sighting("front", t, 1, reads={"plates": [plate("11A-111.11", 0.9)]}))
        if t == 2.0:
            published += fuser.update(sighting("front", t, 2, box=second_box, reads=second_reads))
        ended = [EndedTrack(1, VEHICLE, 0.0, 2.0, 9, TRUCK_BOX, "lost")] if t == 2.25 else []
        ended += [EndedTrack(2, VEHICLE, 2.0, 2.0, 1, second_box, "lost")] if t == 2.75 else []
        published += fuser.update(CameraFrame(camera="front", frame=100 + k, t_s=t + 0.01, ts_utc=1.7e9 + t,
                                              ended=ended))
    return published + fuser.flush(), fuser


def test_a_moment_of_a_second_box_after_its_truck_was_published_is_dropped() -> None:
    published, fuser = after_its_truck_was_published({})
    assert [p.plates[0].text for p in published] == ["11A-111.11"]
    assert fuser.counters["fragments_dropped"] == 1
    assert fuser.counters["fragments_joined"] == 0


def test_a_door_seal_read_after_its_truck_was_published_is_kept() -> None:
    """Its truck's passage can take no more reads; an `absent` seal must still reach the officer."""
    published, fuser = after_its_truck_was_published(
        {"seals": [SealObservation(state="absent", confidence=0.9, box=(710.0, 410.0, 720.0, 430.0))]})
    assert [[seal.state for seal in p.seals] for p in published] == [[], ["absent"]]
    assert fuser.counters["fragments_dropped"] == 0


@pytest.mark.parametrize("reads", [
    {"plates": [replace(plate("22B-222.22", 0.9), box=(750.0, 600.0, 820.0, 630.0))]},
    {"containers": [ContainerObservation(number=number("MSCU123456"), confidence=0.9,
                                         box=(710.0, 410.0, 890.0, 440.0))]},
], ids=["another-plate", "a-container-number"])
def test_a_short_passage_that_read_something_of_its_own_is_published(reads: dict[str, list[object]]) -> None:
    published, fuser = with_a_moment_of_a_second_box(reads)
    assert len(published) == 2
    assert fuser.counters["fragments_joined"] == 0


def test_a_moment_of_a_second_box_that_misread_a_plate_joins_its_truck() -> None:
    """A side camera's glimpse of a plate reads `K1912挂`, a text that fits no plate format: a misread, not a
    second truck (seed 9406 with five cameras published three such phantoms)."""
    published, fuser = with_a_moment_of_a_second_box(
        {"plates": [PlateObservation(text="K1912挂", confidence=0.9, box=(750.0, 600.0, 820.0, 630.0))]})
    assert len(published) == 1
    assert fuser.counters["fragments_joined"] == 1
    assert published[0].plates[0].text == "11A-111.11"


def test_a_moment_of_a_second_box_that_read_a_door_seal_gives_its_truck_that_read() -> None:
    published, fuser = with_a_moment_of_a_second_box(
        {"seals": [SealObservation(state="absent", confidence=0.9, box=(710.0, 410.0, 720.0, 430.0))]})
    assert len(published) == 1
    assert fuser.counters["fragments_joined"] == 1
    assert [seal.state for seal in published[0].seals] == ["absent"]


def with_a_trailer_tracked_apart(trailer_reads: dict[str, list[object]], start: float = 2.0,
                                 end: float = 4.0) -> tuple[list[VehiclePassage], PassageFuser]:
    """The side camera tracks a truck for 6 s (track 1, reading its tractor and trailer plates); from `start` to
    `end` it also tracks the trailer as a box of its own (track 2) that reads `trailer_reads` and its door seal."""
    fuser = PassageFuser("in-1", "in")
    published: list[VehiclePassage] = []
    trailer_box = (700.0, 300.0, 1200.0, 700.0)
    seal = SealObservation(state="present", confidence=0.95, box=(900.0, 500.0, 910.0, 540.0))
    for k in range(25):
        t = k * 0.25
        published += fuser.update(sighting("side", t, 1, reads={"plates": [plate("11A-111.11", 0.9),
                                                                              plate("11R-222.22", 0.9, "trailer")]}))
        if start <= t <= end:
            published += fuser.update(sighting("side", t, 2, box=trailer_box, reads={**trailer_reads, "seals": [seal]}))
        if t == end + 0.5:
            ended = EndedTrack(2, VEHICLE, start, end, 9, trailer_box, "lost")
            published += fuser.update(CameraFrame(camera="side", frame=k, t_s=t, ts_utc=1.7e9 + t, ended=[ended]))
    return published + fuser.flush(), fuser


def test_a_trailer_tracked_apart_from_its_tractor_joins_its_passage_with_its_door_reads() -> None:
    """The demo's in-1 recording with half its frames dropped: the trailer became a passage of 13 frames, and its
    truck's seal was published `unknown`."""
    trailer_plate: dict[str, list[object]] = {
        "plates": [replace(plate("11R-222.22", 0.9, "trailer"), box=(900.0, 600.0, 980.0, 640.0))]}
    (passage,), fuser = with_a_trailer_tracked_apart(trailer_plate)
    assert fuser.counters["pieces_joined"] == 1
    assert {p.text for p in passage.plates} == {"11A-111.11", "11R-222.22"}
    assert [s.state for s in passage.seals] == ["present"]


def test_a_trailer_tracked_apart_that_read_only_part_of_its_plate_joins_its_passage() -> None:
    """The live demo: truck 5's trailer, tracked apart, read `2872` of `琼D·2872挂` and held the barrier that the
    operator had just opened for the truck."""
    part_read: dict[str, list[object]] = {"plates": [PlateObservation(
        text="22222", confidence=0.9, box=(900.0, 600.0, 980.0, 640.0), format="unknown", role="unknown")]}
    (passage,), fuser = with_a_trailer_tracked_apart(part_read)
    assert fuser.counters["pieces_joined"] == 1
    assert {p.text for p in passage.plates} == {"11A-111.11", "11R-222.22"}


@pytest.mark.parametrize(("reads", "start", "end"), [
    ({"plates": [replace(plate("33R-333.33", 0.9, "trailer"), box=(900.0, 600.0, 980.0, 640.0))]}, 2.0, 4.0),
    ({}, 0.5, 5.0),      # as long as half the truck's frames: not a part of it
])
def test_a_box_tracked_inside_a_truck_s_time_with_reads_or_frames_of_its_own_stays_a_passage(
        reads: dict[str, list[object]], start: float, end: float) -> None:
    published, fuser = with_a_trailer_tracked_apart(reads, start, end)
    assert len(published) == 2
    assert fuser.counters["pieces_joined"] == 0


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


CONTAINER = class_index("container")
#: A truck driving left across a side camera, 40 px a frame, with two 20 ft boxes: the left one is the front one.
FRONT_BOX, REAR_BOX = (110.0, 60.0, 340.0, 200.0), (360.0, 60.0, 590.0, 200.0)


def driving_left(reads_per_frame: list[dict[str, Any]], boxes: list[tuple[float, ...]]) -> list[CameraFrame]:
    """Side-camera frames of the truck (and these container boxes on it) moving left; each frame's reads, given in
    the first frame's pixels, move with it."""
    out = []
    for k, reads in enumerate(reads_per_frame):
        shift = np.array([-40.0 * k, 0.0, -40.0 * k, 0.0])
        moved = [tuple(np.asarray(b) + shift) for b in [TRUCK_BOX, *boxes]]
        vehicles = Detections.from_arrays(moved, [0.9] * len(moved), [VEHICLE] + [CONTAINER] * len(boxes),
                                          tracker_id=[1] + [-1] * len(boxes))
        shifted: dict[str, Any] = {kind: [replace(r, box=tuple(np.asarray(r.box) + shift)) for r in rs]
                                   for kind, rs in reads.items()}
        out.append(CameraFrame(camera="front", frame=k, t_s=k * 0.25, ts_utc=1.7e9 + k * 0.25, vehicles=vehicles,
                               **shifted))
    return out


@pytest.mark.parametrize(("size", "boxes", "at", "position", "door_owner"), [
    ("22G1", [FRONT_BOX, REAR_BOX], FRONT_BOX, "front", None),  # the rear box went unread: its door is no one's
    ("22G1", [FRONT_BOX, REAR_BOX], REAR_BOX, "rear", "own"),  # the front box went unread: the door is the read one's
    ("22G1", [FRONT_BOX], FRONT_BOX, "single", "own"),  # one box seen: a single 20 ft, its own door
    ("45G1", [FRONT_BOX, REAR_BOX], FRONT_BOX, "single", "own"),  # a 45 ft box is never one of two
])
def test_a_rear_door_behind_a_lone_front_box_is_not_given_to_it(size: str, boxes: list[tuple[float, ...]],
                                                                at: tuple[float, ...], position: str,
                                                                door_owner: str | None) -> None:
    """Of two 20 ft boxes only one number was read (side camera); the rear camera saw a sealed door. That door is
    the rear box's: given to the front box it would report a seal on doors no camera saw."""
    number_read = number("CRXU427286")
    x0, y0 = at[0] + 20, at[1] + 10
    read = ContainerObservation(number_read, 0.9, (x0, y0, x0 + 150, y0 + 40), size)
    door = SealObservation("present", 0.9, (500.0, 150.0, 520.0, 170.0), position="rear")
    reads: list[dict[str, Any]] = [{"containers": [read]}] * 4 + [{"seals": [door]}] * 3
    passage = run(PassageFuser("in-1", "in"), driving_left(reads, boxes))
    assert [(c.number, c.position) for c in passage.containers] == [(number_read, position)]
    sealed = [s for s in passage.seals if s.state == "present"]
    assert [s.container_number for s in sealed] == [number_read if door_owner == "own" else None]
    assert {s.container_number: s.state for s in passage.seals}[number_read] == ("unknown" if door_owner is None
                                                                                   else "present")


def test_two_boxes_seen_across_the_camera_are_ordered_by_where_their_numbers_lie() -> None:
    """The rear box's number is read first (it came into view unoccluded first): where each read lies, not when,
    says which box it is."""
    front, rear = number("MSCU123456"), number("TGHU765432")
    in_front = ContainerObservation(front, 0.9, (130, 70, 300, 100), "22G1")
    in_rear = ContainerObservation(rear, 0.9, (380, 70, 550, 100), "22G1")
    reads: list[dict[str, Any]] = [{"containers": [in_rear]}] * 3 + [{"containers": [in_front]}] * 3
    passage = run(PassageFuser("in-1", "in"), driving_left(reads, [FRONT_BOX, REAR_BOX]))
    assert [(c.number, c.position) for c in passage.containers] == [(front, "front"), (rear, "rear")]


@pytest.mark.parametrize(("boxes", "reported"), [([FRONT_BOX, REAR_BOX], 2), ([FRONT_BOX], 1)])
def test_a_second_number_read_less_often_is_reported_when_two_boxes_were_seen(boxes: list[tuple[float, ...]],
                                                                             reported: int) -> None:
    """The rear box's number was read in every frame, the front box's twice, validated (a fifth of the evidence):
    with two boxes seen on the truck it is the front box's number; with one box seen it is noise."""
    front, rear = number("YMLU624816"), number("DRYU391348")
    in_front = ContainerObservation(front, 0.9, (130, 70, 300, 100), "22G1", check_digit_read=True)
    in_rear = ContainerObservation(rear, 0.9, (380, 70, 550, 100), "22G1", check_digit_read=True)
    reads: list[dict[str, Any]] = [{"containers": [in_rear, in_front]}] * 2 + [{"containers": [in_rear]}] * 8
    passage = run(PassageFuser("in-1", "in"), driving_left(reads, boxes))
    assert [c.number for c in passage.containers] == [front, rear][2 - reported:]


def test_a_truck_not_moving_across_the_camera_gives_its_boxes_no_place() -> None:
    read = ContainerObservation(number("MSCU123456"), 0.9, (130, 70, 300, 100))
    vehicles = Detections.from_arrays([TRUCK_BOX, FRONT_BOX, REAR_BOX], [0.9] * 3, [VEHICLE, CONTAINER, CONTAINER],
                                      tracker_id=[1, -1, -1])
    fuser = PassageFuser("in-1", "in")
    for k in range(3):
        fuser.update(CameraFrame(camera="rear", frame=k, t_s=k * 0.25, ts_utc=1.7e9, vehicles=vehicles,
                                 containers=[read]))
    (passage,) = fuser._open
    assert passage.evidence.two_box_frames == 3
    assert set(passage.evidence.numbers.candidates[read.number].votes) == set()

"""Container numbers put together from partial reads (`vision.fusion.number_assembly`), alone and in fusion."""

from __future__ import annotations

import pytest

from tests.vision.test_fusion import frames, number, run
from vision.fusion import ContainerObservation, PassageFuser
from vision.fusion.number_assembly import assembled, head_of, tail_of, with_read_check_digit

BOX = (150.0, 60.0, 300.0, 100.0)
#: What the OCR read of `GLDU4229845` on held-out seed 9405, each copy of the number partly hidden (read → count):
#: the roof gave the owner code and the serial's start, the rear doors the serial's end and the check digit.
SEED_9405_TRUCK_19 = {"GLD45": 11, "GLI29845": 7, "GL29845": 6, "U7UU422": 3, "GLDU42293": 2, "GLDU42295": 1,
                      "GLDU4229U5": 1, "GLDU4229": 1, "CLU42204": 1, "GL04Z29": 1, "GL729845": 1, "97684": 1}


def test_head_and_tail_of_a_read() -> None:
    assert head_of("GLDU4229U5") == "GLDU4229"
    assert head_of("GL29845") == ""
    assert tail_of("GLI29845") == "29845"
    assert tail_of("GLDU42293X") == ""
    assert tail_of("MSCU1234567890") == "4567890"  # at most the serial and the check digit


def test_the_reads_of_a_number_hidden_in_a_different_place_on_each_copy_make_the_number() -> None:
    parts = {text: 0.3 * count for text, count in SEED_9405_TRUCK_19.items()}
    assert assembled(parts) == {"GLDU4229845": pytest.approx(min(0.3 * 5, 0.3 * 15))}


@pytest.mark.parametrize("parts", [
    {"GLDU4229": 1.0},                   # a head alone
    {"GL29845": 1.0, "I29845": 1.0},     # tails alone
    {"GLDU4229": 1.0, "GL29846": 1.0},   # they join, but the check digit fails
    {"GLDU422": 1.0, "GL29845": 1.0},    # they overlap by one character only
    {"GLDU42": 1.0, "9845": 1.0},        # too short to overlap at all
])
def test_no_number_without_a_head_and_a_tail_that_overlap_and_validate(parts: dict[str, float]) -> None:
    assert assembled(parts) == {}


def partial(text: str, conf: float = 0.6) -> ContainerObservation:
    return ContainerObservation(text, conf, BOX, partial=True)


def test_fusion_reports_a_number_only_its_parts_were_read_of() -> None:
    reads = [{"containers": [partial("GLDU4229")]}] * 3 + [{"containers": [partial("GL29845")]}] * 3
    (container,) = run(PassageFuser("in-1", "in"), frames(reads)).containers
    assert container.number == "GLDU4229845"
    assert container.check_digit_ok
    assert 0.0 < container.confidence <= 0.6


def test_parts_of_a_number_read_whole_make_no_second_container() -> None:
    whole = number("MSCU123456")
    reads = [{"containers": [ContainerObservation(whole, 0.9, BOX)]}] * 3
    reads += [{"containers": [partial("MSCU1234"), partial("CU" + whole[6:]), partial("TGHU7654")]}] * 3
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert [c.number for c in passage.containers] == [whole]


def test_a_number_assembled_beside_one_read_whole_is_the_second_20ft_box() -> None:
    front, rear = number("MSCU123456"), "GLDU4229845"
    reads = [{"containers": [ContainerObservation(front, 0.9, BOX, "22G1")]}] * 3
    reads += [{"containers": [partial("GLDU4229", 0.7), partial("GL29845", 0.7)]}] * 3
    passage = run(PassageFuser("in-1", "in"), frames(reads))
    assert sorted(c.number for c in passage.containers) == sorted([front, rear])


@pytest.mark.parametrize(("part", "expected"), [
    ("GLDU4229U5", True),   # its head starts the number
    ("GL29845", True),      # its tail ends it
    ("GLDU4300", False),    # another serial
    ("GL45", False),        # a tail too short to say
])
def test_a_part_agrees_with_a_number_at_its_head_or_its_tail(part: str, expected: bool) -> None:
    from vision.fusion.number_assembly import agrees

    assert agrees(part, "GLDU4229845") is expected


@pytest.mark.parametrize(("number_read", "parts", "expected"), [
    ("GLDU1053794", {"GL1053789": 3.4}, "GLDU1053789"),  # a digit lost, the check digit read as the serial's last
    ("GLDU1053794", {"GL1053789": 3.4, "XU1053780": 1.0}, "GLDU1053789"),  # GLDU1053780 fails the check digit
    ("GLDU1053794", {"GL105378": 3.4}, None),  # six digits: no check digit read
    ("GLDU1053794", {"FBIU6864873": 3.4}, None),  # the other box's tail: more than a misread apart
    ("GLDU1053794", {}, None),
])
def test_a_computed_check_digit_gives_way_to_one_read_on_a_part(number_read: str, parts: dict[str, float],
                                                                 expected: str | None) -> None:
    assert with_read_check_digit(number_read, parts) == expected


def test_fusion_trusts_a_read_check_digit_over_a_computed_one() -> None:
    """`GLDU1053789` with its 8 hidden reads `GLDU105379` (check digit computed: `GLDU1053794`, valid and wrong) on
    the doors; the side shows the serial's end and the check digit. The number is the one the read check digit
    makes; its check digit is still reported as not read on the number."""
    hidden = ContainerObservation("GLDU1053794", 0.8, BOX, check_digit_read=False)
    reads = [{"containers": [hidden]}] * 4 + [{"containers": [partial("GL1053789")]}] * 4
    (container,) = run(PassageFuser("in-1", "in"), frames(reads)).containers
    assert container.number == "GLDU1053789"
    assert not container.check_digit_ok

"""Identifier grammars: check digits, plate formats, confusable characters, unknown plates."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.synth.identifiers import OWNER_CODES, is_valid_iso6346, iso6346_check_digit
from vision.grammar import (
    UNKNOWN,
    Evidence,
    evidence_from_text,
    read_container_number,
    read_plate,
    read_size_type,
)
from vision.grammar.alphabet import ALPHABET, INDEX
from vision.grammar.owners import default_registry, parse_registry, repaired_owner


@pytest.mark.parametrize("number", ["CSQU3054383", "MWCU6059784", "CBHU3202732", "MSKU3605161"])
def test_domain_numbers_validate(number: str) -> None:
    read = read_container_number(evidence_from_text(number))
    assert read is not None
    assert read.number == number
    assert read.check_digit_ok


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        ("MSKU36O5161", "MSKU3605161"),  # O -> 0 in a digit slot
        ("CSQU3D54383", "CSQU3054383"),  # D -> 0
        ("MWCU6O59784", "MWCU6059784"),
        ("CBHU32O2732", "CBHU3202732"),
        ("M5KU3605161", "MSKU3605161"),  # 5 -> S in a letter slot
        ("MSKU36051G1", "MSKU3605161"),  # G -> 6
        ("CBHU3ZO2732", "CBHU3202732"),  # Z -> 2
        ("C8HU3202732", "CBHU3202732"),  # 8 -> B
        ("MSKU3605I6I", "MSKU3605161"),  # I -> 1
    ],
)
def test_confusables_resolved_by_slot(seen: str, expected: str) -> None:
    read = read_container_number(evidence_from_text(seen))
    assert read is not None
    assert read.number == expected
    assert read.check_digit_ok


def _two_way(text: str, position: int, first: str, second: str, p_first: float) -> Evidence:
    """Evidence that hesitates at `position` between two characters."""
    ev = evidence_from_text(text)
    probs = ev.probs.copy()
    probs[position] = 0.0
    probs[position, INDEX[first]] = p_first
    probs[position, INDEX[second]] = 1.0 - p_first
    return Evidence(probs, text)


def test_check_digit_picks_the_less_likely_candidate_that_validates() -> None:
    # The model prefers 8 over 3 at serial position 4, but only the 3 validates.
    read = read_container_number(_two_way("CSQU3054383", 4, "8", "3", 0.6))
    assert read is not None
    assert read.number == "CSQU3054383"
    assert read.check_digit_ok


def test_wrong_check_digit_reported_when_nothing_validates() -> None:
    read = read_container_number(evidence_from_text("MSKU3605162", confidence=0.999999))
    assert read is not None
    assert read.check_digit_ok or read.number == "MSKU3605162"


def test_missing_check_digit_is_computed_but_not_trusted() -> None:
    read = read_container_number(evidence_from_text("MSKU360516"))
    assert read is not None
    assert read.number == "MSKU3605161"
    assert not read.check_digit_ok


@pytest.mark.parametrize("text", ["", "MSK", "12345"])
def test_no_container_number(text: str) -> None:
    assert read_container_number(evidence_from_text(text)) is None


@pytest.mark.parametrize(
    ("seen", "text", "fmt"),
    [
        ("12C12345", "12C-123.45", "vn"),
        ("12C-123.45", "12C-123.45", "vn"),
        ("12C-1234", "12C-1234", "vn"),
        ("51R-141.39", "51R-141.39", "vn_trailer"),
        ("29LD-123.45", "29LD-123.45", "vn"),
        ("I2C-I23.4S", "12C-123.45", "vn"),  # I -> 1, S -> 5 in digit slots
        ("128-123.45", "12B-123.45", "vn"),  # 8 -> B in the series slot
        ("桂A·12345", "桂A·12345", "cn"),
        ("桂A12345", "桂A·12345", "cn"),
        ("桂A·1234挂", "桂A·1234挂", "cn_trailer"),
        ("粤B·D12345", "粤B·D12345", "cn_new_energy"),
        ("桂A·1234O", "桂A·12340", "cn"),  # O is not used on CN plates: read as 0
    ],
)
def test_plate_formats(seen: str, text: str, fmt: str) -> None:
    read = read_plate(evidence_from_text(seen))
    assert (read.text, read.format) == (text, fmt)


@pytest.mark.parametrize("seen", ["ABCDEFG", "12O-123.45", "10C-123.45", "12W-123.45", "XYZ", "1234567890123"])
def test_plate_outside_every_format_is_kept_as_unknown(seen: str) -> None:
    read = read_plate(evidence_from_text(seen))
    assert read.format == UNKNOWN
    assert read.text == "".join(ch for ch in seen if ch.isalnum())


def test_two_line_plate_lines_joined() -> None:
    read = read_plate(evidence_from_text("12C") + evidence_from_text("123.45"))
    assert (read.text, read.format) == ("12C-123.45", "vn")


def test_spurious_character_is_dropped() -> None:
    ev = evidence_from_text("MSKU3605161")
    noise = np.full((1, len(ALPHABET)), 0.3 / len(ALPHABET), np.float32)
    read = read_container_number(Evidence(np.concatenate([noise, ev.probs]), "?" + ev.raw))
    assert read is not None
    assert read.number == "MSKU3605161"
    assert read.check_digit_ok


def test_a_character_torn_between_two_readings_is_not_dropped_to_fit_a_shorter_format() -> None:
    ev = evidence_from_text("81R46079")
    torn = ev.probs.copy()
    torn[-1] = 0.01 / len(ALPHABET)
    torn[-1, INDEX["9"]] = torn[-1, INDEX["5"]] = 0.41
    torn[4, INDEX["6"]], torn[6, INDEX["7"]] = 0.52, 0.6  # a hesitant read, as a small padded crop gives
    read = read_plate(Evidence(torn, ev.raw))
    assert read.text in ("81R-460.79", "81R-460.75")  # the 8-character format, not `81R-4607`


@pytest.mark.parametrize(
    ("seen", "code", "known"),
    [("22G1", "22G1", True), ("2261", "22G1", True), ("4SG1", "45G1", True), ("L5G1", "L5G1", True),
     ("45R1", "45R1", True), ("22U1", "22U1", True), ("99X9", "99X9", False)],
)
def test_size_types(seen: str, code: str, known: bool) -> None:
    read = read_size_type(evidence_from_text(seen))
    assert read is not None
    assert (read.code, read.known) == (code, known)


def test_evidence_shape_checked() -> None:
    with pytest.raises(ValueError, match="probs must have shape"):
        Evidence(np.zeros((3, 5), np.float32), "abc")


def _check_digit_read_as(text: str, read: str, p_read: float, p_true: float, true: str) -> Evidence:
    """Evidence whose check digit row reads `read` but keeps some probability on `true`."""
    probs = evidence_from_text(text).probs.copy()
    probs[10] = 0.0
    probs[10, INDEX[read]] = p_read
    probs[10, INDEX[true]] = p_true
    return Evidence(probs, text)


@pytest.mark.parametrize(
    ("evidence", "number", "check_digit_ok"),
    [
        (evidence_from_text("HLXU5147059"), "HLXU5147059", True),
        (evidence_from_text("HLXU 514705 9"), "HLXU5147059", True),
        (evidence_from_text("HLXU51470S9"), "HLXU5147059", True),  # serial S -> 5, check digit as read
        (evidence_from_text("HLXU51470599"), "HLXU5147059", True),  # a doubled character dropped
        (evidence_from_text("HLXU514705"), "HLXU5147059", False),  # check digit not seen: computed
        (evidence_from_text("HLXU514705g"), "HLXU5147059", False),  # not a character of the alphabet: not seen
        (evidence_from_text("HLXU514705B"), "HLXU5147058", False),  # B -> 8 read, and 8 does not validate
        (_check_digit_read_as("HLXU5147058", "8", 0.9, 0.05, "9"), "HLXU5147059", False),  # swapped to fit
        (_check_digit_read_as("HLXU5147059", "9", 0.6, 0.4, "8"), "HLXU5147059", True),
    ],
)
def test_check_digit_ok_means_the_read_string_validates(evidence: Evidence, number: str,
                                                         check_digit_ok: bool) -> None:
    read = read_container_number(evidence)
    assert read is not None
    assert (read.number, read.check_digit_ok) == (number, check_digit_ok)


# --- owner codes: a misread that cancels in the check sum, repaired by the registry -----------------------------

def test_registry_parses_codes_and_skips_comments_and_junk() -> None:
    lines = ["# header", "oolu  # OOCL", "MSKU", "", "TOOLONG", "AB1U", "ABCX", "  cmau  "]
    assert parse_registry(lines) == frozenset({"OOLU", "MSKU", "CMAU"})


def test_shipped_registry_knows_the_generators_owners() -> None:
    registry = default_registry()
    assert {code + "U" for code in OWNER_CODES} <= registry


def test_two_lookalike_misreads_that_validate_are_repaired() -> None:
    # Q/O and D/O cancel in the check sum: the misread validates on its own (seen on held-out seed 9402).
    plain = read_container_number(evidence_from_text("QDLU1097762"), frozenset())
    assert plain is not None
    assert plain.number == "QDLU1097762"
    assert plain.check_digit_ok
    read = read_container_number(evidence_from_text("QDLU1097762"), frozenset({"OOLU", "MSKU"}))
    assert read is not None
    assert read.number == "OOLU1097762"
    assert read.check_digit_ok
    assert read.confidence < plain.confidence
    assert read.raw == "QDLU1097762"


def test_unregistered_code_with_no_unique_valid_lookalike_is_kept() -> None:
    registry = frozenset({"OOLU", "MSKU"})
    assert repaired_owner("ABCU1234560", registry) is None  # no look-alike registered: a new owner stays readable
    assert repaired_owner("OOLU1097762", registry) is None  # registered already
    assert repaired_owner("QDLU1097763", registry) is None  # OOLU1097763 fails its check digit
    # Two registered look-alikes that both keep the number valid (GDLU and OOLU): ambiguous, left as read.
    assert is_valid_iso6346("GDLU1097762")
    assert repaired_owner("QDLU1097762", frozenset({"OOLU", "GDLU"})) is None


def test_repair_keeps_the_category_and_needs_lookalike_letters() -> None:
    assert repaired_owner("QDLJ1097762", frozenset({"OOLU"})) is None  # category J is not U
    assert repaired_owner("AALU1097762", frozenset({"OOLU"})) is None  # A does not look like O


def test_repair_is_rare_for_unregistered_valid_numbers() -> None:
    """A real owner missing from the registry is rewritten only when a look-alike happens to validate."""
    rng = np.random.default_rng(7)
    registry = default_registry()
    repaired = 0
    for _ in range(2000):
        owner = "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 3)) + "U"
        head = owner + f"{int(rng.integers(0, 10**6)):06d}"
        number = head + str(iso6346_check_digit(head))
        repaired += owner not in registry and repaired_owner(number, registry) is not None
    assert repaired / 2000 < 0.03

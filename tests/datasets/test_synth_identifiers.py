"""Identifier grammars and generators of the synthetic generator (shared with the OCR grammar code)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from datasets.synth.identifiers import (
    CN_PROVINCES,
    cn_plate_lines,
    is_valid_cn_plate,
    is_valid_iso6346,
    is_valid_vn_plate,
    iso6346_check_digit,
    random_cn_plate,
    random_container_number,
    random_seal_number,
    random_size_type,
    random_vn_plate,
    size_type_length_ft,
    vn_plate_lines,
)

DOMAIN_EXAMPLES = ["CSQU3054383", "MWCU6059784", "CBHU3202732", "MSKU3605161"]


@pytest.mark.parametrize("number", DOMAIN_EXAMPLES)
def test_domain_container_numbers_validate(number: str) -> None:
    assert is_valid_iso6346(number)
    assert iso6346_check_digit(number[:10]) == int(number[10])


@pytest.mark.parametrize(("number", "valid"), [
    ("CSQU3054384", False),     # wrong check digit
    ("CSQU 3054383", False),    # spaces are not part of the canonical form
    ("csqu3054383", False),     # lower case
    ("CSQX3054383", False),     # category must be U, J or Z
    ("CSQU305438", False),      # too short
    ("", False),
    ("HALU2089976", True),
    ("TRHU1700369", True),
])
def test_iso6346_validation_table(number: str, valid: bool) -> None:
    assert is_valid_iso6346(number) is valid


def test_remainder_ten_becomes_zero() -> None:
    values = [10, 12, 13, 32]  # A, B, C, U: letters skip 11, 22 and 33
    for serial in range(10_000):
        digits = f"{serial:06d}"
        total = sum(v << i for i, v in enumerate(values + [int(d) for d in digits]))
        if total % 11 == 10:
            assert iso6346_check_digit("ABCU" + digits) == 0
            return
    pytest.fail("no serial with remainder 10 found")


@pytest.mark.parametrize("bad", ["MSKU36051", "MSKU36051X1", "1SKU360516"])
def test_check_digit_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError, match="expected 4 capital letters and 6 digits"):
        iso6346_check_digit(bad)


def test_random_container_numbers_are_valid_and_varied() -> None:
    rng = np.random.default_rng(1)
    numbers = {random_container_number(rng) for _ in range(500)}
    assert len(numbers) > 490
    assert all(is_valid_iso6346(n) and n[3] == "U" for n in numbers)


@pytest.mark.parametrize(("code", "feet"), [("22G1", 20), ("42G1", 40), ("45G1", 40), ("45R1", 40), ("22U1", 20),
                                            ("L5G1", 45)])
def test_size_type_lengths(code: str, feet: int) -> None:
    assert size_type_length_ft(code) == feet


@pytest.mark.parametrize("feet", [20, 40, 45])
def test_random_size_type_matches_length(feet: int) -> None:
    rng = np.random.default_rng(feet)
    assert {size_type_length_ft(random_size_type(rng, feet)) for _ in range(50)} == {feet}


@pytest.mark.parametrize(("text", "valid"), [
    ("12C-123.45", True), ("51R-141.39", True), ("12C-1234", True), ("29LD-123.45", True), ("14C-00001", False),
    ("12I-123.45", False), ("12O-123.45", False), ("12W-123.45", False), ("12Q-123.45", False), ("12J-123.45", False),
    ("13C-123.45", False), ("12C123.45", False), ("12C-12.345", False), ("", False),
])
def test_vn_plate_grammar(text: str, valid: bool) -> None:
    assert is_valid_vn_plate(text) is valid


def test_random_vn_plates_follow_the_grammar() -> None:
    rng = np.random.default_rng(7)
    plates = [random_vn_plate(rng) for _ in range(2000)]
    assert all(is_valid_vn_plate(p) for p in plates)
    assert sum(p.startswith("12") for p in plates) > 300          # Lạng Sơn is the most common
    assert any(re.fullmatch(r"\d\d[A-Z]+-\d{4}", p) for p in plates)  # older 4-digit serials occur
    series = {p.split("-")[0][2:] for p in plates}
    assert not series & set("IJOQW")
    trailers = [random_vn_plate(rng, trailer=True) for _ in range(200)]
    assert all(is_valid_vn_plate(p) and p[2] == "R" for p in trailers)


def test_vn_two_line_split() -> None:
    assert vn_plate_lines("12C-123.45") == ("12C", "123.45")
    assert vn_plate_lines("51R-141.39") == ("51R", "141.39")


@pytest.mark.parametrize(("text", "valid"), [
    ("桂A·12345", True), ("桂A·1234挂", True), ("粤B·9X12Q", True), ("桂I·12345", False), ("桂A·1O345", False),
    ("桂A12345", False), ("XA·12345", False), ("桂A·123456", False), ("桂A·12345挂", False),
])
def test_cn_plate_grammar(text: str, valid: bool) -> None:
    assert is_valid_cn_plate(text) is valid


def test_random_cn_plates_follow_the_grammar() -> None:
    rng = np.random.default_rng(3)
    plates = [random_cn_plate(rng) for _ in range(2000)]
    assert all(is_valid_cn_plate(p) and p[0] in CN_PROVINCES for p in plates)
    assert sum(p[0] == "桂" for p in plates) > 900
    assert not any(ch in "IO" for p in plates for ch in p)
    trailers = [random_cn_plate(rng, trailer=True) for _ in range(200)]
    assert all(is_valid_cn_plate(p) and p.endswith("挂") for p in trailers)
    assert cn_plate_lines("桂A·1234挂") == ("桂A", "1234挂")


def test_seal_numbers_are_opaque_serials() -> None:
    rng = np.random.default_rng(5)
    seals = {random_seal_number(rng) for _ in range(300)}
    assert len(seals) > 290
    assert all(re.fullmatch(r"[A-Z-]*\d{6,8}", s) for s in seals)

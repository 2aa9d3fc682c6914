"""Identifier grammars every component shares: ISO 6346 container numbers, Vietnamese and Chinese plates.

Facts only (character values, province codes, series letters, canonical patterns) and their validators. They live
in `bus` because every layer needs them: the synthetic generator draws identifiers, the OCR grammar decodes them,
the clearance engine validates declarations, and `bus` imports nothing of the project. See DOMAIN.md.
"""

from __future__ import annotations

import re
import string

# --- ISO 6346 -----------------------------------------------------------------------------------------------


def _letter_values() -> dict[str, int]:
    """A=10, B=12 ...: counting up from 10 and skipping the multiples of 11."""
    values: dict[str, int] = {}
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


ISO6346_VALUES: dict[str, int] = {**_letter_values(), **{d: int(d) for d in string.digits}}
ISO6346_PATTERN = re.compile(r"^[A-Z]{3}[UJZ][0-9]{7}$")


def iso6346_check_digit(owner_serial10: str) -> int:
    """The check digit of the first 10 characters (owner code, category letter, 6-digit serial)."""
    if len(owner_serial10) != 10 or not re.fullmatch(r"[A-Z]{4}[0-9]{6}", owner_serial10):
        raise ValueError(f"expected 4 capital letters and 6 digits, got {owner_serial10!r}")
    total = sum(ISO6346_VALUES[ch] << i for i, ch in enumerate(owner_serial10))
    return total % 11 % 10


def is_valid_iso6346(number: str) -> bool:
    """True for an 11-character container number whose check digit matches (no spaces)."""
    if not ISO6346_PATTERN.fullmatch(number):
        return False
    return iso6346_check_digit(number[:10]) == int(number[10])


# --- Vietnamese plates -----------------------------------------------------------------------------------------

#: Province codes (Circular 79/2024): 12 Lạng Sơn first, then the provinces whose trucks use the border road.
VN_PROVINCES: tuple[str, ...] = tuple(
    f"{code:02d}"
    for code in (*range(11, 13), *range(14, 39), 40, 41, 43, *range(47, 87), 88, 89, 90, *range(92, 96), 97, 98, 99)
)
#: Series letters: I, J, O, Q and W are not used.
VN_SERIES_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"
VN_SPECIAL_SERIES: tuple[str, ...] = ("LD", "DA", "KT", "NG", "QT", "NN", "CV", "MK", "HC", "LB", "CT")
VN_PLATE_PATTERN = re.compile(
    rf"^(\d{{2}})([{VN_SERIES_LETTERS}]|{'|'.join(VN_SPECIAL_SERIES)})-(\d{{3}}\.\d{{2}}|\d{{4}})$"
)


def is_valid_vn_plate(text: str) -> bool:
    """Canonical VN plate grammar: province code, a series letter or special pair, `-`, `123.45` or `1234`."""
    match = VN_PLATE_PATTERN.fullmatch(text)
    return match is not None and match.group(1) in VN_PROVINCES


# --- Chinese plates --------------------------------------------------------------------------------------------

CN_PROVINCES = "桂粤湘云贵川渝鄂赣闽浙苏沪皖鲁豫冀京津晋蒙辽吉黑陕甘宁青新藏琼"
#: Authority and serial letters: I and O are not used.
CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
CN_DOT = "·"
CN_TRAILER = "挂"
CN_PLATE_PATTERN = re.compile(rf"^([{CN_PROVINCES}])([A-HJ-NP-Z]){CN_DOT}([A-HJ-NP-Z0-9]{{5}}|[A-HJ-NP-Z0-9]{{4}}挂)$")


def is_valid_cn_plate(text: str) -> bool:
    """Canonical CN plate grammar: province character, authority letter, `·`, 5 characters or 4 and `挂`."""
    return CN_PLATE_PATTERN.fullmatch(text) is not None

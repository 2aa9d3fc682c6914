"""The identifier formats as decoder templates: ISO 6346 numbers, size-type codes, Vietnamese and Chinese plates.

Validators and canonical spellings come from `datasets.synth.identifiers`, the same code that draws the synthetic
identifiers, so what the generator writes and what the reader accepts cannot drift apart.
"""

from __future__ import annotations

from datasets.synth.identifiers import (
    CN_DOT,
    CN_LETTERS,
    CN_PROVINCES,
    CN_TRAILER,
    SIZE_TYPES,
    VN_PROVINCES,
    VN_SERIES_LETTERS,
    VN_SPECIAL_SERIES,
    is_valid_cn_plate,
    is_valid_iso6346,
    is_valid_vn_plate,
)
from vision.grammar.alphabet import DIGITS, LETTERS, mask_of
from vision.grammar.decoder import Slot, Template

_L = Slot(mask_of(LETTERS))
_D = Slot(mask_of(DIGITS))
_CATEGORY = Slot(mask_of("UJZ"))
_VN_SERIES = Slot(mask_of(VN_SERIES_LETTERS))
_VN_SPECIAL_FIRST = Slot(mask_of("".join(sorted({s[0] for s in VN_SPECIAL_SERIES}))))
_VN_SPECIAL_SECOND = Slot(mask_of("".join(sorted({s[1] for s in VN_SPECIAL_SERIES}))))
_CN_PROVINCE = Slot(mask_of(CN_PROVINCES))
_CN_LETTER = Slot(mask_of(CN_LETTERS))
_CN_ANY = Slot(mask_of(CN_LETTERS + DIGITS))
_CN_ENERGY = Slot(mask_of("DF"))
_CN_TRAILER = Slot(mask_of(CN_TRAILER))
#: A digit-only slot, public for checks on single evidence rows (a container number's check digit).
DIGIT_SLOT = _D


def _same(text: str) -> str:
    return text


# --- ISO 6346 --------------------------------------------------------------------------------------------------

ISO6346 = Template("iso6346", (_L, _L, _L, _CATEGORY, *(_D,) * 7), is_valid_iso6346, _same)
#: Owner code and serial without the check digit, for reads that lost it (a boxed digit cut off at the crop edge).
ISO6346_NO_CHECK = Template("iso6346_no_check", (_L, _L, _L, _CATEGORY, *(_D,) * 6), lambda _t: True, _same)

# --- size-type codes -------------------------------------------------------------------------------------------

SIZE_TYPE = Template(
    "size_type", (Slot(mask_of(DIGITS + "L")), _D, _L, _D), lambda text: text in SIZE_TYPES, _same
)

# --- Vietnamese plates -----------------------------------------------------------------------------------------


def _vn_canonical(text: str) -> str:
    """`12C12345` → `12C-123.45`; `12C1234` → `12C-1234`; `29LD12345` → `29LD-123.45`."""
    series_len = 2 if text[3].isalpha() else 1
    head, serial = text[: 2 + series_len], text[2 + series_len:]
    return f"{head}-{serial[:3]}.{serial[3:]}" if len(serial) == 5 else f"{head}-{serial}"


def _vn_valid(text: str) -> bool:
    return text[:2] in VN_PROVINCES and is_valid_vn_plate(_vn_canonical(text))


VN_TEMPLATES: tuple[Template, ...] = tuple(
    Template("vn", (_D, _D, *series, *(_D,) * serial_len), _vn_valid, _vn_canonical)
    for series in ((_VN_SERIES,), (_VN_SPECIAL_FIRST, _VN_SPECIAL_SECOND))
    for serial_len in (5, 4)
)

# --- Chinese plates --------------------------------------------------------------------------------------------


def _cn_canonical(text: str) -> str:
    """`桂A12345` → `桂A·12345`."""
    return f"{text[:2]}{CN_DOT}{text[2:]}"


def _cn_valid(text: str) -> bool:
    return is_valid_cn_plate(_cn_canonical(text))


def _cn_energy_valid(text: str) -> bool:
    """New-energy plates: 6 characters after the authority letter, `D`/`F` first (small) or last (large)."""
    rest = text[2:]
    return len(rest) == 6 and ((rest[0] in "DF" and rest[2:].isdigit()) or (rest[:5].isdigit() and rest[5] in "DF"))


CN_TEMPLATES: tuple[Template, ...] = (
    Template("cn", (_CN_PROVINCE, _CN_LETTER, *(_CN_ANY,) * 5), _cn_valid, _cn_canonical),
    Template("cn_trailer", (_CN_PROVINCE, _CN_LETTER, *(_CN_ANY,) * 4, _CN_TRAILER), _cn_valid, _cn_canonical),
    Template("cn_new_energy", (_CN_PROVINCE, _CN_LETTER, _CN_ENERGY, _CN_ANY, *(_D,) * 4), _cn_energy_valid,
             _cn_canonical),
    Template("cn_new_energy", (_CN_PROVINCE, _CN_LETTER, *(_D,) * 5, _CN_ENERGY), _cn_energy_valid,
             _cn_canonical),
)

PLATE_TEMPLATES: tuple[Template, ...] = VN_TEMPLATES + CN_TEMPLATES


def plate_format_name(template: str, text: str) -> str:
    """The reported plate format: `vn`, `vn_trailer` (series R), `cn`, `cn_trailer`, `cn_new_energy`."""
    if template == "vn" and text[2] == "R" and text[3] == "-":
        return "vn_trailer"
    return template

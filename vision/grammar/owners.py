"""Registered ISO 6346 owner codes, and the repair of an owner code misread as a look-alike.

The check digit guards the serial well, but two letter misreads in the owner code can cancel in the check sum:
`OOLU1097762` read as `QDLU1097762` validates too (Q and O differ by 2 in ISO 6346 values, D and O by 12, and
2 - 2 x 12 = -22 is a multiple of 11). Owner codes are not free text: every operator registers its code with
the BIC, and a gate meets a few hundred of them. An owner code that is not registered, one or two look-alike
letters away from exactly one registered code that keeps the number valid, is that code misread.

The registry ships as `owner_codes.txt` beside this module (one code per line, `#` comments); a site updates it
from the BIC's published list. A code not in the registry is still read as it is: a new lessor's boxes must not
become unreadable, and a repair needs one unambiguous registered alternative.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from datasets.synth.identifiers import is_valid_iso6346

REGISTRY_FILE = Path(__file__).with_name("owner_codes.txt")
#: Letters an OCR model confuses with each other in painted owner codes (round, narrow, multi-stroke, ...).
LOOKALIKES: tuple[str, ...] = ("CDGOQ", "IJLT", "HMNW", "EF", "BPR", "KX", "UVY")
MAX_REPAIRS = 2

_GROUP = {ch: group for group in LOOKALIKES for ch in group}


def parse_registry(lines: Iterable[str]) -> frozenset[str]:
    """Owner codes (three letters and the category letter) from registry lines; other text is ignored."""
    codes = set()
    for line in lines:
        code = line.split("#", 1)[0].strip().upper()
        if len(code) == 4 and code.isascii() and code.isalpha() and code[3] in "UJZ":
            codes.add(code)
    return frozenset(codes)


@cache
def default_registry() -> frozenset[str]:
    """The shipped registry (empty, so nothing is repaired, if the file is missing)."""
    try:
        return parse_registry(REGISTRY_FILE.read_text(encoding="utf-8").splitlines())
    except OSError:
        return frozenset()


def _lookalike(a: str, b: str) -> bool:
    return a == b or (a in _GROUP and _GROUP[a] == _GROUP.get(b))


def repaired_owner(number: str, registry: frozenset[str]) -> str | None:
    """The number with its owner code replaced by the one registered look-alike that keeps it valid, else None
    (registered already, no such code, or more than one)."""
    owner = number[:4]
    if owner in registry or len(number) != 11:
        return None
    found = [code for code in _neighbours(owner, registry) if is_valid_iso6346(code + number[4:])]
    return found[0] + number[4:] if len(found) == 1 else None


def _neighbours(owner: str, registry: frozenset[str]) -> Iterable[str]:
    """Registered codes that differ from `owner` only in up to `MAX_REPAIRS` look-alike letters (category kept)."""
    for code in registry:
        if code[3] != owner[3]:
            continue
        diffs = [i for i in range(3) if code[i] != owner[i]]
        if 0 < len(diffs) <= MAX_REPAIRS and all(_lookalike(owner[i], code[i]) for i in diffs):
            yield code


"""Identifier checks for the clearance engine: plates, ISO 6346 container numbers, seals, and OCR-tolerant comparison.

The grammar facts (check digit, province codes, series letters) are the shared ones of `bus.identifiers`; here they
are applied to what a declaration or a passage carries, with reasons a person can read, and a weighted edit distance
in which a substitution a camera commonly makes (`O`/`0`, `B`/`8` ...) costs less than an arbitrary one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

from bus.identifiers import (
    CN_PROVINCES,
    CN_TRAILER,
    ISO6346_PATTERN,
    VN_PROVINCES,
    VN_SERIES_LETTERS,
    VN_SPECIAL_SERIES,
    iso6346_check_digit,
)

#: Characters that only separate groups on plates, containers and seals; they carry no identity.
SEPARATORS = frozenset(" \t-.·•・_:,;/\\|")

#: Pairs a camera confuses (the same list the OCR grammar folds on); each maps to one class for indexing.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("O", "0"), ("D", "0"), ("Q", "0"), ("I", "1"), ("B", "8"), ("S", "5"), ("Z", "2"), ("G", "6"),
)
_FOLD = {a: b for a, b in CONFUSABLE_PAIRS}

# --- ISO 6346 -------------------------------------------------------------------------------------------------


def container_problem(number: str) -> str | None:
    """Why `number` (already compacted) is not a valid ISO 6346 container number, or None."""
    if not ISO6346_PATTERN.fullmatch(number):
        return (f"{number!r} is not an ISO 6346 number (3-letter owner code, U/J/Z, 6-digit serial, check digit, "
                "e.g. MSKU3605161)")
    expected = iso6346_check_digit(number[:10])
    if expected != int(number[10]):
        return f"{number!r} has check digit {number[10]}, ISO 6346 gives {expected}"
    return None


# --- plates -----------------------------------------------------------------------------------------------------

_VN_PLATE = re.compile(r"([0-9]{2})([A-Z]{1,2})([0-9]{4,5})")
_CN_PLATE = re.compile(rf"([{CN_PROVINCES}])([A-HJ-NP-Z])([A-HJ-NP-Z0-9]{{5,6}}|[A-HJ-NP-Z0-9]{{4}}{CN_TRAILER})")


@lru_cache(maxsize=65536)
def compact(text: str) -> str:
    """Upper case, full-width folded (NFKC), separators dropped: the form identifiers are compared in."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if ch not in SEPARATORS and not ch.isspace())


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """`compact` with each confusable character replaced by its class (`O`, `D`, `Q` → `0`): an index key that
    two reads differing only by OCR confusions share."""
    return "".join(_FOLD.get(ch, ch) for ch in compact(text))


def canonical_plate(text: str) -> str:
    """The canonical spelling of a VN (`12C-123.45`, `12C-1234`) or CN (`桂A·12345`, `桂A·1234挂`) plate.

    Separators and case are free on input (`12c 12345`). Raises `ValueError` saying what is wrong.
    """
    raw = compact(text)
    if not raw:
        raise ValueError("empty plate")
    if raw[0] in CN_PROVINCES:
        return _canonical_cn(raw)
    if raw[:2].isdigit():
        return _canonical_vn(raw)
    raise ValueError(f"{text!r} is neither a Vietnamese plate (12C-123.45) nor a Chinese one (桂A·12345)")


def _canonical_vn(raw: str) -> str:
    match = _VN_PLATE.fullmatch(raw)
    if match is None:
        raise ValueError(f"{raw!r} is not a Vietnamese plate: expected a 2-digit province code, a series letter "
                         "(or a special pair such as LD) and 4 or 5 digits, e.g. 12C-123.45")
    province, series, serial = match.groups()
    if province not in VN_PROVINCES:
        raise ValueError(f"{province!r} is not a Vietnamese province code")
    if not (len(series) == 1 and series in VN_SERIES_LETTERS) and series not in VN_SPECIAL_SERIES:
        raise ValueError(f"series {series!r} is not used on Vietnamese plates")
    tail = f"{serial[:3]}.{serial[3:]}" if len(serial) == 5 else serial
    return f"{province}{series}-{tail}"


def _canonical_cn(raw: str) -> str:
    match = _CN_PLATE.fullmatch(raw)
    if match is None:
        raise ValueError(f"{raw!r} is not a Chinese plate: expected a province character, an authority letter "
                         "(not I or O) and 5 characters (4 and 挂 for a trailer), e.g. 桂A·12345")
    province, authority, rest = match.groups()
    return f"{province}{authority}·{rest}"


# --- OCR-tolerant comparison ------------------------------------------------------------------------------------


def weighted_distance(read: str, declared: str, confusable_cost: float, limit: float = math.inf) -> float:
    """Edit distance between two compacted identifiers in which swapping confusable characters costs
    `confusable_cost` and any other edit 1.

    Exact up to `limit`; beyond it the result is only known to exceed `limit` (``inf``). The limit keeps the hot
    path cheap: under 1 only substitutions can fit (one linear pass), otherwise only a band of `limit` cells
    either side of the diagonal can (an alignment needing more insertions or deletions costs more).
    """
    if read == declared:
        return 0.0
    n, m = len(read), len(declared)
    if abs(n - m) > limit:
        return math.inf
    if limit < 1.0:
        return _substitutions(read, declared, confusable_cost, limit)
    band = n + m if math.isinf(limit) else int(limit)
    inf = math.inf
    previous = [float(j) if j <= band else inf for j in range(m + 1)]
    for i in range(1, n + 1):
        a = read[i - 1]
        fa = _FOLD.get(a, a)
        low, high = max(1, i - band), min(m, i + band)
        current = [inf] * (m + 1)
        if i <= band:
            current[0] = float(i)
        for j in range(low, high + 1):
            b = declared[j - 1]
            if a == b:
                best = previous[j - 1]
            elif fa == _FOLD.get(b, b):
                best = previous[j - 1] + confusable_cost
            else:
                best = previous[j - 1] + 1.0
            if previous[j] + 1.0 < best:
                best = previous[j] + 1.0
            if current[j - 1] + 1.0 < best:
                best = current[j - 1] + 1.0
            current[j] = best
        if min(current) > limit:
            return inf
        previous = current
    return previous[m] if previous[m] <= limit else inf


def _substitutions(read: str, declared: str, confusable_cost: float, limit: float) -> float:
    """The distance when only substitutions can stay under `limit` (equal lengths, limit below 1)."""
    total = 0.0
    for a, b in zip(read, declared, strict=True):
        if a != b:
            total += confusable_cost if _FOLD.get(a, a) == _FOLD.get(b, b) else 1.0
            if total > limit:
                return math.inf
    return total


def deletion_keys(key: str) -> set[str]:
    """`key` and every string with one character left out: two keys within one edit share at least one of these
    (the symmetric-deletion trick), which gives an index tolerant to one non-confusable OCR error."""
    return {key, *(key[:i] + key[i + 1:] for i in range(len(key)))}

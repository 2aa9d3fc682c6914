"""Identifier grammars and random generators: Vietnamese and Chinese plates, ISO 6346 numbers, seals.

The generators draw from a seeded `numpy.random.Generator`, so a scenario is reproducible. Formats follow
`DOMAIN.md`: VN `12C-123.45` (older `12C-1234`, trailers series `R`), CN `桂A·12345` (trailers `桂A·1234挂`),
ISO 6346 `MSKU3605161` with its check digit. The validators are shared with the OCR grammar code.
"""

from __future__ import annotations

import re

import numpy as np

from bus.identifiers import (
    CN_DOT,
    CN_LETTERS,
    CN_PLATE_PATTERN,
    CN_PROVINCES,
    CN_TRAILER,
    ISO6346_PATTERN,
    ISO6346_VALUES,
    VN_PLATE_PATTERN,
    VN_PROVINCES,
    VN_SERIES_LETTERS,
    VN_SPECIAL_SERIES,
    is_valid_cn_plate,
    is_valid_iso6346,
    is_valid_vn_plate,
    iso6346_check_digit,
)

__all__ = [  # the shared grammar, re-exported for the generator's callers
    "CN_DOT", "CN_LETTERS", "CN_PLATE_PATTERN", "CN_PROVINCES", "CN_TRAILER", "ISO6346_PATTERN", "ISO6346_VALUES",
    "VN_PLATE_PATTERN", "VN_PROVINCES", "VN_SERIES_LETTERS", "VN_SPECIAL_SERIES", "is_valid_cn_plate",
    "is_valid_iso6346", "is_valid_vn_plate", "iso6346_check_digit",
]

# --- ISO 6346 -----------------------------------------------------------------------------------------------

# Owner prefixes that look like real operators and lessors (the category letter U is appended).
OWNER_CODES: tuple[str, ...] = (
    "MSK", "MSC", "CMA", "CSQ", "CBH", "OOL", "EGH", "EIS", "HLX", "TGH", "TCN", "TRH", "BEA", "MWC", "SEG", "HAL",
    "FCI", "GES", "TEM", "CAI", "DFS", "BMO", "YML", "ONE", "APZ", "ZCS", "NYK", "KKF", "SUD", "TLL", "CRX", "FSC",
    "GLD", "UET", "TTN", "DRY", "WHL", "SIT", "TSS", "CXD", "PCI", "GAO", "XIN", "FBI", "IPX", "CCL", "HMM", "KMT",
)


def random_container_number(rng: np.random.Generator) -> str:
    """A valid ISO 6346 freight-container number, e.g. `MSKU3605161`."""
    owner = OWNER_CODES[int(rng.integers(len(OWNER_CODES)))] + "U"
    serial = f"{int(rng.integers(0, 1_000_000)):06d}"
    return f"{owner}{serial}{iso6346_check_digit(owner + serial)}"


def split_container_number(number: str) -> tuple[str, str, str]:
    """(`MSKU`, `360516`, `1`): the three groups painted on a container."""
    return number[:4], number[4:10], number[10:]


#: Size-type code → (length in feet, weight when drawn).
SIZE_TYPES: dict[str, tuple[int, float]] = {
    "22G1": (20, 0.45), "22G0": (20, 0.05), "22U1": (20, 0.04), "22R1": (20, 0.05), "22T1": (20, 0.01),
    "25G1": (20, 0.03), "42G1": (40, 0.12), "45G1": (40, 0.4), "45R1": (40, 0.1), "42U1": (40, 0.03),
    "L5G1": (45, 0.02), "L5R1": (45, 0.01),
}
SIZE_TYPE_PATTERN = re.compile(r"^[0-9L][0-9][A-Z][0-9]$")


def size_type_length_ft(code: str) -> int:
    """Container length from a size-type code's first character (2 = 20 ft, 4 = 40 ft, L = 45 ft)."""
    lengths = {"2": 20, "4": 40, "L": 45}
    if not SIZE_TYPE_PATTERN.fullmatch(code) or code[0] not in lengths:
        raise ValueError(f"not a size-type code: {code!r}")
    return lengths[code[0]]


def is_high_cube(code: str) -> bool:
    """Second character 5 means 9 ft 6 in high."""
    return len(code) == 4 and code[1] == "5"


def random_size_type(rng: np.random.Generator, length_ft: int | None = None) -> str:
    """A size-type code, optionally of a given length (20, 40 or 45 ft)."""
    codes = [c for c, (ft, _) in SIZE_TYPES.items() if length_ft is None or ft == length_ft]
    if not codes:
        raise ValueError(f"no size-type code for {length_ft} ft")
    weights = np.array([SIZE_TYPES[c][1] for c in codes])
    return codes[int(rng.choice(len(codes), p=weights / weights.sum()))]


# --- seals -----------------------------------------------------------------------------------------------------

_SEAL_PREFIXES = ("", "", "CN", "VN", "HS", "EU", "SL", "TG", "ML-", "CM")


def random_seal_number(rng: np.random.Generator) -> str:
    """A bolt-seal serial: opaque manufacturer format, letters then 6 to 8 digits."""
    prefix = _SEAL_PREFIXES[int(rng.integers(len(_SEAL_PREFIXES)))]
    digits = int(rng.integers(6, 9))
    return prefix + "".join(str(int(d)) for d in rng.integers(0, 10, digits))


# --- Vietnamese plates -----------------------------------------------------------------------------------------

_VN_BIASED = {"12": 0.3, "14": 0.06, "29": 0.06, "98": 0.05, "99": 0.04, "15": 0.05, "51": 0.03, "34": 0.03}


def _vn_province(rng: np.random.Generator) -> str:
    weights = np.array([_VN_BIASED.get(p, 0.38 / (len(VN_PROVINCES) - len(_VN_BIASED))) for p in VN_PROVINCES])
    return VN_PROVINCES[int(rng.choice(len(VN_PROVINCES), p=weights / weights.sum()))]


def random_vn_plate(rng: np.random.Generator, *, trailer: bool = False, province: str | None = None) -> str:
    """A Vietnamese plate in canonical form: `12C-123.45`, older `12C-1234`, trailers `51R-141.39`."""
    code = province or _vn_province(rng)
    if trailer:
        series = "R"
    elif rng.random() < 0.06:
        series = VN_SPECIAL_SERIES[int(rng.integers(len(VN_SPECIAL_SERIES)))]
    elif rng.random() < 0.8:
        series = "C"  # trucks
    else:
        series = VN_SERIES_LETTERS[int(rng.integers(len(VN_SERIES_LETTERS)))]
    if rng.random() < 0.15:
        serial = f"{int(rng.integers(0, 10_000)):04d}"
    else:
        number = int(rng.integers(0, 100_000))
        serial = f"{number // 100:03d}.{number % 100:02d}"
    return f"{code}{series}-{serial}"


def vn_plate_lines(text: str) -> tuple[str, str]:
    """The two lines of a square VN plate: (`12C`, `123.45`)."""
    head, _, serial = text.partition("-")
    return head, serial


# --- Chinese plates --------------------------------------------------------------------------------------------

_CN_WEIGHTS = {"桂": 0.55, "粤": 0.12, "湘": 0.05, "云": 0.04}


def _cn_province(rng: np.random.Generator) -> str:
    rest = (1.0 - sum(_CN_WEIGHTS.values())) / (len(CN_PROVINCES) - len(_CN_WEIGHTS))
    weights = np.array([_CN_WEIGHTS.get(p, rest) for p in CN_PROVINCES])
    return CN_PROVINCES[int(rng.choice(len(CN_PROVINCES), p=weights / weights.sum()))]


def random_cn_plate(rng: np.random.Generator, *, trailer: bool = False, province: str | None = None) -> str:
    """A Chinese plate in canonical form: `桂A·12345`, trailers `桂A·1234挂`."""
    prov = province or _cn_province(rng)
    if prov == "桂" and rng.random() < 0.7:
        authority = "AFBKPC"[int(rng.integers(6))]  # Nanning, Chongzuo, Liuzhou, Qinzhou, Fangchenggang, Guilin
    else:
        authority = CN_LETTERS[int(rng.integers(len(CN_LETTERS)))]
    length = 4 if trailer else 5
    chars = [str(int(d)) for d in rng.integers(0, 10, length)]
    for _ in range(int(rng.integers(0, 3)) if not trailer else 0):
        chars[int(rng.integers(length))] = CN_LETTERS[int(rng.integers(len(CN_LETTERS)))]
    return f"{prov}{authority}{CN_DOT}{''.join(chars)}{CN_TRAILER if trailer else ''}"


def cn_plate_lines(text: str) -> tuple[str, str]:
    """The two lines of a rear large-vehicle plate: (`桂A`, `12345`)."""
    head, _, rest = text.partition(CN_DOT)
    return head, rest

"""From character evidence to identifier reads: plates, container numbers, size-type codes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from datasets.synth.identifiers import is_valid_iso6346, iso6346_check_digit
from vision.grammar.alphabet import ALPHABET, INDEX
from vision.grammar.decoder import Decoded, decode, decode_best
from vision.grammar.evidence import Evidence
from vision.grammar.formats import (
    DIGIT_SLOT,
    ISO6346,
    ISO6346_NO_CHECK,
    PLATE_TEMPLATES,
    SIZE_TYPE,
    plate_format_name,
)
from vision.grammar.owners import default_registry, repaired_owner

UNKNOWN = "unknown"
#: A number whose owner code was repaired to a registered look-alike counts this share of its read confidence.
REPAIRED_WEIGHT = 0.9


@dataclass(frozen=True)
class PlateRead:
    """A plate: canonical text, format (`vn`, `vn_trailer`, `cn`, `cn_trailer`, `cn_new_energy`, `unknown`)."""

    text: str
    format: str
    confidence: float
    raw: str


@dataclass(frozen=True)
class ContainerNumberRead:
    """An ISO 6346 number; `check_digit_ok`: the string as read validates under ISO 6346.

    False when the read check digit disagrees, or was not seen (the reported one is then computed).
    """

    number: str
    check_digit_ok: bool
    confidence: float
    raw: str


@dataclass(frozen=True)
class SizeTypeRead:
    """A size-type code; `known` when it is one of the codes in use (22G1, 45G1 ...)."""

    code: str
    known: bool
    confidence: float
    raw: str


def _plain_text(evidence: Evidence) -> str:
    """What an unknown plate is reported as: the model's own string, normalised, separators kept out."""
    text = unicodedata.normalize("NFKC", evidence.raw).upper()
    kept = "".join(ch for ch in text if ch.isalnum())
    return kept or evidence.best_text()


def read_plate(evidence: Evidence) -> PlateRead:
    """The best VN or CN plate reading; a read that fits no format is kept as `unknown`."""
    decoded = decode_best(evidence, PLATE_TEMPLATES)
    if decoded is None or not decoded.valid:
        confidence = float(evidence.probs.max(axis=1).mean()) if len(evidence) else 0.0
        return PlateRead(_plain_text(evidence), UNKNOWN, confidence, evidence.raw)
    return PlateRead(decoded.text, plate_format_name(decoded.template, decoded.text), decoded.confidence,
                     evidence.raw)


def read_container_number(evidence: Evidence, owners: frozenset[str] | None = None) -> ContainerNumberRead | None:
    """The best ISO 6346 reading, preferring one whose check digit validates; None when nothing fits.

    The decoder may pick a less likely character where that makes the number validate; for the serial that is
    what a check digit is for, but a check digit swapped to fit would validate anything, so `check_digit_ok`
    also needs the check digit to be the one read. When the check digit was not seen (10 characters), it is
    computed and `check_digit_ok` is False: the number is a guess that a later frame or view must confirm.

    An owner code missing from `owners` (default: the shipped registry) is replaced by its one registered
    look-alike that keeps the read check digit valid (`owners.repaired_owner`), at `REPAIRED_WEIGHT` of the
    confidence.
    """
    decoded = decode(evidence, ISO6346)
    if decoded is not None:
        text, confidence = decoded.text, decoded.confidence
        repaired = repaired_owner(text, default_registry() if owners is None else owners)
        if repaired is not None:
            text, confidence = repaired, REPAIRED_WEIGHT * confidence
        ok = is_valid_iso6346(text) and _check_digit_as_read(evidence, decoded)
        return ContainerNumberRead(text, ok, confidence, evidence.raw)
    partial = decode(evidence, ISO6346_NO_CHECK)
    if partial is None:
        return None
    number = partial.text + str(iso6346_check_digit(partial.text))
    return ContainerNumberRead(number, False, 0.5 * partial.confidence, evidence.raw)


def _check_digit_as_read(evidence: Evidence, decoded: Decoded) -> bool:
    """True when the decoded check digit is the best digit (confusables folded) of the row it came from."""
    row = evidence.probs[decoded.kept[-1]:decoded.kept[-1] + 1]
    best = int(DIGIT_SLOT.scores(row)[0].argmax())
    return ALPHABET[best] == decoded.text[-1]


def read_size_type(evidence: Evidence) -> SizeTypeRead | None:
    """The best size-type reading, preferring codes in use; None when nothing fits four slots."""
    decoded = decode(evidence, SIZE_TYPE)
    if decoded is None:
        return None
    return SizeTypeRead(decoded.text, decoded.valid, decoded.confidence, evidence.raw)


def is_alphabet_text(text: str) -> bool:
    """True when every character of `text` is in the decoder's alphabet."""
    return all(ch in INDEX for ch in text) and len(ALPHABET) > 0

"""The characters identifiers are made of, and how a recogniser's classes fold onto them.

The OCR model knows thousands of classes (full-width digits, accented letters, lower case); the grammars only care
about digits, capital letters, the Chinese province characters and `挂`. Folding every model class onto that small
alphabet once lets the decoder work on a tiny probability matrix per read.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence

import numpy as np

from datasets.synth.identifiers import CN_PROVINCES, CN_TRAILER

DIGITS = string.digits
LETTERS = string.ascii_uppercase
ALPHABET: str = DIGITS + LETTERS + CN_PROVINCES + CN_TRAILER
INDEX: dict[str, int] = {ch: i for i, ch in enumerate(ALPHABET)}

#: Pairs a camera confuses; a slot that allows only one side takes the other side's evidence as its own.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("O", "0"), ("D", "0"), ("Q", "0"), ("I", "1"), ("B", "8"), ("S", "5"), ("Z", "2"), ("G", "6"),
)

#: Characters that separate groups on plates and containers; they carry no identity, so reads drop them.
SEPARATORS = frozenset(" -.·•_:,;'\"|/\\()[]{}·・。，、")

_LOWER_FOLDS = {"l": "I", "o": "O"}


def plain(text: str) -> str:
    """An identifier's characters without separators: truth writes `宁B·53392`, the grammar may write `宁B53392`."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def fold_char(ch: str) -> str | None:
    """The alphabet character a model class stands for (`Ｕ`→`U`, `É`→`E`, `o`→`O`), or None."""
    if ch in INDEX:
        return ch
    if ch in _LOWER_FOLDS:
        return _LOWER_FOLDS[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return base if len(base) == 1 and base in INDEX else None


def fold_table(classes: Sequence[str]) -> np.ndarray:
    """For each model class, its alphabet column or -1 (an int array as long as `classes`)."""
    table = np.full(len(classes), -1, dtype=np.int64)
    for i, ch in enumerate(classes):
        folded = fold_char(ch) if ch else None
        if folded is not None:
            table[i] = INDEX[folded]
    return table


def separator_mask(classes: Sequence[str]) -> np.ndarray:
    """True for model classes that are group separators or spaces."""
    return np.array([bool(ch) and ch in SEPARATORS for ch in classes], dtype=bool)


def mask_of(chars: str) -> np.ndarray:
    """A boolean mask over the alphabet allowing `chars`."""
    mask = np.zeros(len(ALPHABET), dtype=bool)
    for ch in chars:
        mask[INDEX[ch]] = True
    return mask

"""Per-character evidence: one probability row over the alphabet for each character a read emitted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.grammar.alphabet import ALPHABET, INDEX


@dataclass(frozen=True)
class Evidence:
    """`probs[i, j]`: probability that emitted character i is `ALPHABET[j]`; `raw`: the model's own best string."""

    probs: np.ndarray
    raw: str

    def __post_init__(self) -> None:
        if self.probs.ndim != 2 or self.probs.shape[1] != len(ALPHABET):
            raise ValueError(f"probs must have shape (N, {len(ALPHABET)}), got {self.probs.shape}")

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    def best_text(self) -> str:
        """The most likely alphabet character at each position."""
        if len(self) == 0:
            return ""
        return "".join(ALPHABET[j] for j in self.probs.argmax(axis=1))

    def __add__(self, other: Evidence) -> Evidence:
        """Concatenation: pieces of one identifier read separately (owner code + serial, two plate lines)."""
        return Evidence(np.concatenate([self.probs, other.probs]), self.raw + other.raw)


def evidence_from_text(text: str, confidence: float = 0.9) -> Evidence:
    """Evidence of a known string (tests, typed input): `confidence` on each character, the rest spread evenly.

    Characters outside the alphabet (separators) are skipped, as a read would skip them.
    """
    chars = [ch for ch in text if ch in INDEX]
    rest = (1.0 - confidence) / (len(ALPHABET) - 1)
    probs = np.full((len(chars), len(ALPHABET)), rest, dtype=np.float32)
    for i, ch in enumerate(chars):
        probs[i, INDEX[ch]] = confidence
    return Evidence(probs, text)

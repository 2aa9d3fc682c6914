"""Constrained decoding: the most probable string that fits a template of per-slot character classes.

Each slot allows a set of characters. Evidence for a character the slot forbids counts for its confusable partner
(an `O` read where only digits fit is a `0`). Positions are independent given the template, so the k best strings
come from a best-first walk over per-slot candidate ranks; a template's validator (a check digit, a province code)
picks the best string that passes. Up to `max_drops` spurious emitted characters may be left out.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vision.grammar.alphabet import ALPHABET, CONFUSABLE_PAIRS, INDEX
from vision.grammar.evidence import Evidence

_FLOOR = 1e-6
#: Below this a character is not a candidate at all: a slot with no candidate rules the template out.
_MIN_EVIDENCE = 0.01
_PER_SLOT = 4
_MAX_EXPANSIONS = 400


@dataclass(frozen=True)
class Slot:
    """One character position: the allowed characters as a mask over the alphabet."""

    allowed: np.ndarray

    def scores(self, probs: np.ndarray) -> np.ndarray:
        """Evidence per allowed character for rows of `probs`, confusables folded in (shape like `probs`)."""
        out = np.where(self.allowed, probs, 0.0)
        for a, b in CONFUSABLE_PAIRS:
            ia, ib = INDEX[a], INDEX[b]
            if self.allowed[ia] and not self.allowed[ib]:
                out[:, ia] = np.maximum(out[:, ia], probs[:, ib])
            elif self.allowed[ib] and not self.allowed[ia]:
                out[:, ib] = np.maximum(out[:, ib], probs[:, ia])
        return out


@dataclass(frozen=True)
class Template:
    """A format: its slots, a check on the whole string, and how to write it canonically."""

    name: str
    slots: tuple[Slot, ...]
    validate: Callable[[str], bool]
    canonical: Callable[[str], str]


@dataclass(frozen=True)
class Decoded:
    """The decoded string (canonical form), its template, a confidence and whether the validator passed.

    `kept`: the evidence rows behind the slots, in slot order (the rest were dropped as spurious).
    """

    text: str
    template: str
    confidence: float
    valid: bool
    score: float
    length: int
    kept: tuple[int, ...] = ()


def _candidates(scores: np.ndarray) -> list[list[tuple[float, str]]]:
    """Per slot, its best few characters as (log-probability, character), best first."""
    out = []
    for row in scores:
        order = np.argsort(-row)[:_PER_SLOT]
        out.append([(math.log(max(float(row[j]), _FLOOR)), ALPHABET[j]) for j in order if row[j] >= _MIN_EVIDENCE])
    return out


def _k_best(cands: list[list[tuple[float, str]]], validate: Callable[[str], bool]) -> tuple[str, float, bool] | None:
    """Best-first walk over rank vectors; the first valid string, else the best one (flagged invalid)."""
    if any(not c for c in cands):
        return None
    start = (0,) * len(cands)
    total = sum(c[0][0] for c in cands)
    heap = [(-total, start)]
    seen = {start}
    best: tuple[str, float] | None = None
    for _ in range(_MAX_EXPANSIONS):
        if not heap:
            break
        neg, ranks = heapq.heappop(heap)
        text = "".join(cands[i][r][1] for i, r in enumerate(ranks))
        if best is None:
            best = (text, -neg)
        if validate(text):
            return text, -neg, True
        for i, r in enumerate(ranks):
            if r + 1 < len(cands[i]):
                nxt = (*ranks[:i], r + 1, *ranks[i + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (neg - cands[i][r + 1][0] + cands[i][r][0], nxt))
    return (best[0], best[1], False) if best else None


def _drop_cost(probs: np.ndarray, dropped: Sequence[int]) -> float:
    """Leaving out a position costs the log-probability that it was not a real character: one minus its summed
    alphabet evidence. (Not its best character's: a clear character torn between `5` and `9` at 0.41 each is no
    more spurious than a certain one, and dropping it fitted `81R-460.79` to a shorter format as `81R-4607`.)"""
    return sum(math.log(max(1.0 - min(float(probs[i].sum()), 1.0), 0.02)) for i in dropped)


def decode(evidence: Evidence, template: Template, max_drops: int = 2) -> Decoded | None:
    """The best reading of `evidence` under `template`, or None when lengths cannot be reconciled."""
    n, m = len(evidence), len(template.slots)
    if n < m or n - m > max_drops:
        return None
    best: Decoded | None = None
    for dropped in itertools.combinations(range(n), n - m):
        keep = [i for i in range(n) if i not in dropped]
        rows = evidence.probs[keep]
        scores = np.stack([slot.scores(rows[i:i + 1])[0] for i, slot in enumerate(template.slots)])
        found = _k_best(_candidates(scores), template.validate)
        if found is None:
            continue
        text, logp, valid = found
        score = logp + _drop_cost(evidence.probs, dropped) - (0.0 if valid else 5.0)
        if best is None or score > best.score:
            confidence = math.exp(logp / m) if valid else 0.5 * math.exp(logp / m)
            best = Decoded(template.canonical(text), template.name, confidence, valid, score, m, tuple(keep))
    return best


def decode_best(evidence: Evidence, templates: Sequence[Template], max_drops: int = 2) -> Decoded | None:
    """The best reading over several templates, compared by score per slot (templates differ in length)."""
    results = [d for t in templates if (d := decode(evidence, t, max_drops)) is not None]
    if not results:
        return None
    return max(results, key=lambda d: (d.valid, d.score / d.length))

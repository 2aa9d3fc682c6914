"""Evidence summed per candidate string: the core of multi-frame, multi-camera fusion.

Evidence is the **sum of read confidences** (a confidence-weighted vote), not a sum of log-odds. Frames of one
truck are strongly correlated (same plate, same dirt, same blur), so treating them as independent, as log-odds
do, turns five frames into false certainty, and a single over-confident OCR read (0.999 is 6.9 in log-odds)
could outvote five honest 0.8 reads (5 x 1.39). With confidence sums a frame is one vote of weight at most 1:
five frames reading ``12C-123.45`` at 0.8 (4.0) beat one frame reading ``12C-128.45`` at 0.95.

Fused confidence of a winner = (its share of all evidence) x (its mean read confidence): 1 only when every read
agreed and every read was certain; a split vote or hesitant reads both lower it. (For plates, reads of a part of the
winner, such as one line of a two-line plate, are left out of "all evidence": `passage_evidence`.)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vision.fusion.observations import Sighting


@dataclass
class Candidate:
    """One candidate value: summed evidence, read count, sub-votes (format, size type...) and its best read."""

    evidence: float = 0.0
    reads: int = 0
    first_t: float = float("inf")
    best_confidence: float = -1.0
    best: Sighting | None = None
    best_crop: npt.NDArray[np.uint8] | None = None
    votes: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def mean_confidence(self) -> float:
        return self.evidence / self.reads if self.reads else 0.0

    def absorb(self, other: Candidate) -> None:
        """Add another candidate's evidence (a variant of the same value) into this one."""
        self.evidence += other.evidence
        self.reads += other.reads
        self.first_t = min(self.first_t, other.first_t)
        for key, weight in other.votes.items():
            self.votes[key] += weight
        if other.best_confidence > self.best_confidence:
            self.best_confidence, self.best, self.best_crop = other.best_confidence, other.best, other.best_crop


class Ballot:
    """Candidates of one field, bounded: past `max_candidates` the weakest is dropped (its evidence still counts
    in the total, so a noisy field keeps a low fused confidence)."""

    def __init__(self, max_candidates: int = 32) -> None:
        self.max_candidates = max_candidates
        self.candidates: dict[str, Candidate] = {}
        self.total = 0.0

    def __bool__(self) -> bool:
        return bool(self.candidates)

    def add(self, value: str, confidence: float, sighting: Sighting, crop: npt.NDArray[np.uint8] | None = None,
            votes: dict[str, float] | None = None) -> Candidate:
        weight = min(max(float(confidence), 0.0), 1.0)
        candidate = self.candidates.get(value)
        if candidate is None:
            self._make_room()
            candidate = self.candidates[value] = Candidate()
        candidate.evidence += weight
        candidate.reads += 1
        candidate.first_t = min(candidate.first_t, sighting.t_s)
        for key, vote in (votes or {}).items():
            candidate.votes[key] += vote
        if weight > candidate.best_confidence:
            candidate.best_confidence, candidate.best, candidate.best_crop = weight, sighting, crop
        self.total += weight
        return candidate

    def wants_crop(self, value: str, confidence: float) -> bool:
        """Whether a read would become its candidate's best (so its crop is worth taking)."""
        candidate = self.candidates.get(value)
        return candidate is None or confidence > candidate.best_confidence

    def ranked(self) -> list[tuple[str, Candidate]]:
        """Candidates by evidence, ties broken by value so that results are deterministic."""
        return sorted(self.candidates.items(), key=lambda item: (-item[1].evidence, item[0]))

    def merge(self, other: Ballot) -> None:
        for value, candidate in other.candidates.items():
            mine = self.candidates.get(value)
            if mine is None:
                self._make_room()
                self.candidates[value] = mine = Candidate()
            mine.absorb(candidate)
        self.total += other.total

    def _make_room(self) -> None:
        if len(self.candidates) >= self.max_candidates:
            weakest = min(self.candidates, key=lambda value: (self.candidates[value].evidence, value))
            del self.candidates[weakest]


def fused_confidence(evidence: float, total: float, mean_confidence: float) -> float:
    """Winner share of the evidence times its mean read confidence, in 0..1."""
    if total <= 0.0:
        return 0.0
    return float(min(max(evidence / total * mean_confidence, 0.0), 1.0))


def top_vote(votes: dict[str, float], default: str) -> str:
    """The sub-vote with the most weight (format, size type, position), or `default` when there is none."""
    if not votes:
        return default
    return min(votes.items(), key=lambda item: (-item[1], item[0]))[0]

"""All reads of one vehicle passage, and their fusion into the fields of a `VehiclePassage`.

Plates are voted per role (tractor, trailer). Container numbers are voted together and then grouped: variants
within `VARIANT_DISTANCE` characters of a stronger number are misreads of it (their evidence joins it), numbers
further apart are different containers. At most two containers are reported (one 40 ft or two 20 ft): the second
only if its evidence is a fair share of the first's and the first is not a 40/45 ft box. Two containers are
ordered by the readers' position hints where given, else by which was seen first (a truck enters cab first).
Seal states are fused per container door by summed log-odds (`seal_state`); ``unknown`` reads carry none. A lone
number on a truck seen to carry two boxes (`saw_two_boxes`) is the front box's where its reads' position hints say
front more than rear; the rear doors' reads then belong to the box whose number went unread, and are reported
unnamed rather than given to the front one.

Reads of a number that fit no ISO 6346 template are kept apart as parts: where occlusion leaves every copy of a
number readable only in part, a head and a tail of them make the number (`number_assembly`), which joins the
voted numbers as one more container candidate. Parts that agree with a number read whole are its own and are left
out of that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bus.messages import ContainerRead, EvidenceRef, PlateRead, SealRead
from datasets.synth import is_valid_iso6346
from vision.fusion.ballot import Ballot, Candidate, fused_confidence, top_vote
from vision.fusion.number_assembly import agrees, assembled, with_read_check_digit
from vision.fusion.observations import ContainerObservation, PlateObservation, SealObservation, Sighting
from vision.grammar.alphabet import plain

VARIANT_DISTANCE = 2
#: ISO 6346 category letters: U a freight container, J detachable equipment (a clip-on genset), Z a trailer or
#: chassis. Only U is a container a truck carries through the gate; a J or Z number is equipment, or a misread.
CONTAINER_CATEGORY = "U"
#: Bound on one seal read's log-odds (P 0.95) and the least summed log-odds that decides a door (P 0.8).
SEAL_LOGIT_CAP = math.log(0.95 / 0.05)
SEAL_MARGIN = math.log(0.8 / 0.2)
Crop = npt.NDArray[np.uint8] | None
CropFn = Callable[[], Crop]
EvidenceFn = Callable[[str, Candidate], tuple[EvidenceRef, ...]]


@dataclass(frozen=True, kw_only=True)
class FieldRules:
    min_evidence: float = 0.3
    """A candidate with less summed confidence than this is not reported (one weak read is not a plate)."""
    second_container_share: float = 0.25
    """A second container number is reported only with at least this share of the first one's evidence, unless
    the truck was seen carrying two boxes (`pair_frames`) and its check digit was read: then `min_evidence` will
    do. (How often each number is read depends on how long each camera sees it, not on whether it is there: seed
    9405's front box, read twice and validated, had 0.23 of its rear box's evidence, read by three cameras.)"""
    invalid_check_digit_weight: float = 0.5
    """Among variants of one container number, evidence of a variant failing ISO 6346 counts this much."""
    fuller_plate_reads: int = 2
    fuller_plate_share: float = 0.3
    """The strongest plate read gives way to a plate of a known format that it copies with one character lost
    (covered in some frames, or two like characters merged by the recogniser) when that fuller plate was read at
    least `fuller_plate_reads` times with at least `fuller_plate_share` of its evidence."""
    max_candidates: int = 32
    pair_frames: int = 3
    """Frames in which one vehicle box held two container boxes, from which on the truck is taken to carry two
    (20 ft) boxes: a lone number read is then the front or the rear one's, not a single box's (`saw_two_boxes`)."""


@dataclass
class _Container:
    number: str
    head: Candidate
    variant_evidence: float
    cluster: Candidate
    variants: set[str] = field(default_factory=set)
    position: str = "unknown"


class PassageEvidence:
    """Accumulates reads; `plates()`, `containers()` and `seals()` fuse them into message parts."""

    def __init__(self, rules: FieldRules | None = None) -> None:
        self.rules = rules or FieldRules()
        n = self.rules.max_candidates
        self.plates_by_role: dict[str, Ballot] = {role: Ballot(n) for role in ("tractor", "trailer", "unknown")}
        self.numbers = Ballot(n)
        self.number_parts = Ballot(n)
        self.seal_states: dict[str, Ballot] = {}
        self.seal_numbers: dict[str, Ballot] = {}
        self.reads = 0
        self.two_box_frames = 0

    def add_plate(self, read: PlateObservation, sighting: Sighting, crop: CropFn) -> None:
        ballot = self.plates_by_role[read.role]
        image = crop() if ballot.wants_crop(read.text, read.confidence) else None
        ballot.add(read.text, read.confidence, sighting, image, {f"format:{read.format}": read.confidence})
        self.reads += 1

    def add_container(self, read: ContainerObservation, sighting: Sighting, crop: CropFn) -> None:
        votes = {f"pos:{read.position}": read.confidence} if read.position != "unknown" else {}
        if read.partial:
            image = crop() if self.number_parts.wants_crop(read.number, read.confidence) else None
            self.number_parts.add(read.number, read.confidence, sighting, image, votes)
            self.reads += 1
            return
        if read.size_type:
            votes[f"size:{read.size_type}"] = read.confidence
        if read.check_digit_read is not None:
            votes["check:read" if read.check_digit_read else "check:computed"] = read.confidence
        image = crop() if self.numbers.wants_crop(read.number, read.confidence) else None
        self.numbers.add(read.number, read.confidence, sighting, image, votes)
        self.reads += 1

    def add_seal(self, read: SealObservation, sighting: Sighting, crop: CropFn) -> None:
        link = f"num:{read.container_number}" if read.container_number else f"pos:{read.position}"
        states = self.seal_states.setdefault(link, Ballot(self.rules.max_candidates))
        image = crop() if states.wants_crop(read.state, read.confidence) else None
        votes = {"logit": _seal_logit(read.confidence)} if read.state != "unknown" else {}
        states.add(read.state, read.confidence, sighting, image, votes)
        if read.state == "present" and read.number:
            numbers = self.seal_numbers.setdefault(link, Ballot(self.rules.max_candidates))
            numbers.add(read.number, read.confidence, sighting, image)
        self.reads += 1

    def saw_two_boxes(self) -> None:
        """One more frame in which the vehicle box held two container boxes."""
        self.two_box_frames += 1

    def texts(self) -> set[str]:
        """Every plate and container number read."""
        ballots = (self.numbers, *self.plates_by_role.values())
        return {value for ballot in ballots for value in ballot.candidates}

    def claims(self, min_evidence: float) -> set[str]:
        """What a glimpse of a few frames read that would make it another truck: container numbers, and plates of a
        known format, each with at least `min_evidence`. A plate that fits no format, seen that briefly, is a misread
        (a side camera's look at a rear plate: `K1912挂` for `桂K·4912挂`), not news."""
        plates = {value for ballot in self.plates_by_role.values() for value, c in ballot.candidates.items()
                  if c.evidence >= min_evidence and _plate_format(c) in ("vn", "cn")}
        return plates | {value for value, c in self.numbers.candidates.items() if c.evidence >= min_evidence}

    def published_texts(self) -> set[str]:
        """The plates and container numbers that fusion would publish now."""
        return ({p.text for p in self.plates(_no_refs)}
                | {c.number for c in self.containers(_no_refs)})

    def door_numbers(self) -> set[str]:
        """The container numbers that door reads were linked to."""
        return {link[4:] for link in self.seal_states if link.startswith("num:")}

    def has_seal_reads(self) -> bool:
        """Whether any door was read as sealed or not (an `unknown` read says nothing)."""
        return any(state != "unknown" for ballot in self.seal_states.values() for state in ballot.candidates)

    def absorb(self, other: PassageEvidence) -> None:
        """Take every read of `other` (a fragment of this passage) as if it had been added here."""
        for role, ballot in other.plates_by_role.items():
            self.plates_by_role[role].merge(ballot)
        self.numbers.merge(other.numbers)
        self.number_parts.merge(other.number_parts)
        for mine, theirs in ((self.seal_states, other.seal_states), (self.seal_numbers, other.seal_numbers)):
            for link, ballot in theirs.items():
                mine.setdefault(link, Ballot(self.rules.max_candidates)).merge(ballot)
        self.reads += other.reads
        self.two_box_frames += other.two_box_frames

    # -- fusion ----------------------------------------------------------------------------------------------------

    def plates(self, evidence: EvidenceFn) -> list[PlateRead]:
        ballots = {role: _copy(ballot) for role, ballot in self.plates_by_role.items()}
        for value, candidate in list(ballots["unknown"].candidates.items()):
            for role in ("tractor", "trailer"):  # a role-less read of a known plate is one more vote for it
                if value in ballots[role].candidates:
                    ballots[role].candidates[value].absorb(candidate)
                    ballots[role].total += candidate.evidence
                    ballots["unknown"].total -= candidate.evidence
                    del ballots["unknown"].candidates[value]
                    break
        found: list[PlateRead] = []
        for role, ballot in ballots.items():
            if not ballot or (role == "unknown" and found):
                continue
            text, winner = _plate_winner(ballot, self.rules)
            if winner.evidence < self.rules.min_evidence:
                continue
            fmt = _plate_format(winner)
            parts = _part_evidence(ballot, text) if fmt in ("vn", "cn") else 0.0
            confidence = fused_confidence(winner.evidence, ballot.total - parts, winner.mean_confidence)
            found.append(PlateRead(text=text[:16], format=fmt if fmt in ("vn", "cn") else "unknown",  # type: ignore[arg-type]
                                   role=role, confidence=confidence,  # type: ignore[arg-type]
                                   evidence=evidence(f"plate-{role}", winner)))
        return found

    def containers(self, evidence: EvidenceFn) -> list[ContainerRead]:
        return [self._container_read(c, i, evidence) for i, c in enumerate(self._fused_containers())]

    def seals(self, evidence: EvidenceFn) -> list[SealRead]:
        """One read per door seen, and an `unknown` one with confidence 0 for each container whose doors were not
        seen (the front box of two 20 ft boxes faces the rear one), so a reader of the passage knows it."""
        containers = self._fused_containers()
        merged: dict[int, tuple[Ballot, Ballot]] = {}
        for link, states in self.seal_states.items():
            index = _seal_target(link, containers)
            ballots = merged.setdefault(index, (Ballot(self.rules.max_candidates), Ballot(self.rules.max_candidates)))
            ballots[0].merge(states)
            if link in self.seal_numbers:
                ballots[1].merge(self.seal_numbers[link])
        reads = {index: read for index, (states, numbers) in merged.items()
                 if (read := self._seal_read(index, containers, states, numbers, evidence)) is not None}
        for index, container in enumerate(containers):  # doors no camera saw: say so, do not stay silent
            if index not in reads:
                reads[index] = SealRead(container_number=container.number[:16], state="unknown", confidence=0.0)
        return [reads[index] for index in sorted(reads)]

    def _fused_containers(self) -> list[_Container]:
        groups: list[_Container] = []
        weight = self.rules.invalid_check_digit_weight
        for number, candidate in self.numbers.ranked():
            if number[3:4] != CONTAINER_CATEGORY:
                continue
            home = next((g for g in groups if any(_close(number, v) for v in g.variants)), None)
            score = candidate.evidence * (1.0 if is_valid_iso6346(number) else weight)
            if home is None:
                cluster = Candidate()
                cluster.absorb(candidate)
                groups.append(_Container(number, candidate, score, cluster, {number}))
                continue
            home.variants.add(number)
            home.cluster.absorb(candidate)
            if score > home.variant_evidence:
                home.number, home.head, home.variant_evidence = number, candidate, score
        self._check_digits_read(groups)
        for group in self._assembled(groups):
            at = next((i for i, g in enumerate(groups) if g.cluster.evidence < group.cluster.evidence), len(groups))
            groups.insert(at, group)
        groups = [g for g in groups if g.cluster.evidence >= self.rules.min_evidence]
        if not groups:
            return []
        first = groups[0]
        chosen = [first]
        pair = self.two_box_frames >= self.rules.pair_frames and _length_ft(first) not in (40, 45)
        if _length_ft(first) not in (40, 45) and len(groups) > 1:
            second = groups[1]
            if (second.cluster.evidence >= self.rules.second_container_share * first.cluster.evidence
                    or (pair and _check_digit_ok(second))):
                chosen.append(second)
        return _ordered(chosen, pair)

    def _check_digits_read(self, groups: list[_Container]) -> None:
        """A number whose check digit no read showed takes the one the parts' read check digits make of it
        (`number_assembly.with_read_check_digit`): a computed check digit is the grammar's guess."""
        parts = {text: c.evidence for text, c in self.number_parts.candidates.items()}
        for group in groups:
            if group.head.votes.get("check:read", 0.0) > 0 or not parts:
                continue
            if (number := with_read_check_digit(group.number, parts)) is not None:
                group.number = number
                group.variants.add(number)

    def _assembled(self, groups: list[_Container]) -> list[_Container]:
        """Numbers made of parts (`number_assembly`) that no voted number is a misread of; a part that agrees with
        a voted number at either end is that number's, not material for another."""
        read = [v for g in groups for v in g.variants]
        parts = {text: c.evidence for text, c in self.number_parts.candidates.items()
                 if not any(agrees(text, number) for number in read)}
        out: list[_Container] = []
        for number, weight in sorted(assembled(parts).items(), key=lambda item: -item[1]):
            if any(_close(number, v) for v in read):
                continue
            cluster = Candidate()
            for text, candidate in self.number_parts.candidates.items():
                if text in parts and agrees(text, number):
                    cluster.absorb(candidate)
            head = Candidate(evidence=weight, reads=cluster.reads, first_t=cluster.first_t,
                             best_confidence=cluster.best_confidence, best=cluster.best, best_crop=cluster.best_crop)
            head.votes["check:read"] = weight  # the check digit was read, at the end of a tail
            cluster.evidence = weight
            out.append(_Container(number, head, weight, cluster, {number}))
            read.append(number)
        return out

    def _container_read(self, container: _Container, index: int, evidence: EvidenceFn) -> ContainerRead:
        head, cluster = container.head, container.cluster
        confidence = fused_confidence(head.evidence, cluster.evidence, head.mean_confidence)
        size = top_vote({k[5:]: v for k, v in cluster.votes.items() if k.startswith("size:")}, "")
        return ContainerRead(number=container.number[:16], check_digit_ok=_check_digit_ok(container),
                             size_type=size[:4] or None, position=container.position,  # type: ignore[arg-type]
                             confidence=confidence, evidence=evidence(f"container-{index + 1}", head))

    def _seal_read(self, index: int, containers: list[_Container], states: Ballot, numbers: Ballot,
                   evidence: EvidenceFn) -> SealRead | None:
        """The door's state by summed, capped log-odds of its `present` and `absent` reads (`seal_state`)."""
        if not states:
            return None
        state, confidence = seal_state(states)
        winner = states.candidates.get(state) or states.ranked()[0][1]
        number = None
        if state == "present" and numbers:
            number = numbers.ranked()[0][0][:32]
        owner = containers[index].number[:16] if 0 <= index < len(containers) else None
        return SealRead(container_number=owner, state=state, number=number,  # type: ignore[arg-type]
                        confidence=confidence, evidence=evidence(f"seal-{index + 1}", winner))


def seal_state(states: Ballot) -> tuple[str, float]:
    """State and confidence of one door from its reads, by summed log-odds of P(sealed).

    Each `present` read of confidence c adds logit(c), each `absent` read subtracts it, capped at
    `SEAL_LOGIT_CAP` so that one over-confident crop cannot outvote a run of frames; `unknown` reads add nothing.
    The sum decides (`unknown` within ±`SEAL_MARGIN`); the confidence is the logistic of the sum over √n (frames of
    one door are correlated, so n reads are worth about √n independent ones).
    """
    total, reads = 0.0, 0
    for state, sign in (("present", 1.0), ("absent", -1.0)):
        candidate = states.candidates.get(state)
        if candidate is not None:
            total += sign * candidate.votes["logit"]
            reads += candidate.reads
    if reads == 0 or abs(total) < SEAL_MARGIN:
        return "unknown", _logistic(abs(total) / math.sqrt(max(reads, 1))) if reads else 0.0
    return ("present" if total > 0 else "absent"), _logistic(abs(total) / math.sqrt(reads))


def _seal_logit(confidence: float) -> float:
    c = min(max(confidence, 0.5), 1.0 - 1e-9)
    return min(math.log(c / (1.0 - c)), SEAL_LOGIT_CAP)


def _logistic(z: float) -> float:
    return float(1.0 / (1.0 + math.exp(-z)))


def _no_refs(_field: str, _candidate: Candidate) -> tuple[EvidenceRef, ...]:
    return ()


def _plate_format(candidate: Candidate) -> str:
    return top_vote({k[7:]: v for k, v in candidate.votes.items() if k.startswith("format:")}, "unknown")


def _plate_winner(ballot: Ballot, rules: FieldRules) -> tuple[str, Candidate]:
    """The strongest read, or the strongest plate of a known format that it copies with one character lost.

    A recogniser loses characters (a pole covers one in some frames; blur merges two like ones) far more often
    than it makes one up, so a few full-length reads outweigh many one-short reads they explain (`FieldRules`)."""
    text, winner = ballot.ranked()[0]
    short = plain(text)
    fuller = [(value, c) for value, c in ballot.candidates.items()
              if c.reads >= rules.fuller_plate_reads and c.evidence >= rules.fuller_plate_share * winner.evidence
              and _plate_format(c) in ("vn", "cn") and _one_lost(short, plain(value))]
    return max(fuller, key=lambda item: (item[1].evidence, item[0]), default=(text, winner))


def _one_lost(short: str, whole: str) -> bool:
    """Whether `short` is `whole` with one character left out."""
    return len(whole) == len(short) + 1 and any(whole[:i] + whole[i + 1:] == short for i in range(len(whole)))


def _part_evidence(ballot: Ballot, text: str) -> float:
    """Evidence of the other reads that are a part of `text` (one line of a two-line plate, a read cut off at the
    crop's edge, a read with one character lost): they neither confirm nor contradict a plate of a known format,
    so they do not dilute its share of the evidence. (A winner of no known format may be such a part itself, and
    gets no such help.)"""
    whole = plain(text)
    return sum(c.evidence for value, c in ballot.candidates.items()
               if value != text and (part := plain(value)) and (part in whole or _one_lost(part, whole)))


def _copy(ballot: Ballot) -> Ballot:
    fresh = Ballot(ballot.max_candidates)
    fresh.merge(ballot)
    return fresh


def _close(a: str, b: str) -> bool:
    """A misread of the same number, not another container: the same length with at most `VARIANT_DISTANCE`
    differing characters, or the same owner code with the digits shifted by one (`CRXU1020709` read from
    `CRXU7102070`: the first digit lost, one read past the end; 1 in 11 such reads passes the check digit)."""
    if len(a) != len(b):
        return False
    if sum(x != y for x, y in zip(a, b, strict=True)) <= VARIANT_DISTANCE:
        return True
    return len(a) == 11 and a[:4] == b[:4] and (a[5:] == b[4:-1] or b[5:] == a[4:-1])


def _length_ft(container: _Container) -> int | None:
    size = top_vote({k[5:]: v for k, v in container.cluster.votes.items() if k.startswith("size:")}, "")
    return {"2": 20, "4": 40, "L": 45}.get(size[:1])


def _ordered(chosen: list[_Container], two_boxes: bool = False) -> list[_Container]:
    """Front and rear of two containers; a lone one is `single`, or, on a truck seen to carry two boxes, the front
    one if its reads say so more than they say rear (the rear box's number went unread), else the rear one."""
    def frontness(c: _Container) -> float:
        return c.cluster.votes.get("pos:front", 0.0) - c.cluster.votes.get("pos:rear", 0.0)

    if len(chosen) == 1:
        chosen[0].position = ("front" if frontness(chosen[0]) > 0 else "rear") if two_boxes else "single"
        return chosen

    a, b = chosen
    if frontness(a) != frontness(b):
        ordered = sorted(chosen, key=lambda c: -frontness(c))
    else:  # no hints: the container seen first is the front one
        ordered = sorted(chosen, key=lambda c: (c.cluster.first_t, c.number))
    ordered[0].position, ordered[1].position = "front", "rear"
    return ordered


def _seal_target(link: str, containers: list[_Container]) -> int:
    """Index of the container a seal belongs to; a seal with no link goes to the rear-most container, whose
    doors face the rear camera (the front box of two 20 ft has its doors hidden against the rear box). Behind a
    lone `front` box the rear-most is a box whose number went unread: index ``len(containers)``, a door of no
    reported container (the seal is still reported, unnamed)."""
    if not containers:
        return -1
    kind, _, value = link.partition(":")
    if kind == "num":
        for i, container in enumerate(containers):
            if any(_close(value, v) for v in container.variants | {container.number}):
                return i
    elif value in ("front", "rear", "single"):
        for i, container in enumerate(containers):
            if container.position == value or (value == "single" and len(containers) == 1):
                return i
    return len(containers) if containers[-1].position == "front" else len(containers) - 1


def _check_digit_ok(container: _Container) -> bool:
    """The fused number validates, and its check digit was read rather than computed in most of its reads."""
    votes = container.head.votes
    return is_valid_iso6346(container.number) and votes["check:read"] >= votes["check:computed"]

"""The clearance decision: a pure function of one passage, its candidate declarations and the site's rules.

`decide` first links the passage to a declaration (tractor plate, trailer plate, container numbers, all compared
with OCR confusions made cheap), then checks the linked declaration's validity, channel, direction, plates,
containers and seals. Every finding carries a reason in English and Vietnamese and the outcome it leads to; the
decision takes the most severe one: REJECT (no valid declaration) > INSPECT > HOLD > OPEN.

No clock, no I/O: the same inputs give the same decision, with the same id, so a decision made again after a
crash is identical to the first. Validity is judged at the passage's own time (when the truck was first seen),
not at ``now_utc``, which only stamps the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from bus.messages import (
    ClearanceDecision,
    ContainerRead,
    Declaration,
    DeclaredContainer,
    Outcome,
    Reason,
    SealRead,
    VehiclePassage,
)
from control.clearance_reasons import (
    REASONS,
    SEVERITY,
    confidence_text,
    direction_words,
    reason,
    utc_text,
)
from control.clearance_rules import ClearanceRules
from control.identifiers import compact, weighted_distance

_MAX_ID_CHARS = 64
_MAX_LISTED = 5


def decision_id_for(passage_id: str) -> str:
    """``dec-<passage id>``; a hash of it when that would be too long for an id. Deterministic, so a re-decision
    after a crash carries the same id (and the gate link's idempotency holds)."""
    plain = f"dec-{passage_id}"
    if len(plain) <= _MAX_ID_CHARS:
        return plain
    return "dec-" + hashlib.sha256(passage_id.encode()).hexdigest()[:40]


# --- the reads, prepared once per passage --------------------------------------------------------------------------


class _Plate(NamedTuple):
    text: str
    key: str
    role: str
    confidence: float
    known_format: bool
    """Fits a Vietnamese or Chinese plate format: a plate that fits none may be a misread, not a vehicle's id."""


class _Container(NamedTuple):
    text: str
    key: str
    confidence: float
    check_digit_ok: bool


class _Reads(NamedTuple):
    plates: tuple[_Plate, ...]
    containers: tuple[_Container, ...]
    seals: tuple[SealRead, ...]

    @classmethod
    def of(cls, passage: VehiclePassage) -> _Reads:
        plates = tuple(_Plate(p.text, compact(p.text), p.role, p.confidence, p.format != "unknown")
                       for p in passage.plates if p.text)
        return cls(plates, _unique_containers(passage.containers), passage.seals)


def _unique_containers(reads: Sequence[ContainerRead]) -> tuple[_Container, ...]:
    """One read per container number (the most confident), in read order."""
    best: dict[str, _Container] = {}
    for r in reads:
        key = compact(r.number)
        if not key:
            continue
        seen = best.get(key)
        if seen is None or r.confidence > seen.confidence:
            best[key] = _Container(r.number, key, r.confidence, r.check_digit_ok)
    return tuple(best.values())


# --- linking a passage to a declaration ----------------------------------------------------------------------------


class _PlateMatch(NamedTuple):
    """The best read for one declared plate: its distance, discounted confidence and verdict."""

    read: _Plate | None
    distance: float
    confidence: float
    verdict: str  # "match", "near", "far" or "none" (nothing read)


class _ContainerMatch(NamedTuple):
    declared: DeclaredContainer
    read: _Container | None
    confidence: float


class _Link(NamedTuple):
    declaration: Declaration
    tractor: _PlateMatch
    trailer: _PlateMatch | None
    containers: tuple[_ContainerMatch, ...]
    extra_containers: tuple[_Container, ...]
    stray_trailer_reads: tuple[_Plate, ...]
    score: float
    distance: float

    @property
    def rank(self) -> tuple[float, float]:
        return (round(self.score, 6), -round(self.distance, 6))


def _discounted(confidence: float, distance: float, length: int) -> float:
    return max(0.0, confidence * (1.0 - distance / max(1, length)))


def _match_plate(declared: str, reads: Sequence[_Plate], rules: ClearanceRules) -> _PlateMatch:
    key = compact(declared)
    best: _PlateMatch | None = None
    for r in reads:
        distance = weighted_distance(r.key, key, rules.confusable_cost, rules.plate_link_tolerance)
        candidate = _PlateMatch(r, distance, _discounted(r.confidence, distance, len(key)), "")
        if best is None or (distance, -candidate.confidence) < (best.distance, -best.confidence):
            best = candidate
    if best is None:
        return _PlateMatch(None, float("inf"), 0.0, "none")
    if best.distance <= rules.plate_tolerance:
        verdict = "match"
    elif best.distance <= rules.plate_link_tolerance:
        verdict = "near"
    else:
        verdict = "far"
    return _PlateMatch(best.read, best.distance, best.confidence, verdict)


def _split_plates(reads: Sequence[_Plate], declaration: Declaration,
                  rules: ClearanceRules) -> tuple[list[_Plate], list[_Plate]]:
    """Reads for the tractor and for the trailer: tagged reads go to their role, untagged ones to the declared
    plate they are closer to (to the tractor when no trailer is declared)."""
    tractor_key = compact(declaration.tractor_plate)
    trailer_key = compact(declaration.trailer_plate) if declaration.trailer_plate else None
    tractor: list[_Plate] = []
    trailer: list[_Plate] = []
    for r in reads:
        if r.role == "tractor":
            tractor.append(r)
        elif r.role == "trailer":
            trailer.append(r)
        elif trailer_key is None:
            tractor.append(r)
        else:
            to_tractor = weighted_distance(r.key, tractor_key, rules.confusable_cost)
            to_trailer = weighted_distance(r.key, trailer_key, rules.confusable_cost)
            (trailer if to_trailer < to_tractor else tractor).append(r)
    return tractor, trailer


def _match_containers(declared: Sequence[DeclaredContainer], reads: Sequence[_Container],
                      rules: ClearanceRules) -> tuple[tuple[_ContainerMatch, ...], tuple[_Container, ...]]:
    """Declared containers paired with reads in any order: closest pairs first, each used once."""
    pairs = []
    for i, d in enumerate(declared):
        key = compact(d.number)
        for j, r in enumerate(reads):
            distance = weighted_distance(r.key, key, rules.confusable_cost, rules.container_tolerance)
            if distance <= rules.container_tolerance:
                pairs.append((distance, -r.confidence, i, j))
    pairs.sort()
    chosen: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    for distance, _, i, j in pairs:
        if i not in chosen and j not in used:
            chosen[i] = (j, distance)
            used.add(j)
    matches = []
    for i, d in enumerate(declared):
        picked = chosen.get(i)
        if picked is None:
            matches.append(_ContainerMatch(d, None, 0.0))
            continue
        r = reads[picked[0]]
        matches.append(_ContainerMatch(d, r, _discounted(r.confidence, picked[1], len(r.key))))
    extra = tuple(r for j, r in enumerate(reads) if j not in used)
    return tuple(matches), extra


def _link(reads: _Reads, declaration: Declaration, rules: ClearanceRules) -> _Link | None:
    """How this declaration fits the reads, or None when nothing ties them together."""
    tractor_reads, trailer_reads = _split_plates(reads.plates, declaration, rules)
    tractor = _match_plate(declaration.tractor_plate, tractor_reads, rules)
    trailer = _match_plate(declaration.trailer_plate, trailer_reads, rules) if declaration.trailer_plate else None
    stray = tuple(trailer_reads) if declaration.trailer_plate is None else ()
    containers, extra = _match_containers(declaration.containers, reads.containers, rules)
    score = {"match": 4.0, "near": 1.0}.get(tractor.verdict, 0.0)
    score += 2.0 if trailer is not None and trailer.verdict == "match" else 0.0
    score += 3.0 * sum(1 for c in containers if c.read is not None)
    if score < 2.0:
        return None  # a near tractor plate alone is only a look-alike truck (one digit off), not a link
    distance = sum(m.distance for m in (tractor, trailer) if m is not None and m.verdict in ("match", "near"))
    return _Link(declaration, tractor, trailer, containers, extra, stray, score, distance)


# --- the decision ----------------------------------------------------------------------------------------------


class _Finding(NamedTuple):
    outcome: Outcome
    reason: Reason


def _finding(code: str, outcome: Outcome | None = None, /, **values: str) -> _Finding:
    return _Finding(outcome or REASONS[code].outcome, reason(code, **values))


def decide(passage: VehiclePassage, declarations: Sequence[Declaration], rules: ClearanceRules,
           now_utc: float) -> ClearanceDecision:
    """The clearance decision for one passage, given its candidate declarations (`DeclarationBook.candidates`)."""
    reads = _Reads.of(passage)
    links = [link for d in declarations if (link := _link(reads, d, rules)) is not None]
    if not links:
        return _unlinked(passage, reads, rules, now_utc)
    t = passage.first_seen_utc
    grace = rules.validity_grace_s
    valid = [k for k in links if k.declaration.valid_from_utc - grace <= t <= k.declaration.valid_until_utc + grace]
    pool = sorted(valid or links, key=lambda k: (k.rank, k.declaration.declaration_id), reverse=True)
    best = pool[0]
    if len(pool) > 1 and pool[1].rank == best.rank:
        tied = sorted(k.declaration.declaration_id for k in pool if k.rank == best.rank)
        listed = ", ".join(tied[:_MAX_LISTED]) + (" …" if len(tied) > _MAX_LISTED else "")
        return _decision(passage, [_finding("ambiguous_declaration", declarations=listed)], None, 0.0, now_utc)
    declaration = best.declaration
    if not valid:
        if t > declaration.valid_until_utc + grace:
            finding = _finding("declaration_expired", declaration=declaration.declaration_id,
                               time=utc_text(declaration.valid_until_utc))
        else:
            finding = _finding("declaration_not_yet_valid", declaration=declaration.declaration_id,
                               time=utc_text(declaration.valid_from_utc))
        return _decision(passage, [finding], declaration.declaration_id, _link_confidence(best), now_utc)
    findings = _check(passage, reads, best, rules)
    if not findings:
        findings = [_finding("cleared", declaration=declaration.declaration_id)]
    return _decision(passage, findings, declaration.declaration_id, _link_confidence(best), now_utc)


def _unlinked(passage: VehiclePassage, reads: _Reads, rules: ClearanceRules, now_utc: float) -> ClearanceDecision:
    """No declaration ties to the reads: REJECT when the vehicle was identified with confidence (a plate of a known
    format or a valid container number), else HOLD for an officer. A REJECT is never overridden to OPEN, so a plate
    that fits no format (a misread, or a foreign plate) alone does not earn one: an officer looks first."""
    confident = [p for p in reads.plates if p.confidence >= rules.min_plate_confidence]
    sure_plates = [p for p in confident if p.known_format]
    sure_containers = [c for c in reads.containers
                       if c.check_digit_ok and c.confidence >= rules.min_container_confidence]
    if not sure_plates and not sure_containers:
        if confident:
            read = ", ".join(p.text for p in confident[:_MAX_LISTED])
            return _decision(passage, [_finding("plate_format_unknown", read=read)], None, 0.0, now_utc)
        return _decision(passage, [_finding("vehicle_not_identified")], None, 0.0, now_utc)
    read = ", ".join([p.text for p in sure_plates][:_MAX_LISTED] + [c.text for c in sure_containers][:_MAX_LISTED])
    confidence = max([p.confidence for p in sure_plates] + [c.confidence for c in sure_containers])
    return _decision(passage, [_finding("no_declaration", read=read)], None, confidence, now_utc)


def _check(passage: VehiclePassage, reads: _Reads, link: _Link, rules: ClearanceRules) -> list[_Finding]:
    declaration = link.declaration
    findings: list[_Finding] = []
    if declaration.channel == "yellow":
        findings.append(_finding("channel_yellow"))
    elif declaration.channel == "red":
        findings.append(_finding("channel_red"))
    expected = rules.declared_direction(passage.direction)
    if expected != "any" and declaration.direction != expected:
        findings.append(_finding("direction_mismatch", declaration=declaration.declaration_id,
                                 **direction_words(declaration.direction, passage.direction)))
    findings += _plate_findings("tractor", declaration.tractor_plate, link.tractor, rules)
    trailer = link.trailer
    if trailer is not None and declaration.trailer_plate and (trailer.verdict != "none" or rules.require_trailer_plate):
        findings += _plate_findings("trailer", declaration.trailer_plate, trailer, rules)
    findings += [_finding("trailer_plate_undeclared", read=p.text) for p in link.stray_trailer_reads
                 if p.confidence >= rules.min_plate_confidence]
    findings += _container_findings(link, rules)
    findings += _seal_findings(reads.seals, link, rules)
    return findings


def _plate_findings(role: str, declared: str, match: _PlateMatch, rules: ClearanceRules) -> list[_Finding]:
    if match.read is None:
        return [_finding(f"{role}_plate_not_read", declared=declared)]
    read = match.read
    if match.verdict == "match":
        if match.confidence >= rules.min_plate_confidence:
            return []
        return [_finding(f"{role}_plate_low_confidence", read=read.text, declared=declared,
                         confidence=confidence_text(match.confidence))]
    if read.confidence >= rules.min_plate_confidence:
        return [_finding(f"{role}_plate_mismatch", read=read.text, declared=declared)]
    return [_finding(f"{role}_plate_low_confidence", read=read.text, declared=declared,
                     confidence=confidence_text(read.confidence))]


def _container_findings(link: _Link, rules: ClearanceRules) -> list[_Finding]:
    findings: list[_Finding] = []
    for m in link.containers:
        if m.read is None:
            findings.append(_finding("declared_container_not_seen", container=m.declared.number))
        elif m.confidence < rules.min_container_confidence:
            findings.append(_finding("container_low_confidence", container=m.declared.number, read=m.read.text,
                                     confidence=confidence_text(m.confidence)))
    for r in link.extra_containers:
        if r.check_digit_ok and r.confidence >= rules.min_container_confidence:
            findings.append(_finding("undeclared_container", container=r.text,
                                     declaration=link.declaration.declaration_id))
        else:
            findings.append(_finding("container_unconfirmed", read=r.text))
    return findings


# --- seals -------------------------------------------------------------------------------------------------------


def _seal_findings(seals: Sequence[SealRead], link: _Link, rules: ClearanceRules) -> list[_Finding]:
    findings: list[_Finding] = []
    declared_seals = [m for m in link.containers if m.declared.seal_number]
    for m in link.containers:
        mine = _seals_for(m, seals, link.containers, len(declared_seals), rules)
        if m.read is None and not mine:
            continue  # the container itself was not seen: `declared_container_not_seen` says so already
        best = _best_seal(mine)
        if m.declared.seal_number:
            findings += _required_seal(m.declared, best, rules)
        elif best is not None and best.state == "present" and best.confidence >= rules.min_seal_confidence:
            findings.append(_finding("seal_undeclared", container=m.declared.number, read=best.number or "?"))
    return findings


def _seals_for(match: _ContainerMatch, seals: Sequence[SealRead], all_matches: Sequence[_ContainerMatch],
               sealed_count: int, rules: ClearanceRules) -> list[SealRead]:
    """Seal reads that belong to this declared container: named for it (or for the read matched to it), or
    unnamed when it is the only container or the only sealed one, or unnamed with its declared seal number."""
    names = {compact(match.declared.number)}
    if match.read is not None:
        names.add(match.read.key)
    other_names = {compact(m.declared.number) for m in all_matches if m is not match}
    mine = []
    for s in seals:
        if s.container_number:
            key = compact(s.container_number)
            if key in names or (key not in other_names and any(
                    weighted_distance(key, n, rules.confusable_cost, rules.container_tolerance)
                    <= rules.container_tolerance for n in names)):
                mine.append(s)
        elif len(all_matches) == 1 or (sealed_count == 1 and match.declared.seal_number) \
                or _seal_number_matches(s, match.declared, rules):
            mine.append(s)
    return mine


def _best_seal(seals: Sequence[SealRead]) -> SealRead | None:
    """The most telling read: a seen state (present/absent) before an unknown one, then the most confident."""
    if not seals:
        return None
    return max(seals, key=lambda s: (s.state != "unknown", s.confidence))


def _seal_number_matches(seal: SealRead, declared: DeclaredContainer, rules: ClearanceRules) -> bool:
    if not seal.number or not declared.seal_number:
        return False
    distance = weighted_distance(compact(seal.number), compact(declared.seal_number), rules.confusable_cost,
                                 rules.seal_tolerance)
    return distance <= rules.seal_tolerance


def _required_seal(declared: DeclaredContainer, seal: SealRead | None, rules: ClearanceRules) -> list[_Finding]:
    container, number = declared.number, declared.seal_number or ""
    unknown = _finding("seal_unknown", rules.seal_unknown_outcome, container=container, seal=number)
    if seal is None or seal.state == "unknown":
        return [unknown]
    sure = seal.confidence >= rules.min_seal_confidence
    if seal.state == "absent":
        return [_finding("seal_missing", container=container, seal=number)] if sure else [unknown]
    number_read = bool(seal.number) and rules.check_seal_numbers
    if not sure:
        if number_read and _seal_number_matches(seal, declared, rules):
            return [_finding("seal_low_confidence", container=container, confidence=confidence_text(seal.confidence))]
        return [unknown]
    if number_read and not _seal_number_matches(seal, declared, rules):
        return [_finding("seal_number_mismatch", container=container, read=seal.number or "", seal=number)]
    return []


# --- the message ---------------------------------------------------------------------------------------------


def _link_confidence(link: _Link) -> float:
    """How sure the link is: the weakest matched plate or container (0 when nothing matched confidently)."""
    parts = [m.confidence for m in (link.tractor, link.trailer) if m is not None and m.verdict == "match"]
    parts += [c.confidence for c in link.containers if c.read is not None]
    return min(parts) if parts else 0.0


def _decision(passage: VehiclePassage, findings: Sequence[_Finding], declaration_id: str | None,
              confidence: float, now_utc: float) -> ClearanceDecision:
    ordered = sorted(findings, key=lambda f: -SEVERITY[f.outcome])  # stable: same-severity reasons keep order
    outcome = ordered[0].outcome
    decision_id = decision_id_for(passage.passage_id)
    return ClearanceDecision(
        id=decision_id, ts_utc=now_utc, decision_id=decision_id, passage_id=passage.passage_id,
        lane_id=passage.lane_id, outcome=outcome, reasons=tuple(f.reason for f in ordered),
        declaration_id=declaration_id, confidence=min(1.0, max(0.0, confidence)),
    )


__all__ = ["decide", "decision_id_for"]

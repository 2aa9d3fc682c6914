"""Pre-arrival declarations: validation with a reason per field, and the in-memory book the clearance engine asks.

A declaration arrives from the single-window feed (JSON Lines, see `control.declaration_feed`), from the bus
(`DeclarationSubmitted`) or later from the API, always in the shape of `bus.messages.Declaration` (the shape the
synthetic recordings write to ``declarations.jsonl``). Before it is journalled and used it is checked here: plate
grammar, ISO 6346 check digits, duplicate or too many containers, a sane validity window, and, in the book, no second
declaration for the same tractor in an overlapping window. A rejection names every wrong field, so the sender can
fix them all at once.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from bus.messages import Declaration, DeclaredContainer, VehiclePassage
from control.identifiers import canonical_plate, compact, container_problem, deletion_keys, fold

__all__ = [
    "MAX_CONTAINERS",
    "MAX_VALIDITY_S",
    "Declaration",
    "DeclarationBook",
    "DeclarationError",
    "DeclaredContainer",
    "Problem",
    "decode_declaration",
    "validate_declaration",
]

#: A truck carries one 40/45 ft container or two 20 ft ones.
MAX_CONTAINERS = 2
#: A declaration is valid for days, not months: a longer window is a typo or an attempt to reuse it.
MAX_VALIDITY_S = 7 * 24 * 3600.0
#: How long after expiry (or before validity) a declaration is still offered as a candidate, so that a late truck
#: is told "declaration expired" rather than "no declaration".
CANDIDATE_SLACK_S = 24 * 3600.0
MAX_BOOK_SIZE = 100_000

_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_CUSTOMS_NO = re.compile(r"[A-Z0-9]{1,32}")
_SEAL = re.compile(r"[A-Z0-9]{1,32}")
_MAX_DRIVER_CHARS = 128
_MAX_PLATE_CHARS = 32
_MAX_CONTAINER_CHARS = 32
_MAX_SEAL_CHARS = 64
_MAX_ERROR_CHARS = 300
_decoder = msgspec.json.Decoder(Declaration)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a declaration: the field (``containers[1].number``), a stable code, plain words."""

    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class DeclarationError(ValueError):
    """A declaration refused, with every problem found; ``str()`` is one line listing them."""

    def __init__(self, declaration_id: str | None, problems: Iterable[Problem]) -> None:
        self.declaration_id = declaration_id
        self.problems = tuple(problems)
        who = f"declaration {declaration_id!r}" if declaration_id else "declaration"
        super().__init__(f"{who} rejected: " + "; ".join(str(p) for p in self.problems))

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


# --- decoding and validation ------------------------------------------------------------------------------------


def decode_declaration(data: bytes | str) -> Declaration:
    """One JSON object (a feed line) as a declaration; wrong JSON or wrong types raise `DeclarationError`
    naming the field (``$.containers[0].number``) when there is one."""
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        message, _, where = text.rpartition(" - at `$")
        if message and where.endswith("`"):
            field = where[:-1].lstrip(".") or "top level"
            raise DeclarationError(None, [Problem(field, "format", message[:_MAX_ERROR_CHARS])]) from None
        raise DeclarationError(None, [Problem("top level", "format", text[:_MAX_ERROR_CHARS])]) from None
    except msgspec.DecodeError as exc:
        raise DeclarationError(None, [Problem("top level", "format",
                                                 f"not a JSON object: {str(exc)[:_MAX_ERROR_CHARS]}")]) from None


def validate_declaration(declaration: Declaration, *, max_validity_s: float = MAX_VALIDITY_S,
                         now_utc: float | None = None) -> Declaration:
    """The declaration in canonical form (plates ``12C-123.45``, numbers without spaces), or
    `DeclarationError` listing every wrong field. With ``now_utc``, one already expired is refused too."""
    problems: list[Problem] = []
    tractor = _plate("tractor_plate", declaration.tractor_plate, problems)
    trailer = None
    if declaration.trailer_plate is not None:
        trailer = _plate("trailer_plate", declaration.trailer_plate, problems)
    containers = _containers(declaration.containers, problems)
    _check_identity(declaration, problems)
    _check_window(declaration, max_validity_s, now_utc, problems)
    if problems:
        raise DeclarationError(_safe_id(declaration.declaration_id), problems)
    return msgspec.structs.replace(
        declaration, tractor_plate=tractor or "", trailer_plate=trailer, containers=containers,
        customs_declaration_no=declaration.customs_declaration_no.strip(), driver=declaration.driver.strip())


def _safe_id(value: object) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _plate(field: str, value: object, problems: list[Problem]) -> str | None:
    if not isinstance(value, str):
        problems.append(Problem(field, "bad_plate", f"must be a string, got {type(value).__name__}"))
        return None
    if len(value) > _MAX_PLATE_CHARS:
        problems.append(Problem(field, "too_long", f"longer than {_MAX_PLATE_CHARS} characters"))
        return None
    try:
        return canonical_plate(value)
    except ValueError as exc:
        problems.append(Problem(field, "bad_plate", str(exc)))
        return None


def _containers(containers: object, problems: list[Problem]) -> tuple[DeclaredContainer, ...]:
    if not isinstance(containers, tuple | list):
        problems.append(Problem("containers", "format", "must be a list"))
        return ()
    if len(containers) > MAX_CONTAINERS:
        problems.append(Problem("containers", "too_many_containers",
                                f"{len(containers)} containers declared; a truck carries at most {MAX_CONTAINERS}"))
        return ()
    out: list[DeclaredContainer] = []
    numbers: dict[str, int] = {}
    seals: dict[str, int] = {}
    for i, item in enumerate(containers):
        if not isinstance(item, DeclaredContainer):
            problems.append(Problem(f"containers[{i}]", "format", "must be a container object"))
            continue
        number = _container_number(f"containers[{i}].number", item.number, problems)
        seal = _seal_number(f"containers[{i}].seal_number", item.seal_number, problems)
        if number is not None:
            if number in numbers:
                problems.append(Problem(f"containers[{i}].number", "duplicate_container",
                                        f"{number} is already declared as containers[{numbers[number]}]"))
            numbers.setdefault(number, i)
        if seal is not None:
            seal_key = compact(seal)
            if seal_key in seals:
                problems.append(Problem(f"containers[{i}].seal_number", "duplicate_seal",
                                        f"seal {seal} is already declared on containers[{seals[seal_key]}]"))
            seals.setdefault(seal_key, i)
        out.append(DeclaredContainer(number=number or "", seal_number=seal))
    return tuple(out)


def _container_number(field: str, value: object, problems: list[Problem]) -> str | None:
    if not isinstance(value, str) or len(value) > _MAX_CONTAINER_CHARS:
        problems.append(Problem(field, "too_long" if isinstance(value, str) else "format",
                                f"must be a string of at most {_MAX_CONTAINER_CHARS} characters"))
        return None
    number = compact(value)
    problem = container_problem(number)
    if problem is not None:
        code = "bad_check_digit" if "check digit" in problem and "ISO 6346 gives" in problem else "bad_container"
        problems.append(Problem(field, code, problem))
        return None
    return number


def _seal_number(field: str, value: object, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_SEAL_CHARS:
        problems.append(Problem(field, "too_long" if isinstance(value, str) else "format",
                                f"must be a string of at most {_MAX_SEAL_CHARS} characters"))
        return None
    if not _SEAL.fullmatch(compact(value)):
        problems.append(Problem(field, "bad_seal", f"{value!r} is not a seal number (1–32 letters and digits, "
                                                   "optionally grouped by spaces or '-')"))
        return None
    return value.strip()


def _check_identity(declaration: Declaration, problems: list[Problem]) -> None:
    if not isinstance(declaration.declaration_id, str) or not _ID.fullmatch(declaration.declaration_id):
        problems.append(Problem("declaration_id", "bad_id",
                                "must be 1–64 letters, digits, '_', '.', ':' or '-'"))
    customs = declaration.customs_declaration_no
    if not isinstance(customs, str) or not _CUSTOMS_NO.fullmatch(compact(customs)):
        problems.append(Problem("customs_declaration_no", "bad_customs_number",
                                "must be 1–32 letters, digits, '/' or '-' (e.g. 305512345678)"))
    driver = declaration.driver
    if not isinstance(driver, str) or len(driver) > _MAX_DRIVER_CHARS:
        problems.append(Problem("driver", "too_long", f"must be a string of at most {_MAX_DRIVER_CHARS} characters"))
    elif any(unicodedata.category(ch).startswith("C") for ch in driver):
        problems.append(Problem("driver", "bad_text", "must not contain control characters"))
    if declaration.channel not in ("green", "yellow", "red"):
        problems.append(Problem("channel", "bad_value", f"must be green, yellow or red, got {declaration.channel!r}"))
    if declaration.direction not in ("export", "import"):
        problems.append(Problem("direction", "bad_value",
                                f"must be export or import, got {declaration.direction!r}"))


def _check_window(declaration: Declaration, max_validity_s: float, now_utc: float | None,
                  problems: list[Problem]) -> None:
    start, end = declaration.valid_from_utc, declaration.valid_until_utc
    for field, value in (("valid_from_utc", start), ("valid_until_utc", end)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) \
                or not 0 <= value <= 4.0e9:
            problems.append(Problem(field, "bad_time", "must be UTC seconds since the epoch"))
            return
    if end <= start:
        problems.append(Problem("valid_until_utc", "bad_validity",
                                f"validity ends ({end:.0f}) before or when it starts ({start:.0f})"))
    elif end - start > max_validity_s:
        problems.append(Problem("valid_until_utc", "validity_too_long",
                                f"validity of {(end - start) / 3600:.1f} h is longer than the "
                                f"{max_validity_s / 3600:.0f} h allowed"))
    if now_utc is not None and end < now_utc:
        problems.append(Problem("valid_until_utc", "expired", "the declaration has already expired"))


# --- the book ---------------------------------------------------------------------------------------------------


def _overlaps(a: Declaration, b: Declaration) -> bool:
    return a.valid_from_utc < b.valid_until_utc and b.valid_from_utc < a.valid_until_utc


class DeclarationBook:
    """Accepted declarations, indexed for the clearance engine.

    One tractor may hold only one declaration at a time (no overlapping validity), so a passage cannot be matched
    to two at once. Lookups are tolerant: plates and containers are indexed by their OCR-confusion-folded form and
    by every one-character deletion of it, so a read with confusions and at most one other error still finds its
    declaration; `control.decide` then scores the candidates properly.
    """

    def __init__(self, *, max_size: int = MAX_BOOK_SIZE, max_validity_s: float = MAX_VALIDITY_S,
                 candidate_slack_s: float = CANDIDATE_SLACK_S) -> None:
        self.max_size = max_size
        self.max_validity_s = max_validity_s
        self.candidate_slack_s = candidate_slack_s
        self._by_id: dict[str, Declaration] = {}
        self._cancelled: dict[str, None] = {}   # ids withdrawn, oldest first (bounded by max_size)
        self._by_tractor: dict[str, set[str]] = defaultdict(set)
        self._by_key: dict[str, set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Declaration]:
        return iter(list(self._by_id.values()))

    def get(self, declaration_id: str) -> Declaration | None:
        return self._by_id.get(declaration_id)

    def check(self, declaration: Declaration, *, now_utc: float | None = None) -> list[Problem]:
        """Every reason `add` would refuse this declaration (empty when it would be accepted)."""
        try:
            self._admit(declaration, now_utc)
        except DeclarationError as exc:
            return list(exc.problems)
        return []

    def add(self, declaration: Declaration, *, now_utc: float | None = None) -> bool:
        """Accept a declaration (stored in canonical form). True if new, False if the identical declaration is
        already here (a replayed feed line or bus message); `DeclarationError` otherwise."""
        canonical, duplicate = self._admit(declaration, now_utc)
        if duplicate:
            return False
        self._by_id[canonical.declaration_id] = canonical
        self._by_tractor[canonical.tractor_plate].add(canonical.declaration_id)
        for key in _index_keys(canonical):
            self._by_key[key].add(canonical.declaration_id)
        return True

    def remove(self, declaration_id: str) -> bool:
        declaration = self._by_id.pop(declaration_id, None)
        if declaration is None:
            return False
        _discard(self._by_tractor, declaration.tractor_plate, declaration_id)
        for key in _index_keys(declaration):
            _discard(self._by_key, key, declaration_id)
        return True

    def cancel(self, declaration_id: str) -> bool:
        """Withdraw a declaration: it no longer clears a truck, and its id is refused from now on (a feed read again
        after a restart must not bring it back). True if it was held."""
        self._cancelled.pop(declaration_id, None)
        self._cancelled[declaration_id] = None
        while len(self._cancelled) > self.max_size:
            del self._cancelled[next(iter(self._cancelled))]
        return self.remove(declaration_id)

    def is_cancelled(self, declaration_id: str) -> bool:
        return declaration_id in self._cancelled

    def prune(self, before_utc: float) -> int:
        """Forget declarations that expired before ``before_utc``; returns how many."""
        old = [d.declaration_id for d in self._by_id.values() if d.valid_until_utc < before_utc]
        for declaration_id in old:
            self.remove(declaration_id)
        return len(old)

    def candidates(self, passage: VehiclePassage) -> list[Declaration]:
        """Declarations that may belong to this passage: a plate or container number within OCR tolerance, and a
        validity window within the candidate slack of the passage's time (expired ones included, so the engine
        can say so). Sorted by id, so `decide` sees them in a stable order."""
        ids: set[str] = set()
        for text in [p.text for p in passage.plates] + [c.number for c in passage.containers]:
            for key in deletion_keys(fold(text[:_MAX_PLATE_CHARS])):
                found = self._by_key.get(key)
                if found:
                    ids.update(found)
        t, slack = passage.first_seen_utc, self.candidate_slack_s
        found_declarations = (self._by_id[i] for i in sorted(ids))
        return [d for d in found_declarations if d.valid_from_utc - slack <= t <= d.valid_until_utc + slack]

    def _admit(self, declaration: Declaration, now_utc: float | None) -> tuple[Declaration, bool]:
        canonical = validate_declaration(declaration, max_validity_s=self.max_validity_s, now_utc=now_utc)
        if canonical.declaration_id in self._cancelled:
            raise DeclarationError(canonical.declaration_id, [Problem(
                "declaration_id", "cancelled_declaration",
                "this declaration was cancelled; submit a new one under a new id")])
        existing = self._by_id.get(canonical.declaration_id)
        if existing is not None:
            if existing == canonical:
                return canonical, True
            raise DeclarationError(canonical.declaration_id, [Problem(
                "declaration_id", "duplicate_declaration_id",
                "another declaration with this id and different content was already accepted")])
        problems = [Problem("valid_from_utc", "validity_overlap",
                            f"validity overlaps declaration {other_id!r} for the same tractor plate "
                            f"{canonical.tractor_plate}")
                    for other_id in sorted(self._by_tractor.get(canonical.tractor_plate, ()))
                    if _overlaps(self._by_id[other_id], canonical)]
        if len(self._by_id) >= self.max_size:
            problems.append(Problem("declaration_id", "book_full",
                                    f"{self.max_size} declarations are held already; prune expired ones"))
        if problems:
            raise DeclarationError(canonical.declaration_id, problems)
        return canonical, False


def _index_keys(declaration: Declaration) -> set[str]:
    texts = [declaration.tractor_plate, *([declaration.trailer_plate] if declaration.trailer_plate else []),
             *(c.number for c in declaration.containers)]
    keys: set[str] = set()
    for text in texts:
        keys |= deletion_keys(fold(text))
    return keys


def _discard(index: dict[str, set[str]], key: str, declaration_id: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(declaration_id)
        if not ids:
            del index[key]

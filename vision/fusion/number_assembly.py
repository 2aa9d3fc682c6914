"""Container numbers put together from partial reads, where no single copy of the number can be read whole.

A strap or a lump of mud over every painted copy of a number (rear doors, sides, roof) leaves each copy readable
only in part, but seldom the same part: on held-out seed 9405 the roof read `GLDU4229` and the rear doors
`GL29845` for `GLDU4229845`. A read that fits no ISO 6346 template is kept as such a part. Its *head* is its
leading owner code and the serial digits after it (`GLDU4229`); its *tail* is its trailing run of digits
(`29845`: the serial's end and the check digit). A head and a tail that overlap by at least `MIN_OVERLAP`
characters and make 11 characters whose check digit validates give a candidate. A candidate's evidence is the
smaller of its heads' and its tails' evidence: a head agrees when the candidate starts with its first
`AGREE_HEAD` characters (the owner code and four digits; a read's later digits may already be the check digit
read across the hidden gap, `GLDU42295`), a tail when the candidate ends with its last `AGREE_TAIL` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from datasets.synth.identifiers import is_valid_iso6346

NUMBER_LENGTH = 11
MIN_OVERLAP = 2
MIN_HEAD, MIN_TAIL = 6, 4
AGREE_HEAD, AGREE_TAIL = 8, 5
#: Characters a read check digit may change in a number whose check digit was computed (`with_read_check_digit`).
MAX_CHECK_REPAIR = 2
#: A tail shorter than this agrees with no number (a digit or two end one number in ten or a hundred).
MIN_AGREE_TAIL = 3
_HEAD = re.compile(r"[A-Z]{3}U\d*")
_TAIL = re.compile(r"\d+$")


def head_of(text: str) -> str:
    """The owner code (category U) and the digits right after it at the start of a read, or ''."""
    found = _HEAD.match(text)
    return found.group(0)[:NUMBER_LENGTH - 1] if found else ""


def tail_of(text: str) -> str:
    """The trailing digits of a read (at most the serial and the check digit), or ''."""
    found = _TAIL.search(text)
    return found.group(0)[-(NUMBER_LENGTH - 4):] if found else ""


def assembled(parts: Mapping[str, float]) -> dict[str, float]:
    """Valid ISO 6346 numbers that heads and tails of `parts` (read text → evidence) make together, each with the
    smaller of the evidence of the heads it starts with and of the tails it ends with."""
    heads: dict[str, float] = {}
    tails: dict[str, float] = {}
    for text, evidence in parts.items():
        if head := head_of(text):
            heads[head] = heads.get(head, 0.0) + evidence
        if tail := tail_of(text):
            tails[tail] = tails.get(tail, 0.0) + evidence
    found: dict[str, float] = {}
    for head in heads:
        for size in range(MIN_HEAD, len(head) + 1):
            start = head[:size]
            for tail in tails:
                for number in _joins(start, tail):
                    if number not in found and is_valid_iso6346(number):
                        found[number] = min(_head_support(number, heads), _tail_support(number, tails))
    return {number: evidence for number, evidence in found.items() if evidence > 0}


def agrees(part: str, number: str) -> bool:
    """Whether a part read agrees with a whole number at its head, or at a tail of at least `MIN_AGREE_TAIL`
    digits (the one rule for which parts support an assembled number, `_tail_support`)."""
    head = head_of(part)
    if head and number.startswith(head[:AGREE_HEAD]):
        return True
    return _tail_agrees(tail_of(part), number)


def with_read_check_digit(number: str, parts: Mapping[str, float]) -> str | None:
    """The one valid number that `number`'s owner code and a part's whole tail (six serial digits and the check
    digit, as read) make, where it differs from `number` as a misread does (at most two characters), else None.

    For a number whose check digit no copy showed: the grammar computed it from the serial as read, and a serial
    with a digit lost and the check digit read as its last one computes a valid but wrong number (`GLDU105379` →
    `GLDU1053794` for `GLDU1053789`). A tail read elsewhere with its check digit (`GL1053789`) says which."""
    owner = number[:4]
    found = {owner + tail for text in parts if len(tail := tail_of(text)) == NUMBER_LENGTH - 4}
    found = {n for n in found if n != number and is_valid_iso6346(n)
             and sum(a != b for a, b in zip(n, number, strict=True)) <= MAX_CHECK_REPAIR}
    return found.pop() if len(found) == 1 else None


def _joins(head: str, tail: str) -> list[str]:
    """`head` then `tail`, sharing the characters where they overlap, when that makes a number's length."""
    out = []
    for cut in range(MIN_TAIL, len(tail) + 1):
        end = tail[-cut:]
        overlap = len(head) + len(end) - NUMBER_LENGTH
        if overlap >= MIN_OVERLAP and head[-overlap:] == end[:overlap]:
            out.append(head + end[overlap:])
    return out


def _head_support(number: str, heads: Mapping[str, float]) -> float:
    return sum(evidence for head, evidence in heads.items() if number.startswith(head[:AGREE_HEAD]))


def _tail_support(number: str, tails: Mapping[str, float]) -> float:
    return sum(evidence for tail, evidence in tails.items() if _tail_agrees(tail, number))


def _tail_agrees(tail: str, number: str) -> bool:
    return len(tail) >= MIN_AGREE_TAIL and number.endswith(tail[-AGREE_TAIL:])

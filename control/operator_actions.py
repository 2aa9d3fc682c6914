"""Operator overrides: an authenticated officer turns a passage's decision into another, with a mandatory reason.

Why a separate, pure module: an override is the one way a person can open a barrier against the engine's judgement,
so its rules must be readable in one place and testable without sockets. ``override`` either returns the new
`ClearanceDecision` (which the clearance engine journals together with the action and its gate command, before
anything is sent) or raises `OperatorActionError` naming why it was refused.

Allowed transitions (``OVERRIDE_OPEN`` and back):

============  ==========================  ==============================================
action        from                         why
============  ==========================  ==============================================
OPEN          HOLD, INSPECT                an officer checked the truck and clears it
HOLD          OPEN, INSPECT, REJECT        keep it closed while someone looks again
INSPECT       OPEN, HOLD, REJECT           send it to physical inspection
============  ==========================  ==============================================

A ``REJECT`` (no valid declaration) is never opened by an override: customs must declare the truck first.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Final

from bus.messages import ClearanceDecision, OperatorAction, Outcome, Reason

OVERRIDE_OUTCOME: Final[dict[str, Outcome]] = {
    "OVERRIDE_OPEN": "OPEN", "OVERRIDE_HOLD": "HOLD", "OVERRIDE_INSPECT": "INSPECT"}
ALLOWED_FROM: Final[dict[Outcome, frozenset[Outcome]]] = {
    "OPEN": frozenset({"HOLD", "INSPECT"}),
    "HOLD": frozenset({"OPEN", "INSPECT", "REJECT"}),
    "INSPECT": frozenset({"OPEN", "HOLD", "REJECT"}),
}
MIN_REASON_CHARS: Final = 3
_MAX_ID_CHARS: Final = 64
_MAX_TEXT_CHARS: Final = 2000
_WORDS_VI: Final[dict[str, str]] = {"OPEN": "MỞ", "HOLD": "GIỮ", "INSPECT": "KIỂM TRA", "REJECT": "TỪ CHỐI"}


class OperatorActionError(ValueError):
    """An action refused; ``code`` is a short counter name (``not_allowed``, ``no_reason``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OperatorPolicy:
    """Who may override, and how old an action may be when it arrives (a replayed old action is refused)."""

    operators: frozenset[str] = field(default_factory=frozenset)
    max_age_s: float = 120.0
    max_clock_skew_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_age_s", "max_clock_skew_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def override_decision_id(action_id: str) -> str:
    """The id of the decision an action makes: derived from the action, so re-applying it cannot make a second."""
    return derived_id("ovr", action_id)


def derived_id(prefix: str, base: str) -> str:
    """``prefix-base``, or ``prefix-`` and a hash of ``base`` when that would exceed the 64-character id limit."""
    plain = f"{prefix}-{base}"
    if len(plain) <= _MAX_ID_CHARS:
        return plain
    return f"{prefix}-" + hashlib.sha256(base.encode()).hexdigest()[:40]


def check_action(action: OperatorAction, policy: OperatorPolicy, *, authenticated_as: str | None,
                 now_utc: float) -> Outcome:
    """The outcome the action asks for, once who sent it, why and when are acceptable; else `OperatorActionError`.

    ``authenticated_as`` is the identity the caller's transport or API login established; when given, the action
    must be in that operator's name (nobody overrides in another's name).
    """
    wanted = OVERRIDE_OUTCOME.get(action.action)
    if wanted is None:
        raise OperatorActionError("not_an_override", f"{action.action} does not change a clearance decision")
    if action.operator not in policy.operators:
        raise OperatorActionError("not_allowed", f"operator {action.operator!r} may not override decisions")
    if authenticated_as is not None and authenticated_as != action.operator:
        raise OperatorActionError("identity_mismatch",
                                  f"action in the name of {action.operator!r} sent by {authenticated_as!r}")
    if len(action.reason.strip()) < MIN_REASON_CHARS:
        raise OperatorActionError("no_reason", f"a reason of at least {MIN_REASON_CHARS} characters is required")
    age = now_utc - action.ts_utc
    if age > policy.max_age_s or age < -policy.max_clock_skew_s:
        raise OperatorActionError("stale", f"action stamped {age:.0f} s ago (at most {policy.max_age_s:.0f} s)")
    if action.passage_id is None and action.decision_id is None:
        raise OperatorActionError("no_target", "the action names neither a passage nor a decision")
    return wanted


def override(action: OperatorAction, current: ClearanceDecision | None, policy: OperatorPolicy, *,
             authenticated_as: str | None, now_utc: float) -> ClearanceDecision:
    """The decision that replaces ``current`` (the passage's latest decision) by the operator's will.

    Refused when the action targets another or an older decision (two officers racing on one truck: the second
    must look again), or asks for a transition the table in this module's docstring does not allow.
    """
    wanted = check_action(action, policy, authenticated_as=authenticated_as, now_utc=now_utc)
    if current is None:
        raise OperatorActionError("unknown_decision", f"no decision for passage {action.passage_id!r} "
                                                      f"/ decision {action.decision_id!r}")
    _check_target(action, current)
    if current.outcome == wanted:
        raise OperatorActionError("no_change", f"the decision is already {wanted}")
    if current.outcome not in ALLOWED_FROM[wanted]:
        raise OperatorActionError("not_allowed_transition", f"{current.outcome} cannot be overridden to {wanted}")
    decision_id = override_decision_id(action.action_id)
    return ClearanceDecision(
        id=decision_id, ts_utc=now_utc, decision_id=decision_id, passage_id=current.passage_id,
        lane_id=current.lane_id, outcome=wanted, reasons=(override_reason(action, current.outcome, wanted),
                                                          *current.reasons)[:64],
        declaration_id=current.declaration_id, confidence=current.confidence)


def override_reason(action: OperatorAction, old: Outcome, new: Outcome) -> Reason:
    """Who changed what, and the officer's own words, in both languages."""
    why = " ".join(action.reason.split())
    en = f"Operator {action.operator} changed {old} to {new}: {why}"
    vi = f"Cán bộ {action.operator} đã chuyển {_WORDS_VI[old]} thành {_WORDS_VI[new]}: {why}"
    return Reason(code="operator_override", en=_clip(en), vi=_clip(vi))


def _check_target(action: OperatorAction, current: ClearanceDecision) -> None:
    if action.decision_id is not None and action.decision_id != current.decision_id:
        raise OperatorActionError("superseded", f"decision {action.decision_id} is not the passage's latest "
                                                f"({current.decision_id}); look again before overriding")
    if action.passage_id is not None and action.passage_id != current.passage_id:
        raise OperatorActionError("wrong_target", f"decision {current.decision_id} is for passage "
                                                  f"{current.passage_id}, not {action.passage_id}")
    if action.lane_id is not None and action.lane_id != current.lane_id:
        raise OperatorActionError("wrong_target", f"passage {current.passage_id} is on lane {current.lane_id}, "
                                                  f"not {action.lane_id}")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT_CHARS else text[: _MAX_TEXT_CHARS - 1] + "…"

"""The thresholds and switches `control.decide` applies; a site sets them in the ``clearance:`` section of its file.

Defaults are chosen to fail towards a person: anything the cameras are unsure of becomes a HOLD for an officer,
never an OPEN. Distances are weighted edit distances over identifiers written without separators, in which a
substitution a camera commonly makes (`O`/`0`, `I`/`1`, `B`/`8`, `S`/`5`, `Z`/`2`, `G`/`6`, `D`/`0`, `Q`/`0`)
costs `confusable_cost` and any other edit costs 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

DeclaredDirection = Literal["export", "import", "any"]


@dataclass(frozen=True)
class ClearanceRules:
    """How `decide` matches a passage to its declaration and when it lets a truck through.

    Confidences (0..1) are the fused read confidences of `VehiclePassage`, discounted by how far the read is from
    the declared identifier: ``confidence × (1 − distance / length)``.
    """

    #: A plate match below this (after the distance discount) is HOLD, never OPEN.
    min_plate_confidence: float = 0.80
    #: The same for container numbers; an unmatched container read this sure (and with a good check digit) is an
    #: undeclared container (INSPECT), a less sure one only "unconfirmed" (HOLD).
    min_container_confidence: float = 0.80
    #: A seal state (present/absent) read below this counts as unknown.
    min_seal_confidence: float = 0.70
    #: Cost of substituting one OCR-confusable character for its partner (1 = no tolerance at all).
    confusable_cost: float = 0.25
    #: A plate within this weighted distance of the declared one matches (0.5: up to two confusions).
    plate_tolerance: float = 0.5
    #: Within this distance a tractor plate, together with a matching trailer plate or container, still ties the
    #: passage to the declaration, as a plate mismatch (HOLD) instead of "no declaration" (REJECT). Alone it ties
    #: nothing: a plate one character off is as likely another truck.
    plate_link_tolerance: float = 2.0
    container_tolerance: float = 0.5
    seal_tolerance: float = 0.5
    #: What a required seal that cannot be seen (state unknown, or no seal read) leads to.
    seal_unknown_outcome: Literal["HOLD", "INSPECT"] = "INSPECT"
    #: Compare seal numbers when the camera read one (presence alone is checked otherwise).
    check_seal_numbers: bool = True
    #: A declared trailer plate that was not read makes a HOLD.
    require_trailer_plate: bool = True
    #: Which declarations a lane's passages may use: gate-in lanes carry exports, gate-out lanes imports (the
    #: synthetic recordings follow the same convention); "any" switches the check off.
    direction_in: DeclaredDirection = "export"
    direction_out: DeclaredDirection = "import"
    #: Seconds of slack at both ends of a declaration's validity window.
    validity_grace_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("min_plate_confidence", "min_container_confidence", "min_seal_confidence", "confusable_cost"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        for name in ("plate_tolerance", "plate_link_tolerance", "container_tolerance", "seal_tolerance"):
            _check_range(name, getattr(self, name), 0.0, 10.0)
        _check_range("validity_grace_s", self.validity_grace_s, 0.0, 7 * 24 * 3600.0)
        if self.plate_link_tolerance < self.plate_tolerance:
            raise ValueError("plate_link_tolerance must be at least plate_tolerance")
        if self.seal_unknown_outcome not in ("HOLD", "INSPECT"):
            raise ValueError(f"seal_unknown_outcome must be HOLD or INSPECT, got {self.seal_unknown_outcome!r}")
        for name in ("direction_in", "direction_out"):
            if getattr(self, name) not in ("export", "import", "any"):
                raise ValueError(f"{name} must be export, import or any, got {getattr(self, name)!r}")
        for name in ("check_seal_numbers", "require_trailer_plate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    def declared_direction(self, lane_direction: str) -> DeclaredDirection:
        """The declaration direction a passage through an ``in`` or ``out`` lane must carry."""
        return self.direction_in if lane_direction == "in" else self.direction_out


def rule_names() -> list[str]:
    """The field names, in order (the site file's ``clearance:`` keys)."""
    return [f.name for f in fields(ClearanceRules)]


def _check_range(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")

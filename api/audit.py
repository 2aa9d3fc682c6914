"""Every write through the API goes on record: an `AuditEntry` in the journal before the answer goes out.

Refused and failed writes are recorded too (a refused login, an override the rules did not allow), since those
are what an investigation looks for. The entry is also published for live consumers; that copy may be lost (PUB/SUB),
the journal's may not: if the journal cannot take it, `audit` raises and the write's caller answers 503.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from api.auth import Principal
from api.context import ApiContext
from bus.messages import AuditEntry

log = logging.getLogger(__name__)
Outcome = Literal["ok", "refused", "error"]
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


def audit(ctx: ApiContext, principal: Principal | None, action: str, outcome: Outcome, *, target: str = "",
          detail: str = "", lane_id: str | None = None, remote: str = "") -> None:
    """Journal (synchronously) and publish one audit entry; raises `bus.journal.JournalError` if not journalled."""
    entry = AuditEntry(
        actor=_clip(principal.name if principal else "anonymous", 64) or "anonymous",
        role=_role(principal),
        action=_clip(action, 64) or "unknown",
        outcome=outcome,
        target=_clip(target, 256),
        detail=_clip(detail, 2000),
        lane_id=lane_id if lane_id is not None and _ID.fullmatch(lane_id) else None,
        remote=_clip(remote, 256),
    )
    ctx.journal.append(entry)
    ctx.metrics.observe_audit(entry.action, outcome)
    if ctx.publisher is not None:
        try:
            ctx.publisher.publish(entry)
        except Exception:  # the journal has it; a lost live copy must not fail the write
            log.exception("audit entry %s journalled but not published", entry.id)


def _role(principal: Principal | None) -> Literal["viewer", "operator", "admin", "api-key", "anonymous"]:
    if principal is None:
        return "anonymous"
    return "api-key" if principal.via == "api-key" else principal.role


def _clip(text: str, limit: int) -> str:
    """Fit a field's bound; control characters become spaces so a log line stays one line."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"

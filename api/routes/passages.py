"""Passages: the list, one passage with its decisions and barrier answers, its evidence crops, and overrides.

An override is checked here with the very rules the clearance engine applies (`control.operator_actions.override`)
against the passage's latest decision, so an operator hears "not allowed" at once with the rule's words (409)
instead of watching nothing happen; the engine checks again when it applies the action.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit import audit
from api.auth import Principal
from api.context import ApiContext
from api.journal_lookup import acks_for, action_for, decisions_for, find_passage, latest_decision
from api.live_views import ack_out, decision_out, evidence_paths, passage_out
from api.routes.common import (
    Ctx,
    IdPath,
    ListWindow,
    Operator,
    Reader,
    journal_errors,
    journal_page,
    page_json,
    remote_of,
)
from api.routes.schemas import ActionAccepted, PassageDetail, PassagePage, errors
from bus.messages import OperatorAction, VehiclePassage, new_id, now_utc
from control.operator_actions import OperatorActionError, OperatorPolicy, override

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["passages"])

MAX_EVIDENCE_INDEX = 10_000
EVIDENCE_SUFFIXES = frozenset({".jpg", ".jpeg"})
MAX_SITE_DIRS = 64


class OverrideIn(BaseModel):
    """An operator's override of the passage's latest decision; the reason is mandatory and journalled."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["OVERRIDE_OPEN", "OVERRIDE_HOLD", "OVERRIDE_INSPECT"]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


@router.get("/passages", response_model=PassagePage, responses=errors(400, 503), summary="Passages, newest first")
def list_passages(ctx: Ctx, _: Reader, window: ListWindow) -> dict[str, Any]:
    page = journal_page(ctx, VehiclePassage, window)
    return page_json([passage_out(e.message) for e in page.entries if isinstance(e.message, VehiclePassage)],
                     page.next_cursor)


@router.get("/passages/{passage_id}", response_model=PassageDetail, responses=errors(404, 503),
            summary="One passage, its decisions and the barrier's answers")
def get_passage(passage_id: IdPath, ctx: Ctx, _: Reader) -> dict[str, Any]:
    with journal_errors():
        passage = _passage_or_404(ctx, passage_id)
        decisions = [decision_out(d, action_for(ctx.live, ctx.journal, d)) for d in decisions_for(ctx.journal, passage)]
        acks = [ack_out(ack, command) for ack, command in acks_for(ctx.journal, passage)]
    return {"passage": passage_out(passage), "decisions": decisions, "acks": acks}


@router.get("/passages/{passage_id}/evidence/{n}", response_class=FileResponse, responses={
    200: {"content": {"image/jpeg": {}}, "description": "The crop"}, **errors(404, 503)},
    summary="An evidence crop of the passage (n: index in the passage's evidence URLs)")
def get_evidence(passage_id: IdPath, n: Annotated[int, PathParam(ge=0, le=MAX_EVIDENCE_INDEX)], ctx: Ctx,
                 _: Reader) -> FileResponse:
    with journal_errors():
        passage = _passage_or_404(ctx, passage_id)
    paths = evidence_paths(passage)
    if n >= len(paths):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"passage {passage_id} has {len(paths)} evidence crops")
    found = evidence_file(ctx.settings.evidence_dir, passage.lane_id, paths[n])
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the evidence crop is not on this server")
    return FileResponse(found, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/passages/{passage_id}/override", status_code=status.HTTP_202_ACCEPTED, response_model=ActionAccepted,
             responses=errors(404, 409, 422, 503), summary="Override the passage's latest decision (operators)")
def override_passage(passage_id: IdPath, body: OverrideIn, request: Request, ctx: Ctx,
                     principal: Operator) -> dict[str, Any]:
    remote = remote_of(request)
    with journal_errors():
        passage = find_passage(ctx.live, ctx.journal, passage_id)
        current = latest_decision(ctx.live, ctx.journal, passage) if passage is not None else None
    if passage is None:
        audit(ctx, principal, "override", "refused", target=passage_id, detail="unknown passage", remote=remote)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no passage {passage_id!r}")
    action_id = new_id()
    action = OperatorAction(id=action_id, action_id=action_id, operator=principal.name, action=body.action,
                            reason=body.reason, passage_id=passage_id, lane_id=passage.lane_id,
                            decision_id=current.decision_id if current is not None else None)
    detail = f"{body.action}: {body.reason}"
    try:
        override(action, current, OperatorPolicy(frozenset({principal.name})), authenticated_as=principal.name,
                 now_utc=now_utc())
    except OperatorActionError as exc:
        audit(ctx, principal, "override", "refused", target=passage_id, detail=f"{detail} ({exc})",
              lane_id=passage.lane_id, remote=remote)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    _publish(ctx, principal, action, detail, remote)
    return {"action_id": action_id}


def _publish(ctx: ApiContext, principal: Principal, action: OperatorAction, detail: str, remote: str) -> None:
    """Audit, then hand the action to the bus (503 without a bus; an audit entry says the send failed)."""
    target, lane = action.passage_id or "", action.lane_id
    if ctx.publisher is None:
        audit(ctx, principal, "override", "error", target=target, detail=f"{detail} (no bus)", lane_id=lane,
              remote=remote)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no bus to send the override on")
    audit(ctx, principal, "override", "ok", target=target, detail=detail, lane_id=lane, remote=remote)
    try:
        ctx.publisher.publish(action)
    except Exception as exc:  # a transport failure is the bus's, not the client's: record it, answer 503
        log.exception("override %s not published", action.action_id)
        audit(ctx, principal, "override", "error", target=target, detail=f"not sent: {exc}", lane_id=lane,
              remote=remote)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the override could not be sent") from None
    ctx.live.note_action(action)


def _passage_or_404(ctx: ApiContext, passage_id: str) -> VehiclePassage:
    passage = find_passage(ctx.live, ctx.journal, passage_id)
    if passage is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no passage {passage_id!r}")
    return passage


def evidence_file(root: Path, lane_id: str, relative: str) -> Path | None:
    """The crop file a passage names, searched where lane readers write (``<root>/<site>/<lane>/``, also
    ``<root>/<lane>/`` and ``<root>/``); None unless it is a JPEG file lying inside ``root`` (a hostile path in a
    message, ``..`` or a symlink pointing out, finds nothing)."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.suffix.lower() not in EVIDENCE_SUFFIXES:
        return None
    try:
        base = root.resolve()
        bases = [base / lane_id, base]
        if base.is_dir():
            bases += [site / lane_id for site in sorted(base.iterdir())[:MAX_SITE_DIRS] if site.is_dir()]
        for candidate_base in bases:
            candidate = (candidate_base / rel).resolve()
            if candidate.is_relative_to(base) and candidate.is_file():
                return candidate
    except (OSError, ValueError, RuntimeError):  # unreadable folder, NUL in the name, a symlink loop
        return None
    return None

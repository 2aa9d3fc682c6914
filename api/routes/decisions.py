"""Clearance decisions, newest first, filtered by lane, time and outcome."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.journal_lookup import action_for
from api.live_views import decision_out
from api.routes.common import Ctx, ListWindow, Reader, journal_errors, journal_page, page_json
from api.routes.schemas import DecisionPage, errors
from bus.messages import ClearanceDecision, Message

router = APIRouter(prefix="/api/v1", tags=["decisions"])


@router.get("/decisions", response_model=DecisionPage, responses=errors(400, 503),
            summary="Decisions, newest first")
def list_decisions(ctx: Ctx, _: Reader, window: ListWindow,
                   outcome: Annotated[Literal["OPEN", "HOLD", "INSPECT", "REJECT"] | None,
                                      Query(description="only this outcome")] = None) -> dict[str, Any]:
    def keep(message: Message) -> bool:
        return isinstance(message, ClearanceDecision) and message.outcome == outcome

    page = journal_page(ctx, ClearanceDecision, window, keep if outcome is not None else None)
    with journal_errors():
        items = [decision_out(e.message, action_for(ctx.live, ctx.journal, e.message))
                 for e in page.entries if isinstance(e.message, ClearanceDecision)]
    return page_json(items, page.next_cursor)

"""Declarations: submit (checked with `control.declarations` first, so a bad one is refused with every wrong field
at once), list with their status, and cancel.

Both writes go to the clearance service over the bus; it journals what it accepts (`DeclarationSubmitted`), what it
refuses (`DeclarationRejected`) and the cancellations it applies (`DeclarationCancelled`), which is what the list
shows. A declaration is therefore listed once the clearance service has taken it, a moment after the 202.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, HTTPException, Query, Request, status

from api.audit import audit
from api.auth import Principal
from api.context import ApiContext
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
from api.routes.schemas import DeclarationAccepted, DeclarationPage, errors
from bus.journal import Journal
from bus.messages import (
    Declaration,
    DeclarationCancelled,
    DeclarationRejected,
    DeclarationSubmitted,
    Message,
    now_utc,
)
from control.declarations import (
    CANDIDATE_SLACK_S,
    MAX_VALIDITY_S,
    DeclarationError,
    decode_declaration,
    validate_declaration,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["declarations"])

HORIZON_S = MAX_VALIDITY_S + CANDIDATE_SLACK_S
"""How far back a declaration can still matter (and be cancelled)."""
MAX_LOOKUP_ROWS = 50_000


def _inline_schema(struct: type[Declaration]) -> dict[str, Any]:
    """The JSON schema of a msgspec struct with its ``$defs`` inlined (an OpenAPI operation cannot carry them)."""
    schema = msgspec.json.schema(struct)
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


DECLARATION_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _inline_schema(Declaration)}}}}


@router.post("/declarations", status_code=status.HTTP_202_ACCEPTED, response_model=DeclarationAccepted,
             responses=errors(422, 503), openapi_extra=DECLARATION_BODY,
             summary="Submit a declaration (operators); checked before it is sent")
def submit_declaration(body: Annotated[dict[str, Any], Body()], request: Request, ctx: Ctx,
                       principal: Operator) -> dict[str, Any]:
    remote = remote_of(request)
    try:
        declaration = decode_declaration(msgspec.json.encode(body))
        validate_declaration(declaration, now_utc=now_utc())
    except DeclarationError as exc:
        audit(ctx, principal, "declaration.create", "refused", target=exc.declaration_id or "",
              detail=str(exc), remote=remote)
        problems = [{"field": p.field, "code": p.code, "message": p.message} for p in exc.problems]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"problems": problems}) from None
    _send(ctx, principal, "declaration.create", DeclarationSubmitted(declaration=declaration, source="api"),
          target=declaration.declaration_id, detail=f"customs {declaration.customs_declaration_no}, tractor "
                                                    f"{declaration.tractor_plate}", remote=remote)
    return {"declaration_id": declaration.declaration_id}


@router.get("/declarations", response_model=DeclarationPage, responses=errors(400, 503),
            summary="Declarations taken or refused by the clearance service, newest first, with their status")
def list_declarations(ctx: Ctx, _: Reader, window: ListWindow) -> dict[str, Any]:
    page = journal_page(ctx, (DeclarationSubmitted, DeclarationRejected), window)
    oldest = min((e.ts_utc for e in page.entries), default=None)
    with journal_errors():
        cancels = _cancellations(ctx.journal, min(oldest, now_utc()) - HORIZON_S) if oldest is not None else {}
    return page_json([_item(e.message, cancels) for e in page.entries], page.next_cursor)


@router.delete("/declarations/{declaration_id}", status_code=status.HTTP_202_ACCEPTED,
               response_model=DeclarationAccepted, responses=errors(404, 409, 503),
               summary="Cancel a declaration (operators): it no longer clears a truck")
def cancel_declaration(declaration_id: IdPath, request: Request, ctx: Ctx, principal: Operator,
                       reason: Annotated[str, Query(min_length=3, max_length=2000,
                                                    description="why it is cancelled (journalled)")]) -> dict[str, Any]:
    remote = remote_of(request)
    since = now_utc() - HORIZON_S
    with journal_errors():
        known = _submitted(ctx.journal, declaration_id, since)
        already = _cancellations(ctx.journal, since).get(declaration_id) if known else None
    refusal = None if known and already is None else (
        (status.HTTP_404_NOT_FOUND, f"no declaration {declaration_id!r} in force") if not known
        else (status.HTTP_409_CONFLICT, f"declaration {declaration_id!r} is already cancelled"))
    if refusal is not None:
        audit(ctx, principal, "declaration.cancel", "refused", target=declaration_id, detail=refusal[1],
              remote=remote)
        raise HTTPException(*refusal)
    cancel = DeclarationCancelled(declaration_id=declaration_id, operator=principal.name, reason=reason)
    _send(ctx, principal, "declaration.cancel", cancel, target=declaration_id, detail=reason, remote=remote)
    return {"declaration_id": declaration_id}


def _send(ctx: ApiContext, principal: Principal, action: str, message: Message, *, target: str, detail: str,
          remote: str) -> None:
    """Audit, then publish (503 without a bus, or when the send fails, with an audit entry saying so)."""
    if ctx.publisher is None:
        audit(ctx, principal, action, "error", target=target, detail=f"{detail} (no bus)", remote=remote)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no bus to send the declaration on")
    audit(ctx, principal, action, "ok", target=target, detail=detail, remote=remote)
    try:
        ctx.publisher.publish(message)
    except Exception as exc:  # the bus's failure, not the client's: recorded, 503
        log.exception("%s %s not published", action, target)
        audit(ctx, principal, action, "error", target=target, detail=f"not sent: {exc}", remote=remote)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the declaration could not be sent") from None


def _submitted(journal: Journal, declaration_id: str, since: float) -> bool:
    entries = journal.query(types=DeclarationSubmitted, since_utc=since, newest_first=True, limit=MAX_LOOKUP_ROWS)
    return any(isinstance(e.message, DeclarationSubmitted) and e.message.declaration.declaration_id == declaration_id
               for e in entries)


def _cancellations(journal: Journal, since: float) -> dict[str, DeclarationCancelled]:
    entries = journal.query(types=DeclarationCancelled, since_utc=since, limit=MAX_LOOKUP_ROWS)
    return {e.message.declaration_id: e.message for e in entries if isinstance(e.message, DeclarationCancelled)}


def _item(message: Message, cancels: dict[str, DeclarationCancelled]) -> dict[str, Any]:
    if isinstance(message, DeclarationRejected):
        return {"declaration_id": message.declaration_id, "status": "rejected", "ts_utc": message.ts_utc,
                "source": message.source, "declaration": None, "cancelled": None,
                "problems": [{"field": p.field, "code": p.code, "message": p.message} for p in message.problems]}
    if not isinstance(message, DeclarationSubmitted):
        raise TypeError(f"not a declaration record: {type(message).__name__}")
    declaration_id = message.declaration.declaration_id
    cancel = cancels.get(declaration_id)
    return {"declaration_id": declaration_id, "status": "submitted" if cancel is None else "cancelled",
            "ts_utc": message.ts_utc, "source": message.source,
            "declaration": msgspec.to_builtins(message.declaration), "problems": [],
            "cancelled": None if cancel is None else {"operator": cancel.operator, "reason": cancel.reason,
                                                      "ts_utc": cancel.ts_utc}}

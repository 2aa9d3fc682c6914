"""What every data route shares: the context, the caller, checked ids, the list window, and the way journal
failures become answers (a bad cursor is the client's 400, an unreadable journal a 503, never a 500)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status

from api.auth import Principal, require
from api.context import ApiContext, get_ctx
from api.queries import (
    MAX_LIMIT,
    CursorError,
    Keep,
    Page,
    PageReader,
    Window,
    decode_cursor,
    encode_cursor,
)
from bus.journal import JournalError, TypeFilter

log = logging.getLogger(__name__)

ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
MAX_UTC = 4.0e9


Ctx = Annotated[ApiContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require("read"))]
Operator = Annotated[Principal, Depends(require("operate"))]
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
LaneQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN,
                                        description="only this lane")]


async def list_window(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    lane: LaneQuery = None,
    since: Annotated[float | None, Query(ge=0.0, le=MAX_UTC, description="from this UTC time (s), inclusive")]
    = None,
    until: Annotated[float | None, Query(ge=0.0, le=MAX_UTC, description="before this UTC time (s)")] = None,
) -> Window:
    try:
        before = decode_cursor(cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    if since is not None and until is not None and until < since:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "until must not be before since")
    return Window(limit=limit, before_seq=before, lane=lane, since_utc=since, until_utc=until)


ListWindow = Annotated[Window, Depends(list_window)]


@contextmanager
def journal_errors() -> Iterator[None]:
    """A journal that cannot be read answers 503 (the reason logged)."""
    try:
        yield
    except JournalError as exc:
        log.error("journal read failed: %s", exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the journal cannot be read now") from None


def journal_page(ctx: ApiContext, types: TypeFilter, window: Window, keep: Keep | None = None) -> Page:
    reader = PageReader(ctx.journal)
    with journal_errors():
        page = reader.page(types, window, keep)
    if reader.corrupt_skipped:
        ctx.metrics.observe_rejected("journal_corrupt")
    return page


def remote_of(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def page_json(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}



def seq_cursor(cursor: str | None) -> int | None:
    """A cursor's seq, or 400."""
    try:
        return decode_cursor(cursor)
    except CursorError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def offset_cursor(cursor: str | None) -> int:
    """Live lists that are not journal pages use the same opaque cursors, naming a position (1-based)."""
    found = seq_cursor(cursor)
    return 0 if found is None else found - 1


def offset_page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    page = items[offset:offset + limit]
    more = offset + limit < len(items)
    return page_json(page, encode_cursor(offset + limit + 1) if more else None)

"""Cranes, IGVs and container jobs, as the live state last heard them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.queries import MAX_LIMIT, encode_cursor
from api.routes.common import Ctx, Reader, seq_cursor
from api.routes.schemas import CraneOut, IgvOut, JobPage, errors

router = APIRouter(prefix="/api/v1", tags=["fleet"])

JobStateFilter = Literal["created", "at_bay", "on_stand", "on_igv", "in_corridor", "delivered", "on_truck", "done",
                         "cancelled", "failed"]


@router.get("/cranes", response_model=list[CraneOut], summary="Cranes: position along the rail, state, load")
async def cranes(ctx: Ctx, _: Reader) -> list[dict[str, Any]]:
    return ctx.live.cranes()


@router.get("/igvs", response_model=list[IgvOut], summary="IGVs: position, state, battery, load")
async def igvs(ctx: Ctx, _: Reader) -> list[dict[str, Any]]:
    return ctx.live.igvs()


@router.get("/jobs", response_model=JobPage, responses=errors(400),
            summary="Container jobs by their latest step, most recently updated first")
async def jobs(ctx: Ctx, _: Reader, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
               cursor: Annotated[str | None, Query(max_length=64)] = None,
               state: Annotated[JobStateFilter | None, Query(description="only jobs in this state")] = None,
               ) -> dict[str, Any]:
    items = ctx.live.jobs(state=state, before=seq_cursor(cursor), limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["seq"]) if more else None}

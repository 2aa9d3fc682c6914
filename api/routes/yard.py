"""The yard: slot occupancy and queues (live), the containers in it, and the layout for the map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api.queries import MAX_LIMIT
from api.routes.common import Ctx, Reader, offset_cursor, offset_page
from api.routes.schemas import ContainerPage, OccupancyOut, errors

router = APIRouter(prefix="/api/v1/yard", tags=["yard"])


@router.get("/occupancy", response_model=OccupancyOut, summary="Every slot's occupancy and the truck queues")
async def occupancy(ctx: Ctx, _: Reader) -> dict[str, Any]:
    return ctx.live.yard()


@router.get("/containers", response_model=ContainerPage, responses=errors(400),
            summary="Containers seen in the yard's slots, by slot")
async def containers(ctx: Ctx, _: Reader, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
                     cursor: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    return offset_page(ctx.live.containers(), limit, offset_cursor(cursor))


@router.get("/layout", responses=errors(404), summary="Zones, slots and points of the yard in site metres")
async def layout(ctx: Ctx, _: Reader) -> dict[str, Any]:
    found = ctx.live.yard_map()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this site has no yard layout")
    return found

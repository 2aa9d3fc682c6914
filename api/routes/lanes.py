"""Lanes, their live state (the hottest route: cached bytes, no work per request) and the page's configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.routes.common import Ctx, IdPath, Reader
from api.routes.schemas import ConfigOut, LaneOut, LaneStateOut, errors

router = APIRouter(prefix="/api/v1", tags=["lanes"])


@router.get("/config", response_model=ConfigOut, summary="What the control-room page needs to know")
async def get_config(ctx: Ctx, _: Reader) -> dict[str, Any]:
    settings = ctx.settings
    return {"stale_after_s": settings.stale_after_s, "environment": settings.environment,
            "site_name": settings.site_name, "lanes": ctx.live.lanes()}


@router.get("/lanes", response_model=list[LaneOut], summary="The site's lanes")
async def list_lanes(ctx: Ctx, _: Reader) -> list[dict[str, Any]]:
    return ctx.live.lanes()


@router.get("/lanes/{lane_id}/state", response_class=Response, summary="A lane's live state",
            responses={200: {"model": LaneStateOut, "content": {"application/json": {}}}, **errors(404)})
async def lane_state(lane_id: IdPath, ctx: Ctx, _: Reader) -> Response:
    body = ctx.live.lane_state(lane_id)
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lane {lane_id!r}")
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

"""KPIs of the last hour and the recent alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.routes.common import Ctx, Reader
from api.routes.schemas import AlertOut, KpisOut
from bus.messages import now_utc

router = APIRouter(prefix="/api/v1", tags=["kpis"])


@router.get("/kpis", response_model=KpisOut, summary="Trucks per hour, time at the gate, queue, decisions")
async def kpis(ctx: Ctx, _: Reader) -> dict[str, Any]:
    return ctx.live.kpis(now_utc())


@router.get("/alerts", response_model=list[AlertOut], summary="Recent alerts, newest first")
async def alerts(ctx: Ctx, _: Reader) -> list[dict[str, Any]]:
    return ctx.live.alerts()

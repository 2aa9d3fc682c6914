"""The data routes of the API (lanes, passages, decisions, declarations, yard, fleet, KPIs) and the live stream."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import decisions, declarations, fleet, kpis, lanes, passages, stream, yard

ROUTERS: list[APIRouter] = [lanes.router, passages.router, decisions.router, declarations.router, yard.router,
                            fleet.router, kpis.router, stream.router]

"""One router per resource, aggregated by `api_router`."""

from __future__ import annotations

from fastapi import APIRouter

from serving.routers import (
    accounts,
    drivers,
    health,
    models,
    opportunities,
    reports,
    reps,
    score,
    teams,
    what_if,
)


def api_router() -> APIRouter:
    """Every `/v1` route."""
    router = APIRouter(prefix="/v1")
    for module in (accounts, opportunities, drivers, reps, teams, reports, score, what_if, models):
        router.include_router(module.router)
    return router


__all__ = ["api_router", "health"]

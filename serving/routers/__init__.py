"""One router per resource; `serving.app` mounts `api_routers()` under `API_PREFIX`."""

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

API_PREFIX = "/v1"
MODULES = (accounts, opportunities, drivers, reps, teams, reports, score, what_if, models)


def api_routers() -> list[APIRouter]:
    """The routers served under `API_PREFIX`, hottest first (routes are matched in order)."""
    return [module.router for module in MODULES]


__all__ = ["API_PREFIX", "api_routers", "health"]

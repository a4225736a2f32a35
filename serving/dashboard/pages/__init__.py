"""The dashboard's pages, one module per resource, each with its own router; `serving.dashboard`
mounts `page_routers()`."""

from __future__ import annotations

from fastapi import APIRouter

from serving.dashboard.pages import (
    accounts,
    api_docs,
    contribution,
    drivers,
    models,
    opportunities,
    pipeline,
    sign_in,
    teams,
    worklist,
)

MODULES = (
    sign_in,
    worklist,
    accounts,
    opportunities,
    drivers,
    teams,
    contribution,
    pipeline,
    models,
    api_docs,
)


def page_routers() -> list[APIRouter]:
    """The pages' routers, in the order their routes are matched."""
    return [module.router for module in MODULES]


__all__ = ["page_routers"]

"""Reports: customer service's contribution to sales (computed once per snapshot)."""

from __future__ import annotations

from fastapi import APIRouter

from explain.wording import CAVEAT
from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import ContributionReport
from serving.service import UNAVAILABLE, insights_for

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERRORS)


@router.get("/contribution", response_model=ContributionReport, responses=UNAVAILABLE)
async def contribution(service: ServiceDep, _: Manager):
    """Expected revenue credited to service behaviours against sales behaviours, per team and per
    rep, next to retention, NPS, first-contact resolution and service-sourced expansion."""
    insights = await insights_for(service, "contribution")
    return {**insights.contribution, "model_versions": insights.versions, "caveat": CAVEAT}

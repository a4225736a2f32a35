"""Reports: service's contribution to revenue and the sales pipeline (built once per snapshot)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.deps import ERRORS, Manager, ServiceDep
from serving.insights import coverage
from serving.schemas.responses import ContributionReport, PipelineReport
from serving.service import UNAVAILABLE, insights_for

router = APIRouter(prefix="/reports", tags=["reports"], responses=ERRORS)


@router.get("/contribution", response_model=ContributionReport, responses=UNAVAILABLE)
async def contribution(service: ServiceDep, _: Manager):
    """Retention ARR service saved against a stated reference (the service team's worst
    quartile), with a 90% interval, plus the upsell and cross-sell it sourced, over its hours (or
    configured cost); retention rate, NPS, first-contact resolution and CSAT per team and rep."""
    insights = await insights_for(service, "contribution")
    return insights.contribution | {"model_versions": insights.versions}


@router.get("/pipeline", response_model=PipelineReport, responses=UNAVAILABLE)
async def pipeline(
    service: ServiceDep,
    _: Manager,
    target: Annotated[
        float | None, Query(gt=0, le=1e15, description="Coverage target (default: settings).")
    ] = None,
):
    """The funnel with conversion and time per step and the leakiest step; open pipeline and its
    coverage of the target; the weighted pipeline and expected bookings with an interval; stale
    and slipping deals; and the forecast backtested per past quarter."""
    insights = await insights_for(service, "pipeline")
    chosen = target if target is not None else service.settings.pipeline_target
    return coverage(insights.pipeline, chosen)

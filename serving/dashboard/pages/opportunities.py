"""Open deals ranked, and one deal with its stages against the won deals' norms."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from serving.answers import score_view
from serving.auth import Role
from serving.dashboard import formatting, warehouse_reads
from serving.dashboard.pages.core import (
    PAGE_SIZE,
    DashboardState,
    Text,
    index_for,
    need,
    problem,
    render,
)
from serving.dashboard.pages.score_page import (
    history_chart,
    posted_what_if,
    score_context,
    score_waterfall,
)
from serving.deps import ServiceDep, snapshot_for
from serving.schemas.responses import WinProbability
from serving.service import worklist
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/opportunities", response_class=HTMLResponse)
def opportunities_page(
    request: Request,
    service: ServiceDep,
    sort: Literal["probability", "expected_value"] = "probability",
    stage: Text = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    """Open deals ranked by win probability or expected value (the API's deal list); without a
    deal-win model, why there is none (as the Models page says it)."""
    role = need(request, Role.retention)
    no_model = service.models.current.absent.get("deal_win")
    if no_model is not None:
        return render(request, "opportunities.html", role, no_model=no_model)
    filters = {"stage": stage or None}
    try:
        body = worklist(service, "deal_win", sort, filters, PAGE_SIZE, cursor)
    except Exception:
        return problem(request, role, HTTPException(422, "That page link is out of date."))
    stages = service.settings.stage_order
    first = (page - 1) * PAGE_SIZE + 1 if cursor else 1
    return render(
        request,
        "opportunities.html",
        role,
        body=body,
        sort=sort,
        stage=stage,
        stages=stages,
        first=first,
        page=page if cursor else 1,
        no_model=None,
    )


@router.get("/opportunities/{opportunity_id}", response_class=HTMLResponse)
async def opportunity_page(request: Request, service: ServiceDep, opportunity_id: str):
    role = need(request, Role.retention)
    return await opportunity_response(request, service, role, opportunity_id, None, {})


async def opportunity_response(
    request: Request, service: ServiceState, role, opportunity_id: str, result, entered: dict
):
    row = snapshot_for(service, "deal_win").row(opportunity_id)
    if row is None:
        return problem(
            request, role, HTTPException(404, f"No deal_win score for {opportunity_id!r}.")
        )
    body = WinProbability.model_validate(score_view(row, "deal_win")).model_dump()
    details = warehouse_reads.deal_view(await index_for(service), opportunity_id)
    norms = await run_in_threadpool(stage_norms, service)
    stages = warehouse_reads.stage_table(
        details["stages"], norms, pd.Timestamp(body["as_of"]).tz_localize(None)
    )
    chart = history_chart(
        details["history"], f"Win probability over time for {opportunity_id}", "Win probability"
    )
    waterfall = score_waterfall(
        body,
        "deal_win",
        f"How this win probability of {formatting.pct(body['probability'])} adds up",
    )
    return render(
        request,
        "opportunity.html",
        role,
        o=body,
        stages=stages,
        chart=chart,
        waterfall=waterfall,
        **score_context(service, "deal_win", opportunity_id, body, result, entered),
    )


@router.post("/opportunities/{opportunity_id}/what-if", response_class=HTMLResponse)
async def opportunity_what_if(request: Request, service: ServiceDep, opportunity_id: str):
    """Run `POST /v1/what-if` for the deal with the form's changed behaviours."""
    role, result, entered = await posted_what_if(request, service, "deal_win", opportunity_id)
    return await opportunity_response(request, service, role, opportunity_id, result, entered)


def stage_norms(service: ServiceState) -> pd.DataFrame:
    """Won deals' median days per stage, read once per scoring run."""
    state: DashboardState = service.dashboard
    marker = service.scores.marker
    if state.norms is None or state.norms[0] != marker:
        state.norms = (
            marker,
            warehouse_reads.stage_norms(service.settings.warehouse_path),
        )
    return state.norms[1]

"""The sales pipeline: funnel, coverage of a target, the forecast and its backtest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from serving.auth import Role
from serving.dashboard import svg
from serving.dashboard.pages.core import need, problem, render
from serving.deps import ServiceDep
from serving.routers import reports

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/pipeline", response_class=HTMLResponse)
async def pipeline_page(
    request: Request,
    service: ServiceDep,
    target: Annotated[float | None, Query(gt=0, le=1e15)] = None,
):
    """`GET /v1/reports/pipeline`: the funnel, coverage of the target, the forecast and its
    backtest, stale and slipping deals."""
    role = need(request, Role.manager)
    try:
        report = await reports.pipeline(service, role, target)
    except HTTPException as exc:
        return problem(request, role, exc)
    funnel = svg.bars(
        [(s["step"], float(s["entered"])) for s in report["funnel"]],
        "Deals entering each step of the funnel",
    )
    backtest = svg.forecast_chart(
        [
            (q["quarter"], q["forecast"], q["low"], q["high"], q["actual"])
            for q in report["backtest"]
        ],
        "Expected bookings (dot, 90% interval) against actual bookings (square), per quarter",
    )
    return render(
        request, "pipeline.html", role, r=report, funnel=funnel, backtest=backtest, target=target
    )

"""Customer service's contribution to revenue: retention saved and sourced expansion over effort."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from serving.auth import Role
from serving.dashboard import svg
from serving.dashboard.pages.core import need, problem, render
from serving.deps import ServiceDep
from serving.routers import reports

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/contribution", response_class=HTMLResponse)
async def contribution_page(request: Request, service: ServiceDep):
    """`GET /v1/reports/contribution`: retention saved and sourced expansion over effort."""
    role = need(request, Role.manager)
    try:
        report = await reports.contribution(service, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    total = report["total"]
    chart = svg.intervals(
        [
            (
                "Retention saved",
                total["retention_saved"],
                total["retention_low"],
                total["retention_high"],
            )
        ],
        "ARR service kept against its worst quartile, with the 90% interval",
        unit="",
        value_format=svg.money,  # as the cards above it write the amounts
    )
    reps_chart = svg.bars(
        [(r["rep_id"], float(r["revenue_per_hour"] or 0)) for r in report["by_rep"][:15]],
        "Revenue per service hour, per service rep",
        value_format=svg.money,
    )
    return render(request, "contribution.html", role, r=report, chart=chart, reps_chart=reps_chart)

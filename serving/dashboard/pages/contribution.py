"""Customer service's contribution to sales, per team."""

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
    """`GET /v1/reports/contribution`: service against sales, in revenue, with the classic KPIs."""
    role = need(request, Role.manager)
    try:
        report = await reports.contribution(service, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    items = []
    for row in report["by_team"]:
        items += [
            (f"{row['team']}: service", float(row["service_value"] or 0)),
            (f"{row['team']}: sales", float(row["sales_value"] or 0)),
        ]
    chart = svg.bars(items, "Expected revenue credited to service and sales behaviours, per team")
    return render(request, "contribution.html", role, r=report, chart=chart)

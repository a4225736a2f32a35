"""One account: its churn risk and how it adds up, what moved it, what to do next, its history
and recent activity, and the what-if form."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from serving.answers import score_view
from serving.auth import Role
from serving.dashboard import formatting, warehouse_reads
from serving.dashboard.pages.core import index_for, need, problem, render
from serving.dashboard.pages.score_page import (
    history_chart,
    posted_what_if,
    score_context,
    score_waterfall,
)
from serving.deps import ServiceDep, snapshot_for
from serving.schemas.responses import ChurnRisk
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def churn_body(service: ServiceState, account_id: str) -> dict:
    """Exactly the body of `GET /v1/accounts/{id}/churn-risk` (stored score)."""
    row = snapshot_for(service, "churn").row(account_id)
    if row is None:
        raise HTTPException(404, f"No churn score for {account_id!r}.")
    return ChurnRisk.model_validate(score_view(row, "churn")).model_dump()


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def account_page(request: Request, service: ServiceDep, account_id: str):
    role = need(request, Role.retention)
    return await account_response(request, service, role, account_id, None, {})


async def account_response(
    request: Request, service: ServiceState, role, account_id: str, result, entered: dict
):
    try:
        body = churn_body(service, account_id)
    except HTTPException as exc:
        return problem(request, role, exc)
    details = warehouse_reads.account_view(await index_for(service), account_id)
    chart = history_chart(
        details["history"], f"Churn risk over time for {account_id}", "Churn risk"
    )
    waterfall = score_waterfall(
        body, "churn", f"How this score of {formatting.pct(body['probability'])} adds up"
    )
    return render(
        request,
        "account.html",
        role,
        a=body,
        chart=chart,
        waterfall=waterfall,
        details={k: v for k, v in details.items() if k != "history"},
        **score_context(service, "churn", account_id, body, result, entered),
    )


@router.post("/accounts/{account_id}/what-if", response_class=HTMLResponse)
async def account_what_if(request: Request, service: ServiceDep, account_id: str):
    """Run `POST /v1/what-if` with the form's changed behaviours and show the result."""
    role, result, entered = await posted_what_if(request, service, "churn", account_id)
    return await account_response(request, service, role, account_id, result, entered)

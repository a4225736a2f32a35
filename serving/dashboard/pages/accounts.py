"""One account: its churn risk, history and recent activity, and the what-if form."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from serving.answers import score_view
from serving.auth import Role
from serving.dashboard import formatting, svg, warehouse_reads
from serving.dashboard.pages.core import checked_form, index_for, need, problem, render
from serving.deps import ServiceDep, snapshot_for
from serving.routers import what_if
from serving.schemas.requests import WhatIf
from serving.schemas.responses import ChurnRisk
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


WHAT_IF_FIELDS = 6


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
    history = details["history"]
    labels = [f"{pd.Timestamp(t):%Y-%m-%d}" for t in history.get("as_of", [])]
    values = [float(v) for v in history.get("probability", [])]
    chart = svg.line_chart(labels, values, f"Churn risk over time for {account_id}")
    steps = formatting.waterfall_steps(body["contributions"])
    base = body["base_probability"] or 0.0
    waterfall = svg.waterfall(
        base, steps, f"How this score of {formatting.pct(body['probability'])} adds up"
    )
    return render(
        request,
        "account.html",
        role,
        a=body,
        chart=chart,
        waterfall=waterfall,
        details={k: v for k, v in details.items() if k != "history"},
        fields=what_if_fields(service, "churn", account_id, body["contributions"]),
        result=result,
        entered=entered,
    )


def what_if_fields(service: ServiceState, target: str, entity_id: str, reasons: list[dict]) -> list:
    """Numeric behaviours to try, the score's own reasons first, with their current values."""
    loaded = service.models.current.get(target)
    latest = service.features.record(target, entity_id)
    if loaded is None or latest is None:
        return []
    model = loaded.model
    numeric = [f for f in model.feature_names if f not in model.categories]
    ordered = [r["feature"] for r in reasons if r["feature"] in numeric]
    ordered += [f for f in numeric if f not in ordered]
    registry = service.registry
    return [
        {
            "name": name,
            "label": describe(registry, name),
            "current": plain_value(latest[name]) if name in latest else None,
        }
        for name in ordered[:WHAT_IF_FIELDS]
    ]


def describe(registry: dict, name: str) -> str:
    entry = registry.get(name)
    text = (
        entry.get("description") if isinstance(entry, dict) else getattr(entry, "description", None)
    )
    return text or name.replace("_", " ")


def plain_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


@router.post("/accounts/{account_id}/what-if", response_class=HTMLResponse)
async def account_what_if(request: Request, service: ServiceDep, account_id: str):
    """Run `POST /v1/what-if` with the form's changed behaviours and show the result."""
    role = need(request, Role.retention)
    form = await checked_form(request)
    entered = {k[7:]: v for k, v in form.items() if k.startswith("change:")}
    changes = {k: formatting.parse_change(v) for k, v in entered.items()}
    changes = {k: v for k, v in changes.items() if v is not None}
    result = await run_what_if(service, "churn", account_id, changes)
    return await account_response(request, service, role, account_id, result, entered)


async def run_what_if(service: ServiceState, target: str, entity_id: str, changes: dict) -> dict:
    """The API's what-if result, or {'error': message} for a refusal (shown on the page)."""
    if not changes:
        return {"error": "Enter at least one new value to try."}
    try:
        payload = WhatIf(target=target, entity_id=entity_id, changes=changes)
        bundle = service.models.current
        return await run_in_threadpool(what_if.what_if, service, payload, Role.retention, bundle)
    except HTTPException as exc:
        return {"error": str(exc.detail)}
    except (ValidationError, ValueError) as exc:
        return {"error": f"Those values were refused: {exc}"}
    except Exception as exc:  # RequestValidationError: unknown or mistyped feature
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        names = ", ".join(str(e["loc"][-1]) for e in exc.errors())
        return {"error": f"Not a valid value for: {names}."}

"""What both score pages (an account, a deal) show alike: the score's history and its waterfall,
and the what-if form: which behaviours to offer, their current values as a person reads them,
and the form's values read back as typed (yes/no, percentages, numbers with separators) before
`POST /v1/what-if` runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from explain.wording import feature_info, format_value
from serving.auth import Role
from serving.dashboard import formatting, svg
from serving.dashboard.pages.core import checked_form, need
from serving.deps import snapshot_for
from serving.routers import what_if
from serving.schemas.requests import WhatIf
from serving.state import ServiceState

WHAT_IF_FIELDS = 6
HINTS = {"bool": "yes or no", "share": "%"}


def what_if_fields(service: ServiceState, target: str, entity_id: str, reasons: list[dict]) -> list:
    """Behaviours to try (actionable ones first, the score's own reasons first among them), with
    their current values as the form shows them."""
    loaded = service.models.current.get(target)
    latest = service.features.record(target, entity_id)
    if loaded is None or latest is None:
        return []
    model, registry = loaded.model, service.registry
    numeric = [f for f in model.feature_names if f not in model.categories]
    shown = [r["feature"] for r in reasons if r["feature"] in numeric]
    actionable = [f for f in numeric if getattr(registry.get(f), "actionable", False)]
    ordered = list(dict.fromkeys([*(f for f in shown if f in actionable), *actionable, *numeric]))
    return [field(registry, name, latest.get(name)) for name in ordered[:WHAT_IF_FIELDS]]


def field(registry: dict, name: str, value) -> dict:
    info = feature_info(registry, name)
    value = plain_value(value)
    hint = HINTS.get(info.kind) or HINTS.get(info.unit) or info.unit
    return {
        "name": name,
        "label": info.description,
        "hint": hint,
        "kind": info.kind,
        "now": format_value(value, info),
        "current": formatting.form_value(value, info.kind, info.unit),
    }


def plain_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


def score_context(
    service: ServiceState, target: str, entity_id: str, body: dict, result, entered: dict
) -> dict:
    """What both score pages render alike: the target, the typical score it is compared with,
    and the what-if form (its fields, the result and the entries as typed)."""
    return {
        "target": target,
        "typical": snapshot_for(service, target).cuts.base_rate,
        "fields": what_if_fields(service, target, entity_id, body["contributions"]),
        "result": result,
        "entered": entered,
    }


async def posted_what_if(request: Request, service: ServiceState, target: str, entity_id: str):
    """A what-if form posted on a score page: the role, the API's result, the entries as typed."""
    role = need(request, Role.retention)
    form = await checked_form(request)
    entered, changes = changes_from(form, service.registry)
    return role, await run_what_if(service, target, entity_id, changes), entered


def changes_from(form: dict[str, str], registry: dict) -> tuple[dict, dict]:
    """The form's entries as typed, and the changes they mean (blank fields change nothing)."""
    entered = {k[7:]: v for k, v in form.items() if k.startswith("change:")}
    changes = {}
    for name, text in entered.items():
        info = feature_info(registry, name)
        value = formatting.parse_change(text, info.kind, info.unit)
        if value is not None:
            changes[name] = value
    return entered, changes


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


def history_chart(history: dict, label: str, y_title: str) -> str:
    """The entity's stored scores over time (one point per scored day)."""
    days = [pd.Timestamp(t) for t in history.get("as_of", [])]
    values = [float(v) for v in history.get("probability", [])]
    return svg.line_chart(days, values, label, y_title=y_title)


def score_waterfall(body: dict, target: str, label: str) -> str:
    """The base probability, every reason (the "all other behaviours" line last) and the score."""
    return svg.waterfall(
        body["base_probability"] or 0.0,
        formatting.waterfall_steps(body["contributions"]),
        label,
        total=body["probability"],
        higher_is_better=target == "deal_win",
    )

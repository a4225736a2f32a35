"""Which behaviours drive churn risk or win probability, overall or per group."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from serving.auth import Role
from serving.dashboard import formatting, svg
from serving.dashboard.pages.core import need, problem, render
from serving.deps import ServiceDep
from serving.routers import drivers

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/drivers", response_class=HTMLResponse)
async def drivers_page(
    request: Request,
    service: ServiceDep,
    target: Literal["churn", "deal_win"] = "churn",
    by: Literal["segment", "stage", ""] | None = None,
):
    """`GET /v1/drivers/{target}`: family bars, top behaviours with direction, dependence."""
    role = need(request, Role.manager)
    bundle = service.models.current
    try:
        body = await drivers.get_drivers(service, target, role, bundle, by or None)
    except HTTPException as exc:
        return problem(request, role, exc)
    body = body if isinstance(body, dict) else body.model_dump()
    groups = formatting.groups_of(body["families"])
    family_charts = [
        (
            g,
            svg.bars(
                formatting.family_items(body["families"], g),
                f"Share of effect by family ({formatting.friendly(g) if g else 'all'})",
                value_format=lambda v: f"{v:.1f}%",  # one decimal for every family: 26.0%, not 26%
                x_title="Share of the model's effect, %",
            ),
        )
        for g in groups
    ]
    top = [d for d in body["drivers"] if d.get("group") is None][:10] if not by else []
    per_group = (
        {g: [d for d in body["drivers"] if d.get("group") == g][:5] for g in groups} if by else {}
    )
    outcome = "churn risk" if target == "churn" else "win probability"
    curves = [
        (
            c,
            svg.curve(
                c["x"],
                c["effect"],
                f"Effect of {c['feature']}",
                c.get("crossing"),
                x_title=describe(service.registry, c["feature"]),
                y_title=f"Effect on {outcome}, pts",
                y_format=lambda v: f"{v * 100:+.1f}",  # points, as the axis title says
            ),
        )
        for c in body["dependence"]
    ]
    return render(
        request,
        "drivers.html",
        role,
        d=body,
        target=target,
        by=by or "",
        family_charts=family_charts,
        top=top,
        per_group=per_group,
        curves=curves,
        direction=lambda x: formatting.direction_word(x, target),
    )


def describe(registry: dict, name: str) -> str:
    """A feature's description (its name in words when the registry lacks it)."""
    return getattr(registry.get(name), "description", None) or formatting.friendly(name)

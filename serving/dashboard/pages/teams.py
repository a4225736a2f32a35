"""Teams with their reps by effect and training needs, and one rep's diagnosis."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from serving.auth import Role
from serving.dashboard import svg
from serving.dashboard.formatting import waterfall_steps
from serving.dashboard.pages.core import need, problem, render
from serving.deps import ServiceDep
from serving.routers import reps, teams
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)
CHART_REPS = 20  # the team view's chart: its riskiest reps (the table lists all)


@router.get("/teams", response_class=HTMLResponse)
async def teams_page(request: Request, service: ServiceDep):
    """Every team's reps, highest effect against their deal mix first, with a chart of effects
    and intervals (`GET /v1/teams/{team}/reps`)."""
    role = need(request, Role.manager)
    try:
        insights = await diagnosis_ready(service)
        rosters = [await teams.team_reps(service, t, role) for t in sorted(insights.teams)]
    except HTTPException as exc:
        return problem(request, role, exc)
    charts = {r["team"]: effect_chart(r["team"], r["reps"]) for r in rosters if r["reps"]}
    return render(request, "teams.html", role, rosters=rosters, charts=charts)


def effect_chart(team: str, reps: list[dict]) -> str:
    items = [(r["rep_id"], r["effect"] or 0.0, r["low"] or 0.0, r["high"] or 0.0) for r in reps]
    return svg.intervals(items, f"Team {team}: win rate minus the rate expected for the deal mix")


async def diagnosis_ready(service: ServiceState):
    from serving.service import insights_for

    return await insights_for(service, "diagnosis")


@router.get("/teams/{team}", response_class=HTMLResponse)
async def team_page(request: Request, service: ServiceDep, team: str):
    """`GET /v1/teams/{team}/training-needs` in money, and the team's reps by effect."""
    role = need(request, Role.manager)
    try:
        needs = await teams.training_needs(service, team, role)
        roster = await teams.team_reps(service, team, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    chart = svg.bars(
        [(n["description"], float(n["expected_revenue"])) for n in needs["needs"][:8]],
        f"Expected won revenue the gap to the best reps cost, team {team}",
        value_format=svg.money,  # as the table's "Expected revenue"
    )
    effects = effect_chart(team, roster["reps"]) if roster["reps"] else ""
    return render(
        request,
        "team.html",
        role,
        team=team,
        needs=needs,
        roster=roster,
        chart=chart,
        effects=effects,
    )


@router.get("/teams/{team}/attrition", response_class=HTMLResponse)
async def team_attrition_page(request: Request, service: ServiceDep, team: str):
    """`GET /v1/teams/{team}/attrition`: the team's reps by their risk of leaving, with a chart,
    or why there is no model."""
    role = need(request, Role.manager)
    try:
        body = await teams.team_attrition(service, team, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    days, shown = body["horizon_days"], body["reps"][:CHART_REPS]
    most = (
        f"the {len(shown)} highest of {len(body['reps'])} reps"
        if len(shown) < len(body["reps"])
        else "every rep"
    )
    chart = svg.bars(
        [(r["rep_id"], r["probability"]) for r in shown],
        f"Team {team}: risk of leaving within {days} days, {most}",
        value_format=svg.percent,  # as the table writes it
        x_title=f"Risk of leaving within {days} days",
    )
    return render(request, "team_attrition.html", role, a=body, chart=chart)


async def rep_attrition(service: ServiceState, rep_id: str, role) -> tuple[dict | None, str]:
    """The rep's attrition answer and its waterfall ("" without a score); None when the latest
    scoring run did not score the rep."""
    try:
        body = await reps.rep_attrition(service, rep_id, role)
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        return None, ""
    risk = body["risk"]
    if risk is None:
        return body, ""
    title = f"{rep_id}: risk of leaving within {body['horizon_days']} days, reason by reason"
    chart = svg.waterfall(risk["base_probability"], waterfall_steps(risk["contributions"]), title)
    return body, chart


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
async def rep_page(request: Request, service: ServiceDep, rep_id: str):
    """`GET /v1/reps/{id}/profile`: effect per stage with intervals, findings, coachable gaps;
    and `GET /v1/reps/{id}/attrition`: the risk of leaving with its reasons. A rep who owns no
    closed deals has no profile but may have a risk of leaving."""
    role = need(request, Role.manager)
    try:
        attrition, leaving = await rep_attrition(service, rep_id, role)
        profile = await rep_profile(service, rep_id, role, attrition)
    except HTTPException as exc:
        return problem(request, role, exc)
    context = {"p": profile, "rep_id": rep_id, "a": attrition, "leaving": leaving}
    return render(
        request, "rep.html", role, **context, **(profile_charts(profile) if profile else {})
    )


async def rep_profile(service: ServiceState, rep_id: str, role, attrition: dict | None):
    """The rep's diagnosis; None for a rep without closed deals who has a risk of leaving."""
    try:
        return await reps.rep_profile(service, rep_id, role)
    except HTTPException as exc:
        if exc.status_code == 404 and attrition is not None and attrition["risk"] is not None:
            return None
        raise


def profile_charts(profile: dict) -> dict[str, str]:
    """The stage effects with intervals, and the win chance each coachable gap costs."""
    rep_id = profile["rep_id"]
    stages = svg.intervals(
        [
            (s["stage"], s["effect"] or 0.0, s["low"] or 0.0, s["high"] or 0.0)
            for s in profile["stages"]
        ],
        f"{rep_id}: pass rate minus expected for the deal mix, per stage",
    )
    behind = [
        (b["description"], 100 * float(b["win_gain"]))
        for b in profile["behaviours"]
        if (b["win_gain"] or 0) >= 0.005
    ]
    title = f"Win chance {rep_id} would gain at the best reps' level, per behaviour"
    gaps = svg.bars(behind, title, " pts") if behind else ""
    return {"stages": stages, "gaps": gaps}

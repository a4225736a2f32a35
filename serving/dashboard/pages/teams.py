"""Teams with their reps by effect and training needs, and one rep's diagnosis."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from serving.auth import Role
from serving.dashboard import svg
from serving.dashboard.pages.core import need, problem, render
from serving.deps import ServiceDep
from serving.routers import reps, teams
from serving.state import ServiceState

router = APIRouter(prefix="/dashboard", include_in_schema=False)


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


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
async def rep_page(request: Request, service: ServiceDep, rep_id: str):
    """`GET /v1/reps/{id}/profile`: effect per stage with intervals, findings, coachable gaps."""
    role = need(request, Role.manager)
    try:
        profile = await reps.rep_profile(service, rep_id, role)
    except HTTPException as exc:
        return problem(request, role, exc)
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
    return render(request, "rep.html", role, p=profile, stages=stages, gaps=gaps)

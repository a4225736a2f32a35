"""Teams with their reps and training needs, and one rep's profile."""

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
    """Every team with its reps (tier, win rate against expected) and its training needs."""
    role = need(request, Role.manager)
    try:
        insights = await profiles_ready(service)
    except HTTPException as exc:
        return problem(request, role, exc)
    by_team: dict[str, list[dict]] = {}
    for profile in sorted(insights.profiles.values(), key=lambda p: p["rep_id"]):
        by_team.setdefault(profile["team"], []).append(profile)
    return render(request, "teams.html", role, by_team=by_team, teams=sorted(insights.teams))


async def profiles_ready(service: ServiceState):
    from serving.service import insights_for

    return await insights_for(service, "profiles")


@router.get("/teams/{team}", response_class=HTMLResponse)
async def team_page(request: Request, service: ServiceDep, team: str):
    """`GET /v1/teams/{team}/training-needs` and the team's reps."""
    role = need(request, Role.manager)
    try:
        needs = await teams.training_needs(service, team, role)
        insights = await profiles_ready(service)
    except HTTPException as exc:
        return problem(request, role, exc)
    members = sorted(
        (p for p in insights.profiles.values() if p["team"] == team), key=lambda p: p["rep_id"]
    )
    chart = svg.bars(
        [(n["description"], float(n["expected_revenue_gap"] or 0)) for n in needs["needs"][:8]],
        f"Expected revenue gap per behaviour, team {team}",
    )
    return render(request, "team.html", role, team=team, needs=needs, members=members, chart=chart)


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
async def rep_page(request: Request, service: ServiceDep, rep_id: str):
    """`GET /v1/reps/{id}/profile`: behaviours against the team, win rate against the mix."""
    role = need(request, Role.manager)
    try:
        profile = await reps.rep_profile(service, rep_id, role)
    except HTTPException as exc:
        return problem(request, role, exc)
    behaviours = [
        (b["description"], float(b["percentile"]))
        for b in profile["behaviours"]
        if b["percentile"] is not None
    ]
    chart = svg.bars(behaviours, f"{rep_id}'s percentile in the team per behaviour", "th")
    funnel = svg.bars(
        [
            ("Expected for their deal mix", 100 * float(profile["expected_win_rate"] or 0)),
            ("Actual win rate", 100 * float(profile["win_rate"] or 0)),
        ],
        "Win rate against the rate expected for the deal mix",
        "%",
    )
    return render(request, "rep.html", role, p=profile, chart=chart, funnel=funnel)

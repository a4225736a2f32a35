"""Teams: a team's reps by effect and its training needs (computed once per snapshot)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import TeamAttrition, TeamReps, TrainingNeeds
from serving.service import UNAVAILABLE, attrition_for, insights_for

router = APIRouter(prefix="/teams", tags=["teams"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Team (`reps.team`).")]


def known(insights, team: str) -> None:
    if team not in insights.teams and team not in insights.rosters:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No team {team!r}.")


@router.get("/{team}/reps", response_model=TeamReps, responses=UNAVAILABLE)
async def team_reps(service: ServiceDep, team: Id, _: Manager):
    """The team's reps who own closed deals, highest effect against their deal mix first, with
    tier, interval and their headline finding."""
    insights = await insights_for(service, "diagnosis")
    known(insights, team)
    reps = sorted(insights.rosters.get(team, []), key=lambda r: -(r["effect"] or 0))
    return {"team": team, "reps": reps} | insights.diagnosis


@router.get("/{team}/training-needs", response_model=TrainingNeeds, responses=UNAVAILABLE)
async def training_needs(service: ServiceDep, team: Id, _: Manager):
    """Coachable behaviours where the team's reps trail its best reps, costliest first: the
    expected won revenue the gap cost (positive gaps only), in money and plain words."""
    insights = await insights_for(service, "diagnosis")
    known(insights, team)
    return {"team": team, "needs": insights.training_needs.get(team, [])} | insights.diagnosis


@router.get("/{team}/attrition", response_model=TeamAttrition, responses=UNAVAILABLE)
async def team_attrition(service: ServiceDep, team: Id, _: Manager):
    """The team's reps by their risk of leaving within the horizon, highest first, each with the
    reasons that add up to it. Without a model, `available` is false and `reason` says why."""
    view, facts = attrition_for(service)
    if view.available and team not in view.teams:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No scored reps in team {team!r}.")
    return facts | {"team": team, "reps": view.teams.get(team, [])}

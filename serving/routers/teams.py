"""Teams: a team's training needs (computed once per snapshot, see `serving.insights`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from explain.wording import CAVEAT
from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import TrainingNeeds
from serving.service import UNAVAILABLE, insights_for

router = APIRouter(prefix="/teams", tags=["teams"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Team (`reps.team`).")]


@router.get("/{team}/training-needs", response_model=TrainingNeeds, responses=UNAVAILABLE)
async def training_needs(service: ServiceDep, team: Id, _: Manager):
    """Behaviours where the team's other reps fall short of its top performers, costliest first
    (expected revenue gap if they behaved like the top performers' median)."""
    insights = await insights_for(service, "training_needs")
    if team not in insights.teams and team not in insights.training_needs:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No team {team!r}.")
    return {
        "team": team,
        "model_version": insights.versions["deal_win"],
        "needs": insights.training_needs.get(team, []),
        "caveat": CAVEAT,
    }

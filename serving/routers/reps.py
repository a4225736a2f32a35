"""Reps: one rep's diagnosis (computed once per snapshot, see `serving.insights`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import RepAttrition, RepProfile
from serving.service import UNAVAILABLE, attrition_for, insights_for

router = APIRouter(prefix="/reps", tags=["reps"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Rep id.")]


@router.get("/{rep_id}/profile", response_model=RepProfile, responses=UNAVAILABLE)
async def rep_profile(service: ServiceDep, rep_id: Id, _: Manager):
    """The rep's win rate against the rate expected for their deal mix alone, their effect per
    stage with a 90% interval, their tier, the coachable behaviours where they trail the team's
    best reps, and findings naming the stage and behaviours."""
    insights = await insights_for(service, "diagnosis")
    found = insights.reps.get(rep_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No closed deals owned by rep {rep_id!r}.")
    return found | insights.diagnosis


@router.get("/{rep_id}/attrition", response_model=RepAttrition, responses=UNAVAILABLE)
async def rep_attrition(service: ServiceDep, rep_id: Id, _: Manager):
    """The rep's risk of leaving within the horizon, from the latest `rep_attrition` scoring run,
    with the reasons that add up to it. Without a model, `available` is false and `reason` says
    why (e.g. "not enough departures to learn from (4; need 20)")."""
    view, facts = attrition_for(service)
    risk = view.reps.get(rep_id)
    if view.available and risk is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"No attrition score for rep {rep_id!r}: not a rep at the latest scoring run.",
        )
    return facts | {"rep_id": rep_id, "risk": risk}

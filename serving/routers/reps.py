"""Reps: one rep's diagnosis (computed once per snapshot, see `serving.insights`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import RepProfile
from serving.service import UNAVAILABLE, insights_for

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

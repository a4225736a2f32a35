"""Reps: one rep's coaching profile (computed once per snapshot, see `serving.insights`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from explain.wording import CAVEAT
from serving.deps import ERRORS, Manager, ServiceDep
from serving.schemas.responses import RepProfile
from serving.service import UNAVAILABLE, insights_for

router = APIRouter(prefix="/reps", tags=["reps"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Rep id.")]


@router.get("/{rep_id}/profile", response_model=RepProfile, responses=UNAVAILABLE)
async def rep_profile(service: ServiceDep, rep_id: Id, _: Manager):
    """The rep's win rate against the rate expected for their deal mix, their tier in the team,
    where they sit on the behaviours that win deals, and a plain-words classification."""
    insights = await insights_for(service, "profiles")
    found = insights.profiles.get(rep_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No profile for rep {rep_id!r}.")
    return {**found, "model_version": insights.versions["deal_win"], "caveat": CAVEAT}

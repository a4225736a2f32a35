"""Opportunities: one deal's win probability, and open deals ranked."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from serving.deps import ERRORS, Retention, ServiceDep
from serving.schemas.responses import Actions, OpportunityPage, WinProbability
from serving.service import (
    NOT_FOUND,
    actions_answer,
    live_response,
    stored_score,
    worklist_response,
)

router = APIRouter(prefix="/opportunities", tags=["opportunities"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Opportunity id.")]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/{opportunity_id}/win-probability", response_model=WinProbability, responses=NOT_FOUND)
async def win_probability(
    service: ServiceDep,
    opportunity_id: Id,
    _: Retention,
    live: Annotated[bool, Query(description="Score now from the deal's latest data.")] = False,
):
    """Win probability with band, peer percentile (same stage), reasons and change."""
    if live:
        return await live_response(service, "deal_win", opportunity_id, WinProbability)
    return stored_score(service, "deal_win", opportunity_id)


@router.get("", response_model=OpportunityPage)
async def opportunities(
    service: ServiceDep,
    _: Retention,
    sort: Annotated[Literal["probability", "expected_value"], Query()] = "probability",
    segment: Text = None,
    owner: Annotated[str | None, Query(max_length=200, description="Owner rep id.")] = None,
    team: Text = None,
    stage: Text = None,
    band: Literal["high", "medium", "low"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """Open deals ranked by win probability or expected value (probability × amount)."""
    filters = {
        "segment": segment,
        "owner_rep_id": owner,
        "team": team,
        "stage": stage,
        "band": band,
    }
    return worklist_response(service, "deal_win", sort, filters, limit, cursor, OpportunityPage)


@router.get("/{opportunity_id}/actions", response_model=Actions, responses=NOT_FOUND)
async def deal_actions(service: ServiceDep, opportunity_id: Id, _: Retention):
    """Up to three suggested behaviours (for an open deal):
    actionable features only, each with the change in points the model associates with it. They
    are associations learned from past data, not promises. The same list is in the score's
    `actions`."""
    return actions_answer(service, "deal_win", opportunity_id)

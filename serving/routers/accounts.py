"""Accounts: one account's churn risk, and the retention worklist."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from serving.deps import ERRORS, Retention, ServiceDep
from serving.schemas.responses import AccountPage, Actions, ChurnRisk
from serving.service import (
    NOT_FOUND,
    actions_answer,
    live_response,
    stored_score,
    worklist_response,
)

router = APIRouter(prefix="/accounts", tags=["accounts"], responses=ERRORS)
Id = Annotated[str, Path(min_length=1, max_length=200, description="Account id.")]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/{account_id}/churn-risk", response_model=ChurnRisk, responses=NOT_FOUND)
async def churn_risk(
    service: ServiceDep,
    account_id: Id,
    _: Retention,
    live: Annotated[
        bool, Query(description="Score now from the account's latest data (on-demand).")
    ] = False,
):
    """Churn risk: probability, band, peer percentile, reasons, and the change since last time.

    By default the latest stored score (from `barometer score`); `live=true` scores the account now.
    """
    if live:
        return await live_response(service, "churn", account_id, ChurnRisk)
    return stored_score(service, "churn", account_id)


@router.get("", response_model=AccountPage)
async def accounts(
    service: ServiceDep,
    _: Retention,
    sort: Annotated[Literal["risk", "arr_at_risk"], Query(description="Ranking.")] = "risk",
    segment: Text = None,
    owner: Annotated[str | None, Query(max_length=200, description="Owner rep id.")] = None,
    team: Text = None,
    band: Literal["high", "medium", "low"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000, description="From `next_cursor`.")] = None,
):
    """The retention worklist: accounts ranked by churn risk or ARR at risk, filtered, paged."""
    filters = {"segment": segment, "owner_rep_id": owner, "team": team, "band": band}
    return worklist_response(service, "churn", sort, filters, limit, cursor, AccountPage)


@router.get("/{account_id}/actions", response_model=Actions, responses=NOT_FOUND)
async def account_actions(service: ServiceDep, account_id: Id, _: Retention):
    """Up to three suggested behaviours (for an at-risk account; none for a low-risk one):
    actionable features only, each with the change in points the model associates with it. They
    are associations learned from past data, not promises. The same list is in the score's
    `actions`."""
    return actions_answer(service, "churn", account_id)

"""What-if: change an entity's behaviours and see the new probability."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from barometer.scoring.reasons import DECIMALS
from explain.whatif import CAVEAT, what_if_matrix
from explain.wording import is_missing
from serving.auth import Role
from serving.bundle import ModelBundle
from serving.deps import ERRORS, BundleDep, Retention, ServiceDep, model_for
from serving.routers.score import field_errors
from serving.schemas.requests import WhatIf
from serving.schemas.responses import WhatIfResult
from serving.snapshot import utc
from serving.state import ServiceState

router = APIRouter(prefix="/what-if", tags=["what-if"], responses=ERRORS)


@router.post(
    "",
    name="what_if",
    response_model=WhatIfResult,
    responses={404: {"description": "Unknown entity."}},
)
async def what_if_route(service: ServiceDep, payload: WhatIf, role: Retention, bundle: BundleDep):
    """The entity's latest features with `changes` applied → new probability, change and caveat."""
    # `what_if` starts from the entity's prepared live row (`serving.live`: the row live scoring
    # reads, so `probability_before` is the live probability), no frame per request. It runs on
    # the event loop (~0.2 ms of CPU) unless the rows still need preparing after a swap.
    if service.live.ready(model_for(bundle, payload.target), service.features):
        return what_if(service, payload, role, bundle)
    return await run_in_threadpool(what_if, service, payload, role, bundle)


def what_if(state: ServiceState, payload: WhatIf, _: Role, bundle: ModelBundle) -> dict:
    """`what_if_route`'s answer (the dashboard calls it too): validation, lookup, both scores."""
    loaded = model_for(bundle, payload.target)
    model = loaded.model
    errors = [
        error
        for name, value in payload.changes.items()
        for error in field_errors(("body", "changes"), name, value, model)
    ]
    if errors:
        raise RequestValidationError(errors)
    rows = state.live.rows(loaded, state.features)
    found = None if rows is None else rows.row(payload.entity_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"No features for {payload.target} {payload.entity_id!r}."
        )
    matrix, values = found
    result = what_if_matrix(model, matrix[0], payload.changes)
    where = {name: i for i, name in enumerate(model.feature_names)}
    return {
        "target": payload.target,
        "entity_id": payload.entity_id,
        "model_version": loaded.version,
        "as_of": utc(state.features.as_of(payload.target, payload.entity_id)),
        "data_through": state.scores.current[payload.target].summary["data_through"],
        "probability_before": round(result.before, DECIMALS),
        "probability_after": round(result.after, DECIMALS),
        "change": round(round(result.after, DECIMALS) - round(result.before, DECIMALS), DECIMALS),
        "changed": [
            {"feature": n, "before": plain(values[0, where[n]]), "after": v}
            for n, v in payload.changes.items()
        ],
        "caveat": CAVEAT,
    }


def plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if is_missing(value):
        return None
    return value if isinstance(value, int | float | bool | str | type(None)) else str(value)

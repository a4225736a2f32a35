"""What-if: change an entity's behaviours and see the new probability."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from explain.whatif import CAVEAT
from explain.whatif import what_if as explain_what_if
from serving.deps import ERRORS, BundleDep, Retention, model_for
from serving.routers.score import field_errors
from serving.schemas.requests import WhatIf
from serving.schemas.responses import WhatIfResult

router = APIRouter(prefix="/what-if", tags=["what-if"], responses=ERRORS)


@router.post("", response_model=WhatIfResult, responses={404: {"description": "Unknown entity."}})
def what_if(request: Request, payload: WhatIf, _: Retention, bundle: BundleDep):
    """The entity's latest features with `changes` applied → new probability, change and caveat."""
    loaded = model_for(bundle, payload.target)
    model = loaded.model
    known = set(model.feature_names)
    errors = [
        {**error, "loc": ("body", "changes", name)}
        for name, value in payload.changes.items()
        for error in field_errors(0, name, value, known, model.categories)
    ]
    if errors:
        raise RequestValidationError(errors)
    before = request.app.state.features.latest(payload.target, payload.entity_id)
    if before is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"No features for {payload.target} {payload.entity_id!r}."
        )
    result = explain_what_if(model, before, payload.changes)
    p_before, p_after = result.before, result.after
    return {
        "target": payload.target,
        "entity_id": payload.entity_id,
        "model_version": loaded.version,
        "probability_before": p_before,
        "probability_after": p_after,
        "change": p_after - p_before,
        "changed": [
            {"feature": n, "before": plain(before.loc[0, n]), "after": v}
            for n, v in payload.changes.items()
        ],
        "caveat": CAVEAT,
    }


def plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value if isinstance(value, int | float | bool | str | type(None)) else str(value)

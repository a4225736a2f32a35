"""Batch scoring of raw feature rows."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError

from serving.deps import ERRORS, BundleDep, Retention, model_for
from serving.reasons import matrix_reasons
from serving.schemas.requests import ScoreRows
from serving.schemas.responses import BatchScores
from serving.scoring import band

router = APIRouter(prefix="/score", tags=["score"], responses=ERRORS)


@router.post("/{target}", response_model=BatchScores, responses={503: {"description": "No model."}})
def score_rows(
    request: Request,
    target: Annotated[Literal["churn", "deal_win"], Path()],
    payload: ScoreRows,
    _: Retention,
    bundle: BundleDep,
):
    """Score up to 1000 rows of raw features (`MAX_BATCH_ROWS`): probabilities and reasons."""
    # The rows go straight from the request's dicts to an object array, the booster's matrix
    # (`ScoringModel.encode`) and the reasons (`matrix_reasons`): no DataFrame per request.
    loaded = model_for(bundle, target)
    model = loaded.model
    values = row_values(payload.rows, model)
    explanation = model.explain_matrix(model.encode(values))
    reasons = matrix_reasons(
        explanation.point_values,
        values,
        model.feature_names,
        target,
        request.app.state.registry,
        payload.top_k,
    )
    bands = band(explanation.probability)
    ids = [row.get("id") for row in payload.rows]
    request.app.state.metrics.scores.labels(target, "batch").observe(
        float(np.mean(explanation.probability))
    )
    results = [
        {
            "id": None if ids[i] is None else str(ids[i]),
            "probability": float(p),
            "band": str(bands[i]),
            "base_probability": explanation.base_probability,
            "reasons": [r["sentence"] for r in reasons[i]],
            "contributions": reasons[i],
        }
        for i, p in enumerate(explanation.probability)
    ]
    return {"target": target, "model_version": loaded.version, "results": results}


def row_values(rows: list[dict], model) -> np.ndarray:
    """Rows as an (n, features) object array in the model's feature order (absent → None);
    field-level 422 for unknown or mistyped fields."""
    known = set(model.feature_names)
    errors = []
    for i, row in enumerate(rows):
        for name, value in row.items():
            if name not in known or not isinstance(value, float | int | None):  # else valid
                errors.extend(field_errors(i, name, value, known, model.categories))
    if errors:
        raise RequestValidationError(errors)
    out = np.full((len(rows), len(model.feature_names)), None, dtype=object)
    for i, row in enumerate(rows):
        out[i] = [row.get(name) for name in model.feature_names]
    return out


def field_errors(i: int, name: str, value, known: set, categories: dict) -> list[dict]:
    loc = ("body", "rows", i, name)
    if name == "id":
        return []
    if name not in known:
        return [{"type": "extra_forbidden", "loc": loc, "msg": "Unknown feature.", "input": value}]
    if name in categories or value is None or isinstance(value, bool | int | float):
        return []
    try:
        float(value)
    except ValueError:
        return [{"type": "float_parsing", "loc": loc, "msg": "Expected a number.", "input": value}]
    return []

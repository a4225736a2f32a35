"""Batch scoring of raw feature rows."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from barometer.scoring.reasons import matrix_reasons
from barometer.scoring.scores import band
from serving.deps import ERRORS, BundleDep, Retention, model_for
from serving.heavy import HEAVY
from serving.schemas.requests import ScoreRows
from serving.schemas.responses import BatchScores

router = APIRouter(prefix="/score", tags=["score"], responses=ERRORS)


@router.post("/{target}", response_model=BatchScores, responses={503: {"description": "No model."}})
def score_rows(
    request: Request,
    target: Annotated[Literal["churn", "deal_win"], Path()],
    payload: ScoreRows,
    _: Retention,
    bundle: BundleDep,
) -> Response:
    """Score up to 1000 rows of raw features (`MAX_BATCH_ROWS`): probabilities and reasons."""
    # A worker thread (a sync route) builds the answer's bytes, so the event loop only sends them.
    # The rows go straight from the request's dicts to an object array, the booster's matrix
    # (`ScoringModel.encode`) and the reasons (`matrix_reasons`): no DataFrame per request.
    # TreeSHAP, nine tenths of the work, runs on a low-priority thread (`serving.heavy`).
    loaded = model_for(bundle, target)
    model = loaded.model
    values = row_values(payload.rows, model)
    explanation = HEAVY.run(model.explain_matrix, model.encode(values))
    reasons = matrix_reasons(
        explanation.point_values,
        values,
        model.feature_names,
        target,
        request.app.state.registry,
        payload.top_k,
    )
    bands = band(explanation.probability)
    request.app.state.metrics.scores.labels(target, "batch").observe(
        float(np.mean(explanation.probability))
    )
    results = [
        {
            "id": None if row.get("id") is None else str(row["id"]),
            "probability": p,
            "band": b,
            "base_probability": explanation.base_probability,
            "reasons": [r["sentence"] for r in found],
            "contributions": found,
        }
        for row, p, b, found in zip(
            payload.rows, explanation.probability.tolist(), bands.tolist(), reasons, strict=True
        )
    ]
    answer = {"target": target, "model_version": loaded.version, "results": results}
    return Response(BatchScores.model_validate(answer).model_dump_json(), media_type=JSON)


JSON = "application/json"
PLAIN = frozenset({float, int, bool, type(None)})  # any feature accepts these as they are


def row_values(rows: list[dict], model) -> np.ndarray:
    """Rows as an (n, features) object array in the model's feature order (absent → None);
    field-level 422 for unknown or mistyped fields."""
    names = model.feature_names
    known = {*names, "id"}
    errors = []
    for i, row in enumerate(rows):
        if row.keys() <= known and all(type(v) in PLAIN for v in row.values()):
            continue  # the common case, checked without a call per field
        for name, value in row.items():
            if name not in known or type(value) not in PLAIN:
                errors.extend(field_errors(i, name, value, known, model.categories))
    if errors:
        raise RequestValidationError(errors)
    out = np.empty((len(rows), len(names)), dtype=object)
    out[:] = [[row.get(name) for name in names] for row in rows]
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

"""Batch scoring of raw feature rows."""

from __future__ import annotations

import math
import sys
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Response
from fastapi.exceptions import RequestValidationError

from barometer.model.encoder import flag_value
from barometer.scoring.reasons import matrix_reasons
from barometer.scoring.scores import band
from serving.deps import ERRORS, BundleDep, Retention, ServiceDep, model_for
from serving.heavy import HEAVY
from serving.schemas.requests import ScoreRows
from serving.schemas.responses import BatchScores

router = APIRouter(prefix="/score", tags=["score"], responses=ERRORS)


@router.post("/{target}", response_model=BatchScores, responses={503: {"description": "No model."}})
def score_rows(
    service: ServiceDep,
    target: Annotated[Literal["churn", "deal_win"], Path()],
    payload: ScoreRows,
    _: Retention,
    bundle: BundleDep,
) -> Response:
    """Score up to 1000 rows of raw features (`MAX_BATCH_ROWS`): probabilities and reasons."""
    # A worker thread (a sync route) builds the answer's bytes, so the event loop only sends them.
    # The rows go straight from the request's dicts to an object array, the booster's matrix
    # (the model's encoder) and the reasons (`matrix_reasons`): no DataFrame per request.
    # TreeSHAP, nine tenths of the work, runs on a low-priority thread (`serving.heavy`).
    loaded = model_for(bundle, target)
    model = loaded.model
    values = row_values(payload.rows, model)
    explanation = HEAVY.run(model.explain_matrix, model.matrix(values))
    reasons = matrix_reasons(
        explanation.point_values,
        values,
        model.feature_names,
        target,
        service.registry,
        payload.top_k,
    )
    bands = band(explanation.probability)
    service.metrics.scores.labels(target, "batch").observe(float(np.mean(explanation.probability)))
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
FLOAT_MAX = sys.float_info.max
MAX_LEVELS_SHOWN = 20


def row_values(rows: list[dict], model) -> np.ndarray:
    """Rows as an (n, features) object array in the model's feature order (absent → None);
    field-level 422 for unknown fields and values the model's schema refuses (`field_errors`)."""
    names = model.feature_names
    numeric = set(names).difference(model.categories)
    errors = []
    for i, row in enumerate(rows):
        for name, value in row.items():
            kind = type(value)  # the common case first: a finite number for a numeric feature
            if name in numeric and (
                (kind is float and value - value == 0.0)
                or (kind is int and -FLOAT_MAX <= value <= FLOAT_MAX)
            ):
                continue
            errors.extend(field_errors(("body", "rows", i), name, value, model, rows=True))
    if errors:
        raise RequestValidationError(errors)
    out = np.empty((len(rows), len(names)), dtype=object)
    out[:] = [[row.get(name) for name in names] for row in rows]
    return out


def field_errors(loc: tuple, name: str, value, model, *, rows: bool = False) -> list[dict]:
    """The 422 error for one feature value (loc `(*loc, name)`), or none. The rules are
    ingestion's: numeric features take finite numbers (true/false count as 1/0), yes/no features
    also the words the model's encoder reads (yes/no, true/false), categorical features one of
    the model's levels; null is a missing value. `rows`: a batch row may also
    carry an `id` to echo back."""
    if rows and name == "id":
        return []
    problem = value_problem(name, value, model)
    if problem is None:
        return []
    kind, message = problem
    return [{"type": kind, "loc": (*loc, name), "msg": message, "input": json_safe(value)}]


def value_problem(name: str, value, model) -> tuple[str, str] | None:
    """(error type, message) when the model's schema refuses `value` for feature `name`."""
    if name not in model.feature_names:
        return "extra_forbidden", "Unknown feature."
    if value is None:
        return None
    levels = model.categories.get(name)
    if levels is not None:
        shown = ", ".join(map(str, levels[:MAX_LEVELS_SHOWN]))
        shown += ", …" if len(levels) > MAX_LEVELS_SHOWN else ""
        if not isinstance(value, str):
            return "string_type", f"Expected a category (text), one of: {shown}."
        if value not in levels:
            return "enum", f"Unknown category; expected one of: {shown}."
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and model.encoder.kinds_.get(name) == "bool":
        try:
            flag_value(value)
        except ValueError:
            return "bool_parsing", "Expected a yes/no value (true/false, 1/0 or yes/no)."
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and -FLOAT_MAX <= value <= FLOAT_MAX:
            return None
        if isinstance(value, float) and math.isfinite(value):
            return None
        return "finite_number", "Expected a finite number (not NaN or infinite)."
    return "float_type", "Expected a number."


def json_safe(value):
    """A refused value as an error can show it (JSON has no NaN or infinity; huge ints cut)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > FLOAT_MAX:
        return f"{str(value)[:20]}…"
    return value

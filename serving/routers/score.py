"""Batch scoring of raw feature rows."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from serving.deps import ERRORS, BundleDep, Retention, model_for
from serving.heavy import HeavyProcesses
from serving.observability import LOGGER
from serving.reasons import matrix_reasons, registry_map
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
) -> Response:
    """Score up to 1000 rows of raw features (`MAX_BATCH_ROWS`): probabilities and reasons."""
    # The rows are checked here (field-level 422s); the answer's bytes are built by a niced worker
    # process (`serving.heavy`) with exactly this request's model version: TreeSHAP, the reasons'
    # wording and the answer's validation and JSON never hold this process's GIL, which the event
    # loop needs for every other request. There TreeSHAP may use both cores (`WORKER_THREADS`):
    # the worker's threads yield to the server's.
    loaded = model_for(bundle, target)
    check_rows(payload.rows, loaded.model)
    body, mean = PROCESSES.run(
        (target, loaded.version, id(loaded.model)),
        replace(loaded.model, num_threads=WORKER_THREADS),
        batch_answer,
        target,
        loaded.version,
        payload.rows,
        payload.top_k,
    )
    request.app.state.metrics.scores.labels(target, "batch").observe(mean)
    return Response(body, media_type=JSON)


def batch_answer(
    model, registry: dict, target: str, version: str, rows: list[dict], top_k: int
) -> tuple[bytes, float]:
    """The batch answer's JSON bytes (validated by `BatchScores`) and its mean probability, for
    rows already checked by `check_rows`. No DataFrame: the rows go straight to an object array,
    the booster's matrix (`ScoringModel.encode`) and the reasons (`matrix_reasons`)."""
    values = feature_array(rows, model.feature_names)
    explanation = model.explain_matrix(model.encode(values))
    reasons = matrix_reasons(
        explanation.point_values, values, model.feature_names, target, registry, top_k
    )
    bands = band(explanation.probability)
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
            rows, explanation.probability.tolist(), bands.tolist(), reasons, strict=True
        )
    ]
    answer = {"target": target, "model_version": version, "results": results}
    body = BatchScores.model_validate(answer).model_dump_json().encode()
    return body, float(np.mean(explanation.probability))


def feature_registry() -> dict:
    """The registry map the app loads in its lifespan (`serving.app.load_registry`), built once in
    each worker process (its entries hold functions, which cannot be pickled). The explanations
    room imports the registry, so it is always installed where a model can be explained."""
    from features.registry import REGISTRY

    return registry_map(REGISTRY)


WORKER_THREADS = 2  # LightGBM threads in the niced worker: the event loop keeps its priority
PROCESSES = HeavyProcesses(workers=1, context=feature_registry)  # one more process: ~240 MB


def start_workers() -> None:
    """Start batch scoring's worker process (the app's lifespan calls this; a request would start
    it otherwise, and wait seconds for its imports). A failure is logged, never fatal."""
    try:
        PROCESSES.start()
    except Exception:  # noqa: BLE001 - requests start the pool again
        logging.getLogger(LOGGER).exception("batch scoring workers did not start")


JSON = "application/json"
PLAIN = frozenset({float, int, bool, type(None)})  # any feature accepts these as they are


def check_rows(rows: list[dict], model) -> None:
    """Field-level 422 (`RequestValidationError`) for unknown or mistyped fields."""
    known = {*model.feature_names, "id"}
    errors = []
    for i, row in enumerate(rows):
        if row.keys() <= known and all(type(v) in PLAIN for v in row.values()):
            continue  # the common case, checked without a call per field
        for name, value in row.items():
            if name not in known or type(value) not in PLAIN:
                errors.extend(field_errors(i, name, value, known, model.categories))
    if errors:
        raise RequestValidationError(errors)


def feature_array(rows: list[dict], names: list[str]) -> np.ndarray:
    """Rows as an (n, features) object array in `names` order (absent → None)."""
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

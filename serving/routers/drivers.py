"""Global drivers: which behaviours move churn risk / win probability, overall or per group."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from barometer.targets import ID_COLUMNS
from serving.deps import ERRORS, BundleDep, Manager, ServiceDep, model_for, snapshot_for
from serving.state import ServiceState

MAX_CACHED_DRIVERS = 16
router = APIRouter(prefix="/drivers", tags=["drivers"], responses=ERRORS)
MAX_ROWS = 5000  # a seeded sample of the latest rows is plenty for mean |SHAP|
TOP_DEPENDENCE = 3


class Driver(BaseModel):
    group: str | None = None
    feature: str
    family: str
    description: str
    mean_abs_points: float
    mean_points: float
    direction: int
    share: float


class FamilyShare(BaseModel):
    group: str | None = None
    family: str
    mean_abs_points: float
    mean_points: float
    share: float


class Dependence(BaseModel):
    feature: str
    x: list[float]
    effect: list[float]
    crossing: float | None = None
    saturation: float | None = None
    sentence: str


class Drivers(BaseModel):
    target: str
    model_version: str
    by: str | None = None
    rows: int
    drivers: list[Driver]
    families: list[FamilyShare]
    dependence: list[Dependence]


@router.get("/{target}", response_model=Drivers, responses={503: {"description": "No model."}})
async def get_drivers(
    service: ServiceDep,
    target: Annotated[Literal["churn", "deal_win"], Path()],
    _: Manager,
    bundle: BundleDep,
    by: Annotated[
        Literal["segment", "stage"] | None, Query(description="Per segment or per deal stage.")
    ] = None,
):
    """Mean |contribution| per feature and family, and dependence curves for the top behaviours.

    Computed once per model version and grouping on the latest feature rows, then cached.
    """
    loaded = model_for(bundle, target)
    key = (target, loaded.version, by, id(service.features))
    cache = service.drivers_cache
    if key not in cache:
        frame = driver_frame(service, target)
        if frame.empty:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No feature rows for {target} yet.")
        registry = service.registry
        computed = await run_in_threadpool(compute, loaded, frame, registry, by)
        if len(cache) >= MAX_CACHED_DRIVERS:  # keys change with every reload: keep it bounded
            cache.clear()
        cache[key] = computed
    return cache[key]


def driver_frame(service: ServiceState, target: str) -> pd.DataFrame:
    """Latest feature rows with the scoring context (segment, stage) joined by entity id."""
    features = service.features.frames.get(target)
    if features is None or features.empty:
        return pd.DataFrame()
    frame = features.sample(min(MAX_ROWS, len(features)), random_state=0)
    context = snapshot_for(service, target).frame
    context = context.set_index("entity_id")[["segment", "stage"]]
    ids = frame[ID_COLUMNS[target]].astype(str)
    joined = context.reindex(ids.to_numpy())
    extra = {c: joined[c].to_numpy() for c in ("segment", "stage") if c not in frame}
    return frame.assign(**extra).reset_index(drop=True)


def compute(loaded, frame: pd.DataFrame, registry: dict, by: str | None) -> dict:
    from explain.drivers import dependence, drivers, family_attribution

    model = loaded.model
    if by is not None:
        frame = frame.assign(**{by: frame[by].astype(object).fillna("(none)")})
    table = drivers(model, frame, registry, by)
    families = family_attribution(model, frame, registry, by)
    overall = drivers(model, frame, registry) if by else table
    numeric = [f for f in overall["feature"] if f not in model.categories][:TOP_DEPENDENCE]
    curves = [dependence(model, frame, f, registry) for f in numeric]
    group = (lambda t: t[by].astype(str)) if by else (lambda t: None)
    return {
        "target": model.target,
        "model_version": loaded.version,
        "by": by,
        "rows": len(frame),
        "drivers": table.assign(group=group(table)).to_dict("records"),
        "families": families.assign(group=group(families)).to_dict("records"),
        "dependence": [vars(c) for c in curves],
    }

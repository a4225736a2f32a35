"""The loaded champion models with their retrain signal, and reloading them (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from serving import monitoring
from serving.bundle import ModelBundle
from serving.deps import ERRORS, Admin, BundleDep, Retention, ServiceDep
from serving.heap import settle_heap
from serving.monitoring import MonitoringHolder
from serving.schemas.responses import Models

router = APIRouter(prefix="/models", tags=["models"], responses=ERRORS)


def models_view(bundle: ModelBundle, watched: MonitoringHolder | None = None) -> dict:
    """The champions; `retrain` is each one's latest retrain signal from `barometer monitor`
    (None until its version has been monitored)."""
    return {
        "generation": bundle.generation,
        "models": [
            {
                "target": m.target,
                "version": m.version,
                "loaded_at": m.loaded_at,
                "n_features": len(m.model.feature_names),
                "metrics": dict(m.metrics),
                "retrain": None if watched is None else watched.signal(m.target, m.version),
            }
            for m in bundle.models.values()
        ],
        "errors": dict(bundle.errors),
        "without_model": dict(bundle.absent),
    }


@router.get("", response_model=Models)
def models(_: Retention, bundle: BundleDep, service: ServiceDep):
    """The champion versions being served, their evaluation metrics and their retrain signal."""
    return models_view(bundle, service.monitoring)


@router.post("/reload", response_model=Models)
async def reload(service: ServiceDep, _: Admin):
    """Load newly promoted champions; requests in flight finish on the models they began with."""
    bundle = await run_in_threadpool(service.models.reload)
    await run_in_threadpool(service.live.warm, bundle, service.features)  # on-demand rows, prepared
    service.metrics.set_models(bundle.versions())
    service.insights.ensure(service)  # manager views for the new champions
    await run_in_threadpool(monitoring.update, service)  # the new champions' signals and gauges
    settle_heap()
    return models_view(bundle, service.monitoring)

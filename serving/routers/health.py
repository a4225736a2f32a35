"""Liveness and readiness (no key needed, no paths or error texts shown) and Prometheus metrics
(any valid key: a scraper sends it as `Authorization: Bearer`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import ERRORS, Retention, ServiceDep
from serving.schemas.responses import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz():
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
def readyz(service: ServiceDep):
    """Ready when every target's champion is loaded, or its training registered none (the data
    cannot give one: too few outcomes, no opportunities table), and at least one model is
    loaded; 503 otherwise."""
    bundle = service.models.current
    missing = {
        t: "failed to load (see the service log)" if t in bundle.errors else "not loaded yet"
        for t in service.models.targets
        if bundle.get(t) is None and t not in bundle.absent
    }
    body = {
        "ready": not missing and bool(bundle.models),  # no model at all serves no answer
        "models": bundle.versions(),
        "missing": missing,
        "without_model": {t: "training registered no model" for t in bundle.absent},
        "scores": {t: len(s) for t, s in service.scores.current.items()},
        "insights": service.insights.status(),
    }
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **ERRORS},
)
def metrics(service: ServiceDep, _: Retention):
    """Prometheus metrics: request counts and latency, score distribution, model versions."""
    body = generate_latest(service.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

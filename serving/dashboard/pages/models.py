"""The champion models: metrics, reliability curves, the MLflow UI link, and what monitoring
found (drift, realised performance over time, the retrain signal)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from serving.auth import Role
from serving.dashboard import svg
from serving.dashboard.monitoring_panel import panel
from serving.dashboard.pages.core import DashboardState, need, render
from serving.deps import ServiceDep
from serving.routers.models import models_view

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request, service: ServiceDep):
    """`GET /v1/models` with each champion's backtest metrics from the registry, its reliability
    curve, and a link to the MLflow UI."""
    role = need(request, Role.retention)
    state: DashboardState = service.dashboard
    body = models_view(service.models.current, service.monitoring)
    watch = {
        m["target"]: panel(
            service.monitoring.view(m["target"], m["version"]), m["target"], m["version"]
        )
        for m in body["models"]
    }
    curves = []
    for m in body["models"]:
        table = await run_in_threadpool(state.reliability, m["target"], m["version"])
        backtest = await run_in_threadpool(state.backtest, m["target"], m["version"])
        m = {**m, "metrics": {**m["metrics"], **backtest}}
        chart = None
        if table is not None and len(table):
            chart = svg.curve(
                [float(x) for x in table["predicted"]],
                [float(y) for y in table["observed"]],
                f"Reliability of {m['target']} v{m['version']}: predicted against observed",
                diagonal=True,
            )
        curves.append((m, chart))
    return render(
        request,
        "models.html",
        role,
        body=body,
        curves=curves,
        mlflow_ui=state.mlflow_ui,
        watch=watch,
    )

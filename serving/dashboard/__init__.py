"""The dashboard: server-rendered pages on the API's own data, mounted into the FastAPI app.

`mount(app)` adds the pages under `/dashboard` and the vendored static files under
`/dashboard/static`. Sign-in uses the API's keys; sessions live on the server and the cookie holds
only a session's signed id (`serving.dashboard.session`).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from barometer.model.store import backtest_metrics
from serving.dashboard import session
from serving.dashboard.pages import page_routers
from serving.dashboard.pages.core import (
    DashboardState,
    FormRefused,
    Refused,
    SignInNeeded,
    form_refused,
    refused,
    sign_in_needed,
)

STATIC = Path(__file__).with_name("static")
RELIABILITY_ARTIFACT = "report/reliability.csv"  # logged by every training run
log = logging.getLogger(__name__)
Reliability = Callable[[str, str], pd.DataFrame | None]
Backtest = Callable[[str, str], dict[str, float]]


def mount(
    app: FastAPI,
    *,
    reliability: Reliability | None = None,
    backtest: Backtest | None = None,
    secure_cookie: bool = False,
) -> FastAPI:
    """Add the dashboard to `app` (built by `serving.app.create_app`); returns the app.

    `reliability(target, version)` gives a champion's reliability table (`predicted`, `observed`,
    `count`); by default it is read from the version's MLflow run (`report/reliability.csv`).
    `backtest(target, version)` gives its backtest metrics; by default the registered version's
    `backtest_*` tags (what `barometer train` and `evaluate` record, and `promote` compares)."""
    state = app.state.service
    secret = session.secret_for(state.keyring, session.workspace_secret(state.settings))
    state.dashboard = DashboardState(
        sessions=session.SessionStore(secret),
        reliability=reliability or mlflow_reliability(state.settings),
        backtest=backtest or mlflow_backtest(state.settings),
        secure_cookie=secure_cookie,
    )
    for router in page_routers():  # one level of routers, as for the API
        app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(FormRefused, form_refused)
    return app


def mlflow_reliability(settings) -> Reliability:
    """Read each champion version's reliability table from its MLflow run, once per version."""

    @lru_cache(maxsize=16)
    def load(target: str, version: str) -> pd.DataFrame | None:
        from barometer.model import store as model_store

        try:
            client = model_store.client(settings)
            mv = client.get_model_version(model_store.registered_name(target), version)
            with tempfile.TemporaryDirectory() as folder:
                path = client.download_artifacts(mv.run_id, RELIABILITY_ARTIFACT, folder)
                return pd.read_csv(path)
        except Exception:  # noqa: BLE001 - no run, no artefact: the page says so
            log.warning("no reliability table", extra={"target": target, "version": version})
            return None

    return load


def mlflow_backtest(settings) -> Backtest:
    """Read each champion version's backtest metrics from its registry tags, once per version."""

    @lru_cache(maxsize=16)
    def load(target: str, version: str) -> dict[str, float]:
        from barometer.model import store as model_store

        try:
            mv = model_store.client(settings).get_model_version(
                model_store.registered_name(target), version
            )
        except Exception:  # noqa: BLE001 - no registry, no version: the page shows none
            return {}
        return backtest_metrics(mv.tags or {})

    return load

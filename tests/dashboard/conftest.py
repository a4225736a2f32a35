"""The dashboard on the serving tests' seeded workspace: two synthetic champions, two scoring
runs, contract tables. One app per module (TestClient), one real server per browser module."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient

from barometer.model.store import LoadedModel, StaticProvider
from barometer.settings import Settings
from serving.app import ServeOptions, create_app
from serving.dashboard import mount
from tests.dashboard.monitoring_rows import write_monitoring
from tests.serving.conftest import KEYS, build_workspace, champion_models, keyed_settings

RELIABILITY = pd.DataFrame(
    {
        "bin": [1, 4, 8],
        "predicted": [0.15, 0.45, 0.85],
        "observed": [0.1, 0.5, 0.8],
        "count": [9, 7, 4],
    }
)
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"


def reliability(target: str, version: str) -> pd.DataFrame | None:
    return RELIABILITY if target == "churn" else None


@pytest.fixture(scope="session")
def models() -> dict[str, LoadedModel]:
    return champion_models()


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, models) -> Settings:
    home = tmp_path_factory.mktemp("dashboard") / "workspace"
    build_workspace(home, models)
    write_monitoring(home, models)
    return keyed_settings(home)


@pytest.fixture(scope="session")
def monitored(workspace) -> pd.DataFrame:
    """The `monitoring` rows the workspace holds (what the Models page must show)."""
    from barometer.model import monitoring
    from features.warehouse import connect

    with connect(workspace.warehouse_path, read_only=True) as con:
        return monitoring.read_rows(con)


def backtest(target: str, version: str) -> dict[str, float]:
    return {"backtest_roc_auc_mean": 0.8123} if target == "churn" else {}


def make_app(settings: Settings, models: dict):
    app = create_app(
        settings,
        provider=StaticProvider(models),
        options=ServeOptions(poll_seconds=3600, dashboard=False),
    )
    return mount(app, reliability=reliability, backtest=backtest)


@pytest.fixture(scope="module")
def client(workspace, models):
    with TestClient(make_app(workspace, models), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def keys() -> dict[str, str]:
    return dict(KEYS)


ORIGIN = "http://testserver"  # TestClient's base URL: what a browser sends as `Origin`


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page ("" without one: the POST will be refused)."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    return found.group(1) if found else ""


def post_form(client: TestClient, path: str, fields: dict, token_from: str | None = None):
    """POST a form as the browser would: from this site, with the token of the page it is on
    (`token_from`, by default the worklist's sign-out form)."""
    token = form_token(client.get(token_from or "/dashboard/worklist").text)
    data = {**fields, "csrf": token}
    return client.post(path, data=data, headers={"Origin": ORIGIN}, follow_redirects=False)


def sign_in(client: TestClient, role: str) -> TestClient:
    """Fill the role's key into the sign-in form; the client keeps the session cookie."""
    client.cookies.clear()
    fields = {"key": KEYS[role], "next": "/dashboard/worklist"}
    response = post_form(client, "/dashboard/login", fields, token_from="/dashboard/login")
    assert response.status_code == 303, response.text
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs off the main thread
        pass


def serve(settings: Settings, models: dict):
    """The app (with the dashboard) served by uvicorn on 127.0.0.1 in a background thread: yields
    its base URL once the insights are ready, and stops it afterwards."""
    port = free_port()
    config = uvicorn.Config(
        make_app(settings, models), host="127.0.0.1", port=port, log_level="warning"
    )
    server = ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).json().get("insights") == "ready":
                break
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.1)
    else:
        raise AssertionError(f"dashboard server on {base} did not become ready")
    yield base
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def live_server(workspace, models):
    """The seeded workspace's app served for the browser tests."""
    yield from serve(workspace, models)

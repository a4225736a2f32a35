"""Serving under model faults: a corrupt or missing artefact at startup gives `/readyz` false and a
clear log line (no crash), and a reload that fails keeps the previous champion serving."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient

from barometer.model.store import LoadedModel, StaticProvider
from barometer.settings import Settings
from serving.app import ServeOptions, create_app
from serving.bundle import BundleHolder
from serving.observability import configure_logging
from tests.serving.conftest import KEYS, train

ADMIN = {"X-API-Key": KEYS["admin"]}


class FlakyProvider(StaticProvider):
    """Serves the given models until `broken` is set: then every load fails like a bad artefact."""

    def __init__(self, models) -> None:
        super().__init__(models)
        self.broken: str | None = None

    def version(self, target: str) -> str | None:
        return "9" if self.broken else super().version(target)

    def load(self, target: str) -> LoadedModel:
        if self.broken:
            raise OSError(self.broken)
        return super().load(target)


@pytest.fixture(scope="module")
def churn() -> LoadedModel:
    return LoadedModel("churn", train("churn", 1), "3", {"roc_auc": 0.8})


@pytest.fixture
def logs():
    stream = io.StringIO()
    service = configure_logging("INFO", stream=stream)
    yield stream
    service.handlers, service.propagate = [], True


def test_corrupt_artifact_at_startup_means_not_ready_and_a_clear_log(tmp_path, churn, logs):
    provider = FlakyProvider({"churn": churn})
    provider.broken = "model.lgb: unexpected end of file (corrupt artefact)"
    settings = Settings(home=tmp_path / "w", api_keys=f"admin:{KEYS['admin']}")
    app = create_app(
        settings, provider=provider, options=ServeOptions(targets=("churn",), poll_seconds=3600)
    )
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert ready.json()["missing"]["churn"] == "failed to load (see the service log)"
        assert client.get("/healthz").status_code == 200  # the process stays up
        batch = {"rows": [{"open_cases": 1.0}]}
        assert client.post("/v1/score/churn", json=batch, headers=ADMIN).status_code == 503
    started = [json.loads(line) for line in logs.getvalue().splitlines() if "started" in line]
    assert started and "corrupt artefact" in json.dumps(started[0]["errors"])


def test_missing_champion_is_a_503_with_the_reason_not_a_crash(tmp_path):
    settings = Settings(home=tmp_path / "w", api_keys=f"admin:{KEYS['admin']}")
    app = create_app(settings, provider=StaticProvider({}), options=ServeOptions(poll_seconds=3600))
    with TestClient(app) as client:
        body = client.get("/readyz").json()
        assert body["ready"] is False and body["missing"]["churn"].startswith("failed to load")
        batch = {"rows": [{"open_cases": 1.0}]}
        refused = client.post("/v1/score/churn", json=batch, headers=ADMIN)  # a key: the reason
        assert refused.status_code == 503 and "No champion" in refused.json()["detail"]


def test_failed_reload_keeps_the_previous_champion(churn):
    provider = FlakyProvider({"churn": churn})
    holder = BundleHolder(provider, ("churn",))
    holder.reload()
    provider.broken = "registry says v9 but its artefact is missing"
    holder.refresh_if_promoted()
    assert holder.current.get("churn") is not None
    assert holder.current.get("churn").version == "3"

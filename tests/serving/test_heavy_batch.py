"""Batch scoring answered by the worker processes: the routed model version, also across a swap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.bundle import LoadedModel
from serving.routers.score import PROCESSES, batch_answer, feature_registry
from tests.serving.conftest import train

ROWS = [
    {"id": "a", "days_since_last_call": 60.0, "open_cases": 4, "segment": "smb"},
    {"id": "b", "days_since_last_call": 2.0, "open_cases": 0, "segment": "enterprise"},
    {"id": "c", "days_since_last_call": 20.0},
]


def probabilities(body: dict) -> list[float]:
    return [r["probability"] for r in body["results"]]


def test_batch_answers_come_from_the_routed_model_before_and_after_a_reload(
    new_client, headers, models
) -> None:
    other = train("churn", seed=99)
    frame = pd.DataFrame(ROWS).drop(columns="id")
    with new_client(dict(models)) as client:
        before = client.post("/v1/score/churn", json={"rows": ROWS}, headers=headers["retention"])
        client.app.state.models.provider.publish(LoadedModel("churn", other, "4"))
        client.post("/v1/models/reload", headers=headers["admin"])
        after = client.post("/v1/score/churn", json={"rows": ROWS}, headers=headers["retention"])
    old, new = before.json(), after.json()
    assert old["model_version"] == "3" and new["model_version"] == "4"
    expected_old = models["churn"].model.predict_proba(frame)
    np.testing.assert_allclose(probabilities(old), expected_old, atol=1e-12)
    np.testing.assert_allclose(probabilities(new), other.predict_proba(frame), atol=1e-12)
    assert not np.allclose(probabilities(old), probabilities(new))


def test_the_worker_answer_is_the_bytes_computed_in_this_process(client, headers, models) -> None:
    response = client.post(
        "/v1/score/churn", json={"rows": ROWS, "top_k": 2}, headers=headers["retention"]
    )
    model = models["churn"].model
    here, mean = batch_answer(model, feature_registry(), "churn", "3", ROWS, 2)
    assert response.status_code == 200 and response.content == here
    assert mean == np.mean(probabilities(response.json()))
    assert PROCESSES.workers >= 1

"""Batch scoring answers with the routed model version, before and after a reload."""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.model.store import LoadedModel
from tests.serving.conftest import train

ROWS = [
    {"id": "a", "days_since_last_touch": 60.0, "open_cases": 4, "segment": "smb"},
    {"id": "b", "days_since_last_touch": 2.0, "open_cases": 0, "segment": "enterprise"},
    {"id": "c", "days_since_last_touch": 20.0},
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
        client.app.state.service.models.provider.publish(LoadedModel("churn", other, "4"))
        client.post("/v1/models/reload", headers=headers["admin"])
        after = client.post("/v1/score/churn", json={"rows": ROWS}, headers=headers["retention"])
    old, new = before.json(), after.json()
    assert old["model_version"] == "3" and new["model_version"] == "4"
    expected_old = models["churn"].model.predict_proba(frame)
    np.testing.assert_allclose(probabilities(old), np.round(expected_old, 6), atol=1e-12)
    np.testing.assert_allclose(
        probabilities(new), np.round(other.predict_proba(frame), 6), atol=1e-12
    )
    assert not np.allclose(probabilities(old), probabilities(new))

"""Rep attrition risk: managers see it per rep and per team, retention keys never do.

The workspace is the serving tests' company plus a rep-attrition scoring run made by the one
scoring path (`barometer.scoring.job.run`) with a model in which a slump in a rep's activity
raises the risk of leaving: r4 is slumping, r1 is not. Without a model, the answer says why, in
the words of the last training verdict.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.status import TrainingStatus, write_status
from barometer.model.store import LoadedModel
from barometer.scoring import day_features, job
from barometer.scoring.reasons import load_registry
from barometer.settings import Settings
from features.warehouse import connect, replace_table
from tests.serving.conftest import AS_OF, build_workspace, keyed_settings, make_client
from tests.serving.helpers import contract_tables

PATHS = ("/v1/reps/r1/attrition", "/v1/teams/sales/attrition")
FEATURES = ["rep_activity_trend", "rep_tenure_months"]
TREND = {"m1": 1.0, "r1": 1.3, "r2": 1.0, "r3": 0.95, "r4": 0.35, "r5": 0.8, "r6": 1.1}


def attrition_model(seed: int = 3) -> ScoringModel:
    """Leaving is likelier after a slump (trend below 1) and in the first year."""
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame(
        {"rep_activity_trend": rng.uniform(0.2, 1.6, n), "rep_tenure_months": rng.uniform(1, 90, n)}
    )
    slump = np.clip(0.9 - frame["rep_activity_trend"], 0, None)
    logit = -3.5 + 6 * slump + 1.0 * (frame["rep_tenure_months"] < 12)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    encoder = FeatureEncoder(dict.fromkeys(FEATURES, "numeric")).fit(frame)
    data = lgb.Dataset(encoder.transform(frame), label, free_raw_data=False)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1, "seed": seed}
    booster = lgb.train(params, data, 40)
    return ScoringModel("rep_attrition", encoder, booster, Calibrator("platt", 1.0, 0.0))


def reps_table() -> pd.DataFrame:
    """The company's reps with hire dates; r6 left before the scoring date."""
    reps = contract_tables()["reps"].copy()
    reps["hired_at"] = pd.Timestamp("2020-01-01")
    reps["left_at"] = pd.NaT
    reps.loc[reps["rep_id"] == "r6", "left_at"] = pd.Timestamp("2026-08-15")
    return reps


def rep_features(as_of) -> pd.DataFrame:
    """Feature rows of the reps employed at `as_of` (r6 had left; service reps have none)."""
    rows = [r for r in TREND if r != "r6"]
    return pd.DataFrame(
        {
            "rep_id": rows,
            "cutoff": pd.Timestamp(as_of),
            "rep_activity_trend": [TREND[r] for r in rows],
            "rep_tenure_months": 80.0,
        }
    )


def attrition_workspace(home, models) -> Settings:
    """The serving company with reps' hire dates and a rep-attrition scoring run: the job's own
    context (who is employed on the day) and storage, with the day's feature rows planted."""
    build_workspace(home, models)
    settings = keyed_settings(home)
    with connect(settings.warehouse_path) as con:
        replace_table(con, "reps", reps_table())
    loaded = LoadedModel("rep_attrition", attrition_model(), "1", {})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(day_features, "day_features", lambda *args: rep_features(AS_OF[1]))
        job.run(settings, loaded, AS_OF[1], registry=load_registry())
    return settings


@pytest.fixture(scope="module")
def scored(tmp_path_factory, models) -> tuple[Settings, pd.DataFrame]:
    settings = attrition_workspace(tmp_path_factory.mktemp("attrition") / "workspace", models)
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("select * from scores where target = 'rep_attrition'").df()
    return settings, rows


@pytest.fixture(scope="module")
def client(scored, models):
    with make_client(scored[0], models) as test_client:
        yield test_client


@pytest.mark.parametrize("path", PATHS)
def test_attrition_is_for_managers_only(client, headers, path) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers=headers["retention"]).status_code == 403
    assert client.get(path, headers=headers["manager"]).status_code == 200
    assert client.get(path, headers=headers["admin"]).status_code == 200


def test_team_view_ranks_the_slumping_rep_first_with_reasons_that_add_up(
    client, headers, scored
) -> None:
    body = client.get("/v1/teams/sales/attrition", headers=headers["manager"]).json()
    assert body["available"] and body["reason"] is None and body["horizon_days"] == 90
    reps = body["reps"]
    assert [r["rep_id"] for r in reps][0] == "r4"
    assert {r["rep_id"] for r in reps} == {"m1", "r1", "r2", "r3", "r4", "r5"}  # r6 had left
    probabilities = [r["probability"] for r in reps]
    assert probabilities == sorted(probabilities, reverse=True)
    stored = scored[1].set_index("entity_id")["probability"]
    for rep in reps:
        assert rep["probability"] == pytest.approx(stored[rep["rep_id"]])
        points = sum(c["points"] for c in rep["contributions"])
        assert rep["base_probability"] + points == pytest.approx(rep["probability"], abs=1e-6)
    top = reps[0]["contributions"][0]
    assert top["feature"] == "rep_activity_trend" and top["points"] > 0
    assert "risk of leaving" in reps[0]["reasons"][0]


def test_rep_view_is_the_same_score(client, headers) -> None:
    team = client.get("/v1/teams/sales/attrition", headers=headers["manager"]).json()
    r4 = client.get("/v1/reps/r4/attrition", headers=headers["manager"]).json()
    assert r4["available"] and r4["risk"] == next(r for r in team["reps"] if r["rep_id"] == "r4")
    gone = client.get("/v1/reps/r6/attrition", headers=headers["manager"])
    assert gone.status_code == 404 and "not a rep at the latest scoring run" in gone.text
    assert client.get("/v1/teams/nobody/attrition", headers=headers["manager"]).status_code == 404


def test_without_a_model_the_answer_says_why(tmp_path, models, headers) -> None:
    settings = keyed_settings(tmp_path / "workspace")
    build_workspace(settings.home, models)
    with make_client(settings, models) as fresh:
        body = fresh.get("/v1/teams/sales/attrition", headers=headers["manager"]).json()
        assert not body["available"] and body["reps"] == []
        assert "No rep attrition model has been trained" in body["reason"]
        reason = "Not enough departures to learn from (3; need 20)."
        write_status(settings, TrainingStatus("rep_attrition", False, reason, 3, 20))
        body = fresh.get("/v1/reps/r1/attrition", headers=headers["manager"]).json()
        assert body == {
            "available": False,
            "reason": reason,
            "horizon_days": 90,
            "as_of": None,
            "model_version": None,
            "rep_id": "r1",
            "risk": None,
        }
        refused = fresh.get("/v1/reps/r1/attrition", headers=headers["retention"])
        assert refused.status_code == 403 and "departures" not in refused.text

"""Manager views: rep profiles, team training needs and the contribution report.

The workspace's closed deals are drawn so that deal touches raise the win chance and r1 touches
most (see conftest); the deal model here is trained on that behaviour, so r1 is the top performer
and touches are the sales team's costliest training need.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.store import LoadedModel, StaticProvider
from barometer.settings import Settings
from serving.app import ServeOptions, create_app
from tests.serving.helpers import SEGMENTS, contract_tables

PATHS = ("/v1/reps/r1/profile", "/v1/teams/sales/training-needs", "/v1/reports/contribution")
FEATURES = ["deal_touches_30d", "days_since_last_deal_touch", "segment"]


def touch_model(seed: int = 3) -> ScoringModel:
    """A deal model where more deal touches and fewer silent days raise the win chance."""
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame(
        {
            "deal_touches_30d": rng.poisson(7, n).astype(float),
            "days_since_last_deal_touch": rng.exponential(10, n),
            "segment": rng.choice(SEGMENTS, n),
        }
    )
    logit = -2.5 + 0.4 * frame["deal_touches_30d"] - 0.03 * frame["days_since_last_deal_touch"]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    kinds = {n: "categorical" if n == "segment" else "numeric" for n in FEATURES}
    encoder = FeatureEncoder(kinds).fit(frame)
    data = lgb.Dataset(
        encoder.transform(frame), label, categorical_feature=[2], free_raw_data=False
    )
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "num_threads": 1, "seed": 1}
    booster = lgb.train(params, data, 40)
    return ScoringModel("deal_win", encoder, booster, Calibrator("platt", 1.0, 0.0))


@pytest.fixture(scope="module")
def deal_model() -> LoadedModel:
    return LoadedModel("deal_win", touch_model(), "9")


@pytest.fixture(scope="module")
def managers(new_client, models, deal_model):
    with new_client({"churn": models["churn"], "deal_win": deal_model}) as client:
        yield client


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return contract_tables()


@pytest.mark.parametrize("path", PATHS)
def test_manager_routes_need_the_manager_role(managers, headers, path) -> None:
    assert managers.get(path).status_code == 401
    assert managers.get(path, headers={"X-API-Key": "not-a-key-at-all-000"}).status_code == 401
    assert managers.get(path, headers=headers["retention"]).status_code == 403
    assert managers.get(path, headers=headers["manager"]).status_code == 200
    assert managers.get(path, headers=headers["admin"]).status_code == 200


def test_rep_profile_has_the_reps_real_win_rate_and_tier(managers, headers, tables) -> None:
    body = managers.get("/v1/reps/r1/profile", headers=headers["manager"]).json()
    opps = tables["opportunities"]
    closed = opps[opps["outcome"].isin(["won", "lost"])]
    rates = closed.assign(won=closed["outcome"] == "won").groupby("owner_rep_id")["won"].mean()
    mine = closed[closed["owner_rep_id"] == "r1"]
    assert body["win_rate"] == pytest.approx((mine["outcome"] == "won").mean())
    assert body["closed_deals"] == len(mine) == 20
    assert rates.idxmax() == "r1" and body["tier"] == "top"
    assert body["team"] == "sales" and body["model_version"] == "9"
    assert 0 < body["expected_win_rate"] < 1 and "causal" in body["caveat"]
    touches = {b["feature"]: b for b in body["behaviours"]}["deal_touches_30d"]
    assert touches["percentile"] == 100.0  # r1 has the team's highest median touches
    assert touches["description"]
    low = managers.get("/v1/reps/r6/profile", headers=headers["manager"]).json()
    assert low["tier"] == "low" and low["win_rate"] == pytest.approx(rates["r6"])


def test_unknown_rep_or_rep_without_deals_is_404(managers, headers) -> None:
    for rep in ("nobody", "s1"):
        response = managers.get(f"/v1/reps/{rep}/profile", headers=headers["manager"])
        assert response.status_code == 404 and rep in response.json()["detail"]


def test_training_needs_put_touches_first_for_sales(managers, headers) -> None:
    body = managers.get("/v1/teams/sales/training-needs", headers=headers["manager"]).json()
    assert body["team"] == "sales" and body["model_version"] == "9"
    first = body["needs"][0]
    assert first["feature"] == "deal_touches_30d" and first["family"] == "cadence"
    assert first["top_median"] > first["others_median"] and first["expected_revenue_gap"] > 0
    gaps = [n["expected_revenue_gap"] for n in body["needs"]]
    assert gaps == sorted(gaps, reverse=True)
    assert {n["feature"] for n in body["needs"]} <= {
        "deal_touches_30d",
        "days_since_last_deal_touch",
    }


def test_training_needs_of_a_team_without_deals_and_an_unknown_team(managers, headers) -> None:
    service = managers.get("/v1/teams/service/training-needs", headers=headers["manager"])
    assert service.status_code == 200 and service.json()["needs"] == []
    assert (
        managers.get("/v1/teams/nope/training-needs", headers=headers["manager"]).status_code == 404
    )


def test_contribution_report_has_the_kpis_of_the_data(managers, headers, tables) -> None:
    body = managers.get("/v1/reports/contribution", headers=headers["manager"]).json()
    assert body["model_versions"] == {"churn": "3", "deal_win": "9"}
    assert {t["team"] for t in body["by_team"]} == {"sales", "service"}
    by_rep = {r["rep_id"]: r for r in body["by_rep"]}
    cases = tables["cases"]
    for rep in ("s1", "s2"):
        expected = cases.loc[cases["rep_id"] == rep, "first_contact_resolved"].mean()
        assert by_rep[rep]["first_contact_resolution"] == pytest.approx(expected)
    accounts = tables["accounts"]
    owned = accounts[accounts["owner_rep_id"] == "r4"]
    assert by_rep["r4"]["retention_rate"] == pytest.approx(1 - owned["churned_at"].notna().mean())
    # Active accounts only (every 10th churned), open deals only.
    assert body["accounts"] == 36 and body["deals"] == 30
    assert "service team" in body["sentence"] and "causal" in body["caveat"]


def test_views_are_computed_once_per_snapshot_and_again_after_a_promotion(
    new_client, models, deal_model, headers
) -> None:
    with new_client({"churn": models["churn"], "deal_win": deal_model}) as client:
        holder = client.app.state.service.insights
        for _ in range(3):
            for path in PATHS:
                assert client.get(path, headers=headers["manager"]).status_code == 200
        assert holder.builds == 1 and client.get("/readyz").json()["insights"] == "ready"
        client.app.state.service.models.provider.publish(
            LoadedModel("deal_win", deal_model.model, "10")
        )
        assert client.post("/v1/models/reload", headers=headers["admin"]).status_code == 200
        body = client.get("/v1/reps/r1/profile", headers=headers["manager"]).json()
        assert body["model_version"] == "10" and holder.builds == 2


def test_missing_deal_model_is_503_but_contribution_still_serves(new_client, models, headers):
    with new_client({"churn": models["churn"]}) as client:
        for path in PATHS[:2]:
            response = client.get(path, headers=headers["manager"])
            assert response.status_code == 503
            assert "deal_win champion" in response.json()["detail"]
        report = client.get("/v1/reports/contribution", headers=headers["manager"])
        assert report.status_code == 200 and report.json()["deals"] == 0


def test_a_workspace_without_contract_tables_is_503_naming_them(tmp_path, models, headers):
    keys = ",".join(f"{role}:{h['X-API-Key']}" for role, h in headers.items())
    app = create_app(
        Settings(home=tmp_path / "empty", api_keys=keys),
        provider=StaticProvider(models),
        options=ServeOptions(poll_seconds=3600),
    )
    with TestClient(app) as client:
        for path in PATHS:
            response = client.get(path, headers=headers["manager"])
            assert response.status_code == 503
            assert "warehouse tables" in response.json()["detail"]

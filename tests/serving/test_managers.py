"""Manager routes: rep diagnosis, team rosters and training needs, contribution, pipeline.

The serving tests' company (see helpers): six sales reps whose deal conduct differs (r1-r2
multi-thread and reach the decision maker, r4-r6 single-threaded with slow follow-ups), two
service reps, open deals of which O000-O004 were touched recently. The routes must serve exactly
what `explain.managers` builds from the same warehouse (one implementation for the API, the
dashboard and the report), to managers only.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from barometer.model.store import LoadedModel, StaticProvider
from barometer.settings import Settings
from explain.managers import build_views, read_tables
from features.warehouse import connect
from serving.app import ServeOptions, create_app
from serving.service import VIEW_WORDS
from tests.serving.helpers import contract_tables

PATHS = (
    "/v1/reps/r1/profile",
    "/v1/teams/sales/reps",
    "/v1/teams/sales/training-needs",
    "/v1/reports/contribution",
    "/v1/reports/pipeline",
)


@pytest.fixture(scope="module")
def views(workspace, models):
    settings, _ = workspace
    with connect(settings.warehouse_path, read_only=True) as con:
        tables = read_tables(con)
    return build_views(tables, settings, models["churn"].model)


@pytest.mark.parametrize("path", PATHS)
def test_manager_routes_need_the_manager_role(client, headers, path) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"X-API-Key": "not-a-key-at-all-000"}).status_code == 401
    assert client.get(path, headers=headers["retention"]).status_code == 403
    assert client.get(path, headers=headers["manager"]).status_code == 200
    assert client.get(path, headers=headers["admin"]).status_code == 200


def test_rep_profile_is_the_diagnosis_of_the_same_data(client, headers, views) -> None:
    table = views.diagnosis.reps.set_index("rep_id")
    for rep in ("r1", "r6"):
        body = client.get(f"/v1/reps/{rep}/profile", headers=headers["manager"]).json()
        row = table.loc[rep]
        assert body["tier"] == row["tier"] and body["deals"] == row["deals"] == 20
        assert body["win_rate"] == pytest.approx(row["win_rate"])
        assert body["expected_win_rate"] == pytest.approx(row["expected_win_rate"])
        assert body["low"] <= body["effect"] <= body["high"]
        mine = views.diagnosis.findings[views.diagnosis.findings["rep_id"] == rep]
        assert [f["sentence"] for f in body["findings"]] == list(mine["sentence"])
        assert {s["stage"] for s in body["stages"]} <= set(
            client.app.state.service.settings.stage_order
        )
        assert "deal mix" in body["method"] and "causal" in body["caveat"]
    opps = contract_tables()["opportunities"]
    r6 = opps[(opps["owner_rep_id"] == "r6") & (opps["outcome"] != "open")]
    assert body["win_rate"] == pytest.approx((r6["outcome"] == "won").mean())
    contacts = {b["behaviour"]: b for b in body["behaviours"]}["contacts_engaged"]
    assert contacts["value"] == 1 and contacts["benchmark"] > 1 and contacts["win_gain"] >= 0


def test_team_roster_is_sorted_by_effect_with_tiers_from_the_interval(client, headers) -> None:
    body = client.get("/v1/teams/sales/reps", headers=headers["manager"]).json()
    effects = [r["effect"] for r in body["reps"]]
    assert effects == sorted(effects, reverse=True) and len(effects) == 6
    for rep in body["reps"]:
        expected = "top" if rep["low"] > 0 else "low" if rep["high"] < 0 else "core"
        assert rep["tier"] == expected and rep["headline"]
    assert {r["rep_id"] for r in body["reps"][:2]} <= {"r1", "r2", "r3"}  # multi-threaders lead


def test_training_needs_are_positive_money_gaps_largest_first(client, headers) -> None:
    body = client.get("/v1/teams/sales/training-needs", headers=headers["manager"]).json()
    money = [n["expected_revenue"] for n in body["needs"]]
    assert money and all(m > 0 for m in money) and money == sorted(money, reverse=True)
    assert body["needs"][0]["behaviour"] in {"contacts_engaged", "decision_maker_reached"}
    assert all("$" in n["sentence"] for n in body["needs"])


def test_unknown_rep_or_team_is_404_and_a_team_without_deals_is_empty(client, headers) -> None:
    for path in ("/v1/reps/nobody/profile", "/v1/reps/s1/profile", "/v1/teams/nope/reps"):
        response = client.get(path, headers=headers["manager"])
        assert response.status_code == 404, path
    service = client.get("/v1/teams/service/training-needs", headers=headers["manager"])
    assert service.status_code == 200 and service.json()["needs"] == []


def test_contribution_has_the_kpis_of_the_data_and_revenue_over_hours(client, headers) -> None:
    body = client.get("/v1/reports/contribution", headers=headers["manager"]).json()
    assert body["model_versions"] == {"churn": "3", "deal_win": "5"}
    cases = contract_tables()["cases"]
    in_period = cases[
        (cases["closed_at"] >= pd.Timestamp(body["period_start"]).tz_localize(None))
        & (cases["closed_at"] < pd.Timestamp(body["as_of"]).tz_localize(None))
    ]
    by_rep = {r["rep_id"]: r for r in body["by_rep"]}
    for rep in ("s1", "s2"):
        mine = in_period[in_period["rep_id"] == rep]
        assert by_rep[rep]["first_contact_resolution"] == pytest.approx(
            mine["first_contact_resolved"].mean()
        )
        assert by_rep[rep]["cases"] == len(mine)
    total = body["total"]
    revenue = total["retention_saved"] + total["expansion"]
    assert total["revenue_per_hour"] == pytest.approx(revenue / total["hours"])
    assert [t["team"] for t in body["by_team"]] == ["service"]
    assert "worst quartile" in body["reference_words"] and "causal" in body["caveat"]


def test_pipeline_report_counts_the_funnel_and_coverage_follows_the_target(client, headers) -> None:
    body = client.get("/v1/reports/pipeline", headers=headers["manager"]).json()
    tables = contract_tables()
    opps, stages = tables["opportunities"], tables["opportunity_stages"]
    funnel = {s["step"]: s for s in body["funnel"]}
    assert funnel["Prospecting"]["entered"] == stages[stages["stage"] == "Prospecting"].shape[0]
    assert funnel["Won"]["entered"] == (opps["outcome"] == "won").sum()
    worst = max((s for s in body["funnel"] if s["step"] != "Won"), key=lambda s: s["lost"])
    assert body["leak"].startswith(f"The pipeline leaks most at {worst['step']}")
    assert body["open_deals"] == 30 and body["open_value"] == pytest.approx(30 * 20_000)
    assert body["coverage"] is None
    fresh = {f"O{k:03d}" for k in range(5)}  # touched days before the scoring date
    assert body["stale_count"] == 25 and not fresh & {d["opportunity_id"] for d in body["stale"]}
    f = body["forecast"]
    assert f["low"] <= f["expected"] <= f["high"] and "model" in f["source"]
    covered = client.get("/v1/reports/pipeline?target=200000", headers=headers["manager"]).json()
    assert covered["coverage"] == pytest.approx(3.0) and covered["target"] == 200000
    bad = client.get("/v1/reports/pipeline?target=-1", headers=headers["manager"])
    assert bad.status_code == 422


def test_views_are_computed_once_per_snapshot_and_again_after_a_promotion(
    new_client, models, headers
) -> None:
    with new_client(models) as client:
        holder = client.app.state.service.insights
        for _ in range(3):
            for path in PATHS:
                assert client.get(path, headers=headers["manager"]).status_code == 200
        assert holder.builds == 1 and client.get("/readyz").json()["insights"] == "ready"
        client.app.state.service.models.provider.publish(
            LoadedModel("churn", models["churn"].model, "4")
        )
        assert client.post("/v1/models/reload", headers=headers["admin"]).status_code == 200
        body = client.get("/v1/reports/contribution", headers=headers["manager"]).json()
        assert body["model_versions"]["churn"] == "4" and holder.builds == 2


def test_without_a_churn_model_contribution_still_serves_and_says_so(
    new_client, models, headers
) -> None:
    with new_client({"deal_win": models["deal_win"]}) as client:
        report = client.get("/v1/reports/contribution", headers=headers["manager"])
        assert report.status_code == 200
        assert report.json()["total"]["retention_saved"] == 0
        assert "No churn model" in report.json()["sentence"]
        assert client.get("/v1/reps/r1/profile", headers=headers["manager"]).status_code == 200


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
            detail = response.json()["detail"]
            assert "warehouse tables" in detail
            view, _, _ = detail.partition(" cannot be shown: ")  # the view in words, no key
            assert view in VIEW_WORDS.values() and not detail.startswith("diagnosis:")


def test_the_html_report_shows_the_apis_figures(client, headers, workspace, models, monkeypatch):
    """`barometer explain` reads the same warehouse through the same build as the API: its
    findings, training needs, leak and contribution are the API's, number for number."""
    from markupsafe import escape

    from explain import build_reports
    from explain.report import _number

    settings, _ = workspace
    written = {}
    monkeypatch.setattr(
        build_reports,
        "load_model",
        lambda s, target, folder=None: build_reports.Loaded(
            models[target].model, f"barometer-{target}/{models[target].version}", None
        ),
    )
    monkeypatch.setattr(
        build_reports, "write_report", lambda html, path: written.setdefault("html", html)
    )
    build_reports.explain_target(settings, "churn", rows=50, log=False)
    html = written["html"]

    def shown(text: str) -> bool:
        return str(escape(text)) in html

    for rep in ("r1", "r6"):
        body = client.get(f"/v1/reps/{rep}/profile", headers=headers["manager"]).json()
        assert body["findings"] and all(shown(f["sentence"]) for f in body["findings"])
    needs = client.get("/v1/teams/sales/training-needs", headers=headers["manager"]).json()
    for need in needs["needs"]:
        assert f"<td>{escape(need['description'])}</td>" in html
        assert f"<td>{_number(need['expected_revenue'])}</td>" in html
    contribution = client.get("/v1/reports/contribution", headers=headers["manager"]).json()
    assert shown(contribution["sentence"])
    pipeline = client.get("/v1/reports/pipeline", headers=headers["manager"]).json()
    assert shown(pipeline["leak"])


def test_a_view_the_export_cannot_give_names_only_the_tables_it_lacks(tmp_path) -> None:
    """An export of accounts, activities and cases (a usage log, no CRM): the manager views say
    which tables are missing, and not activities, which the warehouse holds."""
    tables = contract_tables()
    with connect(tmp_path / "warehouse.duckdb") as con:
        for name in ("accounts", "activities", "cases"):
            con.register("frame", tables[name])
            con.execute(f"create table {name} as select * from frame")
            con.unregister("frame")
        found = read_tables(con)
    errors = build_views(found, Settings(home=tmp_path), None).errors
    assert errors["diagnosis"] == (
        "the warehouse has no reps, opportunities tables: ingest an export that includes them "
        "(`barometer ingest`)"
    )
    assert errors["contribution"] == errors["diagnosis"]
    assert errors["pipeline"] == (
        "the warehouse has no opportunities table: ingest an export that includes it "
        "(`barometer ingest`)"
    )

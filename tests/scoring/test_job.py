"""`barometer score` on a simulated workspace: the day after the data's last event by default,
features computed for that day without touching the training tables, history per day, exact
changes, incremental runs equal to full ones, and exports whose reasons add up."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from barometer.scoring import job
from barometer.scoring.history import latest_scores, score_history
from barometer.scoring.incremental import state_path
from barometer.scoring.reasons import MODEL, OTHER, load_registry
from features.warehouse import connect, replace_table

REGISTRY = load_registry()


def last_event(settings) -> pd.Timestamp:
    with connect(settings.warehouse_path, read_only=True) as con:
        return pd.Timestamp(
            con.execute("select max(greatest(occurred_at, logged_at)) from activities").fetchone()[
                0
            ]
        )


@pytest.fixture(scope="module")
def runs(scoring_home, tmp_path_factory):
    """Yesterday and today scored (today incrementally, from yesterday's state), then today again
    in full; a training table planted first, to show it is never touched."""
    settings, models = scoring_home
    planted = pd.DataFrame({"account_id": ["x"], "cutoff": [pd.Timestamp("2025-01-01")]})
    with connect(settings.warehouse_path) as con:
        replace_table(con, "features_account", planted)
        replace_table(con, "labels_churn", planted.assign(label=1))
    today = last_event(settings).normalize() + pd.Timedelta(days=1)
    out = tmp_path_factory.mktemp("exports")
    yesterday = job.run(settings, models["churn"], today - pd.Timedelta(days=1), registry=REGISTRY)
    latest = job.run(settings, models["churn"], out=out / "today.csv", registry=REGISTRY)
    with connect(settings.warehouse_path, read_only=True) as con:
        incremental = latest_scores(con, "churn")
    again = job.run(settings, models["churn"], full=True, registry=REGISTRY)
    with connect(settings.warehouse_path, read_only=True) as con:
        full = latest_scores(con, "churn")
    return settings, planted, today, yesterday, latest, again, incremental, full, out


def test_default_day_is_the_one_after_the_last_event(runs) -> None:
    settings, _, today, yesterday, latest, *_ = runs
    assert latest.as_of == today.to_pydatetime()
    assert pd.Timestamp(latest.data_through) >= last_event(settings)
    assert pd.Timestamp(latest.data_through) < today
    assert yesterday.as_of == (today - pd.Timedelta(days=1)).to_pydatetime()
    assert latest.rows > 50


def test_the_training_tables_are_never_touched(runs) -> None:
    settings, planted, *_ = runs
    with connect(settings.warehouse_path, read_only=True) as con:
        pd.testing.assert_frame_equal(con.execute("select * from features_account").df(), planted)
        assert con.execute("select count(*) from labels_churn").fetchone()[0] == 1
        days = con.execute(
            "select distinct as_of from scoring_features_account order by 1"
        ).fetchall()
    assert len(days) == 2  # the rows each run scored are kept beside the scores


def test_each_day_is_kept_so_risk_over_time_is_a_line(runs) -> None:
    settings, _, today, *_ = runs
    with connect(settings.warehouse_path, read_only=True) as con:
        entity = con.execute("select entity_id from scores limit 1").fetchone()[0]
        history = score_history(con, "churn", entity)
        runs_table = con.execute("select as_of, explained from score_runs order by 1, 2").fetchall()
    assert [pd.Timestamp(t) for t in history["as_of"]] == [today - pd.Timedelta(days=1), today]
    assert [r[1] for r in runs_table] == ["full", "full"]  # the full rerun replaced today's run


def test_an_incremental_day_equals_a_full_one(runs) -> None:
    *_, latest, again, incremental, full, _ = runs
    assert latest.plan.incremental and not again.plan.incremental
    assert 0 < latest.plan.crossed <= latest.plan.rows
    columns = ["entity_id", "probability", "band", "lift", "reasons", "change_reasons", "actions"]
    pd.testing.assert_frame_equal(incremental[columns], full[columns])


def test_changes_add_up_and_name_only_changed_features(runs) -> None:
    settings, *_, full, _ = runs
    with connect(settings.warehouse_path, read_only=True) as con:
        before = (
            con.execute(
                "select * from scoring_features_account where as_of = "
                "(select min(as_of) from scoring_features_account)"
            )
            .df()
            .set_index("account_id")
        )
        after = (
            con.execute(
                "select * from scoring_features_account where as_of = "
                "(select max(as_of) from scoring_features_account)"
            )
            .df()
            .set_index("account_id")
        )
    moved = 0
    for row in full.itertuples():
        change = row.probability - row.previous_probability
        lines = json.loads(row.change_reasons)
        assert sum(m["points_change"] for m in lines) == pytest.approx(change, abs=2e-6)
        for m in lines:
            if m["feature"] in (OTHER, MODEL):
                continue
            moved += 1
            old, new = before.at[row.entity_id, m["feature"]], after.at[row.entity_id, m["feature"]]
            assert not (old == new or (pd.isna(old) and pd.isna(new))), m
    assert moved > 0


def test_the_export_s_reasons_add_up_and_at_risk_accounts_get_actions(runs) -> None:
    *_, out = runs
    frame = pd.read_csv(out / "today.csv")
    assert list(frame.columns[:5]) == [
        "account_id",
        "as_of",
        "probability",
        "model_version",
        "reasons",
    ]
    for row in frame.itertuples():
        reasons = json.loads(row.reasons)
        assert reasons[-1]["feature"] == OTHER
        total = row.base_probability + sum(r["points"] for r in reasons)
        assert total == pytest.approx(row.probability, abs=2e-6)
        actions = json.loads(row.actions)
        if row.band == "low":
            assert actions == []
        for action in actions:
            assert REGISTRY[action["feature"]].actionable and action["points"] < 0
            assert "not promised" in action["sentence"]
    at_risk = frame[frame["band"] != "low"]
    assert len(at_risk) and at_risk["actions"].map(json.loads).map(len).gt(0).mean() > 0.5
    lift = frame["probability"] / frame["probability"].mean()
    np.testing.assert_allclose(frame["lift"], lift, atol=1e-4)


def test_a_new_model_version_is_a_full_run_whose_change_names_it(scoring_home, tmp_path) -> None:
    settings, models = scoring_home
    own = settings.model_copy(update={"home": tmp_path / "ws"})
    own.home.mkdir()
    (own.home / "warehouse.duckdb").write_bytes(settings.warehouse_path.read_bytes())
    with connect(own.warehouse_path) as con:
        for table in ("scores", "score_runs", "scoring_features_account"):
            con.execute(f"drop table if exists {table}")
    today = last_event(own).normalize() + pd.Timedelta(days=1)
    job.run(own, models["churn"], today - pd.Timedelta(days=1), registry=REGISTRY)
    newer = replace(models["churn"], version="2")
    result = job.run(own, newer, registry=REGISTRY)
    assert not result.plan.incremental
    with connect(own.warehouse_path, read_only=True) as con:
        scored = latest_scores(con, "churn")
    assert (scored["previous_model_version"] == "1").all()
    for text in scored["change_reasons"]:
        assert MODEL not in {m["feature"] for m in json.loads(text)}  # the same booster
    state_path(own.home, "churn").unlink()
    again = job.run(own, newer, registry=REGISTRY)  # no state: a full run, same answers
    assert not again.plan.incremental


def test_deals_are_scored_with_reasons_and_actions(scoring_home, tmp_path) -> None:
    settings, models = scoring_home
    result = job.run(
        settings, models["deal_win"], out=tmp_path / "deals.parquet", registry=REGISTRY
    )
    frame = pd.read_parquet(tmp_path / "deals.parquet")
    assert result.rows == len(frame) > 0
    assert frame.columns[0] == "opportunity_id" and frame["account_id"].notna().all()
    for row in frame.itertuples():
        reasons = json.loads(row.reasons)
        assert row.base_probability + sum(r["points"] for r in reasons) == pytest.approx(
            row.probability, abs=2e-6
        )
        for action in json.loads(row.actions):
            assert action["points"] > 0  # for deals, better means a higher win chance


def test_clear_errors(scoring_home, tmp_path) -> None:
    settings, models = scoring_home
    with pytest.raises(ValueError, match="use a .csv or .parquet"):
        job.run(settings, models["churn"], out=tmp_path / "scores.xlsx", registry=REGISTRY)
    with pytest.raises(ValueError, match="give a date"):
        job.run(settings, models["churn"], pd.Timestamp("2025-01-01 10:00"), registry=REGISTRY)
    assert not list(tmp_path.glob("scores*"))
    empty = settings.model_copy(update={"home": tmp_path / "none"})
    with pytest.raises(FileNotFoundError, match="barometer ingest"):
        job.run(empty, models["churn"], registry=REGISTRY)


def test_the_report_shows_the_stored_highest_scores_adding_up(runs) -> None:
    from explain.build_reports import scored_examples

    settings, *_ = runs
    examples = scored_examples(settings, "churn")
    assert len(examples) == 3
    assert [e["probability"] for e in examples] == sorted(
        (e["probability"] for e in examples), reverse=True
    )
    for e in examples:
        total = e["base_probability"] + sum(r["points"] for r in e["reasons"])
        assert total == pytest.approx(e["probability"], abs=2e-6)


def test_a_linear_champion_is_explained_in_full_and_adds_up(scoring_home, tmp_path) -> None:
    """A logistic champion (training may register one) scores through the same job: explained in
    full by its scorer each day, with reasons, changes and actions that add up."""
    from barometer.model.artefact import ScoringModel
    from barometer.model.encoder import FeatureEncoder
    from barometer.model.scorers import LinearScorer
    from barometer.model.store import LoadedModel

    settings, _ = scoring_home
    own = settings.model_copy(update={"home": tmp_path / "ws"})
    own.home.mkdir()
    (own.home / "warehouse.duckdb").write_bytes(settings.warehouse_path.read_bytes())
    with connect(own.warehouse_path) as con:
        for table in ("scores", "score_runs", "scoring_features_account"):
            con.execute(f"drop table if exists {table}")
    names = ["days_since_last_touch", "touches_per_week_30d"]
    core = LinearScorer(
        -3.0, (0, 1), (60.0, 0.0), (30.0, 1.0), (20.0, 1.0), (0.9, -0.6), (0.0, 0.0), (0.0, 0.0)
    )
    encoder = FeatureEncoder(dict.fromkeys(names, "numeric")).fit(pd.DataFrame())
    linear = LoadedModel("churn", ScoringModel("churn", encoder, None, core=core), "5")
    today = last_event(own).normalize() + pd.Timedelta(days=1)
    job.run(own, linear, today - pd.Timedelta(days=30), registry=REGISTRY)
    result = job.run(own, linear, registry=REGISTRY)
    assert not result.plan.incremental and result.rows > 50
    with connect(own.warehouse_path, read_only=True) as con:
        scored = latest_scores(con, "churn")
    assert scored["probability"].nunique() > 10
    for row in scored.itertuples():
        reasons = json.loads(row.reasons)
        total = row.base_probability + sum(r["points"] for r in reasons)
        assert total == pytest.approx(row.probability, abs=2e-6)
        lines = json.loads(row.change_reasons)
        change = row.probability - row.previous_probability
        assert sum(m["points_change"] for m in lines) == pytest.approx(change, abs=2e-6)
    actions = scored.loc[scored["band"] != "low", "actions"].map(json.loads)
    assert actions.map(len).gt(0).any()


@pytest.mark.parametrize(
    ("as_of", "warned"),
    [("2025-07-01", False), ("2025-08-01", False), ("2025-08-02", True), ("2030-01-01", True)],
)
def test_an_as_of_more_than_a_month_past_the_data_is_called_stale(as_of, warned):
    from barometer.scoring.day_features import stale_as_of

    last = pd.Timestamp("2025-06-30 16:45")
    words = stale_as_of(pd.Timestamp(as_of), last)
    assert (words is not None) == warned
    if warned:
        gap = (pd.Timestamp(as_of) - pd.Timestamp("2025-07-01")).days  # the default as-of
        assert words.startswith(f"as of {as_of} is {gap} days past the last day the data covers")
    assert stale_as_of(pd.Timestamp(as_of), None) is None

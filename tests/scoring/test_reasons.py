"""Reasons that add up (top reasons + the "all other behaviours" line), sentences, and the exact
decomposition of a change between two scorings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from barometer.scoring.bands import band_cuts
from barometer.scoring.incremental import explain_full
from barometer.scoring.reasons import MODEL, OTHER, matrix_reasons, sentence
from barometer.scoring.scores import Previous, raw_values, score_frame
from features.registry import Feature


def explained(model, frame: pd.DataFrame, as_of="2026-10-01", version="1"):
    ids = [f"a{i}" for i in range(len(frame))]
    return explain_full(model, np.array(ids), model.matrix(frame), as_of, version)


def scored(model, frame, registry, previous=None, version="1") -> pd.DataFrame:
    done = explained(model, frame, version=version)
    probability = model.predict_proba(frame)
    context = pd.DataFrame({"segment": frame["segment"], "value": 1000.0})
    return score_frame(
        model,
        done,
        raw_values(model, frame),
        context,
        band_cuts(probability, model.target),
        scored_at=pd.Timestamp("2026-10-01 06:00"),
        registry=registry,
        previous=previous,
    )


def test_reasons_and_the_other_line_add_up_to_the_probability(churn_model, accounts, registry):
    rows = accounts.head(60)
    out = scored(churn_model, rows, registry)
    expected = churn_model.predict_proba(rows)
    np.testing.assert_allclose(out["probability"], expected, atol=5e-7)
    for _, row in out.iterrows():
        reasons = json.loads(row["reasons"])
        total = row["base_probability"] + sum(r["points"] for r in reasons)
        assert total == pytest.approx(row["probability"], abs=2e-6)
        shown = [r for r in reasons if r["feature"] != OTHER]
        up = [r["points"] for r in shown if r["points"] > 0]
        down = [r["points"] for r in shown if r["points"] < 0]
        assert up == sorted(up, reverse=True) and down == sorted(down)
        assert len(up) <= 5 and len(down) <= 5
        other = reasons[-1]
        hidden = len(churn_model.feature_names) - len(shown)
        assert other["feature"] == OTHER
        words = {0: "No other behaviours", 1: "The 1 other behaviour"}.get(
            hidden, f"All {hidden} other behaviours"
        )
        assert other["sentence"].startswith(f"{words}: ")


def test_the_other_line_carries_what_the_top_reasons_leave_out() -> None:
    """Three features, one reason each way shown: the third is in the other line."""
    points = np.array([[0.30, -0.05, 0.10]])
    raw = np.array([[40.0, 2.0, 7.0]], dtype=object)
    registry = {
        "silence": Feature("silence", "account", "cadence", "Days silent", None, unit="days"),
    }
    [row] = matrix_reasons(points, raw, ["silence", "calls", "cases"], "churn", registry, k=1)
    assert [r["feature"] for r in row] == ["silence", "calls", OTHER]
    assert row[0]["sentence"] == "Days silent: 40 days: +30 pts churn risk"
    assert row[-1]["points"] == pytest.approx(0.10)
    assert row[-1]["sentence"] == "The 1 other behaviour: +10 pts churn risk"
    assert sum(r["points"] for r in row) == pytest.approx(0.35)


def test_sentence_reads_like_a_manager_would_say_it() -> None:
    feature = Feature(
        "d", "account", "cadence", "No connected call for {value} days", 90, unit="days"
    )
    assert sentence(feature, 48.0, 0.11, "churn", 9.0) == (
        "No connected call for 48 days (team median 9): +11 pts churn risk"
    )
    share = Feature("f", "account", "service_quality", "First-contact resolution", 90, unit="share")
    assert sentence(share, 0.35, -0.042, "deal_win", None) == (
        "First-contact resolution: 35%: -4 pts win chance"
    )
    money = Feature("arr", "account", "account_context", "Annual recurring revenue", None)
    money = Feature(**{**money.__dict__, "unit": "currency"})
    assert sentence(money, 125000.0, 0.02, "churn").startswith("Annual recurring revenue: $125,000")
    calls = Feature("c", "account", "cadence", "Calls, last 30 days", 30, unit="calls")
    assert "Calls, last 30 days: 1 call:" in sentence(calls, 1.0, 0.01, "churn")
    tiny = Feature("t", "account", "cadence", "Trend", 30)
    assert "e-" not in sentence(tiny, 0.0000123, 0.01, "churn")


def test_changing_one_behaviour_makes_the_reasons_name_it(churn_model, registry) -> None:
    calm = pd.DataFrame(
        {
            "days_since_connected_call": [5.0],
            "escalated_cases_90d": [0.0],
            "first_contact_resolution": [0.6],
            "contacts_reached_90d": [3.0],
            "last_nps": [6.0],
            "emails_sent_30d": [8.0],
            "arr": [30000.0],
            "segment": ["smb"],
        }
    )
    silent = calm.assign(days_since_connected_call=60.0)
    out = scored(churn_model, pd.concat([calm, silent], ignore_index=True), registry)
    before, after = (json.loads(text) for text in out["reasons"])
    assert out["probability"][1] > out["probability"][0] + 0.05
    assert before[0]["feature"] != "days_since_connected_call"
    top = after[0]
    assert top["feature"] == "days_since_connected_call" and top["family"] == "cadence"
    assert top["sentence"].startswith("Days since the last connected call: 60 days")


def previous_of(model, frame: pd.DataFrame, shown: np.ndarray, version: str = "1") -> Previous:
    done = explained(model, frame, as_of="2026-09-01")
    versions = np.full(len(frame), version, dtype=object)
    return Previous(pd.Timestamp("2026-09-01"), done, raw_values(model, frame), shown, versions)


def test_a_change_is_exactly_its_movers_and_the_other_line(churn_model, accounts, registry):
    before = accounts.head(40).reset_index(drop=True)
    after = before.copy()
    after.loc[:19, "escalated_cases_90d"] += 2
    after.loc[:9, "last_nps"] = 2.0
    shown = np.round(churn_model.predict_proba(before), 6)
    out = scored(churn_model, after, registry, previous_of(churn_model, before, shown))
    for i, row in out.iterrows():
        change = row["probability"] - row["previous_probability"]
        movers = json.loads(row["change_reasons"])
        assert sum(m["points_change"] for m in movers) == pytest.approx(change, abs=2e-6)
        named = {m["feature"] for m in movers} - {OTHER, MODEL}
        assert MODEL not in {m["feature"] for m in movers}  # same model version
        changed = {"escalated_cases_90d"} if i < 20 else set()
        changed |= {"last_nps"} if i < 10 and before.loc[i, "last_nps"] != 2.0 else set()
        assert named <= changed  # an unchanged feature is never a mover
        if i < 20:
            assert "escalated_cases_90d" in named
        else:
            assert movers == []  # nothing changed: no change lines


def test_unchanged_features_whose_points_moved_are_never_movers(churn_model, accounts, registry):
    """Interactions move the points of features whose values stayed put: those points go to the
    other line, never to a mover."""
    before = accounts.head(200).reset_index(drop=True)
    after = before.assign(days_since_connected_call=before["days_since_connected_call"] + 45)
    shown = np.round(churn_model.predict_proba(before), 6)
    previous = previous_of(churn_model, before, shown)
    out = scored(churn_model, after, registry, previous)
    phi_moved = (
        np.abs(
            explained(churn_model, after).contributions[:, :-1]
            - previous.explained.contributions[:, :-1]
        )
        > 1e-9
    )
    others = [n for n in churn_model.feature_names if n != "days_since_connected_call"]
    assert phi_moved[:, [churn_model.feature_names.index(n) for n in others]].any()
    for text in out["change_reasons"]:
        movers = json.loads(text)
        assert {m["feature"] for m in movers} <= {"days_since_connected_call", OTHER}
        for m in movers:
            if m["feature"] == "days_since_connected_call":
                assert " (was " in m["sentence"] and m["previous_value"] < m["value"]


def test_a_new_model_version_is_its_own_change_line(churn_model, accounts, registry) -> None:
    rows = accounts.head(20).reset_index(drop=True)
    shown = np.round(churn_model.predict_proba(rows), 6) - 0.03  # what the old model showed
    out = scored(churn_model, rows, registry, previous_of(churn_model, rows, shown, version="0"))
    for _, row in out.iterrows():
        movers = json.loads(row["change_reasons"])
        assert [m["feature"] for m in movers] == [MODEL, OTHER]  # only the model moved
        assert movers[0]["points_change"] == pytest.approx(0.03, abs=1e-6)
        assert movers[1]["points_change"] == pytest.approx(0.0, abs=1e-6)
        assert row["previous_model_version"] == "0"


def test_a_change_in_a_win_rate_reads_in_percentage_points() -> None:
    """A win rate against its own past is a difference of two shares: +45 percentage points,
    never the fraction 0.455."""
    from features.registry import BY_NAME

    change = BY_NAME["rep_win_rate_change"]
    assert sentence(change, 0.4545, -0.0155, "rep_attrition") == (
        "The rep's win rate in the last 180 days minus their win rate in the 360 days before: "
        "+45 percentage points: -2 pts risk of leaving"
    )
    assert ": -2 percentage points:" in sentence(change, -0.0182, 0.01, "rep_attrition")
    assert ": +1 percentage point:" in sentence(change, 0.01, 0.01, "rep_attrition")
    assert ": 0 percentage points:" in sentence(change, 0.001, 0.01, "rep_attrition")

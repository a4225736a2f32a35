"""TreeSHAP agreement, additivity, sentences, score changes and the hand-made account."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.model.treeshap import shap_reference, tree_shap
from explain.reasons import peer_medians, reasons, score_change, sentence
from features.registry import Feature


def test_pred_contrib_agrees_with_shap_tree_explainer_to_1e_6() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1500, 5)), columns=list("abcde"))
    frame["b"] = frame["b"].round(1)  # ties on thresholds exercise the <= rule
    logit = frame["a"] - frame["b"] * frame["c"] + 0.5 * frame["d"]
    label = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(frame.to_numpy(), label), 40)
    model = ScoringModel(
        "churn", FeatureEncoder(dict.fromkeys("abcde", "numeric")).fit(frame), booster
    )
    rows = frame.head(300)
    ours, base = tree_shap(model, rows)
    theirs, their_base = shap_reference(model, rows)
    assert np.abs(ours.to_numpy() - theirs.to_numpy()).max() < 1e-6
    assert abs(base - their_base) < 1e-6
    np.testing.assert_allclose(base + ours.sum(axis=1), model.raw_score(rows), atol=1e-9)


def test_reasons_add_up_to_the_calibrated_probability(churn_model, accounts, registry) -> None:
    rows = accounts.head(50)
    explained = reasons(churn_model, rows, registry, top=len(churn_model.feature_names))
    probs = churn_model.predict_proba(rows)
    for row, prob in zip(explained, probs, strict=True):
        total = row.base_probability + sum(r.points for r in row.increasing + row.decreasing)
        assert row.probability == pytest.approx(prob, abs=1e-12)
        assert total == pytest.approx(prob, abs=1e-3)  # only sub-0.05-pt reasons are left out
        assert all(r.points > 0 for r in row.increasing)
        assert all(r.points < 0 for r in row.decreasing)
        ups = [r.points for r in row.increasing]
        assert ups == sorted(ups, reverse=True)


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


def test_peer_medians_compare_each_row_with_its_own_team() -> None:
    frame = pd.DataFrame({"team": ["a", "a", "a", "b"], "x": [1.0, 2.0, 9.0, 5.0]})
    assert peer_medians(frame, "team", ["x"])["x"].tolist() == [2.0, 2.0, 2.0, 5.0]


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
    before, after = reasons(churn_model, pd.concat([calm, silent], ignore_index=True), registry)
    assert after.probability > before.probability + 0.05
    assert "days_since_connected_call" not in [r.feature for r in before.increasing]
    top = after.increasing[0]
    assert top.feature == "days_since_connected_call" and top.family == "cadence"
    assert top.sentence.startswith("Days since the last connected call: 60 days")
    assert "pts churn risk" in top.sentence


def test_score_change_names_what_changed(churn_model, accounts, registry) -> None:
    before = accounts.iloc[[3]].assign(escalated_cases_90d=0.0, last_nps=9.0)
    after = before.assign(escalated_cases_90d=2.0, last_nps=4.0)
    change = score_change(churn_model, before, after, registry, since="2026-10-01")
    assert change.change == pytest.approx(change.after - change.before)
    assert change.change > 0.05
    assert {c.feature for c in change.changes} == {"escalated_cases_90d", "last_nps"}
    # The two changed features carry the change (interactions move the rest a little).
    assert all(c.points > 0 for c in change.changes)
    assert sum(c.points for c in change.changes) == pytest.approx(change.change, rel=0.1)
    assert change.sentence.startswith(f"Churn risk up {change.change * 100:.0f} pts since 1 Oct: ")
    assert "Last NPS score: 4 (was 9)" in change.sentence


def test_score_change_needs_one_row_each(churn_model, accounts) -> None:
    with pytest.raises(ValueError, match="exactly one row"):
        score_change(churn_model, accounts.head(2), accounts.head(1))

"""Global drivers, dependence turns, what-if and suggestions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain.drivers import dependence, drivers, family_attribution, family_points
from explain.whatif import candidates, encode_changes, suggest_actions, what_if, what_if_matrix


def test_drivers_recover_known_directions_and_ignore_noise(churn_model, accounts, registry):
    table = drivers(churn_model, accounts, registry).set_index("feature")
    expected = {
        "days_since_connected_call": 1,
        "escalated_cases_90d": 1,
        "first_contact_resolution": -1,
        "contacts_reached_90d": -1,
        "last_nps": -1,
    }
    for name, sign in expected.items():
        assert table.loc[name, "direction"] == sign, name
    noise = table.loc["emails_sent_30d", "mean_abs_points"]
    assert all(table.loc[n, "mean_abs_points"] > 3 * noise for n in expected)
    assert table["share"].sum() == pytest.approx(1.0)


def test_family_points_add_up_to_each_probability(churn_model, accounts, registry):
    rows = accounts.head(100)
    per_family = family_points(churn_model, rows, registry)
    explanation = churn_model.explain(rows)
    np.testing.assert_allclose(
        explanation.base_probability + per_family.sum(axis=1), explanation.probability, atol=1e-12
    )
    assert set(per_family.columns) == {
        "cadence",
        "service_quality",
        "reach",
        "customer_voice",
        "account_context",
    }


def test_family_attribution_by_segment(churn_model, accounts, registry):
    table = family_attribution(churn_model, accounts, registry, by="segment")
    assert set(table["segment"]) == {"enterprise", "mid_market", "smb"}
    shares = table.groupby("segment")["share"].sum()
    np.testing.assert_allclose(shares, 1.0)
    # Service quality (escalations + FCR) is the largest family in every segment by construction.
    assert (table.groupby("segment").head(1)["family"] == "service_quality").all()
    by_stage = drivers(churn_model, accounts, registry, by="segment")
    assert by_stage.groupby("segment")["feature"].count().eq(len(churn_model.feature_names)).all()


def test_dependence_finds_where_silence_stops_mattering(churn_model, accounts, registry):
    curve = dependence(churn_model, accounts, "days_since_connected_call", registry)
    assert curve.saturation is not None and 20 <= curve.saturation <= 45  # true cap: 30 days
    assert curve.crossing is not None and 5 <= curve.crossing <= 30
    assert curve.effect[-1] > curve.effect[0]
    assert "stops hurting after" in curve.sentence and "more raises churn risk" in curve.sentence


def test_what_if_changes_only_the_named_features(churn_model, accounts):
    row = accounts.iloc[[5]].assign(escalated_cases_90d=3.0)
    calmer = what_if(churn_model, row, {"escalated_cases_90d": 0.0})
    assert calmer.after < calmer.before and calmer.change == pytest.approx(
        calmer.after - calmer.before
    )
    assert calmer.before == pytest.approx(churn_model.predict_proba(row)[0])
    team = what_if(
        churn_model, row, {"first_contact_resolution": "median"}, {"first_contact_resolution": 0.95}
    )
    assert team.changes == {"first_contact_resolution": 0.95}
    assert "not causal" in team.caveat
    with pytest.raises(ValueError, match="Unknown features"):
        what_if(churn_model, row, {"arr_typo": 1.0})


@pytest.mark.parametrize(
    "changes",
    [
        {"segment": "smb", "escalated_cases_90d": 0.0},
        {"segment": "no_such_segment", "last_nps": None},  # unknown level and None → missing
        {"days_since_connected_call": "12.5", "segment": None},  # numeric text is a number
    ],
)
def test_what_if_on_a_prepared_row_equals_scoring_the_changed_frame(churn_model, accounts, changes):
    rows = accounts.iloc[[3]].reset_index(drop=True)
    changed = rows.assign(**{k: [v] for k, v in changes.items()})
    expected = churn_model.predict_proba(pd.concat([rows, changed], ignore_index=True))
    prepared = churn_model.matrix(accounts.head(200))[3]  # the large-batch encoding
    result = what_if_matrix(churn_model, prepared, changes)
    assert [result.before, result.after] == pytest.approx(expected.tolist(), abs=1e-12)
    assert result.before != result.after
    positions, encoded = encode_changes(churn_model, changes)
    np.testing.assert_array_equal(encoded, churn_model.matrix(changed)[0, positions])
    np.testing.assert_array_equal(prepared, churn_model.matrix(rows)[0])  # untouched


def test_suggestions_are_actionable_and_improve_the_outcome(churn_model, accounts, registry):
    row = accounts.iloc[[7]].assign(
        days_since_connected_call=70.0, contacts_reached_90d=0.0, escalated_cases_90d=3.0
    )
    tried = candidates(churn_model, registry, churn_model.matrix(accounts))
    actionable = {f.name for f in registry if f.actionable}
    assert {churn_model.feature_names[j] for j, _ in tried} == actionable - {"segment"}
    [suggestions] = suggest_actions(churn_model, churn_model.matrix(row), tried, top=3)
    assert suggestions and all(s.feature in actionable for s in suggestions)
    assert "escalated_cases_90d" not in [s.feature for s in suggestions]  # not actionable
    assert all(s.change < 0 for s in suggestions)  # lower churn risk
    assert [s.change for s in suggestions] == sorted(s.change for s in suggestions)
    assert suggestions[0].feature in {"days_since_connected_call", "contacts_reached_90d"}
    for s in suggestions:  # each one is what scoring the changed row says
        changed = row.assign(**{s.feature: s.proposed})
        expected = churn_model.predict_proba(changed)[0] - churn_model.predict_proba(row)[0]
        assert s.change == pytest.approx(expected, abs=1e-12)
        assert s.current == pytest.approx(float(row[s.feature].iloc[0]))


def test_a_deal_s_suggestions_raise_its_win_chance(win_model, accounts, registry) -> None:
    rows = accounts.head(30).assign(contacts_reached_90d=0.0, first_contact_resolution=0.1)
    tried = candidates(win_model, registry, win_model.matrix(accounts))
    found = suggest_actions(win_model, win_model.matrix(rows), tried)
    assert len(found) == 30 and all(found)
    assert all(s.change > 0 for row in found for s in row)
    assert suggest_actions(win_model, win_model.matrix(rows.head(0)), tried) == []

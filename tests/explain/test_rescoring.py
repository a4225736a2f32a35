"""Incremental rescoring: the same scores and reasons as a full run, with TreeSHAP on fewer rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain.rescoring import (
    rescore_incremental,
    score_rows,
    split_bins,
    split_thresholds,
)


@pytest.fixture()
def day(churn_model, accounts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Yesterday's features for 600 accounts, and today's after a day of activity."""
    before = accounts.head(600).reset_index(drop=True).assign(account_id=lambda f: f.index)
    after = before.copy()
    after.loc[:59, "escalated_cases_90d"] += 2  # new cases on 60 accounts
    after.loc[60:69, "segment"] = "galactic"  # an unknown level: missing for the model
    after.loc[70:99, "days_since_connected_call"] = within_bin(
        churn_model, "days_since_connected_call", after.loc[70:99, "days_since_connected_call"]
    )
    after = after.drop(index=[598, 599])  # two accounts left
    new = accounts.iloc[[700, 701]].assign(account_id=[1000, 1001])
    return before, pd.concat([after, new], ignore_index=True)


def within_bin(model, name: str, values: pd.Series) -> np.ndarray:
    """Non-zero values moved up to the next split threshold of `name` (no split changes side)."""
    cuts = split_thresholds(model)[model.feature_names.index(name)]
    x = values.to_numpy(dtype=float)
    upper = cuts[np.minimum(np.searchsorted(cuts, x), len(cuts) - 1)]
    moved = np.where(x < upper, upper, x + 0.5 * (x > cuts[-1]))
    return np.where(x == 0, x, moved)  # zero has a bin of its own


def test_incremental_equals_full_rescoring(churn_model, registry, day) -> None:
    before, after = day
    previous = score_rows(churn_model, before, registry)
    updated, plan = rescore_incremental(churn_model, after, previous, registry)
    full = score_rows(churn_model, after, registry)
    pd.testing.assert_frame_equal(updated.scores, full.scores, check_exact=False, atol=1e-12)
    np.testing.assert_allclose(updated.points, full.points, atol=1e-12)
    assert updated.scores["account_id"].tolist() == after["account_id"].tolist()
    ids = after["account_id"].to_numpy()
    explained, reworded, reused = (set(ids[p]) for p in (plan.explain, plan.reword, plan.reuse))
    # TreeSHAP ran only on new accounts and rows whose features crossed a split threshold.
    assert {1000, 1001} <= explained <= set(range(70)) | {1000, 1001}
    assert set(range(60, 70)) <= explained  # the segment became missing
    # Values that moved within their split bins keep their points; a row is worded anew when
    # the moved feature is one of its shown reasons (the strongest feature usually is).
    name = "days_since_connected_call"
    moved = set(np.flatnonzero(after[name].head(598) != before[name].head(598)))
    assert reworded <= moved - explained and len(reworded) >= 20
    assert reused == set(range(598)) - explained - reworded
    assert set(range(100, 598)) <= reused


def test_rows_in_the_same_split_bins_have_identical_explanations(churn_model, accounts) -> None:
    rows = accounts.head(300)
    matrix = churn_model.matrix(rows)
    thresholds = split_thresholds(churn_model)
    bins = split_bins(matrix, thresholds)
    name = "days_since_connected_call"
    j = churn_model.feature_names.index(name)
    moved = matrix.copy()
    moved[:, j] = within_bin(churn_model, name, rows[name])
    assert (moved[:, j] != matrix[:, j]).sum() > 100
    np.testing.assert_array_equal(split_bins(moved, thresholds), bins)
    np.testing.assert_array_equal(
        churn_model.explain_matrix(moved).point_values,
        churn_model.explain_matrix(matrix).point_values,
    )
    # One step past a threshold changes the bin, and the explanation with it.
    crossed = moved.copy()
    crossed[:, j] = np.nextafter(moved[:, j], np.inf)
    stepped = split_bins(crossed, thresholds)[:, j] != bins[:, j]
    assert stepped.sum() > 100
    before = churn_model.explain_matrix(moved[stepped]).point_values[:, j]
    after = churn_model.explain_matrix(crossed[stepped]).point_values[:, j]
    assert (before != after).mean() > 0.9

"""Incremental explanation: the same TreeSHAP values as a full one, from only the trees each
changed row crossed; and the state a scoring leaves for the next."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.model.treeshap import crossed_trees, tree_splits, update_contributions
from barometer.scoring.incremental import (
    Explained,
    explain,
    explain_full,
    explain_incremental,
    load_state,
    save_state,
)


def ids_of(frame: pd.DataFrame) -> np.ndarray:
    return frame["account_id"].astype(str).to_numpy()


def full(model, frame: pd.DataFrame, version: str = "1") -> Explained:
    return explain_full(model, ids_of(frame), model.matrix(frame), "2026-10-01", version)


def next_day(frame: pd.DataFrame, step: int) -> pd.DataFrame:
    """`frame` a day later: every account's silence grows by a day, and some accounts change."""
    rng = np.random.default_rng(step)
    after = frame.copy()
    after["days_since_connected_call"] += 1  # recency moves for every account, every day
    rows = rng.choice(len(after), 60, replace=False)
    after.loc[rows[:15], "escalated_cases_90d"] += 1
    after.loc[rows[15:25], "days_since_connected_call"] = 0.0  # a call connected
    after.loc[rows[25:35], "last_nps"] = np.nan  # survey answers go missing...
    after.loc[rows[35:45], "last_nps"] = rng.integers(0, 11, 10).astype(float)  # ...or arrive
    after.loc[rows[45:50], "segment"] = "galactic"  # unknown level: missing for the model
    after.loc[rows[50:55], "segment"] = rng.choice(["enterprise", "smb", None], 5)
    after.loc[rows[55:60], "contacts_reached_90d"] = 0.0  # zero has a bin of its own
    return after


def test_a_chain_of_incremental_days_equals_full_explanations(churn_model, accounts) -> None:
    frame = accounts.head(400).reset_index(drop=True).assign(account_id=lambda f: f.index)
    frame.loc[::7, "first_contact_resolution"] = np.nan
    previous = full(churn_model, frame)
    trees = churn_model.booster.num_trees()
    for step in range(1, 5):
        frame = next_day(frame, step)
        if step == 2:  # two accounts leave, two arrive
            arrivals = accounts.iloc[[900, 901]].assign(account_id=[1000 + step, 2000 + step])
            frame = pd.concat([frame.iloc[2:], arrivals], ignore_index=True)
        matrix = churn_model.matrix(frame)
        updated, plan = explain_incremental(
            churn_model, previous, ids_of(frame), matrix, "2026-10-02", "1"
        )
        expected = full(churn_model, frame)
        assert updated.ids.tolist() == expected.ids.tolist()
        np.testing.assert_allclose(updated.contributions, expected.contributions, atol=1e-9)
        # Every row's silence moved, but only the trees whose thresholds it crossed reran.
        assert plan.changed >= len(frame) - plan.new - 10  # a few calls reset silence to 0 again
        assert 0 < plan.crossed < len(frame)
        assert 0 < plan.pairs < 0.5 * plan.crossed * trees
        assert plan.new == (2 if step == 2 else 0)
        previous = updated  # the next day starts from the incremental result


def test_crossing_one_threshold_reruns_only_the_trees_that_have_it(churn_model, accounts) -> None:
    splits = tree_splits(churn_model)
    j = churn_model.feature_names.index("days_since_connected_call")
    cuts = np.unique(np.concatenate([tree[j] for tree in splits if tree.get(j) is not None]))
    old = churn_model.matrix(accounts.head(len(cuts)))
    old[:, j] = cuts  # exactly on each threshold: goes left
    new = old.copy()
    new[:, j] = np.nextafter(cuts, np.inf)  # a hair above: goes right at that threshold only
    trees = crossed_trees(old, new, splits)
    for row, cut in enumerate(cuts):
        expected = [t for t, tree in enumerate(splits) if j in tree and cut in tree[j]]
        assert np.flatnonzero(trees[row]).tolist() == expected
    assert trees.sum() < 0.5 * trees.size
    before = churn_model.booster.predict(old, pred_contrib=True)
    updated = update_contributions(churn_model, before, old, new, trees)
    np.testing.assert_allclose(
        updated, churn_model.booster.predict(new, pred_contrib=True), rtol=0, atol=1e-12
    )


def test_moving_within_the_thresholds_crosses_no_tree(churn_model, accounts) -> None:
    splits = tree_splits(churn_model)
    j = churn_model.feature_names.index("days_since_connected_call")
    cuts = np.unique(np.concatenate([tree[j] for tree in splits if tree.get(j) is not None]))
    old = churn_model.matrix(accounts.head(len(cuts) - 1))
    old[:, j] = np.nextafter(cuts[:-1], np.inf)  # just above a threshold...
    new = old.copy()
    new[:, j] = cuts[1:]  # ...up to the next one: the same side of every threshold
    assert not crossed_trees(old, new, splits).any()
    np.testing.assert_array_equal(
        churn_model.booster.predict(old, pred_contrib=True),
        churn_model.booster.predict(new, pred_contrib=True),
    )


def test_missing_zero_and_categories_count_as_crossings(churn_model, accounts) -> None:
    splits = tree_splits(churn_model)
    old = churn_model.matrix(accounts.head(30))
    new = old.copy()
    nps = churn_model.feature_names.index("last_nps")
    segment = churn_model.feature_names.index("segment")
    new[:10, nps] = np.nan
    new[10:20, segment] = (old[10:20, segment] + 1) % 3
    trees = crossed_trees(old, new, splits)
    splitting = [t for t, tree in enumerate(splits) if segment in tree]
    assert trees[10:20][:, splitting].all()
    assert not trees[20:].any()
    updated = update_contributions(
        churn_model, churn_model.booster.predict(old, pred_contrib=True), old, new, trees
    )
    np.testing.assert_allclose(
        updated, churn_model.booster.predict(new, pred_contrib=True), atol=1e-12
    )


def test_tree_splits_are_the_dumped_trees_thresholds(churn_model) -> None:
    """The model text gives each tree's split thresholds exactly as the booster's dump does."""

    def walk(node: dict, found: dict) -> dict:
        if "split_feature" in node:
            j = node["split_feature"]
            numeric = node["decision_type"] == "<=" and found.get(j, set()) is not None
            found[j] = found.get(j, set()) | {node["threshold"]} if numeric else None
            walk(node["left_child"], found)
            walk(node["right_child"], found)
        return found

    dumped = [walk(t["tree_structure"], {}) for t in churn_model.booster.dump_model()["tree_info"]]
    splits = tree_splits(churn_model)
    assert len(splits) == len(dumped) == churn_model.booster.num_trees()
    for ours, theirs in zip(splits, dumped, strict=True):
        assert ours.keys() == theirs.keys()
        for j, cuts in ours.items():
            assert (cuts is None) == (theirs[j] is None)
            if cuts is not None:
                assert cuts.tolist() == sorted(theirs[j])
    segment = churn_model.feature_names.index("segment")
    assert any(tree.get(segment, 0) is None for tree in splits)  # categorical splits


def test_another_model_version_means_a_full_explanation(churn_model, accounts) -> None:
    frame = accounts.head(50).assign(account_id=range(50))
    base = full(churn_model, frame, version="1")
    matrix = churn_model.matrix(frame)
    _, same = explain(churn_model, ids_of(frame), matrix, "2026-10-02", "1", base)
    _, other = explain(churn_model, ids_of(frame), matrix, "2026-10-02", "2", base)
    assert same.incremental and same.changed == 0 and same.pairs == 0
    assert not other.incremental and other.new == 50


def test_the_state_round_trips_and_a_broken_file_means_none(churn_model, accounts, tmp_path):
    frame = accounts.head(20).assign(account_id=[f"A{i}" for i in range(20)])
    saved = full(churn_model, frame)
    path = tmp_path / "scoring" / "churn.npz"
    save_state(path, saved, pd.Timestamp("2026-10-01 06:30"))
    loaded, scored_at = load_state(path)
    assert scored_at == pd.Timestamp("2026-10-01 06:30")
    assert loaded.ids.tolist() == saved.ids.tolist() and loaded.model_version == "1"
    assert loaded.as_of == pd.Timestamp("2026-10-01")
    np.testing.assert_array_equal(loaded.contributions, saved.contributions)
    assert not list(path.parent.glob(".*tmp"))
    path.write_bytes(b"not a state")
    assert load_state(path) is None
    assert load_state(tmp_path / "missing.npz") is None


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_runs(churn_model, accounts, rows) -> None:
    frame = accounts.head(rows).assign(account_id=range(rows))
    base = full(churn_model, frame)
    updated, plan = explain_incremental(
        churn_model, base, ids_of(frame), churn_model.matrix(frame), "2026-10-02", "1"
    )
    assert updated.contributions.shape == (rows, len(churn_model.feature_names) + 1)
    assert plan.rows == rows

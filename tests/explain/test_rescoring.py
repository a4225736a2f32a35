"""Incremental rescoring: the same scores and reasons as a full run, with TreeSHAP on fewer rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from barometer.model.treeshap import idle_copies, tree_contributions, update_contributions
from explain.reasons import reasons
from explain.rescoring import (
    moved_trees,
    printed_points,
    rescore_changed,
    rescore_incremental,
    score_rows,
    side_tables,
    sides,
    split_bins,
    split_thresholds,
    tree_keys,
    tree_sides,
    tree_splits,
    tree_tables,
    tree_updates,
)
from explain.wording import format_points


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


def test_a_chain_of_incremental_runs_equals_full_rescorings(churn_model, registry, accounts):
    frame = accounts.head(400).reset_index(drop=True).assign(account_id=lambda f: f.index)
    frame.loc[::7, "first_contact_resolution"] = np.nan
    previous = score_rows(churn_model, frame, registry)
    trees = churn_model.booster.num_trees()
    for step in range(1, 5):
        frame = next_day(frame, step)
        if step == 2:  # two accounts leave, two arrive
            arrivals = accounts.iloc[[900, 901]].assign(account_id=[1000 + step, 2000 + step])
            frame = pd.concat([frame.iloc[2:], arrivals], ignore_index=True)
        updated, plan = rescore_incremental(churn_model, frame, previous, registry)
        full = score_rows(churn_model, frame, registry)
        assert updated.scores["account_id"].tolist() == frame["account_id"].tolist()
        for column in ("reasons_up", "reasons_down"):
            assert updated.scores[column].tolist() == full.scores[column].tolist()
        np.testing.assert_allclose(
            updated.scores["probability"], full.scores["probability"], rtol=0, atol=1e-9
        )
        np.testing.assert_allclose(updated.points, full.points, rtol=0, atol=1e-9)
        np.testing.assert_allclose(updated.contributions, full.contributions, rtol=0, atol=1e-9)
        # Every row's silence moved, but only the trees whose own thresholds it crossed reran.
        assert len(plan.explain) > 0.3 * len(frame)
        assert 0 < plan.moved < 0.5 * len(plan.explain) * trees
        assert 0 < plan.pairs < 2 * plan.moved  # old and new rows, but shared patterns run once
        # Sentences are formatted again only where a shown feature, value or printed point moved.
        assert 0 < plan.worded < len(plan.explain) + len(plan.reword)
        previous = updated  # the next day starts from the incremental result


def test_per_tree_contributions_add_up_to_the_model_s(churn_model, accounts) -> None:
    matrix = churn_model.matrix(accounts.head(200))
    matrix[::5, 4] = np.nan  # missing last NPS
    trees = churn_model.booster.num_trees()
    total = sum(tree_contributions(churn_model, matrix, t) for t in range(trees))
    full = churn_model.booster.predict(matrix, pred_contrib=True)
    np.testing.assert_allclose(total, full, rtol=0, atol=1e-9)  # bias column included
    assert np.ptp(tree_contributions(churn_model, matrix, 3)[:, -1]) == 0  # a tree's bias is fixed


def test_crossing_one_threshold_reruns_only_the_trees_that_have_it(churn_model, accounts) -> None:
    splits = tree_splits(churn_model)
    thresholds = split_thresholds(churn_model, splits)
    j = churn_model.feature_names.index("days_since_connected_call")
    cuts = thresholds[j]
    old = churn_model.matrix(accounts.head(len(cuts)))
    old[:, j] = cuts  # exactly on each threshold: goes left
    new = old.copy()
    new[:, j] = np.nextafter(cuts, np.inf)  # a hair above: goes right at that threshold only
    old_bins, new_bins = split_bins(old, thresholds), split_bins(new, thresholds)
    tables = side_tables(splits, thresholds)
    trees = moved_trees(old_bins, new_bins, tables)
    for row, cut in enumerate(cuts):
        expected = [t for t, tree in enumerate(splits) if j in tree and cut in tree[j]]
        assert np.flatnonzero(trees[row]).tolist() == expected
    assert trees.sum() < 0.5 * trees.size
    stacked = np.concatenate([new_bins, old_bins])
    updates = tree_updates(stacked, trees, tree_keys(tables, int(stacked.max()) + 2))
    assert [u.tree for u in updates] == np.flatnonzero(trees.any(axis=0)).tolist()
    before = churn_model.booster.predict(old, pred_contrib=True)
    updated = update_contributions(churn_model, before, np.concatenate([new, old]), updates)
    np.testing.assert_allclose(
        updated, churn_model.booster.predict(new, pred_contrib=True), rtol=0, atol=1e-12
    )


def test_side_tables_give_each_tree_s_own_sides(churn_model, accounts) -> None:
    splits = tree_splits(churn_model)
    thresholds = split_thresholds(churn_model, splits)
    matrix = churn_model.matrix(accounts.head(500))
    matrix[::9, 0] = np.nan
    matrix[::11, 3] = 0.0
    bins = split_bins(matrix, thresholds)
    for tree, tables in zip(splits, side_tables(splits, thresholds), strict=True):
        for j, table in tables.items():
            expected = sides(matrix[:, j], tree[j]) + 1
            np.testing.assert_array_equal(tree_sides(bins[:, j], table), expected)


def test_rescoring_only_entities_with_new_events(churn_model, registry, day) -> None:
    """Changed and new accounts get today's full answer; the others keep yesterday's exactly."""
    before, after = day
    previous = score_rows(churn_model, before, registry)
    changed = after[after["account_id"].isin(range(60)) | (after["account_id"] >= 1000)]
    updated, plan = rescore_changed(
        churn_model, previous, changed, registry, keep=set(after["account_id"])
    )
    assert set(updated.scores["account_id"]) == set(after["account_id"])  # left dropped, new added
    today = score_rows(churn_model, after, registry)
    got = updated.scores.set_index("account_id")
    fresh = sorted(changed["account_id"])
    expected = today.scores.set_index("account_id").loc[fresh]
    pd.testing.assert_frame_equal(got.loc[fresh], expected, rtol=1e-12)
    stale = got.index.difference(fresh)  # rows 60-99 moved without events: yesterday's answer
    pd.testing.assert_frame_equal(
        got.loc[stale], previous.scores.set_index("account_id").loc[stale]
    )
    assert set(changed["account_id"].iloc[plan.explain]) <= set(fresh)
    # the result chains: a full-day incremental run from it equals today's full scoring
    again, _ = rescore_incremental(churn_model, after, updated, registry)
    np.testing.assert_allclose(again.contributions, today.contributions, rtol=0, atol=1e-9)
    assert again.scores["reasons_up"].tolist() == today.scores["reasons_up"].tolist()


def test_patterns_too_many_for_one_integer_are_compared_side_by_side(churn_model, accounts):
    """Mixed-radix keys and the side-by-side fallback find the same distinct patterns."""
    splits = tree_splits(churn_model)
    thresholds = split_thresholds(churn_model, splits)
    old = churn_model.matrix(accounts.head(300))
    new = churn_model.matrix(accounts.iloc[300:600])
    new[::4, 0] = np.nan
    tables = side_tables(splits, thresholds)
    old_bins, new_bins = split_bins(old, thresholds), split_bins(new, thresholds)
    trees = moved_trees(old_bins, new_bins, tables)
    stacked = np.concatenate([new_bins, old_bins])
    width = int(stacked.max()) + 2
    summed = tree_updates(stacked, trees, tree_keys(tables, width))
    apart = tree_updates(stacked, trees, tree_keys(tables, width, limit=1))
    assert len(summed) == len(apart) > 0
    for a, b in zip(summed, apart, strict=True):
        np.testing.assert_array_equal(a.samples, b.samples)
        np.testing.assert_array_equal(a.before, b.before)
        np.testing.assert_array_equal(a.after, b.after)
    assert sum(len(u.samples) for u in summed) < 2 * sum(len(u.rows) for u in summed)
    before = churn_model.booster.predict(old, pred_contrib=True)
    updated = update_contributions(churn_model, before, np.concatenate([new, old]), apart)
    full = churn_model.booster.predict(new, pred_contrib=True)
    np.testing.assert_allclose(updated, full, rtol=0, atol=1e-9)


def test_printed_points_codes_match_format_points() -> None:
    """Equal codes print equally, different codes print differently; ties are left to format."""
    rng = np.random.default_rng(3)
    edges = np.array([0.01, -0.01, 0.0095, 0.00949999, 0.0005, -0.0005, 0.00049, -0.00049, 1e-7])
    points = np.concatenate([edges, rng.normal(0, 0.02, 4000), rng.uniform(-0.01, 0.01, 4000)])
    codes = printed_points(points)
    texts = np.array([format_points(p) for p in points])
    known = ~np.isnan(codes)
    assert known.mean() > 0.99 and not known[4]  # 0.05 pts: a tie at one decimal
    pairs = set(zip(codes[known].tolist(), texts[known].tolist(), strict=True))
    assert len(pairs) == len(set(codes[known])) == len(set(texts[known])) > 30  # one-to-one
    assert texts[6] == texts[8] == "+0.0 pts" and codes[6] == codes[8]
    assert texts[7] == "-0.0 pts" and codes[7] != codes[6]


def test_sentences_are_the_reason_sentences(churn_model, registry, accounts) -> None:
    """Batch wording equals `reasons` (the single-row path) sentence for sentence."""
    rows = accounts.head(120).reset_index(drop=True).assign(account_id=lambda f: f.index)
    rows.loc[::6, "days_since_connected_call"] = -0.0  # prints "-0 days"
    rows.loc[1::6, "days_since_connected_call"] = 0.0
    batch = score_rows(churn_model, rows, registry).scores
    single = reasons(churn_model, rows, registry, min_points=0.0)
    assert batch["reasons_up"].tolist() == [[r.sentence for r in x.increasing] for x in single]
    assert batch["reasons_down"].tolist() == [[r.sentence for r in x.decreasing] for x in single]
    shown = " | ".join(sum(batch["reasons_up"].tolist() + batch["reasons_down"].tolist(), []))
    assert "-0 days" in shown and " 0 days" in shown  # the two zeros are worded apart


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


def test_per_tree_calls_on_two_threads_give_the_same_contributions(churn_model, accounts):
    """Trees explained side by side (a booster copy each) add up exactly as one after another."""
    splits = tree_splits(churn_model)
    thresholds = split_thresholds(churn_model, splits)
    old = churn_model.matrix(accounts.head(400))
    new = churn_model.matrix(accounts.iloc[400:800])
    old_bins, new_bins = split_bins(old, thresholds), split_bins(new, thresholds)
    tables = side_tables(splits, thresholds)
    trees = moved_trees(old_bins, new_bins, tables)
    stacked = np.concatenate([new_bins, old_bins])
    updates = tree_updates(stacked, trees, tree_keys(tables, int(stacked.max()) + 2))
    before = churn_model.booster.predict(old, pred_contrib=True)
    samples = np.concatenate([new, old])
    one = update_contributions(churn_model, before, samples, updates)
    two = update_contributions(replace(churn_model, num_threads=2), before, samples, updates)
    assert len(updates) > 10
    np.testing.assert_array_equal(one, two)
    full = churn_model.booster.predict(new, pred_contrib=True)
    np.testing.assert_allclose(two, full, rtol=0, atol=1e-9)


def test_tree_tables_and_booster_copies_are_made_once_per_booster(churn_model, accounts) -> None:
    """Incremental rescoring reads the trees once per model; its copies are never the model's."""
    first = tree_tables(churn_model)
    assert tree_tables(replace(churn_model, num_threads=2)) is first  # same booster, same tables
    matrix = churn_model.matrix(accounts)
    bins = split_bins(matrix, first.thresholds)
    assert bins.max() + 1 < first.width  # every bin of the model's matrices has a lookup slot
    fresh = tree_keys(first.tables, first.width)
    assert all(np.array_equal(a.lookup, b.lookup) for a, b in zip(first.keys, fresh, strict=True))
    idle = idle_copies(churn_model, 2)
    assert idle_copies(churn_model, 2) is idle
    copies = [idle.get_nowait(), idle.get_nowait()]
    assert idle.empty() and all(c is not churn_model.booster for c in copies)
    for copy in copies:  # a copy explains a tree exactly as the model's booster does
        mine = copy.predict(matrix[:50], pred_contrib=True, start_iteration=5, num_iteration=1)
        np.testing.assert_array_equal(mine, tree_contributions(churn_model, matrix[:50], 5))
        idle.put(copy)

"""Experiment configs validate; time splits keep label gaps and never split a deal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import default_config_path, load_config
from training.splits import SplitError, rolling_origin, time_split


@pytest.mark.parametrize("target", ["churn", "deal_win"])
def test_shipped_configs_validate(target: str) -> None:
    config = load_config(default_config_path(target))
    assert config.target == target and config.split.folds >= 3


def test_bad_config_names_file_and_field(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("target: churn\nsplit: {folds: 0}\nlightgbm: {num_leafs: 3}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*split\.folds.*lightgbm\.num_leafs"):
        load_config(path)


def test_split_keeps_the_label_horizon_gap(panel: pd.DataFrame) -> None:
    split = time_split(panel, test_cutoffs=2, holdout_cutoffs=2)
    cutoffs = np.sort(panel["cutoff"].unique())
    assert set(panel.loc[split.test, "cutoff"]) == set(cutoffs[-2:])
    assert (panel.loc[split.holdout, "label_time"] <= split.test_start).all()
    assert (panel.loc[split.train, "label_time"] <= split.holdout_start).all()
    assert panel.loc[split.train, "cutoff"].max() < panel.loc[split.holdout, "cutoff"].min()
    # 90-day labels on monthly cutoffs: holdout is 2024-03/04 for a 2024-05 test start.
    assert split.test_start == pd.Timestamp("2024-05-01")
    assert sorted(panel.loc[split.holdout, "cutoff"].unique()) == list(
        pd.to_datetime(["2024-01-01", "2024-02-01"])
    )


def test_rolling_origin_steps_back_and_explains_too_little_history(panel) -> None:
    splits = rolling_origin(panel, folds=3, test_cutoffs=2, holdout_cutoffs=2)
    starts = [s.test_start for s in splits]
    assert starts == sorted(starts) and len(set(starts)) == 3
    with pytest.raises(SplitError, match="fold 6 of 6"):
        rolling_origin(panel, folds=6, test_cutoffs=2, holdout_cutoffs=2)


def deal_snapshots() -> pd.DataFrame:
    """Deals open for several months, with stage-entry snapshots between grid cutoffs."""
    rng = np.random.default_rng(1)
    grid = pd.date_range("2023-01-01", periods=12, freq="MS")
    rows = []
    for d in range(120):
        start = rng.integers(0, 9)
        length = rng.integers(1, 5)
        closed = grid[min(start + length, 11)] + pd.Timedelta(days=10)
        for c in grid[start : start + length]:
            rows.append((f"O{d}", c, "cutoff", closed))
            rows.append((f"O{d}", c + pd.Timedelta(days=12), "stage_entry", closed))
    frame = pd.DataFrame(rows, columns=["opportunity_id", "cutoff", "snapshot", "label_time"])
    return frame.assign(label=rng.integers(0, 2, len(frame)))


def test_deal_snapshots_never_straddle_the_split() -> None:
    frame = deal_snapshots()
    split = time_split(frame, test_cutoffs=2, holdout_cutoffs=2, group="opportunity_id")
    parts = [
        set(frame.loc[idx, "opportunity_id"]) for idx in (split.train, split.holdout, split.test)
    ]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    # Every snapshot of a test deal up to the test end is in test (later ones are the future).
    test_rows = frame[frame["opportunity_id"].isin(parts[2]) & (frame["cutoff"] <= split.test_end)]
    assert set(test_rows.index) == set(split.test)
    assert (frame.loc[split.holdout, "label_time"] <= split.test_start).all()
    assert split.test_start == pd.Timestamp("2023-11-01")  # the grid, not stage-entry days


def test_deals_still_open_after_an_earlier_test_window_sit_that_fold_out() -> None:
    frame = deal_snapshots()
    split = time_split(frame, test_cutoffs=2, holdout_cutoffs=2, end=9, group="opportunity_id")
    latest = frame.groupby("opportunity_id")["cutoff"].max()
    later = set(latest.index[latest >= split.test_end + pd.Timedelta(days=31)])
    assert later  # the fixture has deals open past this window
    used = frame.loc[split.train.union(split.holdout).union(split.test), "opportunity_id"]
    assert not (set(used) & later)
    test_deals = set(frame.loc[split.test, "opportunity_id"])
    assert (
        latest[list(test_deals)]
        .between(split.test_start, split.test_end + pd.Timedelta(days=30))
        .all()
    )


@pytest.mark.parametrize(
    ("months", "frequency", "labelled"),
    [(9, "W-MON", 17), (12, "SMS", 14), (18, "MS", 13), (24, "MS", 19)],
)
def test_cutoff_frequency_follows_the_history(months, frequency, labelled) -> None:
    from features.timeline import choose_frequency, labelled_cutoffs

    first = pd.Timestamp("2023-01-01 05:00")
    last = first + pd.DateOffset(months=months) - pd.Timedelta(hours=6)
    chosen, cutoffs, why = choose_frequency(first, last, horizon_days=90)
    assert chosen == frequency
    assert labelled_cutoffs(cutoffs, 90, last) == labelled
    assert f"{months} months of activity" in why
    assert choose_frequency(first, last, 90, freq="MS")[0] == "MS"  # a setting is obeyed


def _panel(n_cutoffs: int, freq: str = "MS", entities: int = 300) -> pd.DataFrame:
    from tests.training.conftest import make_panel

    frame = make_panel(n_entities=entities, n_cutoffs=n_cutoffs, seed=2)
    grid = pd.date_range("2023-01-01", periods=n_cutoffs, freq=freq)
    frame["cutoff"] = np.tile(grid, entities)
    return frame.assign(label_time=frame["cutoff"] + pd.Timedelta(days=90))


@pytest.mark.parametrize(
    ("n_cutoffs", "freq", "folds", "holdout_by", "test_cutoffs"),
    [
        (22, "MS", 3, "time", 3),  # two years of monthly labels: the full backtest
        (13, "MS", 1, "time", 3),  # a year: one fold with its own calibration window
        (12, "MS", 2, "entity", 3),  # one cutoff short: calibrate on other accounts, two folds
        (7, "MS", 1, "entity", 2),  # half a year: one fold, a shorter test window
        (5, "MS", 2, "entity", 1),
        (10, "W-MON", 0, "none", 0),  # the horizon is longer: a holdout-only estimate
    ],
)
def test_the_split_is_sized_to_the_labelled_history(
    n_cutoffs, freq, folds, holdout_by, test_cutoffs
):
    from training.splits import plan_split

    frame = _panel(n_cutoffs, freq)
    plan = plan_split(frame, max_folds=3, group=None, entity="account_id")
    assert (plan.folds, plan.holdout_by, plan.test_cutoffs) == (folds, holdout_by, test_cutoffs)
    for split in plan.splits:
        if holdout_by == "none":
            parts = [
                set(frame.loc[i, "account_id"]) for i in (split.train, split.holdout, split.test)
            ]
            assert not (parts[0] & parts[2]) and not (parts[1] & parts[2])
            continue
        known = split.train.union(split.holdout)
        assert (frame.loc[known, "label_time"] <= split.test_start).all()  # the label gap
        if holdout_by == "entity":
            train, hold = (set(frame.loc[i, "account_id"]) for i in (split.train, split.holdout))
            assert not (train & hold)  # calibration accounts are not trained on
    words = plan.words()
    unit = "monthly" if freq == "MS" else "weekly"
    assert words.startswith(f"{n_cutoffs} labelled {unit} cutoffs")
    assert ("holdout-only" in words) == (holdout_by == "none")


def test_windows_are_about_a_quarter_of_whatever_the_frequency() -> None:
    from training.splits import plan_split

    weekly = plan_split(_panel(43, "W-MON"), max_folds=3, entity="account_id")
    assert weekly.unit == "weekly" and weekly.test_cutoffs == 13 and weekly.gap == 12
    set_by_hand = plan_split(_panel(22), max_folds=2, test_cutoffs=2, holdout_cutoffs=4)
    assert (set_by_hand.folds, set_by_hand.test_cutoffs, set_by_hand.holdout_cutoffs) == (2, 2, 4)


def test_below_the_floor_training_is_refused_naming_what_to_change() -> None:
    from training.splits import plan_split

    with pytest.raises(SplitError) as caught:
        plan_split(_panel(3), max_folds=3, entity="account_id", min_labelled=4)
    message = str(caught.value)
    assert "3 labelled monthly cutoffs" in message and "split.min_labelled_cutoffs=4" in message
    assert "--frequency W-MON" in message

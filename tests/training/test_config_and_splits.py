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

"""Deal-win calibration at a size where the test period's noise floor is well under 0.03.

At 2,000 accounts (the default end-to-end test) a perfectly calibrated model scores ECE ~0.032
on the deal-win test period, so the issue's 0.03 can only be checked on more deals. 10,000
accounts (seed 7, 27 monthly cutoffs) hold ~1,230 test deals: the floor is ~0.015 (95% ~0.023).
It is the slowest file of the default run (about 2 minutes on 2 cores), and the only check of
the issue's calibration goal, so it runs in CI.
"""

from __future__ import annotations

import pytest

from tests.training.conftest import simulated_workspace
from training.evaluate import MODEL
from training.runs import resolve_config, train_target

ACCOUNTS = 10_000


@pytest.fixture(scope="module")
def deal_win(tmp_path_factory):
    settings = simulated_workspace(tmp_path_factory.mktemp("calibration"), ACCOUNTS)
    return train_target(settings, resolve_config("deal_win", None))


def test_the_floor_is_small_enough_for_the_goal_to_mean_something(deal_win) -> None:
    assert deal_win.report["metrics"]["ece_if_calibrated_p95"] < 0.03


def test_deal_win_calibration_error_on_the_test_period(deal_win) -> None:
    """Measured: test ECE 0.027 (floor 0.015, 95% 0.023); fold mean 0.028. The
    excess over the floor is the win rate moving between calibration slice and test period
    (experiments/README.md), so the folds are held to their mean, not each to 0.03."""
    assert deal_win.report["metrics"]["ece"] <= 0.03
    assert deal_win.summary.loc[MODEL, "ece_mean"] <= 0.03


def test_deal_win_beats_every_baseline_at_scale(deal_win) -> None:
    summary = deal_win.summary
    for name in summary.index.drop(MODEL):
        assert summary.loc[MODEL, "roc_auc_mean"] > summary.loc[name, "roc_auc_mean"] + 0.01
    assert deal_win.refusals == [] and deal_win.version is not None

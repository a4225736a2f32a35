"""The rollup engine's cadence features equal a plain per-cutoff pandas computation (the one
`make bench-features` times): filter each cutoff's visible rows, group, aggregate. The two share
no code, and the simulation logs some touches days late, so the engine's runs of cutoffs and its
late-logging repair of gap sequences are checked against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.features import SUBSET, pandas_subset
from features.backends import open_frames
from features.engine import feature_frames

CUTOFFS = list(pd.date_range("2024-01-01", "2024-12-01", freq="MS"))


def _compared(engine: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    ref = reference.reset_index()
    return engine.merge(ref, on=["account_id", "cutoff"], suffixes=("", "_ref"))


def test_cadence_subset_equals_per_cutoff_pandas(sim):
    con = open_frames(sim)
    engine, _, _ = feature_frames(con, ["account"], CUTOFFS, only=SUBSET)["account"]
    reference = pandas_subset(sim["activities"], CUTOFFS)
    both = _compared(engine, reference)
    assert len(both) > 0.9 * len(reference)  # nearly every touched (account, cutoff) compared
    for name in SUBSET:
        got, want = both[name].to_numpy(float), both[f"{name}_ref"].to_numpy(float)
        if name.startswith("touches_per_week"):
            want = np.nan_to_num(want)  # no touch in the window: pandas has no row, we say 0
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=name)


def test_the_comparison_sees_late_logging(sim):
    """Ignoring `logged_at` changes the reference's gap figures: the test above has teeth."""
    acts = sim["activities"]
    on_time = pandas_subset(acts.assign(logged_at=acts["occurred_at"]), CUTOFFS)
    logged = pandas_subset(acts, CUTOFFS)
    col = "touch_gap_variability_90d"
    joined = logged[[col]].join(on_time[[col]], rsuffix="_on_time", how="inner")
    joined = joined.dropna()
    assert (~np.isclose(joined[col], joined[f"{col}_on_time"])).sum() > 0

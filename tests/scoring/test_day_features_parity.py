"""A day's scoring features (`barometer score`) are the training build's features at that cutoff:
no train/serve skew between the two paths, for every target, on a simulated company."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.settings import Settings
from barometer.targets import TARGETS


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from data.simulator import simulate, write_export
    from features.ingest.run import ingest

    root = tmp_path_factory.mktemp("parity")
    settings = Settings(home=root / "workspace")
    settings.ensure_home()
    write_export(simulate(400, seed=5), root / "export", fmt="parquet")
    ingest(root / "export", settings, "canonical", None)
    return settings


@pytest.mark.parametrize("day", ["2025-07-01", "2025-05-17"])
def test_a_day_s_scoring_features_equal_the_build_s_at_that_cutoff(workspace, day):
    from barometer.scoring.day_features import day_features
    from features.build import build_all
    from features.registry import features_for
    from features.warehouse import connect

    day = pd.Timestamp(day)
    order = tuple(workspace.stage_order)
    served = {t: day_features(workspace.warehouse_path, t, day, order) for t in TARGETS}
    build_all(workspace, as_of=[day])
    for target, t in TARGETS.items():
        snapshot = " and snapshot = 'cutoff'" if target == "deal_win" else ""
        with connect(workspace.warehouse_path, read_only=True) as con:
            built = con.execute(
                f"select * from {t.features} where cutoff = ?{snapshot}", [day]
            ).df()
        features = [f.name for f in features_for(t.entity) if f.name in built.columns]
        assert len(served[target]) and len(features) > 5, target
        left = served[target].set_index(t.key).sort_index()
        right = built.set_index(t.key).sort_index()
        assert list(left.index) == list(right.index), target
        for name in features:
            a, b = left[name], right[name]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                same = np.isclose(a.astype(float), b.astype(float), equal_nan=True)
            else:
                same = (a.astype(str) == b.astype(str)).to_numpy()
            assert same.all(), (target, name, int((~same).sum()))

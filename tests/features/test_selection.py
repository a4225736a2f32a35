"""A selection of features (`only=`: one lazy DuckDB query) equals the same columns of the whole
registry (intermediates and sources materialised)."""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

from features.backends import open_frames
from features.engine import feature_frames

CUTOFFS = ["2024-03-01", "2024-06-01", "2024-09-01"]

SELECTION = {
    "account": [
        "touches_per_week_30d",
        "avg_connected_call_minutes_90d",
        "days_since_last_touch",
        "touch_gap_variability_30d",
        "touch_gap_variability_90d",
        "open_cases",
    ],
    "opportunity": [
        "days_in_current_stage",
        "days_in_stage_vs_norm",
        "stage_velocity_per_30d",
        "touches_in_current_stage",
        "rep_win_rate_from_current_stage",
    ],
}


@pytest.mark.parametrize("entity", ["account", "opportunity"])
def test_selection_equals_the_whole_registry(sim, entity):
    con = open_frames(sim)
    full, _, _ = feature_frames(con, [entity], CUTOFFS)[entity]
    part, feats, _ = feature_frames(con, [entity], CUTOFFS, only=SELECTION[entity])[entity]
    names = [f.name for f in feats]
    assert set(names) == set(SELECTION[entity])
    assert full[names].notna().any().all()  # every selected feature has values
    keys = [c for c in part.columns if c not in names]
    assert_frame_equal(part, full[keys + names], check_exact=True)


def test_a_feature_selected_alone_needs_no_other_source(sim):
    """`days_in_stage_vs_norm` once read the stage source's entry time; alone it raised."""
    con = open_frames(sim)
    full, _, _ = feature_frames(con, ["opportunity"], CUTOFFS)["opportunity"]
    part, feats, _ = feature_frames(con, ["opportunity"], CUTOFFS, only=["days_in_stage_vs_norm"])[
        "opportunity"
    ]
    assert [f.name for f in feats] == ["days_in_stage_vs_norm"]
    assert part["days_in_stage_vs_norm"].notna().any()
    keys = [c for c in part.columns if c != "days_in_stage_vs_norm"]
    assert_frame_equal(part, full[[*keys, "days_in_stage_vs_norm"]], check_exact=True)

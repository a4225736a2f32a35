"""Deals still open at the export are a cross-section like any earlier day's: part way along
the path they will take, with their stages spread over their course. The scoring job scores
exactly these deals, and monitoring compares them with the open deals of the training cutoffs,
so an export-day artefact would read as drift."""

from __future__ import annotations

import pandas as pd
import pytest

from data.simulator import simulate

STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation"]


@pytest.fixture(scope="module")
def deals() -> tuple[pd.DataFrame, pd.DataFrame]:
    tables = simulate(2000, seed=7)
    return tables["opportunities"], tables["opportunity_stages"]


def open_on(day: pd.Timestamp, opportunities, stages) -> pd.DataFrame:
    """Each deal open on `day`: its stage then and its age in days."""
    is_open = (opportunities["created_at"] < day) & ~(opportunities["closed_at"] < day)
    open_ = opportunities.loc[is_open, ["opportunity_id", "created_at"]]
    entered = stages[stages["entered_at"] < day].sort_values("entered_at")
    last = entered.groupby("opportunity_id").tail(1)[["opportunity_id", "stage"]]
    out = open_.merge(last, on="opportunity_id")
    out["position"] = out["stage"].map(STAGES.index) + 1
    out["age"] = (day - out["created_at"]).dt.total_seconds() / 86400
    return out


def test_deals_open_at_the_export_have_the_stage_mix_of_deals_open_on_earlier_days(deals):
    opportunities, stages = deals
    end = stages["entered_at"].max().normalize() + pd.Timedelta(days=1)
    at_end = open_on(end, opportunities, stages)
    earlier = pd.concat(
        open_on(end - pd.Timedelta(days=d), opportunities, stages) for d in (60, 90, 120)
    )
    late = at_end["position"] >= 4  # Proposal or Negotiation
    assert abs(late.mean() - (earlier["position"] >= 4).mean()) < 0.08
    assert abs(at_end["position"].mean() - earlier["position"].mean()) < 0.3


def test_no_open_deal_is_rushed_through_its_stages_before_the_export(deals):
    opportunities, stages = deals
    end = stages["entered_at"].max().normalize() + pd.Timedelta(days=1)
    at_end = open_on(end, opportunities, stages)
    earlier = open_on(end - pd.Timedelta(days=90), opportunities, stages)
    assert at_end.loc[at_end["age"] < 2, "position"].max() <= 2

    def velocity(frame):  # stages passed per 30 days open
        return ((frame["position"] - 1) / frame["age"].clip(lower=1) * 30).mean()

    assert abs(velocity(at_end) - velocity(earlier)) < 0.3

"""The funnel, bottlenecks, pipeline quality and the bookings forecast on hand-built deals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explain.sales_pipeline import (
    bookings_interval,
    bottlenecks,
    forecast,
    funnel,
    open_deals,
    pipeline_quality,
    quarter_starts,
    slipping,
    stage_progress,
    stale,
)
from features.registry import Feature

STAGES = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation")
DEAL_REGISTRY = (
    Feature(
        "contacts_engaged",
        "opportunity",
        "reach",
        "Contacts engaged on the deal",
        90,
        actionable=True,
        unit="contacts",
    ),
    Feature(
        "follow_up_days",
        "opportunity",
        "responsiveness",
        "Days to follow up after a meeting",
        90,
        actionable=True,
        unit="days",
    ),
    Feature("amount", "opportunity", "account_context", "Deal amount", None),
)
DEAL_FEATURES = [f.name for f in DEAL_REGISTRY]


def test_stage_progress_counts_known_fates_only() -> None:
    opps = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "outcome": ["won", "lost", "open"]})
    stages = pd.DataFrame(
        {
            "opportunity_id": ["a", "a", "b", "b", "c", "c"],
            "stage": [
                "Prospecting",
                "Proposal",
                "Prospecting",
                "Proposal",
                "Prospecting",
                "Proposal",
            ],
        }
    )
    progress = stage_progress(opps, stages, STAGES).set_index(["opportunity_id", "stage"])
    assert progress.loc[("a", "Proposal"), "passed"]  # won at its last stage
    assert not progress.loc[("b", "Proposal"), "passed"]  # lost there
    assert progress.loc[("c", "Prospecting"), "passed"]  # moved on
    assert ("c", "Proposal") not in progress.index  # still open there: fate unknown
    assert ("a", "Discovery") not in progress.index  # skipped stage


def test_bottlenecks_find_the_leaky_stage_and_its_predictor() -> None:
    rng = np.random.default_rng(8)
    n = 300
    contacts = rng.integers(0, 7, n).astype(float)
    follow = rng.uniform(1, 10, n)
    passes_proposal = rng.random(n) < np.where(contacts >= 3, 0.85, 0.15)
    won = passes_proposal & (rng.random(n) < 0.9)
    rows, snaps = [], []
    for i in range(n):
        last = 4 if passes_proposal[i] else 3
        for stage in STAGES[: last + 1]:
            rows.append((f"o{i}", stage))
            snaps.append((f"o{i}", stage, contacts[i], follow[i], pd.Timestamp("2026-01-01")))
    stages = pd.DataFrame(rows, columns=["opportunity_id", "stage"])
    snapshots = pd.DataFrame(
        snaps, columns=["opportunity_id", "stage", "contacts_engaged", "follow_up_days", "cutoff"]
    )
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"o{i}" for i in range(n)],
            "account_id": [f"a{i % 250}" for i in range(n)],
            "outcome": np.where(won, "won", "lost"),
        }
    )
    report = bottlenecks(opps, stages, STAGES, snapshots, DEAL_REGISTRY)
    table = report.funnel.set_index("step")
    assert list(table.index) == [*STAGES, "Won"]  # no lead stage: no lead step
    assert table.loc["Prospecting", "conversion"] == 1.0
    assert table.loc["Proposal", "passed"] == passes_proposal.sum()
    assert table.loc["Proposal", "lost"] == (~passes_proposal).sum()
    assert table.loc["Negotiation", "passed"] == won.sum() == table.loc["Won", "entered"]
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        assert table.loc[a, "passed"] == table.loc[b, "entered"]
    proposal = report.predictors[report.predictors["stage"] == "Proposal"].iloc[0]
    assert proposal["feature"] == "contacts_engaged" and proposal["direction"] == 1
    assert proposal["auc"] > 0.75
    assert set(report.predictors["feature"]) <= {"contacts_engaged", "follow_up_days"}
    assert report.sentence.startswith("The pipeline leaks most at Proposal")
    assert "more 'Contacts engaged on the deal'" in report.sentence


T0 = pd.Timestamp("2026-01-01")
DAY = pd.Timedelta(days=1)


def small_book():
    """Five deals through Lead → Qualified → Proposal: d1 won, d2 lost at Proposal, d3 lost at
    Lead, d4 open at Proposal, d5 open at Lead (opened later)."""
    order = ("Lead", "Qualified", "Proposal")
    walk = {
        "d1": ["Lead", "Qualified", "Proposal"],
        "d2": ["Lead", "Qualified", "Proposal"],
        "d3": ["Lead"],
        "d4": ["Lead", "Qualified", "Proposal"],
        "d5": ["Lead"],
    }
    stages = pd.DataFrame(
        [(d, s, T0 + 10 * i * DAY) for d, path in walk.items() for i, s in enumerate(path)],
        columns=["opportunity_id", "stage", "entered_at"],
    )
    stages.loc[stages["opportunity_id"] == "d5", "entered_at"] = T0 + 40 * DAY
    opps = pd.DataFrame(
        {
            "opportunity_id": list(walk),
            "account_id": ["a1", "a2", "a3", "a4", "a5"],
            "owner_rep_id": "r1",
            "type": ["new_business", "new_business", "upsell", "new_business", "upsell"],
            "amount": [1000.0, 2000.0, 500.0, 4000.0, 800.0],
            "outcome": ["won", "lost", "lost", "open", "open"],
            "created_at": [T0, T0, T0, T0, T0 + 40 * DAY],
            "closed_at": [T0 + 30 * DAY, T0 + 25 * DAY, T0 + 5 * DAY, pd.NaT, pd.NaT],
        }
    )
    return opps, stages, order


def test_funnel_starts_at_lead_when_there_are_lead_stages_and_counts_known_fates() -> None:
    opps, stages, order = small_book()
    table = funnel(opps, stages, order).set_index("step")
    assert list(table.index) == ["Lead", "Qualified", "Proposal", "Won"]
    assert table.loc["Lead", ["entered", "passed", "lost", "still_open"]].tolist() == [5, 3, 1, 1]
    assert table.loc["Proposal", ["entered", "passed", "lost", "still_open"]].tolist() == [
        3,
        1,
        1,
        1,
    ]
    assert (
        table.loc["Proposal", "conversion"] == 0.5 and table.loc["Proposal", "lost_value"] == 2000
    )
    assert table.loc["Lead", "median_days"] == 10.0  # the deals that moved on spent 10 days there
    assert table.loc["Won", "entered"] == 1 and table.loc["Won", "median_days"] == 30.0


def test_stale_and_slipping_deals_at_a_date() -> None:
    opps, stages, order = small_book()
    at = T0 + 60 * DAY
    deals = open_deals(opps, stages, order, at).set_index("opportunity_id")
    assert set(deals.index) == {"d4", "d5"} and deals.loc["d4", "stage"] == "Proposal"
    assert deals.loc["d4", "days_in_stage"] == 40 and deals.loc["d5", "age_days"] == 20
    acts = pd.DataFrame(
        {"opportunity_id": ["d4", "d5"], "occurred_at": [T0 + 55 * DAY, T0 + 30 * DAY]}
    )
    late = stale(deals.reset_index(), acts, at, days=21)
    assert list(late["opportunity_id"]) == ["d5"] and late["days_since_touch"].iloc[0] == 30
    quiet = stale(deals.reset_index(), acts.iloc[:0], at, days=21)
    assert list(quiet["opportunity_id"]) == ["d4"]  # never touched: counted from opening
    slip = slipping(deals.reset_index(), opps, at)
    assert list(slip["opportunity_id"]) == ["d4"]  # 60 days open, the usual won deal took 30
    assert slip["usual_days"].iloc[0] == 30 and slip["days_late"].iloc[0] == 30


def test_forecast_weights_amounts_by_win_and_close_chances_with_an_interval() -> None:
    opps, stages, order = small_book()
    at = T0 + 60 * DAY
    chances = pd.Series({"d4": 0.5, "d5": 0.25})
    f = forecast(opps, stages, order, at, chances, horizon_days=365)
    assert f.weighted_pipeline == pytest.approx(0.5 * 4000 + 0.25 * 800)
    assert f.expected <= f.weighted_pipeline and f.low <= f.expected <= f.high
    low, high = bookings_interval(np.array([1.0, 0.0]), np.array([10.0, 99.0]))
    assert low == high == 10.0  # certain outcomes: no spread
    quality = pipeline_quality(
        opps,
        stages,
        stages.iloc[:0].rename(columns={"entered_at": "occurred_at"}),
        order,
        at,
        chances,
        source="test",
        target=2400.0,
    )
    assert quality.coverage == pytest.approx(4800 / 2400) and quality.open_deals == 2
    assert "2.0× the $2,400 target" in quality.sentences[0]


def test_quarter_starts_cover_whole_quarters_only() -> None:
    quarters = quarter_starts(pd.Timestamp("2024-02-10"), pd.Timestamp("2025-01-15"))
    assert [str(q.date()) for q in quarters] == ["2024-04-01", "2024-07-01", "2024-10-01"]

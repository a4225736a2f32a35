"""Guards on third-party data: leads_x_education leaks; maven_crm_sales has no signal to claim."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from training.evaluate import MODEL, backtest, backtest_auc_ci, fold_metrics, summarise
from training.guards import choose_model
from training.leakage import suspicious_features
from training.pipeline import LeakageWarning, pre_checks

from .conftest import small_config

LEAKY = ("Tags", "Lead Quality", "Last Notable Activity")


def leads_frame(shared_data) -> tuple[pd.DataFrame, dict[str, str]]:
    """Leads.csv has no timestamps: one synthetic cutoff (enough for the leakage check)."""
    raw = pd.read_csv(shared_data / "leads_x_education" / "Leads.csv")
    frame = raw.rename(columns={"Converted": "label"}).assign(
        cutoff=pd.Timestamp("2020-01-01"), label_time=pd.Timestamp("2020-02-01")
    )
    skip = {"label", "Prospect ID", "Lead Number", "cutoff", "label_time"}
    kinds = {
        c: "numeric" if pd.api.types.is_numeric_dtype(raw[c]) else "categorical"
        for c in raw.columns
        if c not in skip | {"Converted"}
    }
    return frame, kinds


def test_leads_tags_trigger_the_leakage_warning(shared_data) -> None:
    frame, kinds = leads_frame(shared_data)
    leaky = suspicious_features(frame, kinds)
    assert "Tags" in leaky
    config = small_config(target="deal_win")
    with pytest.warns(LeakageWarning, match="Tags"):
        notes = pre_checks(frame, config, leaky)
    assert "exclude" in notes[0]
    honest = {k: v for k, v in kinds.items() if k not in LEAKY}
    assert suspicious_features(frame, honest) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeakageWarning)
        assert pre_checks(frame, config, []) == []


def maven_frame(shared_data) -> tuple[pd.DataFrame, dict[str, str]]:
    """Closed deals, one row each at the month they were engaged; only non-leaky fields.

    `close_value` (0 iff lost) and anything derived from close dates are left out.
    """
    folder = shared_data / "maven_crm_sales"
    deals = pd.read_csv(folder / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    deals = deals[deals["deal_stage"].isin(["Won", "Lost"])]
    accounts = pd.read_csv(folder / "accounts.csv")
    teams = pd.read_csv(folder / "sales_teams.csv")
    frame = deals.merge(accounts, on="account", how="left").merge(
        teams, on="sales_agent", how="left"
    )
    frame = frame.assign(
        label=(frame["deal_stage"] == "Won").astype(int),
        cutoff=frame["engage_date"].dt.to_period("M").dt.to_timestamp(),
        label_time=frame["close_date"],
        engage_month=frame["engage_date"].dt.month.astype(str),
    )
    kinds = {
        "sales_agent": "categorical",
        "product": "categorical",
        "account": "categorical",
        "sector": "categorical",
        "office_location": "categorical",
        "manager": "categorical",
        "regional_office": "categorical",
        "engage_month": "categorical",
        "revenue": "numeric",
        "employees": "numeric",
        "year_established": "numeric",
    }
    return frame.reset_index(drop=True), kinds


def test_maven_deal_win_honestly_reports_near_chance_skill(shared_data) -> None:
    frame, kinds = maven_frame(shared_data)
    config = small_config(
        target="deal_win",
        split={"test_cutoffs": 1, "holdout_cutoffs": 1, "folds": 3},
        heuristic={"recency": None, "frequency": None},
        report={"value_column": None, "segment_columns": []},
    )
    results = backtest(frame, kinds, config, group="opportunity_id")
    summary = summarise(fold_metrics(results))
    low, high = backtest_auc_ci(results, n=100)
    assert abs(summary.loc[MODEL, "roc_auc_mean"] - 0.5) < 0.06
    assert low < 0.5 + 0.02 and high > 0.5  # the interval reaches chance
    candidates = results[-1].candidate_names
    assert candidates == ["logistic", "lightgbm"]
    lows = {k: backtest_auc_ci(results, n=100, scorer=k)[0] for k in candidates}
    choice = choose_model(summary, candidates, lows, config.guards.min_auc_margin)
    assert choice.winner is None, "a near-chance model must not be registered"
    assert choice.refusals[0].startswith("nothing beats the base rate")
    assert np.isfinite(summary.loc[MODEL, "ece_mean"])

"""Stage-by-stage progress of deals, mix-adjusted expected pass rates, and the bottleneck report.

A deal *passes* a stage when it later enters a further stage (in `stage_order`) or is won. Its fate
at a stage is *known* once it has moved on or closed; open deals sitting at their latest stage are
left out of pass rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explain.wording import Registry, feature_info, lookup

SIZE_BANDS = (0, 10_000, 50_000, 250_000, np.inf)


def size_band(amount: pd.Series) -> pd.Series:
    """Deal size bands (<10k, 10-50k, 50-250k, 250k+); missing amounts are 'unknown'."""
    labels = ["<10k", "10k-50k", "50k-250k", "250k+"]
    bands = pd.cut(pd.to_numeric(amount, errors="coerce"), SIZE_BANDS, labels=labels, right=False)
    return bands.astype("object").where(bands.notna(), "unknown")


def stage_progress(
    opportunities: pd.DataFrame, stages: pd.DataFrame, stage_order: Sequence[str]
) -> pd.DataFrame:
    """One row per (deal, stage entered, known fate): opportunity_id, stage, stage_index, passed.

    Stages not in `stage_order` are ignored; a deal that skipped a stage has not entered it.
    """
    order = {name: i for i, name in enumerate(stage_order)}
    entered = stages[stages["stage"].isin(order)][["opportunity_id", "stage"]].drop_duplicates()
    entered = entered.assign(stage_index=entered["stage"].map(order).astype(int))
    furthest = entered.groupby("opportunity_id")["stage_index"].max().rename("furthest")
    outcome = opportunities.set_index("opportunity_id")["outcome"].rename("outcome")
    rows = entered.join(furthest, on="opportunity_id").join(outcome, on="opportunity_id")
    moved_on = rows["stage_index"] < rows["furthest"]
    known = moved_on | rows["outcome"].isin(["won", "lost"])
    rows = rows.assign(passed=moved_on | (rows["outcome"] == "won"))[known]
    return rows[["opportunity_id", "stage", "stage_index", "passed"]].reset_index(drop=True)


def expected_pass_rates(
    progress: pd.DataFrame, deals: pd.DataFrame, mix: Sequence[str] = ("segment", "size", "type")
) -> pd.DataFrame:
    """`progress` with `expected`: the pass rate of deals with the same stage and mix.

    `deals` has one row per opportunity_id with the `mix` columns (`size` may be derived with
    `size_band`). A rep's mean of `expected` is the rate expected for their deal mix.
    """
    cols = [c for c in mix if c in deals.columns]
    rows = progress.merge(deals[["opportunity_id", *cols]], on="opportunity_id", how="left")
    keys = ["stage", *cols]
    filled = rows[keys].astype("object").fillna("unknown")
    cell = rows["passed"].groupby([filled[k] for k in keys]).transform("mean")
    return rows.assign(expected=cell.astype(float))


@dataclass(frozen=True)
class Bottlenecks:
    """Where the pipeline leaks, and the behaviours that predict passing each stage."""

    funnel: pd.DataFrame  # step, entered, passed, pass_rate, lost
    predictors: pd.DataFrame  # stage, feature, family, description, auc, direction
    sentence: str


def _auc(values: pd.Series, passed: pd.Series) -> float:
    """Probability a passing deal has a higher value than a failing one (ties count half)."""
    ok = values.notna()
    v, y = values[ok].astype(float), passed[ok].astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = v.rank()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _funnel(accounts, opportunities, progress, stage_order) -> pd.DataFrame:
    with_deal = opportunities["account_id"].nunique()
    steps = [("Lead → opportunity", len(accounts), with_deal)]
    for stage in stage_order:  # stages no deal entered (another CRM's names) are not steps
        at = progress[progress["stage"] == stage]
        if len(at):
            steps.append((stage, len(at), int(at["passed"].sum())))
    funnel = pd.DataFrame(steps, columns=["step", "entered", "passed"])
    funnel["pass_rate"] = np.where(
        funnel["entered"] > 0, funnel["passed"] / funnel["entered"], np.nan
    )
    funnel["lost"] = funnel["entered"] - funnel["passed"]
    return funnel


def _behaviour_columns(frame: pd.DataFrame, registry: dict) -> list[str]:
    """Registered features present in `frame`, or else its numeric non-key columns."""
    if registry:
        return [c for c in frame.columns if c in registry]
    skip = {"opportunity_id", "account_id", "stage", "cutoff", "snapshot", "stage_index"}
    return [c for c in frame.select_dtypes("number").columns if c not in skip]


def _predictors(stage_features, progress, registry, features, stage_order) -> pd.DataFrame:
    rows = []
    table = stage_features.merge(progress, on=["opportunity_id", "stage"], how="inner")
    for stage, group in table.groupby("stage", sort=False):
        for name in features:
            info = feature_info(registry, name)
            auc = _auc(pd.to_numeric(group[name], errors="coerce"), group["passed"])
            if np.isfinite(auc):
                rows.append(
                    (stage, name, info.family, info.description, auc, int(np.sign(auc - 0.5)))
                )
    out = pd.DataFrame(
        rows, columns=["stage", "feature", "family", "description", "auc", "direction"]
    )
    rank = out["stage"].map({name: i for i, name in enumerate(stage_order)})
    out = out.assign(strength=(out["auc"] - 0.5).abs(), _rank=rank)
    return out.sort_values(["_rank", "strength"], ascending=[True, False]).drop(columns="_rank")


def bottlenecks(
    accounts: pd.DataFrame,
    opportunities: pd.DataFrame,
    stages: pd.DataFrame,
    stage_order: Sequence[str],
    stage_features: pd.DataFrame | None = None,
    registry: Registry | None = None,
    *,
    features: Sequence[str] | None = None,
) -> Bottlenecks:
    """The funnel lead → opportunity → each stage → won, and what predicts passing each stage.

    `stage_features` holds one row per (opportunity_id, stage) with behaviour features as of stage
    entry (the `stage_entry` snapshots); each feature's AUC for passing the stage is reported
    (0.5 = no signal; direction +1 when more of it goes with passing).
    """
    progress = stage_progress(opportunities, stages, stage_order)
    funnel = _funnel(accounts, opportunities, progress, stage_order)
    known = lookup(registry)
    if stage_features is not None and features is None:
        features = _behaviour_columns(stage_features, known)
    predictors = (
        _predictors(stage_features, progress, known, features, stage_order)
        if stage_features is not None
        else pd.DataFrame(columns=["stage", "feature", "family", "description", "auc", "direction"])
    )
    return Bottlenecks(
        funnel, predictors.reset_index(drop=True), _leak_sentence(funnel, predictors)
    )


def _leak_sentence(funnel: pd.DataFrame, predictors: pd.DataFrame) -> str:
    valid = funnel.dropna(subset=["pass_rate"])
    if valid.empty:
        return "No deals to report on."
    worst = valid.loc[valid["pass_rate"].idxmin()]
    text = f"The pipeline leaks most at {worst['step']}: {worst['pass_rate']:.0%} pass"
    best = predictors[predictors["stage"] == worst["step"]].head(1)
    if len(best):
        row = best.iloc[0]
        more = "more" if row["direction"] > 0 else "less"
        text += f"; deals with {more} '{row['description']}' pass more often (AUC {row['auc']:.2f})"
    return text + "."

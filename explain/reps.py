"""Rep behaviour profiles (the coaching view) and a team's training needs.

Inputs are plain frames: `deals` has one row per opportunity with `opportunity_id`, the rep column,
the team column, `amount`, `won` (1/0; NaN while open), the mix columns and the deal model's
features. The deal model gives each deal's expected win chance; stage pass rates are compared with
the rate of deals of the same stage and mix (`explain.sales_pipeline.expected_pass_rates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from explain.drivers import drivers
from explain.sales_pipeline import expected_pass_rates
from explain.wording import CAVEAT, Registry, feature_info, lookup


def behaviour_percentiles(
    deals: pd.DataFrame, features: Sequence[str], rep: str, team: str
) -> pd.DataFrame:
    """Each rep's median of each behaviour, as a percentile (0-100) among their team's reps."""
    medians = deals.groupby([team, rep])[list(features)].median(numeric_only=True)
    return medians.groupby(level=0).rank(pct=True).mul(100).reset_index()


def _tier(rate: pd.Series) -> pd.Series:
    """'top' (team's top quartile of win rate), 'low' (bottom quartile) or 'core'."""
    pct = rate.rank(pct=True)
    return pd.Series(np.select([pct > 0.75, pct <= 0.25], ["top", "low"], "core"), rate.index)


def rep_outcomes(deals: pd.DataFrame, expected: pd.Series, rep: str, team: str) -> pd.DataFrame:
    """Per rep: deals, closed, won, win_rate, expected_win_rate (for their mix), lift, tier."""
    closed = deals["won"].notna()
    table = (
        deals[closed]
        .assign(expected=expected[closed])
        .groupby([team, rep])
        .agg(
            closed=("won", "size"),
            won=("won", "sum"),
            win_rate=("won", "mean"),
            expected_win_rate=("expected", "mean"),
        )
        .reset_index()
    )
    table["lift"] = table["win_rate"] - table["expected_win_rate"]
    table["tier"] = table.groupby(team)["win_rate"].transform(_tier)
    return table


def stage_gaps(
    progress: pd.DataFrame, deals: pd.DataFrame, rep: str, mix: Sequence[str]
) -> pd.DataFrame:
    """Per rep and stage: deals, actual pass rate, expected for their mix, gap."""
    rows = expected_pass_rates(progress, deals, mix).merge(
        deals[["opportunity_id", rep]], on="opportunity_id"
    )
    table = rows.groupby([rep, "stage", "stage_index"]).agg(
        n=("passed", "size"), pass_rate=("passed", "mean"), expected=("expected", "mean")
    )
    return table.reset_index().assign(gap=lambda t: t["pass_rate"] - t["expected"])


@dataclass(frozen=True)
class RepProfile:
    """One rep's coaching view: outcomes, stage gaps, behaviour percentiles and a verdict."""

    rep_id: str
    team: str
    tier: str
    win_rate: float
    expected_win_rate: float
    categories: list[str]
    findings: list[str]
    percentiles: dict[str, float] = field(default_factory=dict)


def _adverse(pct: float, direction: int) -> float:
    """How far into the unhelpful tail a rep sits (100 = most unhelpful), given the direction."""
    return 100 - pct if direction > 0 else pct


def _weak_behaviours(pcts: dict, helpful: dict, features, threshold: float) -> list[str]:
    return [
        name
        for name in helpful
        if name in pcts
        and np.isfinite(pcts[name])
        and _adverse(pcts[name], helpful[name]) >= 100 - threshold
    ]


def _named(names: list[str], pcts: dict, features) -> str:
    return ", ".join(
        f"{feature_info(features, n).description} at the {pcts[n]:.0f}th percentile of the team"
        for n in names
    )


def _classify(row, gaps: pd.DataFrame, pcts: dict, helpful: dict, features, min_deals: int):
    categories, findings = [], []
    stumbles = gaps[(gaps["n"] >= min_deals) & (gaps["gap"] <= -0.15)].sort_values("gap")
    weak = _weak_behaviours(pcts, helpful, features, 25)
    if row.tier == "top" and len(stumbles):
        stage = stumbles.iloc[0]
        why = f": {_named(weak[:2], pcts, features)}" if weak else ""
        categories.append("top performer stumbling at a stage")
        findings.append(
            f"Top performer who stumbles at {stage['stage']} ({stage['pass_rate']:.0%} pass vs "
            f"{stage['expected']:.0%} expected for the deal mix){why}"
        )
    if row.lift >= 0.1 and len(weak) >= 2:
        categories.append("successful closer off the playbook")
        findings.append(
            f"Wins {row.win_rate:.0%} vs {row.expected_win_rate:.0%} expected without the "
            f"behaviours that work for others: {_named(weak[:3], pcts, features)}"
        )
    deficient = _weak_behaviours(pcts, helpful, features, 10)
    if row.tier == "core" and deficient:
        categories.append("core performer with a skill deficiency")
        findings.append(f"Core performer; gap: {_named(deficient[:1], pcts, features)}")
    return categories, findings


def helpful_directions(
    model: ScoringModel, deals: pd.DataFrame, registry: Registry, top: int = 8
) -> dict[str, int]:
    """The deal model's most important actionable behaviours and the direction that helps."""
    table = drivers(model, deals, registry)
    table = table[table["actionable"] & (table["direction"] != 0)].head(top)
    return dict(zip(table["feature"], table["direction"].astype(int), strict=True))


def rep_profiles(
    model: ScoringModel,
    deals: pd.DataFrame,
    progress: pd.DataFrame,
    registry: Registry,
    *,
    rep: str = "owner_rep_id",
    team: str = "team",
    mix: Sequence[str] = ("segment", "size", "type"),
    min_deals: int = 5,
) -> list[RepProfile]:
    """Every rep's profile against their team, classified with plain explanations."""
    features = lookup(registry)
    helpful = helpful_directions(model, deals, registry)
    outcomes = rep_outcomes(deals, pd.Series(model.predict_proba(deals), deals.index), rep, team)
    percentiles = behaviour_percentiles(deals, list(helpful), rep, team).set_index(rep)
    gaps = stage_gaps(progress, deals, rep, mix)
    profiles = []
    for row in outcomes.itertuples(index=False):
        rep_id = getattr(row, rep)
        pcts = (
            percentiles.loc[rep_id, list(helpful)].to_dict() if rep_id in percentiles.index else {}
        )
        cats, finds = _classify(row, gaps[gaps[rep] == rep_id], pcts, helpful, features, min_deals)
        profiles.append(
            RepProfile(
                str(rep_id),
                str(getattr(row, team)),
                row.tier,
                float(row.win_rate),
                float(row.expected_win_rate),
                cats,
                finds,
                {k: float(v) for k, v in pcts.items()},
            )
        )
    return profiles


def training_needs(
    model: ScoringModel,
    deals: pd.DataFrame,
    registry: Registry,
    *,
    rep: str = "owner_rep_id",
    team: str = "team",
    value: str = "amount",
) -> pd.DataFrame:
    """Per team, the actionable behaviours whose gap to top performers costs the most revenue.

    For each actionable feature, every deal of the team's non-top reps is re-scored with the
    feature set to the top performers' median; the expected revenue gap is
    Σ (p_at_top_median − p_now) × deal value. Predictive attribution, not causal (`CAVEAT`).
    """
    features = lookup(registry)
    actionable = [n for n in model.feature_names if feature_info(features, n).actionable]
    outcomes = rep_outcomes(deals, pd.Series(model.predict_proba(deals), deals.index), rep, team)
    top_reps = set(outcomes.loc[outcomes["tier"] == "top", rep])
    rows = []
    for team_name, group in deals.groupby(team):
        top, rest = group[group[rep].isin(top_reps)], group[~group[rep].isin(top_reps)]
        if top.empty or rest.empty:
            continue
        now = model.predict_proba(rest)
        for name in actionable:
            target = pd.to_numeric(top[name], errors="coerce").median()
            if not np.isfinite(target):
                continue
            gain = model.predict_proba(rest.assign(**{name: target})) - now
            money = float((gain * pd.to_numeric(rest[value], errors="coerce").fillna(0)).sum())
            info = feature_info(features, name)
            rows.append(
                (
                    team_name,
                    name,
                    info.family,
                    info.description,
                    target,
                    pd.to_numeric(rest[name], errors="coerce").median(),
                    money,
                    len(rest),
                )
            )
    columns = [
        "team",
        "feature",
        "family",
        "description",
        "top_median",
        "others_median",
        "expected_revenue_gap",
        "deals",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values(["team", "expected_revenue_gap"], ascending=[True, False])
    return table.reset_index(drop=True).assign(caveat=CAVEAT)

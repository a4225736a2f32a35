"""Customer service's contribution to sales, through SHAP, next to the classic KPIs.

Each account's churn-model points are summed per behaviour family (valid: SHAP is additive) and
turned into revenue: a family lowering churn risk by 5 pts on 100k ARR retains 5k of expected
ARR. Likewise deal-win points × deal amount. Service behaviours (`SERVICE_FAMILIES`) are set
against sales behaviours (`SALES_FAMILIES`); the ratio service / sales is reported per rep and per
team over each rep's book (accounts owned or served, deals owned or sourced).

This is attribution by a predictive model, not a causal effect (`CAVEAT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from explain.drivers import family_points
from explain.wording import CAVEAT, Registry

SERVICE_FAMILIES = ("service_quality",)
SALES_FAMILIES = ("cadence", "conversation_depth", "reach", "responsiveness", "timing", "intent")
EXPANSION_TYPES = ("upsell", "cross_sell")


def revenue_attribution(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry,
    *,
    key: str,
    value: str,
    service: Sequence[str] = SERVICE_FAMILIES,
    sales: Sequence[str] = SALES_FAMILIES,
) -> pd.DataFrame:
    """Per entity: expected revenue credited to service and to sales behaviours.

    For churn the credit is minus the families' points × `value` (lower risk retains revenue);
    for deal win it is the points × `value`.
    """
    points = family_points(model, frame, registry)
    sign = -1.0 if model.target == "churn" else 1.0
    money = pd.to_numeric(frame[value], errors="coerce").fillna(0.0).to_numpy()
    group = lambda names: points[[c for c in points.columns if c in names]].sum(axis=1)  # noqa: E731
    return pd.DataFrame(
        {
            key: frame[key].to_numpy(),
            "service_value": sign * group(service).to_numpy() * money,
            "sales_value": sign * group(sales).to_numpy() * money,
        }
    )


def influenced_opportunities(
    opportunities: pd.DataFrame,
    activities: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    team: str = "service",
    window_days: int = 30,
) -> pd.DataFrame:
    """(opportunity_id, rep_id) pairs a `team` rep sourced, or touched within `window_days` before.

    Influence: an activity by that rep on the deal's account in the window before `created_at`.
    """
    members = set(reps.loc[reps["team"] == team, "rep_id"])
    sourced = opportunities.loc[opportunities["source_rep_id"].isin(members)]
    sourced = sourced[["opportunity_id", "source_rep_id"]].rename(
        columns={"source_rep_id": "rep_id"}
    )
    acts = activities.loc[
        activities["rep_id"].isin(members), ["account_id", "rep_id", "occurred_at"]
    ]
    pairs = opportunities[["opportunity_id", "account_id", "created_at"]].merge(
        acts, on="account_id"
    )
    window = pd.Timedelta(days=window_days)
    recent = (pairs["occurred_at"] < pairs["created_at"]) & (
        pairs["occurred_at"] >= pairs["created_at"] - window
    )
    influenced = pairs.loc[recent, ["opportunity_id", "rep_id"]]
    return pd.concat([sourced, influenced]).drop_duplicates().reset_index(drop=True)


def books(
    accounts: pd.DataFrame,
    cases: pd.DataFrame,
    opportunities: pd.DataFrame,
    influence: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each rep's book: (rep_id, account_id) owned or served, (rep_id, opportunity_id) owned or
    sourced/influenced."""
    acc = pd.concat(
        [
            accounts[["owner_rep_id", "account_id"]].rename(columns={"owner_rep_id": "rep_id"}),
            cases[["rep_id", "account_id"]],
        ]
    )
    opp = pd.concat(
        [
            opportunities[["owner_rep_id", "opportunity_id"]].rename(
                columns={"owner_rep_id": "rep_id"}
            ),
            influence[["rep_id", "opportunity_id"]],
        ]
    )
    return acc.dropna().drop_duplicates(), opp.dropna().drop_duplicates()


def _nps(scores: pd.Series) -> float:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6)."""
    if scores.empty:
        return float("nan")
    return float(100 * ((scores >= 9).mean() - (scores <= 6).mean()))


def rep_kpis(
    accounts: pd.DataFrame,
    cases: pd.DataFrame,
    nps: pd.DataFrame,
    opportunities: pd.DataFrame,
    account_book: pd.DataFrame,
    influence: pd.DataFrame,
) -> pd.DataFrame:
    """Per rep: retention rate and NPS of their book, first-contact resolution of their cases,
    and won upsell/cross-sell revenue from deals they sourced or influenced."""
    churned = accounts.set_index("account_id")["churned_at"].notna().rename("churned")
    book = account_book.join(churned, on="account_id")
    retention = 1 - book.groupby("rep_id")["churned"].mean()
    latest = nps.sort_values("responded_at").groupby("account_id")["score"].last()
    scored = account_book.join(latest, on="account_id").dropna(subset=["score"])
    nps_by_rep = scored.groupby("rep_id")["score"].apply(_nps)
    fcr = (
        cases.dropna(subset=["first_contact_resolved"])
        .groupby("rep_id")["first_contact_resolved"]
        .mean()
    )
    won = opportunities[
        (opportunities["outcome"] == "won") & opportunities["type"].isin(EXPANSION_TYPES)
    ]
    upsell = influence.merge(won[["opportunity_id", "amount"]], on="opportunity_id")
    upsell = upsell.groupby("rep_id")["amount"].sum()
    table = pd.DataFrame(
        {
            "retention_rate": retention,
            "nps": nps_by_rep,
            "first_contact_resolution": fcr.astype(float),
            "service_sourced_expansion": upsell,
        }
    )
    table["service_sourced_expansion"] = table["service_sourced_expansion"].fillna(0.0)
    return table.rename_axis("rep_id").reset_index()


@dataclass(frozen=True)
class ServiceContribution:
    """Service vs sales contribution in revenue, per entity, rep and team, with the KPIs."""

    accounts: pd.DataFrame  # account_id, service_value, sales_value (retained ARR)
    deals: pd.DataFrame  # opportunity_id, service_value, sales_value (expected won amount)
    by_rep: pd.DataFrame  # rep_id, team, service_value, sales_value, ratio, KPIs
    by_team: pd.DataFrame  # team, service_value, sales_value, ratio, KPIs
    caveat: str = CAVEAT


def _book_values(book: pd.DataFrame, values: pd.DataFrame, key: str) -> pd.DataFrame:
    merged = book.merge(values, on=key)
    return merged.groupby("rep_id")[["service_value", "sales_value"]].sum()


def _with_ratio(table: pd.DataFrame) -> pd.DataFrame:
    sales = table["sales_value"].where(table["sales_value"].abs() > 1e-9)
    return table.assign(ratio=table["service_value"] / sales)


EMPTY_ACCOUNTS = pd.DataFrame(columns=["account_id", "service_value", "sales_value"])
EMPTY_DEALS = pd.DataFrame(columns=["opportunity_id", "service_value", "sales_value"])


def service_contribution(
    churn_model: ScoringModel | None,
    deal_model: ScoringModel | None,
    account_features: pd.DataFrame | None,
    deal_features: pd.DataFrame | None,
    tables: dict[str, pd.DataFrame],
    registry: Registry,
) -> ServiceContribution:
    """The contribution-to-sales report.

    `account_features` has account_id, arr and the churn model's features; `deal_features` has
    opportunity_id, amount and the deal model's features (either model may be None: its part is
    then empty). `tables` holds the contract tables `accounts`, `reps`, `cases`, `nps`,
    `opportunities`, `activities` (account_id, rep_id, occurred_at suffice).
    """
    acc = (
        revenue_attribution(churn_model, account_features, registry, key="account_id", value="arr")
        if churn_model is not None and account_features is not None
        else EMPTY_ACCOUNTS.astype({"service_value": float, "sales_value": float})
    )
    deal = (
        revenue_attribution(
            deal_model, deal_features, registry, key="opportunity_id", value="amount"
        )
        if deal_model is not None and deal_features is not None
        else EMPTY_DEALS.astype({"service_value": float, "sales_value": float})
    )
    influence = influenced_opportunities(
        tables["opportunities"], tables["activities"], tables["reps"]
    )
    acc_book, opp_book = books(
        tables["accounts"], tables["cases"], tables["opportunities"], influence
    )
    values = _book_values(acc_book, acc, "account_id").add(
        _book_values(opp_book, deal, "opportunity_id"), fill_value=0.0
    )
    kpis = rep_kpis(
        tables["accounts"],
        tables["cases"],
        tables["nps"],
        tables["opportunities"],
        acc_book,
        influence,
    )
    teams = tables["reps"][["rep_id", "team"]]
    by_rep = _with_ratio(values.rename_axis("rep_id").reset_index()).merge(
        kpis, on="rep_id", how="left"
    )
    by_rep = teams.merge(by_rep, on="rep_id", how="inner")
    by_team = _team_table(by_rep, acc, deal, acc_book, opp_book, teams)
    return ServiceContribution(acc, deal, by_rep, by_team)


def _team_table(by_rep, acc, deal, acc_book, opp_book, teams) -> pd.DataFrame:
    """Team totals over the union of the team's books (an account counts once per team)."""
    acc_team = acc_book.merge(teams, on="rep_id")[["team", "account_id"]].drop_duplicates()
    opp_team = opp_book.merge(teams, on="rep_id")[["team", "opportunity_id"]].drop_duplicates()
    values = (
        acc_team.merge(acc, on="account_id").groupby("team")[["service_value", "sales_value"]].sum()
    ).add(
        opp_team.merge(deal, on="opportunity_id")
        .groupby("team")[["service_value", "sales_value"]]
        .sum(),
        fill_value=0.0,
    )
    kpis = by_rep.groupby("team").agg(
        retention_rate=("retention_rate", "mean"),
        nps=("nps", "mean"),
        first_contact_resolution=("first_contact_resolution", "mean"),
        service_sourced_expansion=("service_sourced_expansion", "sum"),
    )
    return _with_ratio(values).join(kpis).rename_axis("team").reset_index()


def ratio_sentence(by_team: pd.DataFrame, team: str = "service") -> str:
    """'Service behaviours account for 0.42 of sales behaviours' contribution in <team>'s book.'"""
    row = by_team[by_team["team"] == team]
    if row.empty or not np.isfinite(row["ratio"].iloc[0]):
        return f"No contribution figures for team {team}."
    r = row.iloc[0]
    return (
        f"In the {team} team's book, service behaviours are credited with "
        f"{r['service_value']:,.0f} of expected revenue against {r['sales_value']:,.0f} for sales "
        f"behaviours (ratio {r['ratio']:.2f}), relative to an average account or deal (the "
        f"model's baseline); a negative figure means those behaviours cost revenue. {CAVEAT}"
    )

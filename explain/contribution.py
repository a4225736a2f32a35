"""Customer service's contribution to revenue: retention it saves, expansion it sources, per hour.

- **Retention saved.** For each active account at the cutoff, the churn model's probability with
  the account's service features as they are, and with them at a stated reference: the service
  team's worst quartile (the 25th percentile of service reps' first-contact resolution and CSAT,
  the 75th of their escalation rate and hours to resolve, over their closed cases). ARR saved =
  ARR × (p_reference − p_actual), over the model's horizon; accounts without a closed case in the
  features' window have no service record and save nothing. The sum has a 90% bootstrap interval
  over accounts. Each account's saving is split among the service reps who closed its cases in
  the window, by their share of them.
- **Service-sourced expansion.** Won upsell and cross-sell deals closed in the period that a
  service rep sourced (`source_rep_id`), or that opened within `after_case_days` of a case the
  service team closed on the account (credited to that case's rep).
- **Effort.** Service reps' hours in the period: logged call and meeting durations plus
  `untimed_minutes` per activity without one; a cost when an hourly cost is configured.
- **Ratio** = (retention saved + sourced expansion) ÷ effort: revenue per service hour (or per unit
  of cost). Never a ratio of two signed deviations.
- **KPIs** per service rep and team: retention rate of the accounts they served, NPS, first-contact
  resolution and CSAT.

The retention figure is the churn model's counterfactual, an association learned from history
(`CAVEAT`), not a controlled experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from explain.wording import CAVEAT

# churn-model feature -> (the reps' case measure it is set from, +1 when higher is worse)
SERVICE_FEATURES = {
    "first_contact_resolution_rate_180d": ("fcr", -1),
    "unresolved_cases_180d": ("fcr", -1),
    "escalation_rate_180d": ("escalation", +1),
    "escalated_cases_180d": ("escalation", +1),
    "avg_hours_to_resolve_180d": ("hours", +1),
    "avg_case_csat_180d": ("csat", -1),
}
MEASURE_WORDS = {
    "fcr": "first-contact resolution",
    "escalation": "escalation rate",
    "hours": "hours to resolve",
    "csat": "CSAT",
}
REFERENCE_QUANTILE = 0.25
MIN_REP_CASES = 10
FEATURE_WINDOW_DAYS = 180
EXPANSION_TYPES = ("upsell", "cross_sell")
LEVEL = 0.90


@dataclass(frozen=True)
class Period:
    """The window the report looks back over (effort, expansion, KPIs), ending at the cutoff."""

    start: pd.Timestamp
    end: pd.Timestamp
    horizon_days: int  # the churn model's horizon: what the retention figure covers


# ------------------------------------------------------------------ the reference


def rep_case_measures(cases: pd.DataFrame, reps: pd.DataFrame, since, until) -> pd.DataFrame:
    """Per service rep, over cases closed in [since, until): cases, fcr, escalation, hours, csat."""
    service = reps.loc[reps["team"] == "service", ["rep_id", "team"]]
    closed = cases[(cases["closed_at"] >= since) & (cases["closed_at"] < until)]
    closed = closed[closed["rep_id"].isin(service["rep_id"])]
    hours = (closed["closed_at"] - closed["opened_at"]).dt.total_seconds() / 3600
    table = (
        closed.assign(
            fcr=closed["first_contact_resolved"].astype(float),
            escalation=closed["escalated"].astype(float),
            hours=hours,
            csat=pd.to_numeric(closed["csat"], errors="coerce"),
        )
        .groupby("rep_id")
        .agg(
            cases=("rep_id", "size"),
            fcr=("fcr", "mean"),
            escalation=("escalation", "mean"),
            hours=("hours", "mean"),
            csat=("csat", "mean"),
        )
        .reset_index()
    )
    return service.merge(table, on="rep_id", how="inner")


def service_reference(measures: pd.DataFrame) -> dict[str, float]:
    """The worst quartile of service reps (with at least `MIN_REP_CASES` cases) on each measure."""
    enough = measures[measures["cases"] >= MIN_REP_CASES]
    if enough.empty:
        enough = measures
    out = {}
    for measure, worse in {m: w for m, w in SERVICE_FEATURES.values()}.items():
        q = 1 - REFERENCE_QUANTILE if worse > 0 else REFERENCE_QUANTILE
        out[measure] = float(enough[measure].quantile(q)) if enough[measure].notna().any() else None
    return out


def reference_words(reference: dict[str, float]) -> str:
    """'the service team's worst quartile: 52% first-contact resolution, 14% escalation rate, …'"""
    parts = []
    for measure, value in reference.items():
        if value is None:
            continue
        shown = f"{value:.0%}" if measure in ("fcr", "escalation") else f"{value:.1f}"
        parts.append(f"{shown} {MEASURE_WORDS[measure]}")
    return "the service team's worst quartile (" + ", ".join(parts) + ")"


# ------------------------------------------------------------------ retention saved


def _case_table(cases: pd.DataFrame, since, until) -> pd.DataFrame:
    """Closed cases in [since, until) with known outcomes: account_id, fcr, esc, hours, csat."""
    closed = cases[(cases["closed_at"] >= since) & (cases["closed_at"] < until)]
    closed = closed.dropna(subset=["first_contact_resolved", "escalated"])
    return pd.DataFrame(
        {
            "account_id": closed["account_id"].to_numpy(),
            "fcr": closed["first_contact_resolved"].astype(bool).to_numpy(),
            "esc": closed["escalated"].astype(bool).to_numpy(),
            "hours": (
                (closed["closed_at"] - closed["opened_at"]).dt.total_seconds() / 3600
            ).to_numpy(float),
            "csat": pd.to_numeric(closed["csat"], errors="coerce").to_numpy(float),
        }
    )


def _by_type(table: pd.DataFrame, column: str) -> np.ndarray:
    """Mean of `column` per case type (2·fcr + esc), the overall mean where a type is empty."""
    kind = 2 * table["fcr"].astype(int) + table["esc"].astype(int)
    means = table[column].groupby(kind).mean().reindex(range(4))
    return means.fillna(table[column].mean()).fillna(0.0).to_numpy()


def redraw_features(
    cases: pd.DataFrame, reference: dict[str, float], draws: int, seed: int = 0
) -> pd.DataFrame:
    """The accounts' service features with their cases handled at the reference rates.

    Each closed case is re-decided `draws` times: resolved at first contact with the reference
    rate, escalated with the reference rate (kept in the data's ratio between cases resolved at
    first contact and the others); its CSAT and hours move by the difference between the new and
    old case type's average. Returns (draw, account_id) rows with the four feature values.
    """
    esc_fcr = cases.loc[cases["fcr"], "esc"].mean() if cases["fcr"].any() else 0.0
    esc_other = cases.loc[~cases["fcr"], "esc"].mean() if (~cases["fcr"]).any() else 0.0
    ratio = esc_fcr / esc_other if esc_other > 0 else 1.0
    f_ref, e_ref = reference["fcr"], reference["escalation"]
    p_other = min(1.0, e_ref / (f_ref * ratio + (1 - f_ref)))
    csat_by, hours_by = _by_type(cases, "csat"), _by_type(cases, "hours")
    old = 2 * cases["fcr"].to_numpy(int) + cases["esc"].to_numpy(int)
    rng = np.random.default_rng(seed)
    n = len(cases)
    fcr = rng.random((draws, n)) < f_ref
    esc = rng.random((draws, n)) < np.where(fcr, min(1.0, p_other * ratio), p_other)
    new = 2 * fcr.astype(int) + esc.astype(int)
    frame = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(draws), n),
            "account_id": np.tile(cases["account_id"].to_numpy(), draws),
            "fcr": fcr.ravel().astype(float),
            "esc": esc.ravel().astype(float),
            "hours": np.tile(cases["hours"].to_numpy(), draws) + _moved(hours_by, new, old),
            "csat": np.tile(cases["csat"].to_numpy(), draws) + _moved(csat_by, new, old),
        }
    )
    frame["csat"] = frame["csat"].clip(1, 5)
    per = frame.groupby(["draw", "account_id"])
    return pd.DataFrame(
        {
            "first_contact_resolution_rate_180d": per["fcr"].mean(),
            "unresolved_cases_180d": per["fcr"].size() - per["fcr"].sum(),
            "escalation_rate_180d": per["esc"].mean(),
            "escalated_cases_180d": per["esc"].sum(),
            "avg_hours_to_resolve_180d": per["hours"].mean().clip(lower=0),
            "avg_case_csat_180d": per["csat"].mean(),
        }
    ).reset_index()


def _moved(by_type: np.ndarray, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Per (draw, case): the change in a type average from the old case type to the new one."""
    return (by_type[new] - by_type[old]).ravel()


def retention_saved(
    model: ScoringModel,
    accounts: pd.DataFrame,
    cases: pd.DataFrame,
    reference: dict[str, float],
    *,
    draws: int = 20,
) -> pd.DataFrame:
    """Per account (rows of `accounts`: account_id, arr and the model's features): p_actual,
    p_reference (the model's probability averaged over `redraw_features` draws of the account's
    cases at the reference rates) and saved = arr × (p_reference − p_actual). `cases` are the
    closed cases the features read (`_case_table`). Accounts without one keep p_actual."""
    actual = model.predict_proba(accounts)
    served = accounts[accounts["account_id"].isin(cases["account_id"])]
    reference_p = pd.Series(actual, index=accounts["account_id"].to_numpy())
    names = [n for n in SERVICE_FEATURES if n in model.feature_names]
    if names and len(served) and reference.get("fcr") is not None:
        mine = cases[cases["account_id"].isin(served["account_id"])]
        drawn = redraw_features(mine, reference, draws)
        rows = drawn[["draw", "account_id", *names]].merge(
            served.drop(columns=names), on="account_id"
        )
        rows["p"] = model.predict_proba(rows)
        reference_p.update(rows.groupby("account_id")["p"].mean())
    arr = pd.to_numeric(accounts["arr"], errors="coerce").fillna(0.0).to_numpy()
    at_reference = reference_p.to_numpy()
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy(),
            "arr": arr,
            "p_actual": actual,
            "p_reference": at_reference,
            "saved": arr * (at_reference - actual),
        }
    )


def bootstrap_sum(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """`LEVEL` percentile interval of the sum of `values`, resampling them with replacement."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(values), np.full(len(values), 1 / len(values)), size=n)
    sums = counts @ values
    tail = (1 - LEVEL) / 2
    return float(np.quantile(sums, tail)), float(np.quantile(sums, 1 - tail))


def case_shares(cases: pd.DataFrame, reps: pd.DataFrame, since, until) -> pd.DataFrame:
    """(account_id, rep_id, share): each service rep's share of the account's cases closed in
    [since, until)."""
    service = set(reps.loc[reps["team"] == "service", "rep_id"])
    closed = cases[(cases["closed_at"] >= since) & (cases["closed_at"] < until)]
    closed = closed[closed["rep_id"].isin(service)]
    counts = closed.groupby(["account_id", "rep_id"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("account_id")["n"].transform("sum")
    return counts[["account_id", "rep_id", "share"]]


# ------------------------------------------------------------------ expansion, effort, KPIs


def sourced_expansion(
    opportunities: pd.DataFrame,
    cases: pd.DataFrame,
    reps: pd.DataFrame,
    period: Period,
    after_case_days: int,
) -> pd.DataFrame:
    """Won upsell / cross-sell deals closed in the period that service sourced or that opened
    within `after_case_days` after a service case closed on the account: opportunity_id,
    account_id, rep_id (credited), amount, how ('sourced' / 'after a case')."""
    service = set(reps.loc[reps["team"] == "service", "rep_id"])
    won = opportunities[
        (opportunities["outcome"] == "won")
        & opportunities["type"].isin(EXPANSION_TYPES)
        & (opportunities["closed_at"] >= period.start)
        & (opportunities["closed_at"] < period.end)
    ]
    source = won["source_rep_id"] if "source_rep_id" in won else pd.Series(None, index=won.index)
    by_service = source.isin(service)
    sourced = won[by_service].assign(rep_id=source[by_service].to_numpy(), how="sourced")
    rest = won[~source.isin(service)]
    done = cases.loc[cases["rep_id"].isin(service) & cases["closed_at"].notna()]
    pairs = rest[["opportunity_id", "account_id", "created_at", "amount"]].merge(
        done[["account_id", "rep_id", "closed_at"]], on="account_id"
    )
    gap = pairs["created_at"] - pairs["closed_at"]
    near = pairs[(gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(days=after_case_days))]
    near = near.sort_values("closed_at").groupby("opportunity_id").tail(1)
    near = near.assign(how="after a case")
    columns = ["opportunity_id", "account_id", "rep_id", "amount", "how"]
    return pd.concat([sourced[columns], near[columns]], ignore_index=True)


def service_hours(
    activities: pd.DataFrame, reps: pd.DataFrame, period: Period, untimed_minutes: float
) -> pd.Series:
    """Per service rep: hours of activity in the period (logged durations, or `untimed_minutes`
    for an activity without one)."""
    service = set(reps.loc[reps["team"] == "service", "rep_id"])
    mine = activities[
        activities["rep_id"].isin(service)
        & (activities["occurred_at"] >= period.start)
        & (activities["occurred_at"] < period.end)
    ]
    seconds = pd.to_numeric(mine["duration_s"], errors="coerce")
    minutes = np.where(seconds.notna() & (seconds > 0), seconds / 60, untimed_minutes)
    return pd.Series(minutes / 60, index=mine.index).groupby(mine["rep_id"]).sum().rename("hours")


def _nps(scores: pd.Series) -> float:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6)."""
    if scores.empty:
        return float("nan")
    return float(100 * ((scores >= 9).mean() - (scores <= 6).mean()))


def service_kpis(
    accounts: pd.DataFrame,
    cases: pd.DataFrame,
    nps: pd.DataFrame | None,
    reps: pd.DataFrame,
    period: Period,
) -> pd.DataFrame:
    """Per service rep, over the accounts whose cases they closed in the period: accounts served,
    retention rate (still customers at the period's end), NPS (latest response in the period);
    and over their own cases: cases, first-contact resolution, CSAT."""
    measures = rep_case_measures(cases, reps, period.start, period.end)
    served = case_shares(cases, reps, period.start, period.end)[["account_id", "rep_id"]]
    churned = accounts.set_index("account_id")["churned_at"]
    lost = served["account_id"].map(churned).lt(period.end).astype(float)
    table = (
        served.assign(lost=lost.to_numpy())
        .groupby("rep_id")
        .agg(
            accounts_served=("account_id", "nunique"),
            retention_rate=("lost", lambda s: 1 - s.mean()),
        )
    )
    if nps is not None and len(nps):
        recent = nps[(nps["responded_at"] >= period.start) & (nps["responded_at"] < period.end)]
        latest = recent.sort_values("responded_at").groupby("account_id")["score"].last()
        scored = served.join(latest, on="account_id").dropna(subset=["score"])
        table["nps"] = scored.groupby("rep_id")["score"].apply(_nps)
    else:
        table["nps"] = np.nan
    out = measures.merge(table.reset_index(), on="rep_id", how="left")
    return out.rename(columns={"fcr": "first_contact_resolution"})


# ------------------------------------------------------------------ the report


@dataclass(frozen=True)
class ServiceContribution:
    """Service's contribution in revenue against its effort, per account, rep and team."""

    period: Period
    reference: dict[str, float]
    accounts: pd.DataFrame  # account_id, arr, p_actual, p_reference, saved
    expansion: pd.DataFrame  # opportunity_id, account_id, rep_id, amount, how
    by_rep: pd.DataFrame  # rep_id, team, KPIs, retention_saved, expansion, hours, revenue_per_hour
    by_team: pd.DataFrame  # team, retention_saved (+ low/high), expansion, hours, ratio, KPIs
    total: dict = field(default_factory=dict)  # retention_saved, low, high, expansion, hours, ...
    sentence: str = ""
    caveat: str = CAVEAT


def service_contribution(
    churn_model: ScoringModel | None,
    account_features: pd.DataFrame | None,
    tables: dict[str, pd.DataFrame | None],
    *,
    as_of: pd.Timestamp,
    period_days: int = 90,
    horizon_days: int = 90,
    after_case_days: int = 30,
    untimed_minutes: float = 10.0,
    hourly_cost: float | None = None,
) -> ServiceContribution:
    """The contribution report as of `as_of` (the churn features' cutoff).

    `account_features` are active accounts' feature rows at `as_of` with account_id and arr.
    `tables` holds the contract tables `reps`, `accounts`, `cases`, `opportunities`, `nps`
    (may be None) and `activities` (service reps' rows suffice: rep_id, occurred_at, duration_s).
    Without a churn model the retention part is empty (zero) and the report says so.
    """
    as_of = pd.Timestamp(as_of)
    period = Period(as_of - pd.Timedelta(days=period_days), as_of, horizon_days)
    reps, cases = tables["reps"], tables["cases"]
    window_start = as_of - pd.Timedelta(days=FEATURE_WINDOW_DAYS)
    reference = service_reference(rep_case_measures(cases, reps, window_start, as_of))
    uses_service = churn_model is not None and any(
        n in churn_model.feature_names for n in SERVICE_FEATURES
    )
    if uses_service and account_features is not None and len(account_features):
        window = _case_table(cases, window_start, as_of)
        saved = retention_saved(churn_model, account_features, window, reference)
    else:
        saved = pd.DataFrame(columns=["account_id", "arr", "p_actual", "p_reference", "saved"])
    expansion = sourced_expansion(tables["opportunities"], cases, reps, period, after_case_days)
    hours = service_hours(tables["activities"], reps, period, untimed_minutes)
    shares = case_shares(cases, reps, window_start, as_of)
    kpis = service_kpis(tables["accounts"], cases, tables.get("nps"), reps, period)
    by_rep = _rep_table(kpis, saved, shares, expansion, hours, hourly_cost)
    by_team = _team_table(by_rep, saved, shares, hourly_cost)
    total = _totals(saved, expansion, hours, hourly_cost)
    model = "none" if churn_model is None else "service" if uses_service else "no service"
    words = _sentence(total, reference, period, model, hourly_cost)
    return ServiceContribution(period, reference, saved, expansion, by_rep, by_team, total, words)


def _ratio(revenue, hours, hourly_cost):
    effort = hours * hourly_cost if hourly_cost else hours
    return revenue / effort if effort else float("nan")


def _rep_table(kpis, saved, shares, expansion, hours, hourly_cost) -> pd.DataFrame:
    credit = shares.merge(saved[["account_id", "saved"]], on="account_id")
    retention = (credit["saved"] * credit["share"]).groupby(credit["rep_id"]).sum()
    table = kpis.set_index("rep_id")
    table["retention_saved"] = retention.reindex(table.index).fillna(0.0)
    table["expansion"] = expansion.groupby("rep_id")["amount"].sum().reindex(table.index).fillna(0)
    table["hours"] = hours.reindex(table.index).fillna(0.0)
    revenue = table["retention_saved"] + table["expansion"]
    table["revenue_per_hour"] = [
        _ratio(r, h, hourly_cost) for r, h in zip(revenue, table["hours"], strict=True)
    ]
    return table.reset_index().sort_values("revenue_per_hour", ascending=False, ignore_index=True)


def _team_table(by_rep, saved, shares, hourly_cost) -> pd.DataFrame:
    rows = []
    for team, reps in by_rep.groupby("team"):
        accounts = shares[shares["rep_id"].isin(reps["rep_id"])]
        credit = accounts.merge(saved[["account_id", "saved"]], on="account_id")
        per_account = (credit["saved"] * credit["share"]).groupby(credit["account_id"]).sum()
        # Over the total's accounts (0 where the team served none) and so the total's draws:
        # the team's interval and the total's then come from the same resampled companies.
        everyone = per_account.reindex(saved["account_id"]).fillna(0.0)
        low, high = bootstrap_sum(everyone.to_numpy())
        retention = float(per_account.sum())
        expansion, hours = float(reps["expansion"].sum()), float(reps["hours"].sum())
        weights = reps["cases"].fillna(0)
        rows.append(
            {
                "team": team,
                "reps": len(reps),
                "cases": int(weights.sum()),
                "retention_saved": retention,
                "retention_low": low,
                "retention_high": high,
                "expansion": expansion,
                "hours": hours,
                "revenue_per_hour": _ratio(retention + expansion, hours, hourly_cost),
                "retention_rate": _weighted(reps["retention_rate"], reps["accounts_served"]),
                "nps": _weighted(reps["nps"], reps["accounts_served"]),
                "first_contact_resolution": _weighted(reps["first_contact_resolution"], weights),
                "csat": _weighted(reps["csat"], weights),
            }
        )
    return pd.DataFrame(rows)


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    ok = values.notna() & weights.notna() & (weights > 0)
    if not ok.any():
        return float("nan")
    return float(np.average(values[ok], weights=weights[ok]))


def _totals(saved, expansion, hours, hourly_cost) -> dict:
    low, high = bootstrap_sum(saved["saved"].to_numpy(float))
    retention, extra = float(saved["saved"].sum()), float(expansion["amount"].sum())
    effort = float(hours.sum())
    return {
        "retention_saved": retention,
        "retention_low": low,
        "retention_high": high,
        "accounts": len(saved),
        "expansion": extra,
        "expansion_deals": len(expansion),
        "hours": effort,
        "cost": effort * hourly_cost if hourly_cost else None,
        "revenue_per_hour": _ratio(retention + extra, effort, hourly_cost),
        "ratio_low": _ratio(low + extra, effort, hourly_cost),
        "ratio_high": _ratio(high + extra, effort, hourly_cost),
        "per": "unit of cost" if hourly_cost else "service hour",
    }


def _sentence(total: dict, reference: dict, period: Period, model: str, cost) -> str:
    days = (period.end - period.start).days
    retention = {
        "service": f"Service kept an expected ${total['retention_saved']:,.0f} of ARR over the "
        f"next {period.horizon_days} days (90% interval ${total['retention_low']:,.0f} to "
        f"${total['retention_high']:,.0f}) compared with {reference_words(reference)}, by the "
        f"churn model, across {total['accounts']:,} active accounts. ",
        "no service": "The churn model uses no service feature, so retention saved is not "
        "estimated. ",
        "none": "No churn model is loaded, so retention saved is not estimated. ",
    }[model]
    hours = f"{total['hours']:,.0f} service hours"
    effort = f"${total['cost']:,.0f} of service cost ({hours})" if cost else hours
    ratio = total["revenue_per_hour"]
    per = (
        f"${ratio:,.0f} of revenue per {total['per']}"
        if np.isfinite(ratio)
        else "no service effort was logged, so there is no ratio"
    )
    return (
        retention
        + f"It sourced or followed up ${total['expansion']:,.0f} of won upsell and cross-sell "
        f"({total['expansion_deals']} deals) in the {days} days to {period.end:%Y-%m-%d}, for "
        f"{effort}: {per}."
    )

"""The sales funnel, pipeline quality and the expected-bookings forecast with its backtest.

A deal *passes* a stage when it later enters a further stage (in `stage_order`) or is won; its fate
at a stage is *known* once it has moved on or closed. Open deals sitting at their latest stage are
counted as still open there, never as passed or lost.

- **Funnel**: lead (when the stage order has lead stages, named `Lead…`), then each stage, then
  won: deals that entered, passed, were lost there, are still there; conversion (passed ÷ known
  fates); median days in the step for deals that moved on; and the step that leaks most (the most
  deals lost).
- **Pipeline quality** at a date: open pipeline and its coverage of a target the user sets; the
  weighted pipeline (Σ calibrated win probability × amount) and the expected bookings within a
  horizon (× the chance the deal closes by then, from how long deals took to close from the same
  stage), with an interval from the deals' independent outcomes; stale deals (no activity for N
  days); slipping deals (open longer than the usual won deal of their type took: the contract has
  no expected close date, so the usual cycle stands in for it).
- **Backtest**: the same forecast made at each past quarter start, against the bookings that
  followed from the deals open then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explain.wording import Registry, feature_info, lookup

LEVEL = 0.90
WON = "Won"
SLIP_QUANTILE = 0.75


def stage_progress(
    opportunities: pd.DataFrame, stages: pd.DataFrame, stage_order: Sequence[str]
) -> pd.DataFrame:
    """One row per (deal, stage entered, known fate): opportunity_id, stage, stage_index, passed.

    Stages not in `stage_order` are ignored; a deal that skipped a stage has not entered it.
    """
    rows = _stage_rows(opportunities, stages, stage_order)
    columns = ["opportunity_id", "stage", "stage_index", "passed"]
    return rows.loc[rows["known"], columns].reset_index(drop=True)


def _stage_rows(
    opportunities: pd.DataFrame, stages: pd.DataFrame, stage_order: Sequence[str]
) -> pd.DataFrame:
    """(deal, stage entered) rows with passed, known, the entry time and the time it left."""
    order = {name: i for i, name in enumerate(stage_order)}
    entered = stages[stages["stage"].isin(order)]
    timed = "entered_at" in entered
    if timed:
        entered = entered.sort_values(["opportunity_id", "entered_at"], kind="stable")
        nxt = entered.groupby("opportunity_id")["entered_at"].shift(-1)
        entered = entered[["opportunity_id", "stage", "entered_at"]].assign(left_at=nxt)
    else:
        entered = entered[["opportunity_id", "stage"]]
    entered = entered.drop_duplicates(["opportunity_id", "stage"], keep="first")
    entered = entered.assign(stage_index=entered["stage"].map(order).astype(int))
    furthest = entered.groupby("opportunity_id")["stage_index"].max().rename("furthest")
    opp_cols = ["opportunity_id", "outcome", *[c for c in ("closed_at",) if c in opportunities]]
    rows = entered.join(furthest, on="opportunity_id").merge(
        opportunities[opp_cols], on="opportunity_id"
    )
    moved_on = rows["stage_index"] < rows["furthest"]
    rows["known"] = moved_on | rows["outcome"].isin(["won", "lost"])
    rows["passed"] = moved_on | (rows["outcome"] == "won")
    return rows


# ------------------------------------------------------------------ funnel


def lead_stages(stage_order: Sequence[str]) -> list[str]:
    return [s for s in stage_order if s.strip().lower().startswith("lead")]


def funnel(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame,
    stage_order: Sequence[str],
    *,
    since: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The funnel of deals opened at or after `since`: one row per step (lead when there are
    lead stages, each stage, won) with entered, passed, lost, still_open, conversion,
    median_days (in the step, deals that moved on) and lost_value."""
    opps = opportunities if since is None else opportunities[opportunities["created_at"] >= since]
    rows = _stage_rows(opps, stages, stage_order)
    amounts = opps["amount"] if "amount" in opps else pd.Series(np.nan, index=opps.index)
    rows = rows.merge(
        pd.DataFrame({"opportunity_id": opps["opportunity_id"], "amount": amounts}),
        on="opportunity_id",
        how="left",
    )
    # Stages no deal entered (another CRM's names in the default order) are not steps.
    entered = set(rows["stage"])
    leads = [s for s in lead_stages(stage_order) if s in entered]
    steps = [("Lead", rows[rows["stage"].isin(leads)])] if leads else []
    steps += [(s, rows[rows["stage"] == s]) for s in stage_order if s in entered - set(leads)]
    out = []
    for name, at in steps:
        at = at.drop_duplicates("opportunity_id") if name == "Lead" else at
        known = at["known"]
        passed = int((at["passed"] & known).sum())
        lost = int((~at["passed"] & known).sum())
        days = _days_in_step(at[at["passed"] & known])
        out.append(
            {
                "step": name,
                "entered": len(at),
                "passed": passed,
                "lost": lost,
                "still_open": int((~known).sum()),
                "conversion": passed / (passed + lost) if passed + lost else np.nan,
                "median_days": days,
                "lost_value": float(pd.to_numeric(at.loc[~at["passed"] & known, "amount"]).sum()),
            }
        )
    won = opps[opps["outcome"] == "won"]
    out.append(
        {
            "step": WON,
            "entered": len(won),
            "passed": len(won),
            "lost": 0,
            "still_open": 0,
            "conversion": np.nan,
            "median_days": _median_cycle(won),
            "lost_value": 0.0,
        }
    )
    return pd.DataFrame(out)


def _days_in_step(rows: pd.DataFrame) -> float:
    if "entered_at" not in rows or rows.empty:
        return float("nan")
    left = rows["left_at"].fillna(rows.get("closed_at", rows["left_at"]))
    days = (left - rows["entered_at"]).dt.total_seconds() / 86400
    return float(days.median()) if days.notna().any() else float("nan")


def _median_cycle(won: pd.DataFrame) -> float:
    if won.empty or "closed_at" not in won:
        return float("nan")
    return float(((won["closed_at"] - won["created_at"]).dt.total_seconds() / 86400).median())


def leakiest(table: pd.DataFrame) -> pd.Series | None:
    """The step that loses the most deals (None when no step lost any)."""
    steps = table[table["step"] != WON]
    if steps.empty or steps["lost"].max() <= 0:
        return None
    return steps.loc[steps["lost"].idxmax()]


# ------------------------------------------------------------------ bottlenecks (behaviours)


@dataclass(frozen=True)
class Bottlenecks:
    """Where the pipeline leaks, and the behaviours that predict passing each stage."""

    funnel: pd.DataFrame
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
    opportunities: pd.DataFrame,
    stages: pd.DataFrame,
    stage_order: Sequence[str],
    stage_features: pd.DataFrame | None = None,
    registry: Registry | None = None,
    *,
    features: Sequence[str] | None = None,
) -> Bottlenecks:
    """The funnel and what predicts passing each stage.

    `stage_features` holds one row per (opportunity_id, stage) with behaviour features as of stage
    entry (the `stage_entry` snapshots); each feature's AUC for passing the stage is reported
    (0.5 = no signal; direction +1 when more of it goes with passing).
    """
    progress = stage_progress(opportunities, stages, stage_order)
    table = funnel(opportunities, stages, stage_order)
    known = lookup(registry)
    if stage_features is not None and features is None:
        features = _behaviour_columns(stage_features, known)
    predictors = (
        _predictors(stage_features, progress, known, features, stage_order)
        if stage_features is not None
        else pd.DataFrame(columns=["stage", "feature", "family", "description", "auc", "direction"])
    )
    return Bottlenecks(table, predictors.reset_index(drop=True), leak_sentence(table, predictors))


def leak_sentence(table: pd.DataFrame, predictors: pd.DataFrame | None = None) -> str:
    worst = leakiest(table)
    if worst is None:
        return "No deal has been lost yet: nothing to report on."
    text = (
        f"The pipeline leaks most at {worst['step']}: {int(worst['lost']):,} deals lost there "
        f"({worst['conversion']:.0%} of those with a known fate passed)"
    )
    best = (
        predictors[predictors["stage"] == worst["step"]].head(1) if predictors is not None else []
    )
    if len(best):
        row = best.iloc[0]
        more = "more" if row["direction"] > 0 else "less"
        text += f"; deals with {more} '{row['description']}' pass more often (AUC {row['auc']:.2f})"
    return text + "."


# ------------------------------------------------------------------ open pipeline at a date


def open_deals(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    stage_order: Sequence[str],
    at: pd.Timestamp,
) -> pd.DataFrame:
    """Deals open at `at` (created before, not closed before): opportunity_id, account_id,
    owner_rep_id, type, amount, created_at, stage (last entered before `at`), stage_entered_at,
    age_days, days_in_stage."""
    opps = opportunities[
        (opportunities["created_at"] < at)
        & (opportunities["closed_at"].isna() | (opportunities["closed_at"] >= at))
    ]
    cols = ["opportunity_id", "account_id", "owner_rep_id", "type", "amount", "created_at"]
    out = opps[[c for c in cols if c in opps]].copy()
    if stages is not None and len(stages):
        seen = stages[(stages["entered_at"] < at) & stages["stage"].isin(stage_order)]
        last = seen.sort_values("entered_at").groupby("opportunity_id").tail(1)
        out = out.merge(
            last[["opportunity_id", "stage", "entered_at"]].rename(
                columns={"entered_at": "stage_entered_at"}
            ),
            on="opportunity_id",
            how="left",
        )
    else:
        out = out.assign(stage=None, stage_entered_at=pd.NaT)
    out["age_days"] = (at - out["created_at"]).dt.total_seconds() / 86400
    entered = out["stage_entered_at"].fillna(out["created_at"])
    out["days_in_stage"] = (at - entered).dt.total_seconds() / 86400
    return out.reset_index(drop=True)


def close_chance(
    deals: pd.DataFrame,
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    stage_order: Sequence[str],
    at: pd.Timestamp,
    horizon_days: int,
    min_deals: int = 20,
) -> np.ndarray:
    """Per open deal: the chance that, if it is won, it is won within `horizon_days`, given its
    stage, size band and how long it has sat in the stage: among deals won before `at` that
    entered the same stage, the share of those still open after the same time there that were
    won within the horizon (all sizes, then whole cycles, when fewer than `min_deals`)."""
    won = opportunities[(opportunities["closed_at"] < at) & (opportunities["outcome"] == "won")]
    won = won.assign(band=size_band(won["amount"]))
    if stages is not None and len(stages):
        rows = stages[stages["stage"].isin(stage_order)].merge(
            won[["opportunity_id", "closed_at", "band"]], on="opportunity_id"
        )
        rows = rows.assign(total=(rows["closed_at"] - rows["entered_at"]).dt.days.astype(float))
    else:
        rows = pd.DataFrame({"stage": [], "band": [], "total": []})
    cycle = won.assign(total=(won["closed_at"] - won["created_at"]).dt.days.astype(float))
    bands = size_band(deals["amount"])
    out = np.empty(len(deals))
    for i, (stage, band, waited) in enumerate(
        zip(deals["stage"], bands, deals["days_in_stage"], strict=True)
    ):
        same = rows[rows["stage"] == stage]
        for history in (same[same["band"] == band], same, cycle[cycle["band"] == band], cycle):
            survived = history["total"][history["total"] > waited]
            if len(survived) >= min_deals:
                break
        out[i] = float((survived <= waited + horizon_days).mean()) if len(survived) else 1.0
    return out


def bookings_interval(expected: np.ndarray, amount: np.ndarray, draws: int = 4000, seed: int = 0):
    """The `LEVEL` interval of Σ amount × Bernoulli(expected), the deals' outcomes independent."""
    if len(expected) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    hits = rng.random((draws, len(expected))) < expected
    totals = hits.astype(float) @ amount
    tail = (1 - LEVEL) / 2
    return float(np.quantile(totals, tail)), float(np.quantile(totals, 1 - tail))


@dataclass(frozen=True)
class Forecast:
    """Expected bookings within a horizon from the deals open at a date."""

    at: pd.Timestamp
    horizon_days: int
    deals: pd.DataFrame  # open deals with p_win, p_close, expected (= p_win × p_close × amount)
    weighted_pipeline: float  # Σ p_win × amount
    expected: float  # Σ p_win × p_close × amount
    low: float
    high: float
    source: str  # where the win probabilities came from


def forecast(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    stage_order: Sequence[str],
    at: pd.Timestamp,
    probabilities: pd.Series,
    *,
    horizon_days: int = 90,
    source: str = "",
) -> Forecast:
    """The forecast at `at`: `probabilities` are calibrated win probabilities by opportunity_id
    (deals without one are left out of the weighted figures and counted in `deals`)."""
    deals = open_deals(opportunities, stages, stage_order, at)
    chances = deals["opportunity_id"].astype(str).map(probabilities)
    deals["p_win"] = pd.to_numeric(chances, errors="coerce").astype(float)
    deals["p_close"] = close_chance(deals, opportunities, stages, stage_order, at, horizon_days)
    amount = pd.to_numeric(deals["amount"], errors="coerce").fillna(0.0)
    scored = deals["p_win"].notna()
    chance = (deals["p_win"] * deals["p_close"]).where(scored, 0.0)
    deals["expected"] = chance * amount
    low, high = bookings_interval(chance.to_numpy(float), amount.to_numpy(float))
    return Forecast(
        pd.Timestamp(at),
        horizon_days,
        deals,
        float((deals["p_win"].fillna(0) * amount).sum()),
        float(deals["expected"].sum()),
        low,
        high,
        source,
    )


SIZE_BANDS = (0, 10_000, 50_000, 250_000, np.inf)


def size_band(amount: pd.Series) -> pd.Series:
    """Deal size bands (<10k, 10-50k, 50-250k, 250k+); missing amounts are 'unknown'."""
    labels = ["<10k", "10k-50k", "50k-250k", "250k+"]
    bands = pd.cut(pd.to_numeric(amount, errors="coerce"), SIZE_BANDS, labels=labels, right=False)
    return bands.astype("object").where(bands.notna(), "unknown")


def stage_history_probabilities(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    stage_order: Sequence[str],
    at: pd.Timestamp,
    min_deals: int = 20,
) -> pd.Series:
    """Win probabilities known at `at` without a model: for each deal open then, the win rate of
    deals closed before `at` that sat in its current stage at least as long as it has (a deal
    that lingers is more often one that has stalled), of its size band; dropping the size band,
    then the time in stage, below `min_deals`."""
    closed = opportunities[
        (opportunities["closed_at"] < at) & opportunities["outcome"].isin(["won", "lost"])
    ]
    deals = open_deals(opportunities, stages, stage_order, at)
    base = float((closed["outcome"] == "won").mean()) if len(closed) else 0.5
    if stages is None or stages.empty or closed.empty:
        return pd.Series(base, index=deals["opportunity_id"].to_numpy())
    rows = _stage_rows(
        closed, stages[stages["opportunity_id"].isin(closed["opportunity_id"])], stage_order
    )
    left = rows["left_at"].fillna(rows["closed_at"])
    history = pd.DataFrame(
        {
            "stage": rows["stage"].to_numpy(),
            "stay": (left - rows["entered_at"]).dt.days.to_numpy(),
            "won": (rows["outcome"] == "won").to_numpy(),
            "band": size_band(
                rows["opportunity_id"].map(closed.set_index("opportunity_id")["amount"])
            ).to_numpy(),
        }
    )
    bands = size_band(deals["amount"])
    chances = []
    for stage, band, waited in zip(deals["stage"], bands, deals["days_in_stage"], strict=True):
        same = history[history["stage"] == stage]
        longer = same[same["stay"] >= waited]
        for pick in (longer[longer["band"] == band], longer, same[same["band"] == band], same):
            if len(pick) >= min_deals:
                break
        chances.append(float(pick["won"].mean()) if len(pick) >= min_deals else base)
    return pd.Series(chances, index=deals["opportunity_id"].to_numpy())


def actual_bookings(opportunities: pd.DataFrame, deals: pd.DataFrame, at, horizon_days) -> float:
    """Won amount within the horizon after `at` from the deals open at `at`."""
    end = at + pd.Timedelta(days=horizon_days)
    won = opportunities[
        opportunities["opportunity_id"].isin(deals["opportunity_id"])
        & (opportunities["outcome"] == "won")
        & (opportunities["closed_at"] >= at)
        & (opportunities["closed_at"] < end)
    ]
    return float(pd.to_numeric(won["amount"], errors="coerce").fillna(0.0).sum())


def quarter_starts(first: pd.Timestamp, last: pd.Timestamp) -> list[pd.Timestamp]:
    """Calendar quarter starts q with first <= q and q + 1 quarter <= last."""
    start = pd.Timestamp(first).to_period("Q").start_time
    if start < first:
        start = start + pd.offsets.QuarterBegin(startingMonth=1)
    out = []
    q = start
    while q + pd.offsets.QuarterBegin(startingMonth=1) <= last:
        out.append(q)
        q = q + pd.offsets.QuarterBegin(startingMonth=1)
    return out


def backtest(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    stage_order: Sequence[str],
    quarters: Sequence[pd.Timestamp],
    probabilities: Callable[[pd.Timestamp], tuple[pd.Series, str] | None],
) -> pd.DataFrame:
    """Per quarter start q: the forecast of the quarter's bookings from the deals open at q (win
    probabilities from `probabilities(q)`, which returns them with their source, or None to skip
    the quarter; quarters with no open deal are left out) against the bookings those deals
    brought in the quarter."""
    rows = []
    for q in quarters:
        found = probabilities(pd.Timestamp(q))
        if found is None:
            continue
        chances, source = found
        horizon = int((q + pd.offsets.QuarterBegin(startingMonth=1) - q).days)
        f = forecast(
            opportunities, stages, stage_order, q, chances, horizon_days=horizon, source=source
        )
        if f.deals.empty:
            continue  # nothing was open: nothing to forecast
        actual = actual_bookings(opportunities, f.deals, q, horizon)
        rows.append(
            {
                "quarter": f"{q.year}-Q{q.quarter}",
                "start": q,
                "deals": len(f.deals),
                "forecast": f.expected,
                "low": f.low,
                "high": f.high,
                "actual": actual,
                "error": f.expected - actual,
                "within_interval": f.low <= actual <= f.high,
                "source": source,
            }
        )
    columns = ["quarter", "start", "deals", "forecast", "low", "high", "actual", "error"]
    return pd.DataFrame(rows, columns=[*columns, "within_interval", "source"])


# ------------------------------------------------------------------ quality at a date


def stale(
    deals: pd.DataFrame, activities: pd.DataFrame, at: pd.Timestamp, days: int
) -> pd.DataFrame:
    """Open deals without a logged activity in the `days` before `at`: with days_since_touch
    (since opening when never touched)."""
    seen = activities[activities["opportunity_id"].notna() & (activities["occurred_at"] < at)]
    last = seen.groupby("opportunity_id")["occurred_at"].max()
    touched = deals["opportunity_id"].isin(last.index)
    since = deals["created_at"].copy()
    if touched.any():
        since.loc[touched] = deals.loc[touched, "opportunity_id"].map(last).to_numpy()
    out = deals.assign(days_since_touch=(at - since).dt.total_seconds() / 86400)
    return out[out["days_since_touch"] >= days].sort_values("days_since_touch", ascending=False)


def usual_cycle(opportunities: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Per deal type, the `SLIP_QUANTILE` of days from opening to winning among deals won before
    `at` (key None: all types)."""
    won = opportunities[(opportunities["outcome"] == "won") & (opportunities["closed_at"] < at)]
    days = (won["closed_at"] - won["created_at"]).dt.total_seconds() / 86400
    per_type = days.groupby(won["type"]).quantile(SLIP_QUANTILE)
    per_type[None] = days.quantile(SLIP_QUANTILE) if len(days) else np.nan
    return per_type


def slipping(deals: pd.DataFrame, opportunities: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Open deals older than the usual won deal of their type: with usual_days and days_late."""
    cycle = usual_cycle(opportunities, at)
    usual = deals["type"].map(cycle).fillna(cycle.get(None, np.nan))
    out = deals.assign(usual_days=usual, days_late=deals["age_days"] - usual)
    return out[out["days_late"] > 0].sort_values("days_late", ascending=False)


@dataclass(frozen=True)
class PipelineQuality:
    at: pd.Timestamp
    open_value: float
    open_deals: int
    target: float | None
    coverage: float | None  # open value ÷ target
    forecast: Forecast
    stale: pd.DataFrame
    stale_days: int
    slipping: pd.DataFrame
    sentences: list[str] = field(default_factory=list)


def pipeline_quality(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    activities: pd.DataFrame,
    stage_order: Sequence[str],
    at: pd.Timestamp,
    probabilities: pd.Series,
    *,
    source: str,
    target: float | None = None,
    horizon_days: int = 90,
    stale_days: int = 21,
) -> PipelineQuality:
    """Pipeline quality at `at` (see the module docstring)."""
    f = forecast(
        opportunities,
        stages,
        stage_order,
        at,
        probabilities,
        horizon_days=horizon_days,
        source=source,
    )
    deals = f.deals
    value = float(pd.to_numeric(deals["amount"], errors="coerce").fillna(0.0).sum())
    coverage = value / target if target else None
    stale_rows = stale(deals, activities, at, stale_days)
    slip = slipping(deals, opportunities, at)
    words = [
        f"{len(deals):,} open deals worth ${value:,.0f}"
        + (f": {coverage:.1f}× the ${target:,.0f} target." if coverage is not None else "."),
        f"Weighted by their win probabilities ({source}) they are worth "
        f"${f.weighted_pipeline:,.0f}; "
        f"expected bookings in the next {horizon_days} days ${f.expected:,.0f} "
        f"(90% interval ${f.low:,.0f} to ${f.high:,.0f}).",
        f"{len(stale_rows):,} deals (${_total(stale_rows):,.0f}) have had no activity for "
        f"{stale_days} days or more; {len(slip):,} (${_total(slip):,.0f}) are open longer than "
        "the usual won deal of their type.",
    ]
    return PipelineQuality(
        pd.Timestamp(at),
        value,
        len(deals),
        target,
        coverage,
        f,
        stale_rows,
        stale_days,
        slip,
        words,
    )


def _total(frame: pd.DataFrame) -> float:
    return float(pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).sum())

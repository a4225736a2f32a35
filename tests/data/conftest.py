"""One simulated company per test worker (1,500 accounts, fixed seed), and a point-in-time panel."""

from __future__ import annotations

import pandas as pd
import pytest

from data.simulator import planted_reps, simulate

N_ACCOUNTS = 1_500
SEED = 5
CUTOFFS = pd.date_range("2023-07-01", "2025-01-01", freq="3MS")
HORIZON = pd.Timedelta(days=90)


@pytest.fixture(scope="session")
def sim() -> dict[str, pd.DataFrame]:
    return simulate(N_ACCOUNTS, seed=SEED)


def _window(df: pd.DataFrame, col: str, cutoff: pd.Timestamp, days: int) -> pd.DataFrame:
    return df[(df[col] < cutoff) & (df[col] >= cutoff - pd.Timedelta(days=days))]


def _account_rows(sim: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> pd.DataFrame:
    """Trailing behaviour of each live account at `cutoff`, and whether it churns within 90 days."""
    acc = sim["accounts"]
    live = acc[
        (acc.created_at < cutoff - pd.Timedelta(days=90)) & ~(acc.churned_at < cutoff)
    ].set_index("account_id")
    act = _window(sim["activities"], "occurred_at", cutoff, 90)
    act = act[act.logged_at < cutoff]
    connected = act[act.outcome == "connected"]
    cases = _window(sim["cases"], "closed_at", cutoff, 90)
    out = pd.DataFrame(index=live.index)
    out["acts_60d"] = _window(act, "occurred_at", cutoff, 60).groupby("account_id").size()
    out["dm_reached"] = act.groupby("account_id").reached_decision_maker.sum()
    out["call_minutes"] = connected.groupby("account_id").duration_s.mean() / 60
    out["contacts"] = act.groupby("account_id").contact_id.nunique()
    out["unresolved"] = (~cases.first_contact_resolved.astype(bool)).groupby(cases.account_id).sum()
    out["escalated"] = cases.escalated.astype(bool).groupby(cases.account_id).sum()
    out = out.fillna(
        {"acts_60d": 0, "dm_reached": 0, "contacts": 0, "unresolved": 0, "escalated": 0}
    )
    out["churned"] = (live.churned_at >= cutoff) & (live.churned_at < cutoff + HORIZON)
    return out.assign(cutoff=cutoff)


@pytest.fixture(scope="session")
def churn_panel(sim: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """(account, cutoff) rows every quarter from 2023-07 to 2025-01."""
    return pd.concat([_account_rows(sim, c) for c in CUTOFFS]).reset_index()


def _followup_days(act: pd.DataFrame) -> pd.Series:
    """Mean days from each deal meeting/demo to the next follow-up with the same contact."""
    keys = ["opportunity_id", "contact_id"]
    met = act.loc[act.type.isin(["meeting", "demo"]), [*keys, "occurred_at"]]
    fup = act.loc[act.objective == "follow_up", [*keys, "occurred_at"]]
    pairs = met.merge(fup.rename(columns={"occurred_at": "fu_at"}), on=keys)
    pairs = pairs[pairs.fu_at >= pairs.occurred_at]
    first = pairs.groupby(["opportunity_id", "occurred_at"]).fu_at.min().reset_index()
    days = (first.fu_at - first.occurred_at).dt.total_seconds() / 86400
    return days.groupby(first.opportunity_id).mean()


@pytest.fixture(scope="session")
def deal_panel(sim: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Closed deals with their behaviour measured on their own activities. The planted reps'
    deals are left out: their fixed styles (each strong on all but one behaviour, with big
    books) would confound these raw comparisons."""
    opp = sim["opportunities"]
    planted = planted_reps(N_ACCOUNTS, seed=SEED)["rep_id"]
    opp = opp[(opp.outcome != "open") & ~opp.owner_rep_id.isin(planted)]
    opp = opp.set_index("opportunity_id")
    act = sim["activities"].dropna(subset=["opportunity_id"])
    by = act.groupby("opportunity_id")
    connected = act[act.outcome == "connected"]
    weeks = (opp.closed_at - opp.created_at).dt.total_seconds() / (7 * 86400)
    return pd.DataFrame(
        {
            "won": opp.outcome == "won",
            "amount": opp.amount,
            "renewal": opp.type == "renewal",
            "dm_reached": by.reached_decision_maker.sum().reindex(opp.index).fillna(0) > 0,
            "contacts": by.contact_id.nunique().reindex(opp.index).fillna(0),
            "call_minutes": connected.groupby("opportunity_id").duration_s.mean() / 60,
            "followup_days": _followup_days(act),
            "per_week": by.size().reindex(opp.index).fillna(0) / weeks.clip(lower=1),
        },
        index=opp.index,
    )

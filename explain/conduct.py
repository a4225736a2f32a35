"""Closed deals for the rep diagnosis: each deal's mix (context) and the owner's conduct on it.

*Mix* is what the rep did not choose once the deal was theirs: segment, industry, region, deal
type and size, whether a service rep sourced it, and the account's history (tenure, deals won and
lost earlier with other reps). *Conduct* is what the rep did on the deal, measured on all its
activities: contacts engaged, whether the decision maker was reached, follow-up speed after
meetings, touches per week and call depth. Only conduct is coachable; mix, deal state and time
in a stage are context.

Conduct is retrospective (coaching looks back over whole deals), unlike the point-in-time features
the models use (`features/`), which stop at each cutoff; so it is measured here, from the deal's
activities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TOUCH_TYPES = ("call", "email", "meeting", "demo")
MEETING_TYPES = ("meeting", "demo")
FOLLOW_UP_CAP_DAYS = 21.0


@dataclass(frozen=True)
class Conduct:
    """One coachable behaviour on a deal, in the words a manager reads."""

    name: str
    family: str  # a registry family (`features.registry.Family`)
    description: str
    unit: str
    phrase: str  # the behaviour as a coaching topic ("multi-threading")


CONDUCT: tuple[Conduct, ...] = (
    Conduct(
        "contacts_engaged",
        "reach",
        "Different customer contacts engaged on the deal",
        "contacts",
        "multi-threading (engaging more of the buying committee)",
    ),
    Conduct(
        "decision_maker_reached",
        "reach",
        "Share of deals where a call or meeting reached the decision maker",
        "share",
        "reaching the decision maker",
    ),
    Conduct(
        "follow_up_days",
        "responsiveness",
        "Days from a meeting or demo on the deal to its follow-up call or email",
        "days",
        "follow-up speed after meetings",
    ),
    Conduct(
        "touches_per_week",
        "cadence",
        "Calls, emails, meetings and demos on the deal per week it was open",
        "per week",
        "working the deal often enough",
    ),
    Conduct(
        "call_minutes",
        "conversation_depth",
        "Average length of the deal's connected calls, minutes",
        "minutes",
        "longer, deeper calls",
    ),
)
CONDUCT_NAMES = tuple(c.name for c in CONDUCT)
BINARY = frozenset(c.name for c in CONDUCT if c.unit == "share")  # yes/no per deal
BY_NAME = {c.name: c for c in CONDUCT}
MIX_CATEGORIES = ("segment", "industry", "region", "type")
MIX_NUMBERS = ("log_amount", "sourced_by_service", "account_tenure_days", "prior_won", "prior_lost")


def _touches(activities: pd.DataFrame) -> pd.DataFrame:
    deal = activities[activities["opportunity_id"].notna()]
    return deal[deal["type"].isin(TOUCH_TYPES)]


def follow_up_days(activities: pd.DataFrame, closed_at: pd.Series) -> pd.Series:
    """Per deal: mean days from each meeting or demo to its follow-up, capped at 21 (deals without
    a meeting are absent). The follow-up is the next outbound call or email on the deal to the
    same contact, with a `follow_up` objective when the CRM records objectives. A meeting without
    one counts 21 days, unless the deal closed within 21 days of it (too late to tell: left out).
    `closed_at` is indexed by opportunity_id."""
    deal = activities[activities["opportunity_id"].notna() & activities["contact_id"].notna()]
    keys = ["opportunity_id", "contact_id", "occurred_at"]
    met = deal.loc[deal["type"].isin(MEETING_TYPES), keys]
    if met.empty:
        return pd.Series(dtype=float, name="follow_up_days")
    out = deal["type"].isin(("call", "email")) & (deal["direction"].fillna("outbound") != "inbound")
    if "objective" in deal and (deal["objective"] == "follow_up").any():
        out &= deal["objective"] == "follow_up"
    nxt = deal.loc[out, keys]
    pairs = pd.merge_asof(
        met.sort_values("occurred_at"),
        nxt.rename(columns={"occurred_at": "next"}).sort_values("next"),
        left_on="occurred_at",
        right_on="next",
        by=["opportunity_id", "contact_id"],
        direction="forward",
        allow_exact_matches=False,
    )
    days = (pairs["next"] - pairs["occurred_at"]).dt.total_seconds() / 86400
    end = pairs["opportunity_id"].map(closed_at)
    room = (end - pairs["occurred_at"]).dt.total_seconds() / 86400
    days = days.where(
        days.notna(), np.where(room >= FOLLOW_UP_CAP_DAYS, FOLLOW_UP_CAP_DAYS, np.nan)
    )
    days = days.clip(upper=FOLLOW_UP_CAP_DAYS)
    return days.groupby(pairs["opportunity_id"]).mean().rename("follow_up_days")


def deal_conduct(activities: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    """Per deal in `deals` (opportunity_id, created_at, closed_at): the `CONDUCT` measures.

    `activities` needs opportunity_id, type, contact_id, reached_decision_maker, direction,
    outcome, duration_s and occurred_at. A deal without a connected call has no call_minutes; one
    without a meeting has no follow_up_days (nothing to follow up).
    """
    touch = _touches(activities)
    by = touch.groupby("opportunity_id")
    connected = touch[(touch["type"] == "call") & (touch["outcome"] == "connected")]
    reached = touch["reached_decision_maker"].astype("boolean").fillna(False).astype(bool)
    ids = deals.set_index("opportunity_id")
    weeks = (ids["closed_at"] - ids["created_at"]).dt.total_seconds() / (7 * 86400)
    out = pd.DataFrame(index=ids.index)
    out["contacts_engaged"] = by["contact_id"].nunique().reindex(out.index).fillna(0.0)
    out["decision_maker_reached"] = (
        reached.groupby(touch["opportunity_id"])
        .any()
        .reindex(out.index)
        .fillna(False)
        .astype(float)
    )
    out["follow_up_days"] = follow_up_days(activities, ids["closed_at"]).reindex(out.index)
    out["touches_per_week"] = by.size().reindex(out.index).fillna(0.0) / weeks.clip(lower=1.0)
    out["call_minutes"] = (connected.groupby("opportunity_id")["duration_s"].mean() / 60).reindex(
        out.index
    )
    return out.rename_axis("opportunity_id").reset_index()


def _account_history(opportunities: pd.DataFrame) -> pd.DataFrame:
    """Per deal: the account's deals won and lost with other reps before this one opened (the
    owner's own record on the account is left out, so it cannot stand in for the rep)."""
    closed = opportunities[opportunities["outcome"].isin(["won", "lost"])]
    rows = opportunities[["opportunity_id", "account_id", "owner_rep_id", "created_at"]].merge(
        closed[["account_id", "owner_rep_id", "closed_at", "outcome"]],
        on="account_id",
        how="left",
        suffixes=("", "_other"),
    )
    before = (rows["closed_at"] < rows["created_at"]) & (
        rows["owner_rep_id_other"] != rows["owner_rep_id"]
    )
    rows = rows.assign(
        prior_won=(before & (rows["outcome"] == "won")).astype(float),
        prior_lost=(before & (rows["outcome"] == "lost")).astype(float),
    )
    return rows.groupby("opportunity_id")[["prior_won", "prior_lost"]].sum().reset_index()


def closed_deals(
    opportunities: pd.DataFrame,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    since: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per closed deal (closed at or after `since`): opportunity_id, account_id,
    owner_rep_id, team (`reps.team` of the owner), created_at, closed_at, amount, won (1/0) and
    the mix columns (`MIX_CATEGORIES`, `MIX_NUMBERS`)."""
    deals = opportunities[opportunities["outcome"].isin(["won", "lost"])]
    if since is not None:
        deals = deals[deals["closed_at"] >= since]
    account_cols = ("account_id", "created_at", "segment", "industry", "region")
    acc = accounts[[c for c in account_cols if c in accounts]].rename(
        columns={"created_at": "account_created_at"}
    )
    teams = reps[["rep_id", "team"]]
    service = set(reps.loc[reps["team"] == "service", "rep_id"])
    out = (
        deals.drop(columns=["team"], errors="ignore")
        .merge(acc, on="account_id", how="left")
        .merge(teams.rename(columns={"rep_id": "owner_rep_id"}), on="owner_rep_id", how="left")
        .merge(_account_history(opportunities), on="opportunity_id", how="left")
    )
    tenure = (out["created_at"] - out.get("account_created_at", out["created_at"])).dt.days
    source = out["source_rep_id"] if "source_rep_id" in out else pd.Series(None, index=out.index)
    out = out.assign(
        won=(out["outcome"] == "won").astype(float),
        log_amount=np.log1p(pd.to_numeric(out["amount"], errors="coerce")),
        sourced_by_service=source.isin(service).astype(float),
        account_tenure_days=tenure.astype(float),
    )
    for name in MIX_CATEGORIES:
        out[name] = out[name].astype("object") if name in out else None
    keep = ["opportunity_id", "account_id", "owner_rep_id", "team", "created_at", "closed_at"]
    keep += ["amount", "won", *MIX_CATEGORIES, *MIX_NUMBERS]
    return out[keep].dropna(subset=["owner_rep_id"]).reset_index(drop=True)


def with_conduct(deals: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """`deals` with the conduct measures joined on."""
    return deals.merge(deal_conduct(activities, deals), on="opportunity_id", how="left")

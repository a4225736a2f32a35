"""Seeded contract tables for the serving tests: reps, accounts, open and closed deals, stages,
cases, NPS and service activities, plus the closed deals' last feature rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_ACCOUNTS, N_DEALS = 40, 30
SEGMENTS = ["smb", "mid_market", "enterprise"]
SALES_REPS = ["r1", "r2", "r3", "r4", "r5", "r6"]
# Deal touches per rep: r1 touches deals most and (touches raising the win chance) wins most.
REP_TOUCHES = dict(zip(SALES_REPS, [12, 10, 8, 6, 4, 2], strict=True))
N_CLOSED = 120
STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation"]


def closed_deals_frame() -> pd.DataFrame:
    """Closed deals C000..C119: owner, touches (by rep), outcome drawn from the touches."""
    rng = np.random.default_rng(40)
    i = np.arange(N_CLOSED)
    owner = np.array(SALES_REPS)[i % len(SALES_REPS)]
    touches = rng.poisson([REP_TOUCHES[o] for o in owner]).astype(float)
    won = rng.random(N_CLOSED) < 1 / (1 + np.exp(-(-2.5 + 0.4 * touches)))
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(i, unit="D")
    return pd.DataFrame(
        {
            "opportunity_id": [f"C{k:03d}" for k in i],
            "account_id": [f"A{k % N_ACCOUNTS:03d}" for k in i],
            "owner_rep_id": owner,
            "source_rep_id": np.where(i % 4 == 0, "s1", None),
            "type": np.where(i % 3 == 0, "upsell", "new_business"),
            "amount": 10_000.0 * (1 + i % 5),
            "outcome": np.where(won, "won", "lost"),
            "created_at": created,
            "closed_at": created + pd.Timedelta(days=60),
            "touches": touches,
            "silence": rng.exponential(10, N_CLOSED).round(1),
        }
    )


def closed_deal_features() -> pd.DataFrame:
    deals = closed_deals_frame()
    rng = np.random.default_rng(41)
    return pd.DataFrame(
        {
            "opportunity_id": deals["opportunity_id"],
            "days_since_last_touch": rng.exponential(20, N_CLOSED).round(1),
            "open_cases": rng.poisson(1.5, N_CLOSED).astype(float),
            "segment": [SEGMENTS[int(a[1:]) % 3] for a in deals["account_id"]],
            "cutoff": deals["created_at"] + pd.Timedelta(days=30),
            "account_id": deals["account_id"],
            "snapshot": "cutoff",
            "deal_touches_30d": deals["touches"],
            "days_since_last_deal_touch": deals["silence"],
        }
    )


# Per sales rep: contacts engaged per deal, whether they reach the decision maker, follow-up days.
REP_STYLE = {
    "r1": (3, True, 0.5),
    "r2": (3, True, 1.0),
    "r3": (2, False, 1.0),
    "r4": (1, True, 4.0),
    "r5": (1, False, 6.0),
    "r6": (1, False, 8.0),
}


def deal_activities(opportunities: pd.DataFrame) -> pd.DataFrame:
    """Each deal's calls (one per contact engaged, the first reaching the decision maker when
    the owner does), a meeting and its follow-up email; open deals O005+ are last touched at
    opening (stale by the scoring dates)."""
    rows = []
    for deal in opportunities.itertuples():
        contacts, dm, follow = REP_STYLE[deal.owner_rep_id]
        start = deal.created_at + pd.Timedelta(days=1)
        for k in range(contacts):
            rows.append((deal, "call", f"{deal.account_id}-C{k:02d}", dm and k == 0, start, 480.0))
        meeting = start + pd.Timedelta(days=2)
        rows.append((deal, "meeting", f"{deal.account_id}-C00", False, meeting, 1800.0))
        fup = meeting + pd.Timedelta(days=follow)
        rows.append((deal, "email", f"{deal.account_id}-C00", False, fup, None))
    frame = pd.DataFrame(
        [
            {
                "opportunity_id": d.opportunity_id,
                "account_id": d.account_id,
                "rep_id": d.owner_rep_id,
                "type": kind,
                "contact_id": contact,
                "reached_decision_maker": reached,
                "direction": "outbound",
                "outcome": "connected" if kind == "call" else "sent",
                "objective": "follow_up" if kind == "email" else "discovery",
                "duration_s": seconds,
                "occurred_at": at,
            }
            for d, kind, contact, reached, at, seconds in rows
        ]
    )
    recent = frame["opportunity_id"].isin([f"O{k:03d}" for k in range(5)])
    return frame.assign(occurred_at=frame["occurred_at"].where(~recent, pd.Timestamp("2026-09-25")))


def contract_tables() -> dict[str, pd.DataFrame]:
    """reps, accounts, opportunities (open O*, closed C*), stages, cases, nps, activities."""
    reps = pd.DataFrame(
        {
            "rep_id": ["m1", *SALES_REPS, "s1", "s2"],
            "team": ["sales"] * 7 + ["service"] * 2,
            "manager_id": [None, *["m1"] * 6, None, "s1"],
        }
    )
    a = np.arange(N_ACCOUNTS)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{k:03d}" for k in a],
            "created_at": pd.Timestamp("2025-01-01"),
            "segment": [SEGMENTS[k % 3] for k in a],
            "owner_rep_id": [SALES_REPS[k % 6] for k in a],
            "arr": 1000.0 * (a + 1),
            "churned_at": [pd.Timestamp("2026-06-01") if k % 10 == 9 else pd.NaT for k in a],
        }
    )
    closed = closed_deals_frame().drop(columns=["touches", "silence"])
    o = np.arange(N_DEALS)
    open_deals = pd.DataFrame(
        {
            "opportunity_id": [f"O{k:03d}" for k in o],
            "account_id": [f"A{k % N_ACCOUNTS:03d}" for k in o],
            "owner_rep_id": [SALES_REPS[k % 6] for k in o],
            "source_rep_id": np.where(o % 3 == 0, "s1", None),
            "type": "new_business",
            "amount": 20_000.0,
            "outcome": "open",
            "created_at": pd.Timestamp("2026-08-01"),
            "closed_at": pd.NaT,
        }
    )
    opportunities = pd.concat([closed, open_deals], ignore_index=True)
    stages = []
    for k, row in enumerate(closed.itertuples()):
        reached = len(STAGES) if row.outcome == "won" else 1 + k % 4
        stages += [(row.opportunity_id, s, row.created_at) for s in STAGES[:reached]]
    stages += [(f"O{k:03d}", s, pd.Timestamp("2026-08-01")) for k in o for s in STAGES[:2]]
    c = np.arange(60)
    opened = pd.Timestamp("2026-06-01") + pd.to_timedelta(c * 2, unit="D")
    cases = pd.DataFrame(
        {
            "case_id": [f"K{k:03d}" for k in c],
            "account_id": [f"A{k % N_ACCOUNTS:03d}" for k in c],
            "opened_at": opened,
            "closed_at": opened + pd.to_timedelta(1 + c % 5, unit="h"),
            "rep_id": np.where(c % 2 == 0, "s1", "s2"),
            "first_contact_resolved": c % 3 != 0,
            "csat": np.where(c % 3 != 0, 5.0, 2.0),
            "escalated": c % 7 == 0,
        }
    )
    nps = pd.DataFrame(
        {
            "account_id": [f"A{k:03d}" for k in a],
            "score": a % 11,
            "responded_at": pd.Timestamp("2026-05-01"),
        }
    )
    touched = closed[closed.index % 4 == 2]
    service = pd.DataFrame(
        {
            "account_id": touched["account_id"],
            "rep_id": "s2",
            "type": "call",
            "duration_s": 600.0,
            "occurred_at": touched["created_at"] - pd.Timedelta(days=10),
        }
    )
    support = cases[["account_id", "rep_id"]].assign(
        type="call", duration_s=900.0, occurred_at=cases["opened_at"]
    )
    activities = pd.concat([service, support, deal_activities(opportunities)], ignore_index=True)
    return {
        "reps": reps,
        "accounts": accounts,
        "opportunities": opportunities,
        "opportunity_stages": pd.DataFrame(
            stages, columns=["opportunity_id", "stage", "entered_at"]
        ),
        "cases": cases,
        "nps": nps,
        "activities": activities,
    }

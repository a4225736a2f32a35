"""The leakage audit: what the CRM looked like at a cutoff, to check features against.

How late logging is handled: an activity counts for a cutoff only if it happened *and* was
logged before the cutoff (`max(occurred_at, logged_at) < cutoff`). Outcome fields count only from
the moment they happened: a case's `closed_at`, `first_contact_resolved`, `csat` and `escalated`
from its `closed_at`; a deal's `outcome` and `closed_at` from its `closed_at`; an account's
`churned_at` from itself. `truncate_at` rebuilds the export as it stood at the cutoff; features
computed on it must equal features computed on the full data (the point-in-time test).
"""

from __future__ import annotations

import pandas as pd

from features.backends import normalise_tables


def _before(frame: pd.DataFrame, column: str, cutoff: pd.Timestamp) -> pd.DataFrame:
    return frame[frame[column] < cutoff]


def _blank_unless_known(
    frame: pd.DataFrame, when: str, columns: list[str], cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Null `columns` on rows whose `when` is not before the cutoff."""
    out = frame.copy()
    unknown = ~(out[when] < cutoff)
    for column in columns:
        out[column] = out[column].mask(unknown)
    return out


def truncate_at(tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The contract tables as they would have looked just before `cutoff`."""
    t = normalise_tables(tables)
    cutoff = pd.Timestamp(cutoff)
    out: dict[str, pd.DataFrame] = {}
    acc = _before(t["accounts"], "created_at", cutoff)
    out["accounts"] = _blank_unless_known(acc, "churned_at", ["churned_at"], cutoff)
    acts = t["activities"]
    seen = (
        acts["logged_at"]
        .fillna(acts["occurred_at"])
        .where(
            acts["logged_at"].fillna(acts["occurred_at"]) > acts["occurred_at"], acts["occurred_at"]
        )
    )
    out["activities"] = acts[seen < cutoff]
    if "reps" in t:
        out["reps"] = t["reps"]
    if "opportunities" in t:
        opp = _before(t["opportunities"], "created_at", cutoff)
        opp = _blank_unless_known(opp, "closed_at", ["closed_at"], cutoff)
        opp["outcome"] = opp["outcome"].where(opp["closed_at"].notna(), "open")
        out["opportunities"] = opp
    if "opportunity_stages" in t:
        out["opportunity_stages"] = _before(t["opportunity_stages"], "entered_at", cutoff)
    if "cases" in t:
        outcome = ["closed_at", "first_contact_resolved", "csat", "escalated"]
        cases = _before(t["cases"], "opened_at", cutoff)
        out["cases"] = _blank_unless_known(cases, "closed_at", outcome, cutoff)
    if "nps" in t:
        out["nps"] = _before(t["nps"], "responded_at", cutoff)
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}

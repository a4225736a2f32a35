"""Render simulated arrays as the contract tables (string ids, words, naive-UTC timestamps)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.contract import ACTIVITY_TYPES, OPPORTUNITY_TYPES, OUTCOMES, TABLES
from data.simulator import events as E
from data.simulator.config import (
    CASE_CHANNELS,
    CASE_PRIORITIES,
    CONTACT_ROLES,
    INDUSTRIES,
    REGIONS,
    SEGMENTS,
)
from data.simulator.deals import Deals
from data.simulator.people import Accounts

TIMESTAMP = "datetime64[us]"


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + zero-padded numbers, e.g. ids("ACC-", [7], 6) -> "ACC-000007"."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def pick(values: pa.Array | tuple[str, ...], index: np.ndarray) -> pd.Series:
    """`values[index]` as a string column; a negative index gives null."""
    index = np.asarray(index, np.int64)
    taken = pa.array(values, pa.string()).take(pa.array(index, mask=index < 0))
    return taken.to_pandas()


def timestamps(days: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Float days since `origin` -> naive-UTC timestamps, floored to the second (nan -> NaT)."""
    seconds = np.floor(np.asarray(days, np.float64) * 86400)
    out = np.full(len(seconds), np.datetime64("NaT"), dtype=TIMESTAMP)
    ok = np.isfinite(seconds)
    out[ok] = origin + seconds[ok].astype(np.int64).astype("timedelta64[s]")
    return out


def nullable_bool(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.asarray(values, bool), ~np.asarray(known, bool))


def frame(table: str, columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame with exactly the contract's columns, in contract order."""
    return pd.DataFrame({name: columns[name] for name in TABLES[table].names})


def accounts_frame(
    a: Accounts,
    owner: np.ndarray,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    churn_day: np.ndarray,
    origin: np.datetime64,
) -> pd.DataFrame:
    """`churn_day` is nan for customers (including those whose notice runs past the export)."""
    return frame(
        "accounts",
        {
            "account_id": account_ids.to_pandas(),
            "created_at": timestamps(a.created_day, origin),
            "segment": pick(SEGMENTS, a.segment),
            "industry": pick(INDUSTRIES, a.industry),
            "region": pick(REGIONS, a.region),
            "owner_rep_id": pick(rep_ids, owner),
            "arr": a.arr,
            "churned_at": timestamps(churn_day, origin),
        },
    )


def activities_frame(
    ev: E.Events,
    activity_ids: pa.Array,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    opp_ids: pa.Array,
    occurred: np.ndarray,
    logged: np.ndarray,
) -> pd.DataFrame:
    """`ev["acc"]`, `ev["rep"]`, `ev["opp"]` index into the id arrays."""
    contact = ev["contact"].astype(np.int64)
    has_contact = contact >= 0
    digits = pc.utf8_lpad(pc.cast(pa.array(contact, mask=~has_contact), pa.string()), 2, "0")
    acc_ids = account_ids.take(pa.array(ev["acc"]))
    return frame(
        "activities",
        {
            "activity_id": activity_ids.to_pandas(),
            "account_id": acc_ids.to_pandas(),
            "occurred_at": occurred,
            "type": pick(ACTIVITY_TYPES, ev["type"]),
            "opportunity_id": pick(opp_ids, ev["opp"]),
            "rep_id": pick(rep_ids, ev["rep"]),
            "contact_id": pc.binary_join_element_wise(acc_ids, digits, "-C").to_pandas(),
            "contact_role": pick(
                CONTACT_ROLES,
                np.where(has_contact, np.minimum(contact, len(CONTACT_ROLES) - 1), -1),
            ),
            "direction": pick(E.DIRECTION_WORDS, ev["direction"]),
            "duration_s": ev["duration"],
            "outcome": pick(E.OUTCOME_WORDS, ev["outcome"]),
            "reached_decision_maker": nullable_bool(ev["dm"] == 1, ev["dm"] >= 0),
            "objective": pick(E.OBJECTIVES, ev["objective"]),
            "rating": ev["rating"],
            "amount": np.full(len(contact), np.nan),
            "logged_at": logged,
        },
    )


def cases_frame(
    c: dict[str, np.ndarray],
    case_ids: pa.Array,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    origin: np.datetime64,
    end_day: float,
) -> pd.DataFrame:
    """Cases still open at the export date have no close time and no outcome fields."""
    closed = c["closed"] < end_day
    return frame(
        "cases",
        {
            "case_id": case_ids.to_pandas(),
            "account_id": pick(account_ids, c["acc"]),
            "opened_at": timestamps(c["opened"], origin),
            "closed_at": timestamps(np.where(closed, c["closed"], np.nan), origin),
            "rep_id": pick(rep_ids, c["rep"]),
            "channel": pick(CASE_CHANNELS, c["channel"]),
            "priority": pick(CASE_PRIORITIES, c["priority"]),
            "first_contact_resolved": nullable_bool(c["fcr"], closed),
            "csat": np.where(closed, c["csat"], np.nan),
            "escalated": nullable_bool(c["escalated"], closed),
        },
    )


def nps_frame(
    n: dict[str, np.ndarray], account_ids: pa.Array, origin: np.datetime64
) -> pd.DataFrame:
    return frame(
        "nps",
        {
            "account_id": pick(account_ids, n["acc"]),
            "responded_at": timestamps(n["t"], origin),
            "score": n["score"],
        },
    )


def opportunities_frame(
    d: Deals,
    opp_ids: pa.Array,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    origin: np.datetime64,
) -> pd.DataFrame:
    return frame(
        "opportunities",
        {
            "opportunity_id": opp_ids.to_pandas(),
            "account_id": pick(account_ids, d.acc),
            "created_at": timestamps(d.opened, origin),
            "owner_rep_id": pick(rep_ids, d.owner),
            "type": pick(OPPORTUNITY_TYPES, d.kind),
            "amount": d.amount,
            "closed_at": timestamps(d.closed, origin),
            "outcome": pick(OUTCOMES, d.outcome),
            "source_rep_id": pick(rep_ids, d.source),
        },
    )


def stages_frame(
    s: dict[str, np.ndarray],
    opp_ids: pa.Array,
    stage_order: tuple[str, ...],
    origin: np.datetime64,
) -> pd.DataFrame:
    return frame(
        "opportunity_stages",
        {
            "opportunity_id": pick(opp_ids, s["opp"]),
            "stage": pick(stage_order, s["stage"]),
            "entered_at": timestamps(s["t"], origin),
        },
    )

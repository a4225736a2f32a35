"""Orchestration: staff once, then accounts in seeded chunks, each rendered as contract tables."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from data.contract import TABLES
from data.simulator import events as E
from data.simulator import tables as T
from data.simulator.accounts_life import live
from data.simulator.config import SimConfig
from data.simulator.deals import make_deals
from data.simulator.effects import CHURN_FRAILTY_SD
from data.simulator.export import PLANTED_KEY
from data.simulator.people import (
    Accounts,
    Staff,
    make_accounts,
    make_staff,
    planted_records,
    reps_frame,
)

STAGE_ORDER = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation")


def _logged_days(rng: np.random.Generator, ev: E.Events, staff: Staff) -> np.ndarray:
    """Logged right after the activity ends, or (per the rep's habit) 0.5-10+ days later."""
    n = len(ev["t"])
    late = rng.random(n) < staff.late_logging[ev["rep"]]
    done = ev["t"] + np.nan_to_num(ev["duration"]) / 86400 + rng.uniform(0, 0.01, n)
    return done + np.where(late, 0.5 + rng.exponential(3.0, n), 0.0)


def _sorted(ev: E.Events, logged: np.ndarray, end_day: float) -> tuple[E.Events, np.ndarray]:
    """Drop records not yet logged at the export date; order by account, then time."""
    keep = logged < end_day
    ev, logged = E.select(ev, keep), logged[keep]
    order = np.lexsort((ev["t"], ev["acc"]))
    return E.select(ev, order), logged[order]


def _before(days: np.ndarray, end_day: float) -> np.ndarray:
    """Days before the export date; later ones (not yet happened) become nan."""
    return np.where(days < end_day, days, np.nan)


class Offsets:
    """Running counts so ids stay unique across chunks."""

    def __init__(self) -> None:
        self.activities = self.cases = self.opportunities = 0

    def take(self, kind: str, n: int) -> np.ndarray:
        first = getattr(self, kind)
        setattr(self, kind, first + n)
        return np.arange(first, first + n)


def _chunk_tables(
    rng: np.random.Generator,
    a: Accounts,
    staff: Staff,
    rep_ids: pa.Array,
    off: Offsets,
    cfg: SimConfig,
    stage_order: tuple[str, ...],
) -> dict[str, pd.DataFrame]:
    life = live(rng, a, staff, cfg)
    deals = make_deals(rng, life.deals, a, staff, life.churn_day, cfg)
    opp_ids = T.ids("OPP-", off.take("opportunities", len(deals.acc)), 8)
    ev = E.concat([life.events, deals.events | {"opp": deals.events["opp"]}])
    ev["rep"] = staff.acting(ev["rep"], ev["t"])  # nobody works after they left
    ev, logged = _sorted(ev, _logged_days(rng, ev, staff), cfg.end_day)
    account_ids = T.ids("ACC-", a.first + np.arange(len(a)), 7)
    o = cfg.origin
    owner_now = staff.acting(a.owner, cfg.end_day)  # the CRM shows the current owner
    return {
        "accounts": T.accounts_frame(
            a, owner_now, account_ids, rep_ids, _before(life.churn_day, cfg.end_day), o
        ),
        "opportunities": T.opportunities_frame(deals, opp_ids, account_ids, rep_ids, o),
        "opportunity_stages": T.stages_frame(deals.stages, opp_ids, stage_order, o),
        "activities": T.activities_frame(
            ev,
            T.ids("ACT-", off.take("activities", len(ev["t"])), 9),
            account_ids,
            rep_ids,
            opp_ids,
            T.timestamps(ev["t"], o),
            T.timestamps(logged, o),
        ),
        "cases": T.cases_frame(
            life.cases,
            T.ids("CASE-", off.take("cases", len(life.cases["acc"])), 8),
            account_ids,
            rep_ids,
            o,
            cfg.end_day,
        ),
        "nps": T.nps_frame(life.nps, account_ids, o),
    }


def simulate_chunks(
    n_accounts: int,
    seed: int = 7,
    *,
    months: int = 30,
    start: str = "2023-01-01",
    chunk_accounts: int = 5_000,
    stage_order: tuple[str, ...] = STAGE_ORDER,
) -> Iterator[dict[str, pd.DataFrame]]:
    """The export in pieces: the first piece holds `reps` (and `planted_reps`, the planted sales
    reps as a frame, see `staffing.PLANTED`), every piece a slice of accounts with all their rows.
    Same arguments -> identical output."""
    if n_accounts < 1:
        raise ValueError(f"n_accounts must be at least 1, got {n_accounts}")
    cfg = SimConfig(start=start, months=months, chunk_accounts=chunk_accounts)
    firsts = range(0, n_accounts, chunk_accounts)
    staff_seed, *seeds = np.random.SeedSequence(seed).spawn(1 + len(firsts))
    staff = make_staff(n_accounts, np.random.default_rng(staff_seed), cfg)
    rep_ids = T.ids("REP-", np.arange(len(staff.team)), 5)
    ids = rep_ids.to_numpy(zero_copy_only=False)
    planted = pd.DataFrame(
        planted_records(staff, ids), columns=["rep_id", "flaw", "behaviour", "stage", "description"]
    )
    yield {"reps": reps_frame(staff, ids, cfg.origin), PLANTED_KEY: planted}
    off = Offsets()
    for first, chunk_seed in zip(firsts, seeds, strict=True):
        rng = np.random.default_rng(chunk_seed)
        n = min(chunk_accounts, n_accounts - first)
        a = make_accounts(first, n, staff, rng, cfg, CHURN_FRAILTY_SD)
        yield _chunk_tables(rng, a, staff, rep_ids, off, cfg, stage_order)


def empty_table(name: str) -> pd.DataFrame:
    """A contract table the simulator does not produce (it records churn on `accounts`)."""
    from data.simulator.export import arrow_schema

    return arrow_schema(TABLES[name]).empty_table().to_pandas()


def simulate(n_accounts: int, seed: int = 7, **options) -> dict[str, pd.DataFrame]:
    """All contract tables for `n_accounts` accounts (see `simulate_chunks` for options)."""
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for chunk in simulate_chunks(n_accounts, seed, **options):
        for name, df in chunk.items():
            if name in parts:
                parts[name].append(df)
    return {
        name: pd.concat(dfs, ignore_index=True) if dfs else empty_table(name)
        for name, dfs in parts.items()
    }


def planted_reps(n_accounts: int, seed: int = 7, **options) -> pd.DataFrame:
    """The planted sales reps of that simulation: rep_id, flaw, behaviour, stage, description."""
    return next(iter(simulate_chunks(n_accounts, seed, **options)))[PLANTED_KEY]

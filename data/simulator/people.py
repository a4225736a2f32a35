"""Reps with behavioural styles, and accounts with their latent state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.simulator.config import INDUSTRIES, REGIONS, SEGMENT_SHARE, SEGMENTS, SimConfig
from data.simulator.staffing import PLANTED, attrition, planted_positions

TEAM_NAMES = ("sales", "service", "account_management")


@dataclass(frozen=True)
class Staff:
    """All reps as arrays indexed by rep position; `team` is an index into TEAM_NAMES."""

    team: np.ndarray
    manager: np.ndarray  # position of the manager, -1 for managers
    hired_day: np.ndarray
    is_manager: np.ndarray
    cadence: np.ndarray  # multiplier on how often the rep touches accounts
    call_minutes: np.ndarray  # typical connected-call length
    dm_reach: np.ndarray  # chance a connected call reaches the decision maker
    followup_days: np.ndarray  # typical delay from a meeting to the follow-up
    multithread: np.ndarray  # share of an account's contacts the rep works with
    connect_rate: np.ndarray  # chance a call connects
    fcr: np.ndarray  # service: chance a case is resolved at first contact
    escalation: np.ndarray  # service: chance a case escalates
    late_logging: np.ndarray  # chance an activity is logged days late
    planted: np.ndarray  # positions of the planted sales reps, in `staffing.PLANTED` order
    morale: np.ndarray  # (reps, months) log multiplier on the rep's activity that month
    left_day: np.ndarray  # day the rep left (inf while employed)
    successor: np.ndarray  # who took over the rep's book (the rep itself when they stay)
    month_starts: np.ndarray  # day offsets of the month starts (and the end)

    def workers(self, team: str) -> np.ndarray:
        """Positions of the non-manager reps of one team."""
        return np.flatnonzero((self.team == TEAM_NAMES.index(team)) & ~self.is_manager)

    def acting(self, rep: np.ndarray, day: np.ndarray | float) -> np.ndarray:
        """Who does the work of `rep` on `day`: the rep, or their successor once they left."""
        rep = np.asarray(rep)
        safe = np.maximum(rep, 0)
        moved = (rep >= 0) & (np.asarray(day) >= self.left_day[safe])
        return np.where(moved, self.successor[safe], rep)

    def activity(self, rep: np.ndarray, day: np.ndarray | float) -> np.ndarray:
        """The rep's morale multiplier on activity in the month of `day`."""
        month = np.searchsorted(self.month_starts, day, side="right") - 1
        month = np.clip(month, 0, self.morale.shape[1] - 1)
        return np.exp(self.morale[np.maximum(rep, 0), month])


def _team_sizes(n_accounts: int, cfg: SimConfig) -> dict[str, int]:
    return {
        "sales": max(2, -(-n_accounts // cfg.accounts_per_sales)),
        "service": max(2, -(-n_accounts // cfg.accounts_per_service)),
        "account_management": max(2, -(-n_accounts // cfg.accounts_per_am)),
    }


def _org_chart(n_accounts: int, cfg: SimConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Team, manager position and manager flag: per team, managers first, then their reps."""
    team, manager, is_manager = [], [], []
    for t, n_workers in enumerate(_team_sizes(n_accounts, cfg).values()):
        n_managers = -(-n_workers // cfg.reps_per_manager)
        first = len(team)
        team += [t] * (n_managers + n_workers)
        is_manager += [True] * n_managers + [False] * n_workers
        manager += [-1] * n_managers + [first + i % n_managers for i in range(n_workers)]
    return np.array(team), np.array(manager), np.array(is_manager)


def _styles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "cadence": rng.lognormal(0.0, 0.5, n),
        "call_minutes": rng.lognormal(np.log(8.0), 0.45, n),
        "dm_reach": rng.beta(2.0, 4.0, n),
        "followup_days": rng.lognormal(np.log(2.5), 0.75, n),
        "multithread": rng.beta(2.0, 3.0, n),
        "connect_rate": rng.beta(5.0, 5.0, n),
        "fcr": rng.beta(6.0, 3.0, n),
        "escalation": rng.beta(1.5, 12.0, n),
        "late_logging": rng.beta(1.5, 8.0, n),
    }


def _plant(styles: dict[str, np.ndarray], positions: np.ndarray) -> dict[str, np.ndarray]:
    """The planted reps' fixed styles over their drawn ones."""
    out = {k: v.copy() for k, v in styles.items()}
    for rep, planted in zip(positions, PLANTED, strict=False):
        for name, value in planted.style.items():
            out[name][rep] = value
    return out


def make_staff(n_accounts: int, rng: np.random.Generator, cfg: SimConfig) -> Staff:
    """Reps sized to the book of accounts, each drawn with its own behavioural style; the
    planted sales reps get theirs (`staffing.PLANTED`); morale and departures are drawn last."""
    team, manager, is_manager = _org_chart(n_accounts, cfg)
    n = len(team)
    hired_day = -rng.uniform(60, 3000, n).round()
    styles = _styles(rng, n)
    sales = np.flatnonzero((team == TEAM_NAMES.index("sales")) & ~is_manager)
    planted = planted_positions(sales)
    steady = np.isin(np.arange(n), planted)
    gone = attrition(rng, team, is_manager, hired_day, steady, cfg)
    return Staff(
        team=team,
        manager=manager,
        is_manager=is_manager,
        hired_day=hired_day,
        **_plant(styles, planted),
        planted=planted,
        morale=gone.morale,
        left_day=gone.left_day,
        successor=gone.successor,
        month_starts=cfg.month_starts,
    )


@dataclass(frozen=True)
class Accounts:
    """One chunk of accounts as arrays; `first` is the global position of the chunk's first one."""

    first: int
    segment: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    created_day: np.ndarray
    arr: np.ndarray
    n_contacts: np.ndarray
    owner: np.ndarray  # account manager (rep position)
    sales_rep: np.ndarray
    service_rep: np.ndarray
    surveyed: np.ndarray  # receives the quarterly NPS survey
    frailty: np.ndarray  # unobserved churn noise

    def __len__(self) -> int:
        return len(self.segment)


ARR_MEDIAN = np.array([12_000.0, 60_000.0, 250_000.0])
CONTACTS_BASE = np.array([2, 3, 5])
CONTACTS_EXTRA = np.array([1.0, 2.0, 4.0])


def _created_days(n: int, rng: np.random.Generator, cfg: SimConfig) -> np.ndarray:
    """65% were customers before the period starts; the rest join during it."""
    before = rng.random(n) < 0.65
    during = rng.uniform(0, cfg.end_day - 60, n)
    return np.where(before, -rng.uniform(30, 2500, n), during).round()


def make_accounts(
    first: int, n: int, staff: Staff, rng: np.random.Generator, cfg: SimConfig, frailty_sd: float
) -> Accounts:
    """A chunk of `n` accounts starting at global position `first`."""
    segment = rng.choice(len(SEGMENTS), n, p=SEGMENT_SHARE)
    sales = staff.workers("sales")
    return Accounts(
        first=first,
        segment=segment,
        industry=rng.integers(0, len(INDUSTRIES), n),
        region=rng.integers(0, len(REGIONS), n),
        created_day=_created_days(n, rng, cfg),
        arr=(ARR_MEDIAN[segment] * rng.lognormal(0, 0.6, n)).round(2),
        n_contacts=np.minimum(CONTACTS_BASE[segment] + rng.poisson(CONTACTS_EXTRA[segment]), 16),
        owner=rng.choice(staff.workers("account_management"), n),
        sales_rep=sales[_pick(rng, _book_shares(sales, staff.planted)[segment])],
        service_rep=rng.choice(staff.workers("service"), n),
        surveyed=rng.random(n) < 0.45,
        frailty=rng.normal(0, frailty_sd, n),
    )


def _book_shares(sales: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """(segment, sales rep): each rep's chance of getting an account of that segment. Planted
    reps carry bigger books, in their segments only."""
    weight = np.ones((len(SEGMENTS), len(sales)))
    for rep, p in zip(planted, PLANTED, strict=False):
        column = np.flatnonzero(sales == rep)[0]
        weight[:, column] = [p.book if s in p.segments else 0.0 for s in SEGMENTS]
    return weight / weight.sum(axis=1, keepdims=True)


def _pick(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """One column per row of `shares` (row-wise probabilities)."""
    u = rng.random(len(shares))[:, None]
    return np.minimum((u >= np.cumsum(shares, axis=1)).sum(axis=1), shares.shape[1] - 1)


def _days(days: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Day offsets as timestamps (inf -> NaT)."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[us]")
    ok = np.isfinite(days)
    out[ok] = origin + (days[ok] * 86400).astype("timedelta64[s]")
    return out


def reps_frame(staff: Staff, rep_ids: np.ndarray, origin: np.datetime64) -> pd.DataFrame:
    """The `reps` contract table; `left_at` for reps who left during the period."""
    manager = np.where(staff.manager >= 0, rep_ids[np.maximum(staff.manager, 0)], None)
    return pd.DataFrame(
        {
            "rep_id": rep_ids,
            "team": np.array(TEAM_NAMES)[staff.team],
            "hired_at": _days(staff.hired_day, origin),
            "manager_id": pd.array(manager, dtype="str"),
            "left_at": _days(staff.left_day, origin),
        }
    )


def planted_records(staff: Staff, rep_ids: np.ndarray) -> list[dict]:
    """The planted reps as plain dicts (the content of `planted_reps.json`)."""
    return [
        {
            "rep_id": str(rep_ids[rep]),
            "flaw": p.flaw,
            "behaviour": p.behaviour,
            "stage": p.stage,
            "description": p.description,
        }
        for rep, p in zip(staff.planted, PLANTED, strict=False)
    ]

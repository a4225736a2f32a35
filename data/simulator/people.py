"""Reps with behavioural styles, and accounts with their latent state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.simulator.config import INDUSTRIES, REGIONS, SEGMENT_SHARE, SEGMENTS, SimConfig

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

    def workers(self, team: str) -> np.ndarray:
        """Positions of the non-manager reps of one team."""
        return np.flatnonzero((self.team == TEAM_NAMES.index(team)) & ~self.is_manager)


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


def make_staff(n_accounts: int, rng: np.random.Generator, cfg: SimConfig) -> Staff:
    """Reps sized to the book of accounts, each drawn with its own behavioural style."""
    team, manager, is_manager = _org_chart(n_accounts, cfg)
    n = len(team)
    return Staff(
        team=team,
        manager=manager,
        is_manager=is_manager,
        hired_day=-rng.uniform(60, 3000, n).round(),
        cadence=rng.lognormal(0.0, 0.5, n),
        call_minutes=rng.lognormal(np.log(8.0), 0.45, n),
        dm_reach=rng.beta(2.0, 4.0, n),
        followup_days=rng.lognormal(np.log(2.5), 0.75, n),
        multithread=rng.beta(2.0, 3.0, n),
        connect_rate=rng.beta(5.0, 5.0, n),
        fcr=rng.beta(6.0, 3.0, n),
        escalation=rng.beta(1.5, 12.0, n),
        late_logging=rng.beta(1.5, 8.0, n),
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
    return Accounts(
        first=first,
        segment=segment,
        industry=rng.integers(0, len(INDUSTRIES), n),
        region=rng.integers(0, len(REGIONS), n),
        created_day=_created_days(n, rng, cfg),
        arr=(ARR_MEDIAN[segment] * rng.lognormal(0, 0.6, n)).round(2),
        n_contacts=np.minimum(CONTACTS_BASE[segment] + rng.poisson(CONTACTS_EXTRA[segment]), 16),
        owner=rng.choice(staff.workers("account_management"), n),
        sales_rep=rng.choice(staff.workers("sales"), n),
        service_rep=rng.choice(staff.workers("service"), n),
        surveyed=rng.random(n) < 0.45,
        frailty=rng.normal(0, frailty_sd, n),
    )


def reps_frame(staff: Staff, rep_ids: np.ndarray, origin: np.datetime64) -> pd.DataFrame:
    """The `reps` contract table."""
    manager = np.where(staff.manager >= 0, rep_ids[np.maximum(staff.manager, 0)], None)
    return pd.DataFrame(
        {
            "rep_id": rep_ids,
            "team": np.array(TEAM_NAMES)[staff.team],
            "hired_at": (origin + (staff.hired_day * 86400).astype("timedelta64[s]")).astype(
                "datetime64[us]"
            ),
            "manager_id": pd.array(manager, dtype="str"),
            "left_at": pd.Series(pd.NaT, index=range(len(rep_ids)), dtype="datetime64[us]"),
        }
    )

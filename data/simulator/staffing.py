"""Planted sales reps with known flaws, rep morale, and reps leaving (the true attrition effects).

Planted reps: when the sales team has at least `PLANTED_MIN_SALES` reps, its first reps get fixed
styles with one known flaw each (or none: the clean reps), a bigger book (`PlantedRep.book`) so
their figures are not lost in noise, steady morale, and they never leave. `planted_reps` lists
them; the export writes the list to `planted_reps.json`.

Morale: each rep has a monthly level (an AR(1) process) that multiplies how often they touch
accounts and deals; a slump lowers their activity for months, so their accounts go quieter and
their deals win less. Each month a rep may leave with the hazard `sigmoid(base + effects)` of the
rep-attrition effects (`ATTRITION_EFFECTS`): an activity slump and a short tenure. A rep who leaves
hands their accounts, deals and cases to a successor in the same team who stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.simulator.config import SimConfig
from data.simulator.effects import ATTRITION_BASE_LOGIT, ATTRITION_EFFECTS, logit, sigmoid


@dataclass(frozen=True)
class PlantedRep:
    """A sales rep whose style is fixed: the behaviour that is off (None for a clean rep)."""

    flaw: str  # short name; "clean" for a rep with no flaw
    behaviour: str | None  # the deal-win behaviour that is off (see effects.WIN_EFFECTS)
    stage: str | None  # the stage where the flaw shows most, when it is stage-specific
    description: str
    style: dict[str, float]
    segments: tuple[str, ...] = ("smb", "mid_market", "enterprise")  # the book's segments
    book: float = 3.5  # share of the segments' accounts relative to an ordinary sales rep


# Styles use the Staff fields; unspecified fields keep the rep's drawn value.
_STRONG = {"cadence": 2.0, "call_minutes": 12.0, "connect_rate": 0.7}
PLANTED: tuple[PlantedRep, ...] = (
    PlantedRep(
        "single_threaded",
        "distinct_contacts",
        "Proposal",
        "A strong mid-market and enterprise rep (frequent, long calls, reaches the decision "
        "maker, follows up the same day) whose deals stay single-threaded: they sail through the "
        "early stages and stall at Proposal.",
        _STRONG | {"dm_reach": 0.85, "followup_days": 0.5, "multithread": 0.02},
        ("mid_market", "enterprise"),
        book=8.0,
    ),
    PlantedRep(
        "slow_follow_up",
        "followup_delay_days",
        None,
        "A strong closer (frequent, long calls, multi-threads, reaches the decision maker) who "
        "follows up meetings a week or more later.",
        _STRONG | {"dm_reach": 0.8, "followup_days": 6.0, "multithread": 0.85},
    ),
    PlantedRep(
        "no_decision_maker",
        "decision_maker_reached",
        None,
        "A rep who does everything else that wins deals but never reaches the decision maker.",
        _STRONG | {"dm_reach": 0.0, "followup_days": 0.8, "multithread": 0.85},
    ),
    *(
        PlantedRep(
            "clean",
            None,
            None,
            "A rep who does everything that wins deals: frequent, long calls, multi-threads, "
            "reaches the decision maker, follows up within a day.",
            _STRONG | {"dm_reach": 0.6, "followup_days": 0.8, "multithread": 0.85} | extra,
        )
        for extra in ({}, {"connect_rate": 0.6}, {"call_minutes": 11.0})
    ),
)
PLANTED_MIN_SALES = 8


def planted_positions(sales: np.ndarray) -> np.ndarray:
    """Positions of the planted sales reps (the team's first ones; none in a small team)."""
    return sales[: len(PLANTED)] if len(sales) >= PLANTED_MIN_SALES else sales[:0]


# ------------------------------------------------------------------ morale and attrition

MORALE_BURN_IN = 12  # months simulated before the period, so trends exist from its start
MORALE_PERSISTENCE = 0.85
MORALE_SD = 0.15
ATTRITION_FIRST_MONTH = 1
SERVICE = 1  # index of the service team in people.TEAM_NAMES


@dataclass(frozen=True)
class Attrition:
    morale: np.ndarray  # (reps, months): log multiplier on the rep's activity
    left_day: np.ndarray  # day the rep left (inf while employed)
    successor: np.ndarray  # who takes over the rep's book (the rep itself when they stay)


def morale_paths(rng: np.random.Generator, n: int, months: int) -> np.ndarray:
    """(n, burn-in + months) AR(1) levels; a run of bad months is a slump."""
    total = MORALE_BURN_IN + months
    level = np.zeros((n, total))
    level[:, 0] = rng.normal(0, MORALE_SD / np.sqrt(1 - MORALE_PERSISTENCE**2), n)
    shocks = rng.normal(0, MORALE_SD, (n, total))
    for m in range(1, total):
        level[:, m] = MORALE_PERSISTENCE * level[:, m - 1] + shocks[:, m]
    return level


def attrition_behaviour(
    activity: np.ndarray, m: int, hired_day: np.ndarray, month_start: float
) -> dict[str, np.ndarray]:
    """What the attrition hazard reads at the start of month `m` (index into `activity`, which
    includes the burn-in): the activity trend and the tenure in months."""
    recent = activity[:, m - 3 : m].mean(axis=1)
    before = activity[:, m - 9 : m - 3].mean(axis=1)
    return {
        "activity_trend": recent / before,
        "tenure_months": (month_start - hired_day) / 30.44,
    }


def attrition(
    rng: np.random.Generator,
    team: np.ndarray,
    is_manager: np.ndarray,
    hired_day: np.ndarray,
    steady: np.ndarray,
    cfg: SimConfig,
) -> Attrition:
    """Morale paths, who leaves when, and their successors. Managers and `steady` reps (the
    planted ones) keep a level morale and never leave; nor do service reps, whose work follows
    the cases customers open, so a slump would not show in it."""
    n, ms = len(team), cfg.month_starts
    level = morale_paths(rng, n, cfg.months)
    level[is_manager | steady] = 0.0
    activity = np.exp(level)
    left = np.full(n, np.inf)
    can_leave = ~is_manager & ~steady & (team != SERVICE)
    for m in range(ATTRITION_FIRST_MONTH, cfg.months):
        x = attrition_behaviour(activity, MORALE_BURN_IN + m, hired_day, ms[m])
        z = logit(ATTRITION_BASE_LOGIT, ATTRITION_EFFECTS, x)
        leaves = can_leave & np.isinf(left) & (rng.random(n) < sigmoid(z))
        day = ms[m] + rng.random(n) * (ms[m + 1] - ms[m])
        left = np.where(leaves, np.floor(day), left)
    return Attrition(
        level[:, MORALE_BURN_IN:], left, successors(rng, team, is_manager, left, steady)
    )


def successors(
    rng: np.random.Generator,
    team: np.ndarray,
    is_manager: np.ndarray,
    left: np.ndarray,
    steady: np.ndarray,
) -> np.ndarray:
    """For each leaver, a rep of the same team who stays (not a planted one, whose book stays
    as planted); the team's first manager when nobody stays. Stayers succeed themselves."""
    out = np.arange(len(team))
    for rep in np.flatnonzero(np.isfinite(left)):
        same = team == team[rep]
        pool = np.flatnonzero(same & ~is_manager & np.isinf(left) & ~steady)
        if len(pool) == 0:
            pool = np.flatnonzero(same & is_manager)[:1]
        out[rep] = rng.choice(pool)
    return out

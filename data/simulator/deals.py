"""Opportunities: each deal draws its behaviour from the owner rep's style, generates its
activities, then wins or loses from those activities (the true deal-win effects), then walks
its stage history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.simulator import events as E
from data.simulator.config import SimConfig
from data.simulator.effects import WIN_BASE_LOGIT, WIN_EFFECTS, WIN_NOISE_SD, logit, sigmoid
from data.simulator.people import Accounts, Staff

NEW_BUSINESS, UPSELL, CROSS_SELL, RENEWAL, OTHER = range(5)
DEAL_DAYS = np.array([40.0, 70.0, 110.0])  # median length by segment
AMOUNT_SHARE = np.array([[0.8, 1.2], [0.1, 0.4], [0.2, 0.5], [0.9, 1.1], [0.05, 0.2]])
ACTIVITY_MIX = ("call", "email", "meeting", "demo")
ACTIVITY_SHARE = (0.45, 0.35, 0.12, 0.08)
WON, LOST, OPEN = 0, 1, 2  # indexes into the contract's OUTCOMES
N_STAGES = 5


@dataclass(frozen=True)
class Deals:
    """A chunk's deals (arrays by deal), their activities and stage history."""

    acc: np.ndarray
    kind: np.ndarray
    owner: np.ndarray
    source: np.ndarray
    opened: np.ndarray
    closed: np.ndarray  # nan while open
    outcome: np.ndarray
    amount: np.ndarray
    events: E.Events  # `opp` holds the chunk-local deal index
    stages: dict[str, np.ndarray]  # opp, stage (index into the stage order), t


def _owners(
    rng: np.random.Generator,
    kind: np.ndarray,
    acc: np.ndarray,
    opened: np.ndarray,
    a: Accounts,
    staff: Staff,
) -> tuple[np.ndarray, np.ndarray]:
    """Sales owns new business, account managers renewals; upsell/cross-sell go to either (the
    rep in post when the deal opens: a successor once the account's rep has left).

    A quarter of upsell and cross-sell deals were sourced by the account's service rep.
    """
    either = (kind == UPSELL) | (kind == CROSS_SELL)
    to_sales = (kind == NEW_BUSINESS) | (either & (rng.random(len(kind)) < 0.5))
    owner = staff.acting(np.where(to_sales, a.sales_rep[acc], a.owner[acc]), opened)
    by_service = either & (rng.random(len(kind)) < 0.25)
    return owner, np.where(by_service, staff.acting(a.service_rep[acc], opened), owner)


@dataclass(frozen=True)
class DealStyle:
    """How each deal is worked: the owner's style with deal-level noise."""

    cadence: np.ndarray  # activities per week
    p_dm: np.ndarray
    threads: np.ndarray
    minutes: np.ndarray
    followup_days: np.ndarray


def deal_style(
    rng: np.random.Generator,
    owner: np.ndarray,
    opened: np.ndarray,
    n_contacts: np.ndarray,
    staff: Staff,
) -> DealStyle:
    n = len(owner)
    morale = staff.activity(owner, opened)
    cadence = 1.5 * staff.cadence[owner] * morale * rng.lognormal(0, 0.35, n)
    p_dm = np.clip(staff.dm_reach[owner] * rng.lognormal(0, 0.4, n), 0, 0.95)
    p_thread = np.clip(staff.multithread[owner] * rng.lognormal(0, 0.3, n), 0.02, 0.98)
    return DealStyle(
        cadence=cadence,
        p_dm=p_dm,
        threads=1 + rng.binomial(n_contacts - 2, p_thread),
        minutes=staff.call_minutes[owner] * rng.lognormal(0, 0.25, n),
        followup_days=staff.followup_days[owner] * rng.lognormal(0, 0.3, n),
    )


def _touches(
    rng: np.random.Generator,
    word: str,
    d: np.ndarray,
    acc: np.ndarray,
    t: np.ndarray,
    rep: np.ndarray,
    style: DealStyle,
    staff: Staff,
) -> E.Events:
    """Deal activities of one kind; `d` is each activity's deal."""
    if word == "call":
        return E.calls(
            rng,
            acc,
            t,
            rep,
            p_connect=staff.connect_rate[rep],
            p_dm=style.p_dm[d],
            minutes=style.minutes[d],
            threads=style.threads[d],
            objective="discovery",
            opp=d,
        )
    if word == "email":
        return E.emails(rng, acc, t, rep, threads=style.threads[d], objective="negotiation", opp=d)
    return E.meetings(
        rng,
        acc,
        t,
        rep,
        p_dm=style.p_dm[d],
        threads=style.threads[d],
        satisfaction=np.zeros(len(d)),
        kind=word,
        objective="discovery" if word == "meeting" else "demo",
        opp=d,
    )


def _deal_events(
    rng: np.random.Generator,
    deal_acc: np.ndarray,
    owner: np.ndarray,
    opened: np.ndarray,
    days: np.ndarray,
    a: Accounts,
    staff: Staff,
) -> tuple[E.Events, np.ndarray, np.ndarray]:
    """The deal's calls, emails, meetings and demos, with one follow-up per meeting/demo.

    Returns the events, the meetings' deal index and their follow-up delays.
    """
    style = deal_style(rng, owner, opened, a.n_contacts[deal_acc], staff)
    d = E.explode(np.arange(len(owner)), 1 + rng.poisson(style.cadence * days / 7))
    t = np.maximum(E.working_hours(opened[d] + rng.random(len(d)) * days[d]), opened[d])
    kind = rng.choice(len(ACTIVITY_MIX), len(d), p=ACTIVITY_SHARE)
    parts = [
        _touches(rng, word, d[s], deal_acc[d[s]], t[s], owner[d[s]], style, staff)
        for word, s in ((w, kind == k) for k, w in enumerate(ACTIVITY_MIX))
    ]
    met = E.concat(parts[2:])
    fups, delay = E.followups(rng, met, style.followup_days[met["opp"]])
    return E.concat([*parts, fups]), met["opp"], delay


def win_behaviour(
    ev: E.Events,
    met_opp: np.ndarray,
    delay: np.ndarray,
    days: np.ndarray,
    kind: np.ndarray,
    sourced_by_service: np.ndarray,
    amount: np.ndarray,
) -> dict[str, np.ndarray]:
    """The deal-win effects' behaviours, measured on the deal's generated activities."""
    n, opp = len(days), ev["opp"]
    conn = ev["outcome"] == E.code(E.OUTCOME_WORDS, "connected")
    n_conn = np.bincount(opp[conn], minlength=n)
    conn_s = np.bincount(opp[conn], ev["duration"][conn], minlength=n)
    n_met = np.bincount(met_opp, minlength=n)
    fu_sum = np.bincount(met_opp, np.minimum(delay, 21), minlength=n)
    contacts = np.zeros(n, np.int64)
    has = ev["contact"] >= 0
    np.bitwise_or.at(contacts, opp[has], np.int64(1) << ev["contact"][has])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "decision_maker_reached": (np.bincount(opp[ev["dm"] == 1], minlength=n) > 0) * 1.0,
            "distinct_contacts": np.bitwise_count(contacts).astype(float),
            "followup_delay_days": np.where(n_met > 0, fu_sum / n_met, 0.0),
            "connected_call_minutes": np.where(n_conn > 0, conn_s / n_conn / 60, 0.0),
            "activities_per_week": np.bincount(opp, minlength=n) / (days / 7),
            "sourced_by_service": sourced_by_service * 1.0,
            "renewal": (kind == RENEWAL) * 1.0,
            "deal_amount": amount,
        }


def _group_position(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal, sorted `group` values."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    return np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))


# A single-threaded deal at an account with a buying committee (at least COMMITTEE contacts) that
# is not won gets stuck at Proposal (stage 4), and most such deals (GATE_STALL) get that far and
# stall there: they looked healthy until the committee had to sign off.
COMMITTEE, GATE_STAGE, GATE_STALL = 4, 4, 0.9


def single_threaded(x: dict[str, np.ndarray], committee: np.ndarray) -> np.ndarray:
    """The deal engaged at most one contact besides the decision maker, at an account with a
    buying committee."""
    others = x["distinct_contacts"] - x["decision_maker_reached"]
    return (others < 2) & (committee >= COMMITTEE)


def stage_history(
    rng: np.random.Generator,
    outcome: np.ndarray,
    opened: np.ndarray,
    days: np.ndarray,
    gated: np.ndarray,
) -> dict[str, np.ndarray]:
    """Won deals pass every stage; lost and open ones stop part way. A `gated` (single-threaded)
    one stops no later than `GATE_STAGE`, and usually (`GATE_STALL`) right there. 15% of deals
    that reach a third stage slip back one stage and recover. Entry times are sorted within the
    deal's life."""
    n = len(outcome)
    stop = 1 + rng.binomial(N_STAGES - 1, 0.45, n)
    stalled = gated & (rng.random(n) < GATE_STALL)
    stop = np.where(stalled, GATE_STAGE, np.where(gated, np.minimum(stop, GATE_STAGE), stop))
    reached = np.where(outcome == WON, N_STAGES, stop)
    slips = (reached >= 3) & (rng.random(n) < 0.15)
    opp = E.explode(np.arange(n), reached + 2 * slips)
    pos = _group_position(opp)
    top = reached[opp]
    stage = np.where(pos < top, pos, top - 2 + (pos - top))
    u = np.where(pos == 0, 0.0, rng.random(len(opp)) * 0.95)
    u = u[np.lexsort((u, opp))]  # sorted within each deal (groups are already contiguous)
    return {"opp": opp, "stage": stage, "t": opened[opp] + u * days[opp]}


def _amounts(rng: np.random.Generator, kind: np.ndarray, arr: np.ndarray) -> np.ndarray:
    low, high = AMOUNT_SHARE[kind, 0], AMOUNT_SHARE[kind, 1]
    return (arr * rng.uniform(low, high)).round(2)


def _close(
    won: np.ndarray, opened: np.ndarray, days: np.ndarray, churn_day: np.ndarray, end: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, close day (nan while open) and effective length: a churning customer's deals
    are lost on the churn day; deals still running at the export date are open."""
    due = opened + days
    churned = churn_day < due
    closed = np.where(churned, churn_day, due)
    outcome = np.where(churned, LOST, np.where(won, WON, LOST))
    still_open = closed >= end
    outcome = np.where(still_open, OPEN, outcome)
    return outcome, np.where(still_open, np.nan, closed), np.minimum(closed, end) - opened


def make_deals(
    rng: np.random.Generator,
    starts: dict[str, np.ndarray],
    a: Accounts,
    staff: Staff,
    churn_day: np.ndarray,
    cfg: SimConfig,
) -> Deals:
    """Deals for the chunk's deal starts (account, opening day, kind)."""
    acc, kind, opened = starts["acc"], starts["kind"], starts["t"]
    owner, source = _owners(rng, kind, acc, opened, a, staff)
    days = np.clip(rng.lognormal(np.log(DEAL_DAYS[a.segment[acc]]), 0.5), 14, 300).round()
    ev, met_opp, delay = _deal_events(rng, acc, owner, opened, days, a, staff)
    by_service = staff.team[source] == 1
    amount = _amounts(rng, kind, a.arr[acc])
    x = win_behaviour(ev, met_opp, delay, days, kind, by_service, amount)
    z = logit(WIN_BASE_LOGIT, WIN_EFFECTS, x) + rng.normal(0, WIN_NOISE_SD, len(acc))
    won = rng.random(len(acc)) < sigmoid(z)
    outcome, closed, life = _close(won, opened, days, churn_day[acc], cfg.end_day)
    gated = single_threaded(x, a.n_contacts[acc])
    # Stages follow the deal's whole course (to its due or churn day) and its fate, then the
    # export keeps those entered before its date: a deal still open then is part way along the
    # path it will take (a future win through every stage), not squeezed through all its stages
    # in the time it had, nor stopped early as if it were lost.
    course = np.minimum(days, churn_day[acc] - opened)
    fate = np.where(churn_day[acc] < opened + days, LOST, np.where(won, WON, LOST))
    stages = stage_history(rng, fate, opened, course, gated)
    keep = stages["t"] < cfg.end_day
    stages = {k: v[keep] for k, v in stages.items()}
    ends = opened + life
    ev = E.select(ev, ev["t"] < ends[ev["opp"]])
    return Deals(
        acc,
        kind,
        staff.acting(owner, np.minimum(ends, cfg.end_day)),  # the CRM shows the current owner
        source,
        opened,
        closed,
        outcome,
        amount,
        ev,
        stages,
    )

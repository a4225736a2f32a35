"""Month-by-month life of a chunk of accounts, vectorised across accounts.

Each month: decide churn from the last 3 months of generated behaviour (the true churn effects),
then generate the month's touches, support cases with their activities, NPS responses and new
deals for the accounts still alive. Behaviour comes from the owner rep's style and the account's
slowly drifting engagement, satisfaction and product-issue levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from data.simulator import events as E
from data.simulator.config import SimConfig
from data.simulator.effects import CHURN_BASE_LOGIT, CHURN_EFFECTS, logit, sigmoid
from data.simulator.people import Accounts, Staff

SEG_CADENCE = np.array([0.7, 1.0, 1.5])
SEG_CASES = np.array([0.2, 0.35, 0.7])
SEG_DEALS = np.array([0.025, 0.04, 0.06])
CHURN_MIN_AGE_DAYS = 60
CHURN_FIRST_MONTH = 3
NOTICE_DAYS = (5.0, 60.0)


@dataclass
class History:
    """Per account and month aggregates that the churn hazard reads."""

    n: int
    months: int
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    contacts: np.ndarray = field(init=False)
    last_touch: np.ndarray = field(init=False)
    nps_score: np.ndarray = field(init=False)
    nps_day: np.ndarray = field(init=False)

    KEYS = (
        "touches",
        "acts",
        "conn",
        "conn_s",
        "dm",
        "fu_sum",
        "fu_n",
        "not_fcr",
        "escal",
        "csat_sum",
        "csat_n",
    )

    def __post_init__(self) -> None:
        self.sums = {k: np.zeros(self.n * self.months) for k in self.KEYS}
        self.contacts = np.zeros(self.n * self.months, dtype=np.int64)
        self.last_touch = np.full(self.n * self.months, -np.inf)
        self.nps_score = np.full(self.n, np.nan)
        self.nps_day = np.full(self.n, -np.inf)

    def cell(
        self, acc: np.ndarray, day: np.ndarray, ms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat (account, month) index of each event, and which fall inside the period."""
        month = np.searchsorted(ms, day, side="right") - 1
        ok = (month >= 0) & (month < self.months)
        return acc * self.months + np.clip(month, 0, self.months - 1), ok

    def add(self, key: str, flat: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.sums[key] += np.bincount(flat, weights, minlength=self.n * self.months)

    def window(self, key: str, m: int, width: int) -> np.ndarray:
        """Sum of `key` over months m-width..m-1 for every account."""
        grid = self.sums[key].reshape(self.n, self.months)
        return grid[:, max(0, m - width) : m].sum(axis=1)

    def days_since_touch(self, m: int, ms: np.ndarray) -> np.ndarray:
        """Days from the last touch before month `m` to its start (inf if none yet)."""
        grid = self.last_touch.reshape(self.n, self.months)[:, :m]
        last = grid.max(axis=1) if m > 0 else np.full(self.n, -np.inf)
        return ms[m] - last

    def distinct_contacts(self, m: int, width: int) -> np.ndarray:
        grid = self.contacts.reshape(self.n, self.months)[:, max(0, m - width) : m]
        return np.bitwise_count(np.bitwise_or.reduce(grid, axis=1)).astype(np.float64)


def record_activities(h: History, ev: E.Events, ms: np.ndarray) -> None:
    flat, ok = h.cell(ev["acc"], ev["t"], ms)
    flat, ev = flat[ok], E.select(ev, ok)
    touch = np.isin(ev["type"], TOUCH_TYPES)
    connected = ev["outcome"] == E.code(E.OUTCOME_WORDS, "connected")
    h.add("acts", flat)
    h.add("touches", flat[touch])
    h.add("conn", flat[connected])
    h.add("conn_s", flat[connected], ev["duration"][connected])
    h.add("dm", flat[ev["dm"] == 1])
    np.maximum.at(h.last_touch, flat[touch], ev["t"][touch])
    has_contact = ev["contact"] >= 0
    np.bitwise_or.at(h.contacts, flat[has_contact], np.int64(1) << ev["contact"][has_contact])


def churn_behaviour(h: History, acc: Accounts, m: int, ms: np.ndarray) -> dict[str, np.ndarray]:
    """The churn effects' behaviours before month `m` (what a cutoff at its start sees)."""
    conn, fu_n = h.window("conn", m, 3), h.window("fu_n", m, 3)
    csat_n = h.window("csat_n", m, 6)
    with np.errstate(invalid="ignore", divide="ignore"):
        minutes = np.where(conn > 0, h.window("conn_s", m, 3) / conn / 60, 0.0)
        fu = np.where(fu_n > 0, h.window("fu_sum", m, 3) / fu_n, 0.0)
        csat = np.where(csat_n > 0, h.window("csat_sum", m, 6) / csat_n, 4.0)
    recent_nps = h.nps_day >= ms[m] - 180
    return {
        "touches_90d": h.window("touches", m, 3),
        "silence_60d": np.minimum(h.days_since_touch(m, ms), 60.0),
        "connected_call_minutes": minutes,
        "decision_maker_reached": (h.window("dm", m, 3) > 0).astype(float),
        "followup_delay_days": fu,
        "distinct_contacts": h.distinct_contacts(m, 3),
        "unresolved_cases": h.window("not_fcr", m, 6),
        "escalations": h.window("escal", m, 6),
        "case_csat": csat,
        "nps_score": np.where(recent_nps, h.nps_score, 7.0),
        "segment_smb": (acc.segment == 0).astype(float),
    }


@dataclass
class Latent:
    """Slowly drifting, unobserved account state (AR(1) processes)."""

    engagement: np.ndarray
    silent: np.ndarray
    satisfaction: np.ndarray
    issues: np.ndarray
    rapport: np.ndarray  # 4 x n multipliers on threads, DM reach, call depth, follow-up delay

    @classmethod
    def initial(cls, n: int, rng: np.random.Generator) -> Latent:
        return cls(
            engagement=rng.normal(0, 0.5, n),
            silent=np.zeros(n, bool),
            satisfaction=rng.normal(0, 0.6, n),
            issues=rng.normal(0, 0.5, n),
            rapport=rng.lognormal(0, 0.4, (4, n)),
        )

    def step(self, rng: np.random.Generator) -> None:
        n = len(self.engagement)
        self.engagement = 0.85 * self.engagement + rng.normal(0, 0.3, n)
        self.silent = np.where(self.silent, rng.random(n) < 0.75, rng.random(n) < 0.025)
        self.satisfaction = 0.85 * self.satisfaction + rng.normal(0, 0.3, n)
        self.issues = 0.85 * self.issues + rng.normal(0, 0.3, n)


TOUCH_TYPES = np.array([E.code(E.ACTIVITY_TYPES, k) for k in ("call", "email", "meeting", "demo")])


@dataclass(frozen=True)
class Month:
    """One month's window and behaviour parameters for every account of the chunk."""

    m: int
    rep: np.ndarray  # who works the account this month (its owner, or the owner's successor)
    start: np.ndarray  # first moment the account is alive in the month
    stop: np.ndarray  # last moment (month end or churn)
    exposure: np.ndarray  # alive share of the month
    threads: np.ndarray  # non-decision-maker contacts in play
    p_dm: np.ndarray
    minutes: np.ndarray
    followup_days: np.ndarray
    cadence: np.ndarray

    def times(self, rng: np.random.Generator, acc: np.ndarray) -> np.ndarray:
        """Uniform working-hours times inside each account's alive window."""
        t = self.start[acc] + rng.random(len(acc)) * (self.stop[acc] - self.start[acc])
        return np.minimum(E.working_hours(t), np.nextafter(self.stop[acc], -np.inf))


def month_plan(
    rng: np.random.Generator,
    acc: Accounts,
    staff: Staff,
    lat: Latent,
    churn_day: np.ndarray,
    m: int,
    ms: np.ndarray,
) -> Month:
    """Draw this month's behaviour from the owner rep's style and morale plus account-month noise
    (a successor who took over the account brings their own style)."""
    n, rep = len(acc), staff.acting(acc.owner, ms[m])
    start = np.maximum(ms[m], acc.created_day)
    stop = np.minimum(ms[m + 1], churn_day)
    exposure = np.clip((stop - start) / (ms[m + 1] - ms[m]), 0, 1)
    fit = lat.rapport  # how well this account and its rep work together (persistent)
    p_thread = np.clip(staff.multithread[rep] * fit[0] * rng.lognormal(0, 0.15, n), 0.02, 0.98)
    quiet = np.where(lat.silent, 0.03, 1.0)
    return Month(
        m=m,
        rep=rep,
        start=start,
        stop=stop,
        exposure=exposure,
        threads=1 + rng.binomial(acc.n_contacts - 2, p_thread),
        p_dm=np.clip(staff.dm_reach[rep] * fit[1] * rng.lognormal(0, 0.15, n), 0, 0.95),
        minutes=staff.call_minutes[rep] * fit[2] * rng.lognormal(0, 0.15, n),
        followup_days=staff.followup_days[rep] * fit[3] * rng.lognormal(0, 0.15, n),
        cadence=staff.cadence[rep]
        * staff.activity(rep, ms[m])
        * SEG_CADENCE[acc.segment]
        * np.exp(lat.engagement)
        * quiet
        * exposure,
    )


def _draw(rng: np.random.Generator, mo: Month, per_unit_cadence: float) -> np.ndarray:
    """Account positions, one per event, with Poisson(rate x the month's cadence) events each."""
    return E.explode(np.arange(len(mo.cadence)), rng.poisson(per_unit_cadence * mo.cadence))


def owner_calls(rng: np.random.Generator, mo: Month, acc: Accounts, staff: Staff) -> E.Events:
    a = _draw(rng, mo, 2.0)
    rep = mo.rep[a]
    return E.calls(
        rng,
        a,
        mo.times(rng, a),
        rep,
        p_connect=staff.connect_rate[rep],
        p_dm=mo.p_dm[a],
        minutes=mo.minutes[a],
        threads=mo.threads[a],
        objective="check_in",
    )


def owner_emails(rng: np.random.Generator, mo: Month, acc: Accounts) -> E.Events:
    a = _draw(rng, mo, 1.6)
    return E.emails(
        rng, a, mo.times(rng, a), mo.rep[a], threads=mo.threads[a], objective="check_in"
    )


def owner_meetings(rng: np.random.Generator, mo: Month, acc: Accounts, lat: Latent) -> E.Events:
    a = _draw(rng, mo, 0.35)
    return E.meetings(
        rng,
        a,
        mo.times(rng, a),
        mo.rep[a],
        p_dm=mo.p_dm[a],
        threads=mo.threads[a],
        satisfaction=lat.satisfaction[a],
        kind="meeting",
        objective="check_in",
    )


def notes_after(rng: np.random.Generator, calls: E.Events) -> E.Events:
    """A note on 30% of calls, written minutes after the call."""
    noted = rng.random(len(calls["acc"])) < 0.3
    t = calls["t"][noted] + rng.uniform(0.001, 0.02, noted.sum())
    return E.make(calls["acc"][noted], t, "note", rep=calls["rep"][noted])


def owner_tasks(rng: np.random.Generator, mo: Month, acc: Accounts) -> E.Events:
    a = _draw(rng, mo, 0.3)
    return E.make(
        a,
        mo.times(rng, a),
        "task",
        rep=mo.rep[a],
        objective=E.code(E.OBJECTIVES, "follow_up"),
        outcome=E.code(E.OUTCOME_WORDS, "completed"),
    )


def account_touches(
    rng: np.random.Generator, mo: Month, acc: Accounts, staff: Staff, lat: Latent
) -> tuple[list[E.Events], E.Events, np.ndarray]:
    """The owner rep's calls, emails, meetings (+ follow-ups), notes, tasks; customers' inbound.

    Returns the activity batches, the meetings and each meeting's follow-up delay.
    """
    calls = owner_calls(rng, mo, acc, staff)
    mails = owner_emails(rng, mo, acc)
    met = owner_meetings(rng, mo, acc, lat)
    fups, delay = E.followups(rng, met, mo.followup_days[met["acc"]])
    notes = notes_after(rng, calls)
    tasks = owner_tasks(rng, mo, acc)
    return [calls, mails, met, fups, notes, tasks, inbound(rng, mo, acc, lat)], met, delay


def inbound(rng: np.random.Generator, mo: Month, acc: Accounts, lat: Latent) -> E.Events:
    """Customers writing in: happier, engaged customers write more."""
    a = E.explode(
        np.arange(len(acc)), rng.poisson(0.4 * mo.exposure * np.exp(0.4 * lat.satisfaction))
    )
    return E.make(
        a,
        mo.times(rng, a),
        "email",
        rep=mo.rep[a],
        contact=E.thread_contact(rng, mo.threads[a]),
        direction=E.code(E.DIRECTION_WORDS, "inbound"),
        outcome=E.code(E.OUTCOME_WORDS, "sent"),
        objective=E.code(E.OBJECTIVES, "check_in"),
    )


PRIORITY_SHARE = (0.35, 0.4, 0.2, 0.05)
PRIORITY_ESCALATION = np.array([0.6, 1.0, 1.8, 3.0])
CHANNEL_SHARE = (0.35, 0.35, 0.2, 0.1)  # phone, email, chat, web


def cases_month(
    rng: np.random.Generator, mo: Month, acc: Accounts, staff: Staff, lat: Latent
) -> dict[str, np.ndarray]:
    """Support cases opened this month; resolution, escalation and CSAT follow the service rep.

    Outcome fields are the truth; `tables` blanks them for cases still open at the export date.
    """
    rate = SEG_CASES[acc.segment] * np.exp(lat.issues) * mo.exposure
    a = E.explode(np.arange(len(acc)), rng.poisson(rate))
    n = len(a)
    opened = np.minimum(mo.start[a] + rng.random(n) * (mo.stop[a] - mo.start[a]), mo.stop[a] - 1e-6)
    rep = staff.acting(acc.service_rep[a], opened)
    priority = rng.choice(4, n, p=PRIORITY_SHARE)
    u_fcr = rng.random(n)
    fcr = u_fcr < staff.fcr[rep]
    p_esc = staff.escalation[rep] * PRIORITY_ESCALATION[priority] * np.where(fcr, 0.3, 1.0)
    u_esc = rng.random(n)
    escalated = u_esc < np.clip(p_esc, 0, 0.9)
    mean_csat = case_csat_mean(fcr, escalated) + 0.4 * lat.satisfaction[a]
    raw_csat = rng.normal(mean_csat, 0.7)
    csat = np.clip(np.round(raw_csat), 1, 5)
    hours = np.where(fcr, rng.uniform(0.02, 0.4, n), 0.5 + rng.exponential(4.0, n))
    return {
        "acc": a,
        "opened": opened,
        "rep": rep,
        "priority": priority,
        "channel": rng.choice(4, n, p=CHANNEL_SHARE),
        "closed": opened + hours + np.where(escalated, rng.exponential(6.0, n), 0.0),
        "fcr": fcr,
        "escalated": escalated,
        "csat": np.where(rng.random(n) < 0.6, csat, np.nan),
        "threads": mo.threads[a],
        # the draws behind the outcomes, for counterfactuals (data.simulator.truth)
        "u_fcr": u_fcr,
        "u_esc": u_esc,
        "csat_raw": raw_csat,  # before rounding and clipping
    }


def case_csat_mean(fcr: np.ndarray, escalated: np.ndarray) -> np.ndarray:
    """A case's mean CSAT before the account's satisfaction: lower when not resolved at first
    contact and when escalated."""
    return 4.3 - 1.1 * ~fcr - 1.0 * escalated


def support_activities(rng: np.random.Generator, cases: dict[str, np.ndarray]) -> E.Events:
    """The service rep's work on each case: one touch if resolved at first contact, else several."""
    n_touch = np.where(cases["fcr"], 1, 2 + rng.poisson(1.5, len(cases["acc"])))
    idx = E.explode(np.arange(len(n_touch)), n_touch)
    first = np.r_[True, idx[1:] != idx[:-1]] if len(idx) else np.zeros(0, bool)
    span = cases["closed"][idx] - cases["opened"][idx]
    t = cases["opened"][idx] + np.where(first, 0.01, rng.random(len(idx))) * span
    phone = cases["channel"][idx] == 0
    minutes = rng.exponential(9.0, len(idx)) + 1
    return E.make(
        cases["acc"][idx],
        t,
        "call",
        rep=cases["rep"][idx],
        contact=E.thread_contact(rng, cases["threads"][idx]),
        direction=np.where(first, 0, 1),
        duration=np.where(phone, (minutes * 60).round(), np.nan),
        outcome=np.where(
            phone, E.code(E.OUTCOME_WORDS, "connected"), E.code(E.OUTCOME_WORDS, "sent")
        ),
        objective=E.code(E.OBJECTIVES, "support"),
    ) | {
        "type": np.where(
            phone, E.code(E.ACTIVITY_TYPES, "call"), E.code(E.ACTIVITY_TYPES, "email")
        ).astype(np.int8)
    }


def record_cases(h: History, cases: dict[str, np.ndarray], ms: np.ndarray) -> None:
    """Case outcomes count in the month the case closed (when they become known)."""
    flat, ok = h.cell(cases["acc"], cases["closed"], ms)
    flat = flat[ok]
    h.add("not_fcr", flat, (~cases["fcr"][ok]).astype(float))
    h.add("escal", flat, cases["escalated"][ok].astype(float))
    rated = ~np.isnan(cases["csat"][ok])
    h.add("csat_sum", flat[rated], cases["csat"][ok][rated])
    h.add("csat_n", flat[rated])


def nps_month(
    rng: np.random.Generator, mo: Month, acc: Accounts, lat: Latent, h: History
) -> dict[str, np.ndarray]:
    """Quarterly survey (Feb/May/Aug/Nov) of surveyed accounts; ~55% answer.

    The score follows satisfaction and the last 3 months' service experience.
    """
    if mo.m % 3 != 1:
        return {"acc": np.empty(0, np.int64), "t": np.empty(0), "score": np.empty(0)}
    a = np.flatnonzero(acc.surveyed & (mo.exposure > 0) & (rng.random(len(acc)) < 0.55))
    bad = h.window("not_fcr", mo.m, 3)[a] + 2 * h.window("escal", mo.m, 3)[a]
    score = np.clip(np.round(rng.normal(7.3 + 1.6 * lat.satisfaction[a] - 0.6 * bad, 1.2)), 0, 10)
    t = mo.times(rng, a)
    h.nps_score[a], h.nps_day[a] = score, t
    return {"acc": a, "t": t, "score": score}


def deal_starts(rng: np.random.Generator, mo: Month, acc: Accounts) -> dict[str, np.ndarray]:
    """Upsell / cross-sell / renewal / other deals opened this month by existing customers."""
    a = np.flatnonzero(rng.random(len(acc)) < SEG_DEALS[acc.segment] * mo.exposure)
    kind = rng.choice([1, 2, 3, 4], len(a), p=[0.4, 0.25, 0.3, 0.05])
    return {"acc": a, "t": mo.times(rng, a), "kind": kind}


@dataclass
class Life:
    """Everything generated for a chunk of accounts over the whole period."""

    events: E.Events
    cases: dict[str, np.ndarray]
    nps: dict[str, np.ndarray]
    deals: dict[str, np.ndarray]  # acc, t, kind (index into OPPORTUNITY_TYPES)
    churn_day: np.ndarray  # inf while a customer


def churn_step(
    rng: np.random.Generator,
    h: History,
    acc: Accounts,
    churn_day: np.ndarray,
    m: int,
    ms: np.ndarray,
) -> np.ndarray:
    """Churn days after month `m`'s draw.

    The customer decides to leave with probability sigmoid(true effects of the last 3 months),
    on a day in month `m`, and churns after a notice period of 5-60 days (the day may fall after
    the export date: still a customer then).
    """
    if m < CHURN_FIRST_MONTH:
        return churn_day
    at_risk = np.isinf(churn_day) & (acc.created_day <= ms[m] - CHURN_MIN_AGE_DAYS)
    z = logit(CHURN_BASE_LOGIT, CHURN_EFFECTS, churn_behaviour(h, acc, m, ms)) + acc.frailty
    decides = at_risk & (rng.random(len(acc)) < sigmoid(z))
    day = ms[m] + rng.random(len(acc)) * (ms[m + 1] - ms[m]) + rng.uniform(*NOTICE_DAYS, len(acc))
    return np.where(decides, np.floor(day), churn_day)


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def new_business(rng: np.random.Generator, acc: Accounts) -> dict[str, np.ndarray]:
    """Accounts that join during the period arrive with a new-business deal."""
    a = np.flatnonzero(acc.created_day >= 0)
    return {
        "acc": a,
        "t": E.working_hours(acc.created_day[a] + rng.uniform(0.3, 10, len(a))),
        "kind": np.zeros(len(a), np.int64),
    }


@dataclass
class Probe:
    """Records what the churn hazard read at the start of `month` (for known answers, see
    `data.simulator.truth`); filled in by `live`."""

    month: int
    behaviour: dict[str, np.ndarray] = field(default_factory=dict)
    churn_day: np.ndarray | None = None  # decisions taken before the month (inf: none)


def live(
    rng: np.random.Generator,
    acc: Accounts,
    staff: Staff,
    cfg: SimConfig,
    probe: Probe | None = None,
) -> Life:
    """Run the chunk month by month; events after churn or the export date are dropped."""
    ms = cfg.month_starts
    h, lat = History(len(acc), cfg.months), Latent.initial(len(acc), rng)
    churn_day = np.full(len(acc), np.inf)
    parts, cases, nps, deals = [], [], [], [new_business(rng, acc)]
    for m in range(cfg.months):
        if probe is not None and m == probe.month:
            probe.behaviour, probe.churn_day = churn_behaviour(h, acc, m, ms), churn_day.copy()
        churn_day = churn_step(rng, h, acc, churn_day, m, ms)
        lat.step(rng)
        mo = month_plan(rng, acc, staff, lat, churn_day, m, ms)
        batch, met, delay = account_touches(rng, mo, acc, staff, lat)
        case = cases_month(rng, mo, acc, staff, lat)
        batch.append(support_activities(rng, case))
        ev = E.concat(batch)
        record_activities(h, ev, ms)
        flat, ok = h.cell(met["acc"], met["t"], ms)
        h.add("fu_sum", flat[ok], delay[ok])
        h.add("fu_n", flat[ok])
        record_cases(h, case, ms)
        nps.append(nps_month(rng, mo, acc, lat, h))
        deals.append(deal_starts(rng, mo, acc))
        parts.append(ev)
        cases.append(case)
    ev = E.concat(parts)
    keep = (ev["t"] < churn_day[ev["acc"]]) & (ev["t"] < cfg.end_day)
    return Life(E.select(ev, keep), _stack(cases), _stack(nps), _stack(deals), churn_day)

"""Known answers from the simulator's own state, for testing estimates against planted truth.

`service_retention_truth` answers: how much ARR does customer service keep, over the next three
monthly churn decisions after a cutoff, compared with service at a reference level (e.g. the service
team's worst quartile)? It re-runs the simulation (same seed, same draws) and records, at the
cutoff's month, what the churn hazard read and every case's draws. The counterfactual re-decides
each case closed in the hazard's 6-month window with the same draws at the reference resolution
and escalation rates (CSAT moves with them, as the simulator makes it); NPS, activity and
everything else stay as they were. Each account's chance of deciding to leave in the next 3 months
is `1 − (1 − sigmoid(z))³` with its behaviour held at the cutoff; accounts that had already decided
(serving their notice) or are younger than the hazard's minimum age save nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.simulator import tables as T
from data.simulator.accounts_life import (
    CHURN_MIN_AGE_DAYS,
    PRIORITY_ESCALATION,
    PRIORITY_SHARE,
    Probe,
    case_csat_mean,
    live,
)
from data.simulator.config import SimConfig
from data.simulator.effects import (
    CHURN_BASE_LOGIT,
    CHURN_EFFECTS,
    CHURN_FRAILTY_SD,
    logit,
    sigmoid,
)
from data.simulator.people import make_accounts, make_staff

CASE_WINDOW_MONTHS = 6
DECISIONS = 3


@dataclass(frozen=True)
class ChurnState:
    """Every account at the start of `month`: ARR, age, pending decision, frailty, the hazard's
    inputs; and every case with its draws."""

    month: int
    accounts: pd.DataFrame  # account_id, arr, created_day, churn_day (decided before the month,
    #                         inf when not), frailty, and the hazard's behaviour columns
    cases: pd.DataFrame  # account (row in accounts), closed, priority, fcr, escalated, csat, draws
    month_starts: np.ndarray


def churn_state(n_accounts: int, seed: int, cutoff: str, **options) -> ChurnState:
    """Re-run `simulate_chunks(n_accounts, seed, **options)` and record the state at `cutoff`
    (a month start inside the period)."""
    cfg = SimConfig(
        start=options.get("start", SimConfig.start),
        months=options.get("months", SimConfig.months),
        chunk_accounts=options.get("chunk_accounts", SimConfig.chunk_accounts),
    )
    month = int(np.searchsorted(cfg.month_starts, _day(cutoff, cfg)))
    if not 0 < month < cfg.months or cfg.month_starts[month] != _day(cutoff, cfg):
        raise ValueError(f"cutoff {cutoff} is not a month start inside the simulated period")
    firsts = range(0, n_accounts, cfg.chunk_accounts)
    staff_seed, *seeds = np.random.SeedSequence(seed).spawn(1 + len(firsts))
    staff = make_staff(n_accounts, np.random.default_rng(staff_seed), cfg)
    accounts, cases = [], []
    for first, chunk_seed in zip(firsts, seeds, strict=True):
        rng = np.random.default_rng(chunk_seed)
        n = min(cfg.chunk_accounts, n_accounts - first)
        a = make_accounts(first, n, staff, rng, cfg, CHURN_FRAILTY_SD)
        probe = Probe(month)
        life = live(rng, a, staff, cfg, probe)
        ids = T.ids("ACC-", first + np.arange(n), 7).to_pandas()
        accounts.append(
            pd.DataFrame(
                {
                    "account_id": ids,
                    "arr": a.arr,
                    "created_day": a.created_day,
                    "churn_day": probe.churn_day,
                    "frailty": a.frailty,
                    **probe.behaviour,
                }
            )
        )
        keep = ("acc", "closed", "priority", "fcr", "escalated", "csat", "u_fcr", "u_esc")
        frame = pd.DataFrame({k: life.cases[k] for k in (*keep, "csat_raw")})
        cases.append(frame.assign(acc=frame["acc"] + first))
    return ChurnState(
        month,
        pd.concat(accounts, ignore_index=True),
        pd.concat(cases, ignore_index=True),
        cfg.month_starts,
    )


def _day(when: str, cfg: SimConfig) -> float:
    delta = np.datetime64(pd.Timestamp(when).date(), "D") - np.datetime64(cfg.start, "D")
    return float(delta.astype(int))


def _window(state: ChurnState) -> pd.DataFrame:
    """Cases the hazard at `state.month` reads: closed in the 6 calendar months before it."""
    c = state.cases
    month = np.searchsorted(state.month_starts, c["closed"].to_numpy(), side="right") - 1
    return c[(month >= state.month - CASE_WINDOW_MONTHS) & (month < state.month)]


def escalation_parameter(escalation_rate: float, fcr_rate: float) -> float:
    """The rep's escalation propensity that gives `escalation_rate` escalated cases on average
    (the priority mix and the lower chance after first-contact resolution averaged out)."""
    priority = float(np.dot(PRIORITY_SHARE, PRIORITY_ESCALATION))
    return escalation_rate / (priority * (0.3 * fcr_rate + (1 - fcr_rate)))


def service_behaviour(cases: pd.DataFrame, n_accounts: int) -> dict[str, np.ndarray]:
    """unresolved_cases, escalations and case_csat per account from closed cases."""
    acc = cases["acc"].to_numpy()
    rated = cases["csat"].notna().to_numpy()
    n_rated = np.bincount(acc[rated], minlength=n_accounts)
    csat_sum = np.bincount(acc[rated], cases["csat"].to_numpy()[rated], minlength=n_accounts)
    with np.errstate(invalid="ignore", divide="ignore"):
        csat = np.where(n_rated > 0, csat_sum / n_rated, 4.0)
    return {
        "unresolved_cases": np.bincount(acc, (~cases["fcr"]).astype(float), minlength=n_accounts),
        "escalations": np.bincount(acc, cases["escalated"].astype(float), minlength=n_accounts),
        "case_csat": csat,
    }


def at_reference(cases: pd.DataFrame, fcr_rate: float, escalation_rate: float) -> pd.DataFrame:
    """The same cases handled at the reference rates, with each case's own draws."""
    fcr = cases["u_fcr"].to_numpy() < fcr_rate
    propensity = escalation_parameter(escalation_rate, fcr_rate)
    p_esc = propensity * PRIORITY_ESCALATION[cases["priority"].to_numpy()] * np.where(fcr, 0.3, 1)
    escalated = cases["u_esc"].to_numpy() < np.clip(p_esc, 0, 0.9)
    old_mean = case_csat_mean(cases["fcr"].to_numpy(), cases["escalated"].to_numpy())
    shift = case_csat_mean(fcr, escalated) - old_mean
    raw = cases["csat_raw"].to_numpy() + shift  # the same draw around the new mean
    csat = np.where(cases["csat"].notna(), np.clip(np.round(raw), 1, 5), np.nan)
    return cases.assign(fcr=fcr, escalated=escalated, csat=csat)


def decide_within(z: np.ndarray) -> np.ndarray:
    """Chance of deciding to leave in the next `DECISIONS` monthly draws at hazard logit `z`."""
    return 1 - (1 - sigmoid(z)) ** DECISIONS


def service_retention_truth(
    state: ChurnState, fcr_rate: float, escalation_rate: float
) -> pd.DataFrame:
    """Per account alive at the cutoff: its ARR, the true chance of deciding to leave in the next
    3 months as served and with service at the reference rates, and the ARR saved
    (`arr × (reference − actual)`)."""
    acc = state.accounts
    n = len(acc)
    window = _window(state)
    x = {e.behaviour: acc[e.behaviour].to_numpy() for e in CHURN_EFFECTS}
    moved = x | service_behaviour(at_reference(window, fcr_rate, escalation_rate), n)
    frailty = acc["frailty"].to_numpy()
    actual = decide_within(logit(CHURN_BASE_LOGIT, CHURN_EFFECTS, x) + frailty)
    reference = decide_within(logit(CHURN_BASE_LOGIT, CHURN_EFFECTS, moved) + frailty)
    start = state.month_starts[state.month]
    churn_day = acc["churn_day"].to_numpy()
    alive = (acc["created_day"] < start).to_numpy() & (churn_day >= start)
    can_decide = np.isinf(churn_day) & (acc["created_day"] <= start - CHURN_MIN_AGE_DAYS)
    actual, reference = np.where(can_decide, actual, 0.0), np.where(can_decide, reference, 0.0)
    out = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "arr": acc["arr"],
            "actual": actual,
            "reference": reference,
        }
    )
    out["saved"] = out["arr"] * (out["reference"] - out["actual"])
    return out[alive].reset_index(drop=True)

"""The true behaviour effects: one source for the generator, the docs and `true_effects.json`.

Effects are monotone but not linear. Each one adds to a logit

    direction · strength · (r(x) − neutral) · m

where `x` is the behaviour in the unit its description names and `r` is a ramp:
`r(x) = clip((x − ramp[0]) / (ramp[1] − ramp[0]), 0, 1)`. So nothing changes outside the ramp:
a *step* has a short ramp just past its threshold, a *saturating* effect stops growing at its
threshold, a *hinge* does nothing on the good side of its threshold. `m` is 1 unless the effect
has an interaction: then `m` runs from `low` to `high` along the ramp of another behaviour
(`with`). `strength` is the logit change over the whole ramp when `m` = 1. Churn effects act on
the monthly churn hazard from the account's recent generated behaviour; deal effects act on the
win probability from the deal's own activities; rep-attrition effects act on each rep's monthly
hazard of leaving (`data/simulator/staffing.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SHAPES = ("binary", "step", "saturating", "hinge")


@dataclass(frozen=True)
class Interaction:
    """The effect is multiplied by `low` .. `high` as `with_` runs along `ramp` (may descend)."""

    with_: str
    ramp: tuple[float, float]
    low: float
    high: float

    def multiplier(self, z: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * ramp(z, self.ramp)

    def record(self) -> dict:
        return {"with": self.with_, "ramp": list(self.ramp), "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Effect:
    outcome: str  # "churn" | "deal_win" | "rep_attrition"
    behaviour: str
    family: str
    direction: int  # +1 raises the outcome probability, -1 lowers it (monotone everywhere)
    strength: float  # logit change over the whole ramp (interaction multiplier 1)
    description: str
    shape: str  # one of SHAPES
    threshold: float  # the behaviour value where the effect turns
    ramp: tuple[float, float]  # the effect changes only between these values
    neutral: float = 0.0  # ramp level that adds nothing (1 = a penalty until the ramp is full)
    interaction: Interaction | None = None

    def contribution(self, x: dict[str, np.ndarray]) -> np.ndarray:
        """This effect's logit term for every row of the behaviours `x`."""
        term = self.direction * self.strength * (ramp(x[self.behaviour], self.ramp) - self.neutral)
        if self.interaction is not None:
            term = term * self.interaction.multiplier(x[self.interaction.with_])
        return term

    def record(self) -> dict:
        out = asdict(self) | {"ramp": list(self.ramp)}
        out["interaction"] = self.interaction.record() if self.interaction else None
        return out


def ramp(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """0 at `bounds[0]`, 1 at `bounds[1]`, linear between, flat outside (either order)."""
    a, b = bounds
    return np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)


CHURN_BASE_LOGIT = -4.0
WIN_BASE_LOGIT = 1.3
ATTRITION_BASE_LOGIT = -6.0
CHURN_FRAILTY_SD = 0.2  # unobserved account-level noise on the churn logit
WIN_NOISE_SD = 0.4  # unobserved deal-level noise on the win logit

CHURN_EFFECTS: tuple[Effect, ...] = (
    Effect(
        "churn",
        "touches_90d",
        "cadence",
        -1,
        1.5,
        "Calls, emails, meetings and demos (any direction) in the last 90 days. Saturating: "
        "each touch helps up to 12 (about one a week), more do not help further.",
        "saturating",
        12.0,
        (0.0, 12.0),
    ),
    Effect(
        "churn",
        "silence_60d",
        "timing",
        +1,
        2.5,
        "Days since the last call, email, meeting or demo (any direction), counted up to 60. "
        "Step: silence up to 30 days is harmless; past 30 days the hazard jumps (full by 36).",
        "step",
        30.0,
        (30.0, 36.0),
    ),
    Effect(
        "churn",
        "connected_call_minutes",
        "conversation_depth",
        -1,
        1.2,
        "Mean duration of connected calls in the last 90 days, minutes (no connected call: 0). "
        "Saturating: longer calls help from 4 up to 10 minutes, then stop helping.",
        "saturating",
        10.0,
        (4.0, 10.0),
    ),
    Effect(
        "churn",
        "decision_maker_reached",
        "reach",
        -1,
        0.9,
        "1 when a connected call or meeting reached the decision maker in the last 90 days "
        "(it also softens escalations, see `escalations`).",
        "binary",
        1.0,
        (0.0, 1.0),
    ),
    Effect(
        "churn",
        "followup_delay_days",
        "responsiveness",
        +1,
        1.2,
        "Mean days from a meeting to the rep's follow-up in the last 90 days (no meeting: 0). "
        "Hinge: follow-up within 2 days is as good as it gets; slower hurts, up to 7 days.",
        "hinge",
        2.0,
        (2.0, 7.0),
    ),
    Effect(
        "churn",
        "distinct_contacts",
        "reach",
        -1,
        1.0,
        "Distinct customer contacts touched in the last 90 days (multi-threading). "
        "Saturating: each contact beyond the first helps up to 4 contacts.",
        "saturating",
        4.0,
        (1.0, 4.0),
    ),
    Effect(
        "churn",
        "unresolved_cases",
        "service_quality",
        +1,
        1.8,
        "Cases closed in the last 180 days that were not resolved at first contact. Step: one is "
        "tolerated; the second raises the hazard, more do not raise it further.",
        "step",
        2.0,
        (1.0, 2.0),
    ),
    Effect(
        "churn",
        "escalations",
        "service_quality",
        +1,
        0.6,
        "Escalated cases closed in the last 180 days. Step at the first escalation (more add "
        "nothing), three times as strong when the decision maker was not reached in the last "
        "90 days.",
        "step",
        1.0,
        (0.0, 1.0),
        interaction=Interaction("decision_maker_reached", (0.0, 1.0), 3.0, 1.0),
    ),
    Effect(
        "churn",
        "case_csat",
        "service_quality",
        -1,
        1.0,
        "Mean CSAT (1-5) of cases closed in the last 180 days (none rated: 4). Step: below 3 the "
        "hazard jumps; above 3.5 more satisfaction adds nothing.",
        "step",
        3.0,
        (2.5, 3.5),
    ),
    Effect(
        "churn",
        "nps_score",
        "customer_voice",
        -1,
        1.0,
        "Latest NPS score (0-10) in the last 180 days (none: 7). Hinge: 7 and above is safe; each "
        "point below raises the hazard down to 4; two and a half times as strong after an "
        "escalation (closed in the last 180 days).",
        "hinge",
        7.0,
        (4.0, 7.0),
        neutral=1.0,
        interaction=Interaction("escalations", (0.0, 1.0), 1.0, 2.5),
    ),
    Effect(
        "churn",
        "segment_smb",
        "account_context",
        +1,
        0.5,
        "1 for small-business accounts (smb churn more than mid_market and enterprise).",
        "binary",
        1.0,
        (0.0, 1.0),
    ),
)

WIN_EFFECTS: tuple[Effect, ...] = (
    Effect(
        "deal_win",
        "decision_maker_reached",
        "reach",
        +1,
        2.2,
        "1 when any connected call or meeting on the deal reached the decision maker. Not "
        "reaching them is a penalty that matters mainly for large deals: a fifth as strong at "
        "amounts up to 10,000, two and a half times as strong from 150,000.",
        "binary",
        1.0,
        (0.0, 1.0),
        neutral=1.0,
        interaction=Interaction("deal_amount", (10_000.0, 150_000.0), 0.2, 2.5),
    ),
    Effect(
        "deal_win",
        "distinct_contacts",
        "reach",
        +1,
        3.5,
        "Distinct contacts touched by the deal's activities (multi-threading). Saturating at 4 "
        "contacts; a penalty below that which matters mainly for large deals: a tenth as strong "
        "at amounts up to 20,000, one and a half times from 100,000.",
        "saturating",
        4.0,
        (1.0, 4.0),
        neutral=1.0,
        interaction=Interaction("deal_amount", (20_000.0, 100_000.0), 0.1, 1.5),
    ),
    Effect(
        "deal_win",
        "followup_delay_days",
        "responsiveness",
        -1,
        1.2,
        "Mean days from a deal meeting or demo to its follow-up (no meeting: 0). Hinge: within "
        "2 days is as good as it gets; slower hurts, up to 7 days.",
        "hinge",
        2.0,
        (2.0, 7.0),
    ),
    Effect(
        "deal_win",
        "connected_call_minutes",
        "conversation_depth",
        +1,
        0.8,
        "Mean duration of the deal's connected calls, minutes (none: 0). Saturating: longer "
        "calls help from 4 up to 10 minutes, then stop helping.",
        "saturating",
        10.0,
        (4.0, 10.0),
    ),
    Effect(
        "deal_win",
        "activities_per_week",
        "cadence",
        +1,
        3.0,
        "Activities on the deal per week it was open. Saturating: deals worked less than "
        "about once a week stall (a penalty that shrinks up to 2.5 a week); more activity adds "
        "nothing. Renewals need less attention: the penalty is a third as strong for them.",
        "saturating",
        2.5,
        (0.5, 2.5),
        neutral=1.0,
        interaction=Interaction("renewal", (0.0, 1.0), 1.0, 0.33),
    ),
    Effect(
        "deal_win",
        "deal_amount",
        "pipeline",
        -1,
        1.5,
        "Deal amount. Saturating: deals lose more often as they grow from 10,000 to 100,000; "
        "beyond that size adds nothing (large deals are won by reach, see above).",
        "saturating",
        100_000.0,
        (10_000.0, 100_000.0),
    ),
    Effect(
        "deal_win",
        "sourced_by_service",
        "rep_context",
        +1,
        0.6,
        "1 when a service rep sourced the deal (source_rep_id is on the service team).",
        "binary",
        1.0,
        (0.0, 1.0),
    ),
    Effect(
        "deal_win",
        "renewal",
        "pipeline",
        +1,
        1.2,
        "1 for renewal deals, which win more often than new business, upsell and cross-sell.",
        "binary",
        1.0,
        (0.0, 1.0),
    ),
)

ATTRITION_EFFECTS: tuple[Effect, ...] = (
    Effect(
        "rep_attrition",
        "activity_trend",
        "cadence",
        -1,
        4.5,
        "The rep's activity (touches on their accounts and deals) over the last 3 months divided "
        "by their own activity in the 6 months before (1 = steady). Hinge: steady or rising is "
        "safe; a slump below 0.9 raises the monthly hazard of leaving, fully at 0.6.",
        "hinge",
        0.9,
        (0.6, 0.9),
        neutral=1.0,
    ),
    Effect(
        "rep_attrition",
        "tenure_months",
        "rep_context",
        -1,
        1.5,
        "Months since the rep was hired. Hinge: reps leave more in their first year, most in "
        "their first months; beyond a year tenure adds nothing.",
        "hinge",
        12.0,
        (0.0, 12.0),
        neutral=1.0,
    ),
)

TRUE_EFFECTS: tuple[Effect, ...] = CHURN_EFFECTS + WIN_EFFECTS + ATTRITION_EFFECTS


def logit(base: float, effects: tuple[Effect, ...], x: dict[str, np.ndarray]) -> np.ndarray:
    """`base + Σ effect.contribution(x)` over the effects, vectorised."""
    total = np.full(len(next(iter(x.values()))), base, dtype=np.float64)
    for e in effects:
        total += e.contribution(x)
    return total


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def true_effects_records() -> list[dict]:
    """The effects as plain dicts, the content of `true_effects.json`."""
    return [e.record() for e in TRUE_EFFECTS]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}"


def _interaction_text(i: Interaction | None) -> str:
    if i is None:
        return "—"
    return f"× {i.low:g} → {i.high:g} as `{i.with_}` goes {_fmt(i.ramp[0])} → {_fmt(i.ramp[1])}"


def effects_markdown() -> str:
    """The true effects as a Markdown table for data/README.md (a test keeps the two in sync)."""
    lines = [
        "| outcome | behaviour | family | direction | strength | shape | threshold | ramp "
        "| neutral | interaction | description |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in TRUE_EFFECTS:
        sign = "+1" if e.direction > 0 else "−1"
        lines.append(
            f"| {e.outcome} | `{e.behaviour}` | {e.family} | {sign} | {e.strength} | {e.shape} | "
            f"{_fmt(e.threshold)} | {_fmt(e.ramp[0])} → {_fmt(e.ramp[1])} | {e.neutral:g} | "
            f"{_interaction_text(e.interaction)} | {e.description} |"
        )
    bases = (
        f"Base logits: churn {CHURN_BASE_LOGIT} per account-month (plus account frailty "
        f"N(0, {CHURN_FRAILTY_SD}²)), deal win {WIN_BASE_LOGIT} (plus deal noise "
        f"N(0, {WIN_NOISE_SD}²)), rep attrition {ATTRITION_BASE_LOGIT} per rep-month."
    )
    return "\n".join(lines) + "\n\n" + bases

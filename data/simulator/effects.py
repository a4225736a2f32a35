"""The true behaviour effects: one source for the generator, the docs and `true_effects.json`.

Each effect adds `direction * strength * x` to a logit, where `x` is the behaviour measured in the
unit the description names (centred where the description says so). Churn effects act on the
monthly churn hazard from the account's last 3 months of generated behaviour; deal effects act on
the win probability from the deal's own activities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Effect:
    outcome: str  # "churn" | "deal_win"
    behaviour: str
    family: str
    direction: int  # +1 raises the outcome probability, -1 lowers it
    strength: float  # logit change per unit of the behaviour
    description: str


CHURN_BASE_LOGIT = -3.9
WIN_BASE_LOGIT = -3.9
CHURN_FRAILTY_SD = 0.2  # unobserved account-level noise on the churn logit
WIN_NOISE_SD = 0.4  # unobserved deal-level noise on the win logit

CHURN_EFFECTS: tuple[Effect, ...] = (
    Effect(
        "churn",
        "touches_90d",
        "cadence",
        -1,
        0.6,
        "log(1 + outbound calls, emails, meetings and demos in the last 90 days), per log-unit.",
    ),
    Effect(
        "churn",
        "silence_60d",
        "timing",
        +1,
        1.8,
        "1 when the account had no activity of any kind in the last 60 days.",
    ),
    Effect(
        "churn",
        "connected_call_minutes",
        "conversation_depth",
        -1,
        0.18,
        "Mean duration of connected calls in the last 90 days, minutes above 8 (0 if none).",
    ),
    Effect(
        "churn",
        "decision_maker_reached",
        "reach",
        -1,
        1.3,
        "1 when a connected call or meeting reached the decision maker in the last 90 days.",
    ),
    Effect(
        "churn",
        "followup_delay_days",
        "responsiveness",
        +1,
        0.2,
        "Mean days from a meeting to the rep's follow-up in the last 90 days, above 3 "
        "(capped at 21; 0 without meetings).",
    ),
    Effect(
        "churn",
        "distinct_contacts",
        "reach",
        -1,
        0.4,
        "Distinct customer contacts touched in the last 90 days (multi-threading), per contact.",
    ),
    Effect(
        "churn",
        "unresolved_cases",
        "service_quality",
        +1,
        0.7,
        "Cases closed in the last 90 days that were not resolved at first contact, per case.",
    ),
    Effect(
        "churn",
        "escalations",
        "service_quality",
        +1,
        0.9,
        "Escalated cases closed in the last 90 days, per case.",
    ),
    Effect(
        "churn",
        "case_csat",
        "service_quality",
        -1,
        0.8,
        "Mean CSAT of cases closed in the last 90 days, points above 4 (0 if none).",
    ),
    Effect(
        "churn",
        "nps_score",
        "customer_voice",
        -1,
        0.35,
        "Latest NPS score in the last 180 days, points above 7 (0 if none).",
    ),
    Effect(
        "churn",
        "segment_smb",
        "account_context",
        +1,
        0.5,
        "1 for small-business accounts (smb churn more than mid_market and enterprise).",
    ),
)

WIN_EFFECTS: tuple[Effect, ...] = (
    Effect(
        "deal_win",
        "decision_maker_reached",
        "reach",
        +1,
        2.0,
        "1 when any connected call or meeting on the deal reached the decision maker.",
    ),
    Effect(
        "deal_win",
        "distinct_contacts",
        "reach",
        +1,
        0.6,
        "Distinct contacts touched by the deal's activities (multi-threading), per contact.",
    ),
    Effect(
        "deal_win",
        "followup_delay_days",
        "responsiveness",
        -1,
        0.35,
        "Mean days from a deal meeting or demo to its follow-up (each capped at 21), above 3 "
        "(0 without meetings).",
    ),
    Effect(
        "deal_win",
        "connected_call_minutes",
        "conversation_depth",
        +1,
        0.18,
        "Mean duration of the deal's connected calls, minutes above 8 (0 if none).",
    ),
    Effect(
        "deal_win",
        "activities_per_week",
        "cadence",
        +1,
        1.0,
        "Activities on the deal per week it was open (capped at 6), above 1.5.",
    ),
    Effect(
        "deal_win",
        "sourced_by_service",
        "rep_context",
        +1,
        0.6,
        "1 when a service rep sourced the deal (source_rep_id is on the service team).",
    ),
    Effect(
        "deal_win",
        "renewal",
        "pipeline",
        +1,
        1.2,
        "1 for renewal deals, which win more often than new business, upsell and cross-sell.",
    ),
)

TRUE_EFFECTS: tuple[Effect, ...] = CHURN_EFFECTS + WIN_EFFECTS


def logit(base: float, effects: tuple[Effect, ...], x: dict[str, np.ndarray]) -> np.ndarray:
    """`base + Σ direction·strength·x[behaviour]` over the effects, vectorised."""
    total = np.full(len(next(iter(x.values()))), base, dtype=np.float64)
    for e in effects:
        total += e.direction * e.strength * np.asarray(x[e.behaviour], dtype=np.float64)
    return total


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def true_effects_records() -> list[dict]:
    """The effects as plain dicts, the content of `true_effects.json`."""
    return [asdict(e) for e in TRUE_EFFECTS]


def effects_markdown() -> str:
    """The true effects as a Markdown table for data/README.md (a test keeps the two in sync)."""
    lines = [
        "| outcome | behaviour | family | direction | strength (logit per unit) | description |",
        "|---|---|---|---|---|---|",
    ]
    for e in TRUE_EFFECTS:
        sign = "+1" if e.direction > 0 else "−1"
        lines.append(
            f"| {e.outcome} | `{e.behaviour}` | {e.family} | {sign} | {e.strength} | "
            f"{e.description} |"
        )
    bases = (
        f"Base logits: churn {CHURN_BASE_LOGIT} per account-month (plus account frailty "
        f"N(0, {CHURN_FRAILTY_SD}²)), deal win {WIN_BASE_LOGIT} (plus deal noise "
        f"N(0, {WIN_NOISE_SD}²))."
    )
    return "\n".join(lines) + "\n\n" + bases

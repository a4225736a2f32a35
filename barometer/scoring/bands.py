"""Risk bands per target, from the model's own scores: what "high" means for this model today.

A fixed probability cut cannot serve both models: with churn's base rate near 3%, an account at
17% is six times the typical account, yet far below 50%. So the bands are relative:

- `lift` (the default): relative to the base rate, the mean probability of everyone scored in
  the run (a calibrated model makes it the expected rate). High from odds `high` times the base
  rate's odds, medium from `medium` times (churn: 3× and 1.5×; deals, whose base rate is far
  higher: 1.5× and 1×). For a rare outcome odds and probabilities scale alike (churn at a 3%
  base rate is high from 8.5%, about 3× the base rate), and odds never ask for more than 100%
  when the base rate is high. A score's `lift` is its probability over the base rate.
- `capacity`: the `capacity` highest scores are high (what a team can work in a week), the next
  `2 × capacity` medium.

`BandCuts` holds a run's probability cuts, so an on-demand score is banded like the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from barometer.targets import TARGETS
from explain.wording import target_phrase

BandRule = Literal["lift", "capacity"]
LIFTS = {"churn": (3.0, 1.5), "deal_win": (1.5, 1.0)}  # (high, medium) times the base rate
CAPACITY = 100  # scores a team can work in a week, for the `capacity` rule


@dataclass(frozen=True)
class BandCuts:
    """One run's bands: a probability at or above `high_at` is high, at or above `medium_at`
    medium; `base_rate` is the mean probability (the typical entity)."""

    target: str
    rule: str
    base_rate: float
    high_at: float
    medium_at: float

    def band(self, probability) -> np.ndarray:
        p = np.asarray(probability, dtype=float)
        return np.where(p >= self.high_at, "high", np.where(p >= self.medium_at, "medium", "low"))

    def lift(self, probability) -> np.ndarray:
        """Probability over the base rate (NaN when there is no base rate)."""
        p = np.asarray(probability, dtype=float)
        if not self.base_rate > 0:
            return np.full(p.shape, np.nan)
        return p / self.base_rate

    def explanation(self) -> str:
        """The rule in words, for the worklist."""
        noun, phrase = (
            TARGETS[self.target].noun if self.target in TARGETS else "entity",
            target_phrase(self.target),
        )
        if self.rule == "capacity":
            typical = f"the typical {noun}'s {phrase} ({self.base_rate:.1%})"
            return (
                f"High: the top scores a team can work in a week (from {self.high_at:.1%}); "
                f"medium: the next ones (from {self.medium_at:.1%}). Lift compares with {typical}."
            )
        high, medium = (
            odds_ratio(self.high_at, self.base_rate),
            odds_ratio(self.medium_at, self.base_rate),
        )
        return (
            f"High: from {self.high_at:.1%}, where the odds are at least {high:.3g}× the typical "
            f"{noun}'s ({self.base_rate:.1%} {phrase}); medium: from {self.medium_at:.1%} "
            f"({medium:.3g}× the odds)."
        )


def band_cuts(
    probability: np.ndarray,
    target: str,
    rule: BandRule = "lift",
    lifts: tuple[float, float] | None = None,
    capacity: int = CAPACITY,
) -> BandCuts:
    """The bands of one run from its probabilities."""
    p = np.asarray(probability, dtype=float)
    base = float(p.mean()) if len(p) else float("nan")
    if rule == "capacity":
        ranked = np.sort(p)[::-1]
        high = ranked[min(capacity, len(ranked)) - 1] if len(ranked) else np.inf
        medium = ranked[min(3 * capacity, len(ranked)) - 1] if len(ranked) else np.inf
        return BandCuts(target, rule, base, float(high), float(medium))
    high_lift, medium_lift = lifts or LIFTS.get(target, LIFTS["churn"])
    return BandCuts(target, "lift", base, at_odds(base, high_lift), at_odds(base, medium_lift))


def at_odds(base: float, ratio: float) -> float:
    """The probability whose odds are `ratio` times the odds of `base`."""
    return ratio * base / (1 + (ratio - 1) * base)


def odds_ratio(probability: float, base: float) -> float:
    """How many times the odds of `base` the odds of `probability` are."""
    if not 0 < base < 1 or not 0 <= probability < 1:
        return float("nan")
    return (probability / (1 - probability)) / (base / (1 - base))


def settings_cuts(settings, target: str, probability: np.ndarray) -> BandCuts:
    """`band_cuts` with the workspace's band settings (`barometer.settings.Settings`)."""
    lifts = getattr(settings, f"band_lift_{target}")
    return band_cuts(probability, target, settings.band_rule, lifts, settings.band_capacity)


def format_lift(lift: float | None) -> str:
    """6.2 -> '6.2×', 14.0 -> '14×'; None -> '—'."""
    if lift is None or not np.isfinite(lift):
        return "—"
    return f"{lift:.0f}×" if lift >= 10 else f"{lift:.1f}×"

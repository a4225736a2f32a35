"""Simulation constants: the company's calendar, segments, teams and vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_SHARE = (0.55, 0.30, 0.15)
INDUSTRIES = (
    "software",
    "manufacturing",
    "retail",
    "healthcare",
    "finance",
    "logistics",
    "education",
)
REGIONS = ("emea", "north_america", "latam", "apac")
CONTACT_ROLES = ("decision_maker", "champion", "finance", "it", "user", "user", "user", "user")
CASE_CHANNELS = ("phone", "email", "chat", "web")
CASE_PRIORITIES = ("low", "medium", "high", "urgent")
OPPORTUNITY_TYPES = ("new_business", "upsell", "cross_sell", "renewal", "other")


@dataclass(frozen=True)
class SimConfig:
    """Calendar and sizes of one simulated company.

    `start`..`end` spans 30 months (2023-01-01 .. 2025-07-01): 24 monthly cutoffs from
    2023-04-01 each have 3 months of history before them and a 90-day label horizon after them.
    """

    start: str = "2023-01-01"
    months: int = 30
    chunk_accounts: int = 5_000
    accounts_per_am: int = 40  # account managers own accounts
    accounts_per_sales: int = 60
    accounts_per_service: int = 80
    reps_per_manager: int = 8

    @property
    def month_starts(self) -> np.ndarray:
        """Day offsets from `start` of each month start, plus the end (`months + 1` values)."""
        first = np.datetime64(self.start, "M")
        edges = np.arange(first, first + self.months + 1).astype("datetime64[D]")
        return (edges - np.datetime64(self.start, "D")).astype(np.float64)

    @property
    def end_day(self) -> float:
        """Day offset of the export date (nothing happens on or after it)."""
        return float(self.month_starts[-1])

    @property
    def origin(self) -> np.datetime64:
        return np.datetime64(self.start, "s")

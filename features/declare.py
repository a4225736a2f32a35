"""What a feature is, what a source is, and the small expressions features are written with.

A *source* (`features/sources/<name>.py`) is one query: an Ibis table keyed by the entity and the
cutoff (`c_day`) with raw aggregate columns, computed with the cutoff machinery of
`features.core`. Next to its query, the source file declares the features read from those
columns, each with the words a manager reads:

    SOURCE = Source(name="voice", entity="account", query=latest_response, tables=("nps",))
    FEATURES = (
        SOURCE.feature(
            name="latest_nps",
            family="customer_voice",
            description="Latest Net Promoter score (0-10)",
            window_days=None,
            expr=value_of("nps_score", "float64"),
            unit="points",
        ),
    )

A feature's `expr` takes the source's table (joined to the entity's grid, so the keys and
`c_day` are there too) and returns an Ibis value; it reads only its own source's columns
(`tests/features/test_registry.py` checks this with `features.engine.read_columns`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import ibis

from features.timeline import ratio

Entity = Literal["account", "opportunity", "rep"]
Family = Literal[
    "cadence",
    "conversation_depth",
    "reach",
    "responsiveness",
    "timing",
    "intent",
    "service_quality",
    "customer_voice",
    "pipeline",
    "rep_context",
    "account_context",
]
Kind = Literal["numeric", "categorical", "bool"]
Expression = Callable[[Any], Any]

FAMILY_LABELS: dict[str, str] = {
    "cadence": "Cadence and silence",
    "conversation_depth": "Conversation depth",
    "reach": "Reach and multi-threading",
    "responsiveness": "Responsiveness and follow-up",
    "timing": "Timing",
    "intent": "Intent",
    "service_quality": "Service quality",
    "customer_voice": "Customer voice",
    "pipeline": "Pipeline and stage",
    "rep_context": "Rep context",
    "account_context": "Account context",
}


@dataclass(frozen=True)
class Feature:
    """One behavioural feature.

    `description` is the plain-words sentence a manager reads, e.g.
    "Share of connected calls over 10 minutes, last 90 days". `actionable` marks behaviours a rep
    controls (what-if suggestions are limited to these). `unit` helps phrasing ("days", "calls").
    `expr` is the engine's definition (see `features.engine`); `tables` are the contract tables it
    needs, so a missing table switches the feature off with a message.
    """

    name: str
    entity: Entity
    family: Family
    description: str
    window_days: int | None
    kind: Kind = "numeric"
    actionable: bool = False
    unit: str = ""
    tables: tuple[str, ...] = ("activities",)
    expr: Expression | None = None
    source: str = ""  # the source (`features.sources`) whose columns the expression reads


@dataclass(frozen=True)
class Source:
    """One query and what its features share: the entity they describe and the contract tables
    they need (a feature may need more, e.g. stage history)."""

    name: str
    entity: Entity
    query: Callable[[Any], Any]  # Context -> Ibis table keyed by the entity and `c_day`
    tables: tuple[str, ...] = ("activities",)

    def feature(
        self,
        *,
        name: str,
        family: Family,
        description: str,
        window_days: int | None,
        expr: Expression,
        kind: Kind = "numeric",
        actionable: bool = False,
        unit: str = "",
        tables: tuple[str, ...] | None = None,
    ) -> Feature:
        """A feature of this source (its entity; its tables unless `tables` says otherwise)."""
        return Feature(
            name=name,
            entity=self.entity,
            family=family,
            description=description,
            window_days=window_days,
            kind=kind,
            actionable=actionable,
            unit=unit,
            tables=self.tables if tables is None else tables,
            expr=expr,
            source=self.name,
        )


# ------------------------------------------------------------------ expressions
# Each takes the source's table (one row per entity and cutoff) and returns an Ibis value.


def count_of(name: str) -> Expression:
    """A count column; no rows in the window means zero."""
    return lambda t: t[name].fill_null(0)


def ratio_of(num: str, den: str) -> Expression:
    """num / den, empty when den is zero."""
    return lambda t: ratio(t[num], t[den])


def mean_of(total: str, n: str) -> Expression:
    """A mean from a sum and a count (empty without values)."""
    return ratio_of(total, n)


def per_week(name: str, days: int) -> Expression:
    """A count over `days` days as a weekly rate."""
    return lambda t: t[name].fill_null(0).cast("float64") * (7.0 / days)


def days_since(day_col: str) -> Expression:
    """Days from an epoch-day column to the cutoff."""
    return lambda t: (t.c_day - t[day_col]).cast("float64")


def std_of(total: str, squares: str, n: str) -> Expression:
    """Population standard deviation from sums of whole numbers (exact in float64 on every
    engine); needs 2+ values."""

    def expr(t: Any) -> Any:
        n_ = t[n].fill_null(0).cast("float64")
        mean = t[total].cast("float64") / n_
        var = t[squares].cast("float64") / n_ - mean * mean
        return ibis.ifelse(n_ >= 2, ibis.greatest(var, 0.0).sqrt(), None)

    return expr


def trend_of(recent: str, total: str) -> Expression:
    """Per-week rate in the last 30 days minus the per-week rate in the 60 days before."""

    def expr(t: Any) -> Any:
        r = t[recent].fill_null(0).cast("float64")
        prior = t[total].fill_null(0).cast("float64") - r
        return r * (7.0 / 30) - prior * (7.0 / 60)

    return expr


def value_of(name: str, cast: str | None = None) -> Expression:
    """A column as it is (or cast)."""
    return (lambda t: t[name].cast(cast)) if cast else (lambda t: t[name])


def flag_of(name: str) -> Expression:
    """True when a count column is above zero."""
    return lambda t: t[name].fill_null(0) > 0

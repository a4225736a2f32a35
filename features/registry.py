"""The feature registry: every feature, declared once beside its query in `features.sources`.

The registry drives computation (`features.engine`), documentation (`barometer features --list`)
and explanations (`barometer.scoring.reasons` turns a feature's description into a sentence).
Other rooms list features through `REGISTRY` (or `features_for`, `BY_NAME`).
"""

from __future__ import annotations

import hashlib

from features.declare import FAMILY_LABELS, Entity, Family, Feature, Kind
from features.sources import FEATURES

__all__ = [
    "BY_NAME",
    "FAMILY_LABELS",
    "REGISTRY",
    "Entity",
    "Family",
    "Feature",
    "Kind",
    "feature_names",
    "features_for",
    "markdown",
    "registry_hash",
]

# The column order of the feature tables (and so of every model's features). A feature not
# listed here follows the listed ones, in its source's order.
COLUMN_ORDER: tuple[str, ...] = (
    "touches_per_week_30d",
    "touches_per_week_90d",
    "touch_trend_30d_vs_prior_60d",
    "mean_days_between_touches_90d",
    "touch_gap_variability_90d",
    "touch_gap_variability_30d",
    "longest_silence_90d",
    "days_since_last_touch",
    "days_since_last_connected_call",
    "usage_events_30d",
    "usage_trend_30d_vs_prior_60d",
    "days_since_last_usage",
    "usage_days_total",
    "days_since_first_usage",
    "connect_rate_90d",
    "avg_connected_call_minutes_90d",
    "long_call_share_90d",
    "meetings_90d",
    "demos_90d",
    "reached_decision_maker_90d",
    "decision_maker_touch_share_90d",
    "distinct_contacts_90d",
    "distinct_contact_roles_90d",
    "days_to_follow_up_after_meeting_90d",
    "meetings_followed_up_within_2_days_share_90d",
    "days_to_answer_inbound_90d",
    "follow_ups_chased_by_call_share_90d",
    "inbound_share_90d",
    "morning_call_share_90d",
    "afternoon_call_share_90d",
    "weekend_call_share_90d",
    "business_hours_call_share_90d",
    "discovery_call_share_90d",
    "follow_up_call_share_90d",
    "negotiation_call_share_90d",
    "check_in_call_share_90d",
    "upsell_call_share_90d",
    "support_call_share_90d",
    "cases_opened_90d",
    "urgent_cases_opened_90d",
    "open_cases",
    "oldest_open_case_days",
    "first_contact_resolution_rate_180d",
    "avg_hours_to_resolve_180d",
    "escalation_rate_180d",
    "avg_case_csat_180d",
    "latest_nps",
    "nps_change_since_previous",
    "is_nps_detractor",
    "is_nps_promoter",
    "days_since_last_nps",
    "avg_interaction_rating_90d",
    "segment",
    "industry",
    "region",
    "tenure_days",
    "arr",
    "current_stage",
    "stage_position",
    "days_in_current_stage",
    "days_in_stage_vs_norm",
    "stage_velocity_per_30d",
    "stage_regressions",
    "deal_amount",
    "deal_type",
    "deal_age_days",
    "touches_in_current_stage",
    "deal_touches_30d",
    "days_since_last_deal_touch",
    "deal_meetings",
    "deal_connect_rate",
    "deal_reached_decision_maker",
    "deal_distinct_contacts",
    "rep_win_rate",
    "rep_closed_deals",
    "rep_win_rate_from_current_stage",
)


def in_column_order(features: tuple[Feature, ...]) -> tuple[Feature, ...]:
    """`features` in `COLUMN_ORDER`, unlisted ones last (in their given order)."""
    rank = {name: i for i, name in enumerate(COLUMN_ORDER)}
    return tuple(sorted(features, key=lambda f: rank.get(f.name, len(rank))))


REGISTRY: tuple[Feature, ...] = in_column_order(FEATURES)

BY_NAME: dict[str, Feature] = {f.name: f for f in REGISTRY}


def features_for(entity: Entity, tables: set[str] | None = None) -> list[Feature]:
    """The registry's features for an entity, optionally only those whose tables are present."""
    return [
        f for f in REGISTRY if f.entity == entity and (tables is None or set(f.tables) <= tables)
    ]


def feature_names(entity: Entity) -> list[str]:
    """Column names of an entity's feature table, in registry order."""
    return [f.name for f in features_for(entity)]


def registry_hash() -> str:
    """A short hash of the registry's names, kinds, windows and descriptions (model provenance)."""
    text = "\n".join(
        f"{f.name}|{f.entity}|{f.family}|{f.kind}|{f.window_days}|{f.description}" for f in REGISTRY
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


HOW_TO_ADD: tuple[str, ...] = (
    "## Adding a behaviour",
    "",
    "A behaviour is one file. Each module of `features/sources/` is a source: one query (an Ibis",
    "table keyed by the entity and the cutoff day `c_day`, built with the cutoff machinery of",
    "`features/core.py`) and, beside it, the features read from its columns:",
    "",
    "```python",
    'SOURCE = Source(name="voice", entity="account", query=latest_response, tables=("nps",))',
    "FEATURES = (",
    "    SOURCE.feature(",
    '        name="latest_nps",',
    '        family="customer_voice",',
    '        description="Latest Net Promoter score (0-10)",',
    "        window_days=None,",
    '        expr=value_of("nps_score", "float64"),',
    '        unit="points",',
    "    ),",
    ")",
    "```",
    "",
    "- A new measure of an existing source: add its column to that source's query and a",
    "  `SOURCE.feature(...)` to its `FEATURES`.",
    "- A new source: a new file in `features/sources/` named like its `SOURCE` (the package",
    "  collects every module). The helpers in `features/declare.py` (`count_of`, `ratio_of`,",
    "  `per_week`, `days_since`, ...) cover the usual expressions.",
    "- A feature reads only its own source's columns, and only events strictly before the cutoff",
    "  whose record existed before it; `tests/features/test_registry.py` and",
    "  `tests/features/test_point_in_time.py` check both.",
    "- `COLUMN_ORDER` in `features/registry.py` places a feature among the table's columns; an",
    "  unlisted feature comes last. Then regenerate this page:",
    "  `barometer features --list --markdown > docs/features.md`.",
)


def markdown() -> str:
    """The generated feature table for `docs/features.md`."""
    lines = [
        "# Features",
        "",
        "Generated from the feature registry (`features/sources/`) by "
        "`barometer features --list --markdown`; do not edit by hand.",
        "",
        f"{len(REGISTRY)} features, registry hash `{registry_hash()}`. "
        "A feature for (entity, cutoff) "
        "uses only events strictly before the cutoff whose record existed before it.",
        "",
        *HOW_TO_ADD,
    ]
    for entity in ("account", "opportunity", "rep"):
        lines += [
            "",
            f"## {entity.title()} features",
            "",
            "| feature | family | kind | window | description | actionable | needs |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in features_for(entity):  # type: ignore[arg-type]
            window = f"{f.window_days} d" if f.window_days else "all history"
            lines.append(
                f"| `{f.name}` | {FAMILY_LABELS[f.family]} | {f.kind} | {window} | "
                f"{f.description} | {'yes' if f.actionable else ''} | {', '.join(f.tables)} |"
            )
    return "\n".join(lines) + "\n"

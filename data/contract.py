"""The canonical data contract: tables, columns, types, null rules and meanings.

Ingestion enforces it, the simulator writes it, and `data/README.md` documents it.
Timestamps are ISO 8601; a value with an offset or `Z` is converted to UTC, a value
without one is taken as UTC. Stored timestamps are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["string", "timestamp", "float", "int", "bool", "enum"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    meaning: str = ""
    values: tuple[str, ...] = ()  # allowed values for kind == "enum"
    min: float | None = None
    max: float | None = None
    references: str | None = None  # "table.column" this column must exist in

    def out_of_range(self) -> str:
        """The reject reason for a value outside [min..max], as both ingest engines word it:
        'out of range [0..2,592,000]' (whole bounds without an exponent)."""

        def bound(value: float | None) -> str:
            if value is None:
                return ""
            return f"{int(value):,}" if value == int(value) else f"{value:g}"

        return f"out of range [{bound(self.min)}..{bound(self.max)}]"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    meaning: str = ""
    mandatory: bool = False
    order_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TEAMS = ("sales", "service", "account_management", "other")
OPPORTUNITY_TYPES = ("new_business", "upsell", "cross_sell", "renewal", "other")
OUTCOMES = ("won", "lost", "open")
ACTIVITY_TYPES = (
    "call",
    "email",
    "meeting",
    "demo",
    "note",
    "task",
    "purchase",
    "usage",
    "other",
)
DIRECTIONS = ("inbound", "outbound")
# No call or meeting lasts a month; a longer duration is a unit or entry error, refused at ingest
# rather than carried into features (where it would also overflow their exact millisecond sums).
MAX_DURATION_S = 30 * 86_400

ACCOUNTS = Table(
    "accounts",
    (
        Column("account_id", "string", True, "Unique account id."),
        Column("created_at", "timestamp", True, "When the account became a customer or prospect."),
        Column(
            "segment", "string", meaning="Commercial segment, e.g. smb / mid_market / enterprise."
        ),
        Column("industry", "string", meaning="Industry."),
        Column("region", "string", meaning="Sales region."),
        Column(
            "owner_rep_id", "string", meaning="Rep who owns the account.", references="reps.rep_id"
        ),
        Column("arr", "float", meaning="Annual recurring revenue.", min=0),
        Column(
            "churned_at", "timestamp", meaning="When the customer churned; null while a customer."
        ),
    ),
    key=("account_id",),
    meaning="One row per customer or prospect account.",
    mandatory=True,
)

REPS = Table(
    "reps",
    (
        Column("rep_id", "string", True, "Unique rep id."),
        Column("team", "enum", True, "Team the rep works in.", values=TEAMS),
        Column("hired_at", "timestamp", meaning="Hire date."),
        Column("manager_id", "string", meaning="The rep's manager (a rep_id)."),
        Column(
            "left_at", "timestamp", meaning="When the rep left the company; null while employed."
        ),
    ),
    key=("rep_id",),
    meaning="Sales, service and account-management staff.",
)

OPPORTUNITIES = Table(
    "opportunities",
    (
        Column("opportunity_id", "string", True, "Unique opportunity id."),
        Column(
            "account_id",
            "string",
            True,
            "Account the deal is with.",
            references="accounts.account_id",
        ),
        Column("created_at", "timestamp", True, "When the opportunity was opened."),
        Column(
            "owner_rep_id", "string", meaning="Rep who owns the deal.", references="reps.rep_id"
        ),
        Column("type", "enum", meaning="Kind of deal.", values=OPPORTUNITY_TYPES),
        Column("amount", "float", meaning="Deal value.", min=0),
        Column("closed_at", "timestamp", meaning="When the deal closed; null while open."),
        Column("outcome", "enum", True, "Eventual outcome.", values=OUTCOMES),
        Column(
            "source_rep_id",
            "string",
            meaning="Rep who sourced the deal (e.g. a service rep).",
            references="reps.rep_id",
        ),
    ),
    key=("opportunity_id",),
    meaning="Deals, one row each, with their eventual outcome.",
)

OPPORTUNITY_STAGES = Table(
    "opportunity_stages",
    (
        Column(
            "opportunity_id", "string", True, "The deal.", references="opportunities.opportunity_id"
        ),
        Column("stage", "string", True, "Stage name; stage order is configurable."),
        Column("entered_at", "timestamp", True, "When the deal entered the stage."),
    ),
    key=("opportunity_id", "stage", "entered_at"),
    meaning="Stage history: one row per stage entry (a deal may re-enter a stage).",
)

ACTIVITIES = Table(
    "activities",
    (
        Column("activity_id", "string", True, "Unique activity id."),
        Column("account_id", "string", True, "Account touched.", references="accounts.account_id"),
        Column("occurred_at", "timestamp", True, "When it happened."),
        Column("type", "enum", True, "Kind of activity.", values=ACTIVITY_TYPES),
        Column(
            "opportunity_id",
            "string",
            meaning="Deal it relates to.",
            references="opportunities.opportunity_id",
        ),
        Column("rep_id", "string", meaning="Rep who did it.", references="reps.rep_id"),
        Column("contact_id", "string", meaning="Customer contact involved (personal data)."),
        Column(
            "contact_role", "string", meaning="Role of the contact, e.g. decision_maker, champion."
        ),
        Column("direction", "enum", meaning="Who initiated it.", values=DIRECTIONS),
        Column(
            "duration_s",
            "float",
            meaning="Duration in seconds, at most 30 days.",
            min=0,
            max=MAX_DURATION_S,
        ),
        Column(
            "outcome",
            "string",
            meaning="Free text: connected / voicemail / no_answer / replied / held.",
        ),
        Column("reached_decision_maker", "bool", meaning="Whether the decision maker was reached."),
        Column(
            "objective",
            "string",
            meaning="Intent: discovery / follow_up / demo / negotiation / "
            "support / check_in / upsell / ...",
        ),
        Column("rating", "float", meaning="Customer rating of the interaction, 1-5.", min=1, max=5),
        Column("amount", "float", meaning="Value of a purchase or usage event."),
        Column(
            "logged_at", "timestamp", meaning="When the record was created in the CRM, if later."
        ),
    ),
    key=("activity_id",),
    meaning="Every touch: calls, emails, meetings, purchases, product usage.",
    mandatory=True,
)

CASES = Table(
    "cases",
    (
        Column("case_id", "string", True, "Unique case id."),
        Column(
            "account_id",
            "string",
            True,
            "Account that raised it.",
            references="accounts.account_id",
        ),
        Column("opened_at", "timestamp", True, "When it was opened."),
        Column("closed_at", "timestamp", meaning="When it was closed; null while open."),
        Column("rep_id", "string", meaning="Service rep handling it.", references="reps.rep_id"),
        Column("channel", "string", meaning="phone / email / chat / web ..."),
        Column("priority", "string", meaning="low / medium / high / urgent ..."),
        Column(
            "first_contact_resolved", "bool", meaning="Resolved at first contact (known at close)."
        ),
        Column(
            "csat", "float", meaning="Customer satisfaction 1-5 (known at close).", min=1, max=5
        ),
        Column("escalated", "bool", meaning="Escalated (known at close)."),
    ),
    key=("case_id",),
    meaning="Support cases.",
)

NPS = Table(
    "nps",
    (
        Column(
            "account_id", "string", True, "Account responding.", references="accounts.account_id"
        ),
        Column("responded_at", "timestamp", True, "When the response came in."),
        Column("score", "float", True, "Net Promoter score 0-10.", min=0, max=10),
    ),
    key=("account_id", "responded_at"),
    meaning="NPS survey responses.",
)

CHURN_EVENTS = Table(
    "churn_events",
    (
        Column("churn_event_id", "string", True, "Unique churn event id."),
        Column(
            "account_id", "string", True, "Account that churned.", references="accounts.account_id"
        ),
        Column("churned_at", "timestamp", True, "When the customer churned."),
        Column("reason", "string", meaning="Reason code, as the source system gives it."),
        Column(
            "is_reactivation",
            "bool",
            meaning="True when the event records a return (the account came back), not a loss.",
        ),
    ),
    key=("churn_event_id",),
    meaning="Churn events from a billing or subscription log; an account may churn, return and "
    "churn again. `accounts.churned_at` is the single-date alternative.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ACCOUNTS,
        REPS,
        OPPORTUNITIES,
        OPPORTUNITY_STAGES,
        ACTIVITIES,
        CASES,
        NPS,
        CHURN_EVENTS,
    )
}
# Load order: referenced tables first.
LOAD_ORDER: tuple[str, ...] = (
    "reps",
    "accounts",
    "opportunities",
    "opportunity_stages",
    "activities",
    "cases",
    "nps",
    "churn_events",
)
MANDATORY: tuple[str, ...] = tuple(n for n, t in TABLES.items() if t.mandatory)


def markdown_table(table: Table) -> str:
    """Render one table of the contract as a Markdown table for the docs."""
    lines = [
        f"### `{table.name}`{' (mandatory)' if table.mandatory else ''}",
        "",
        table.meaning,
        "",
        f"Key: `{', '.join(table.key)}`",
        "",
        "| column | type | null | meaning |",
        "|---|---|---|---|",
    ]
    for c in table.columns:
        kind = f"enum: {' / '.join(c.values)}" if c.kind == "enum" else c.kind
        if c.min is not None or c.max is not None:
            kind += f" [{c.min if c.min is not None else ''}..{c.max if c.max is not None else ''}]"
        null = "required" if c.required else "nullable"
        ref = f" References `{c.references}`." if c.references else ""
        lines.append(f"| `{c.name}` | {kind} | {null} | {c.meaning}{ref} |")
    return "\n".join(lines)

"""Salesforce adapter: Data Loader / report CSV exports (API field names) mapped to the contract.

Files are named after the object: `Account`, `User`, `Opportunity`, `OpportunityHistory` (or
`OpportunityFieldHistory`, rows with `Field = StageName`), `Task`, `Event`, `Case` (`.csv` or
`.parquet`, any case). Ids: an 18-character Id is its 15-character case-sensitive Id plus a
3-character checksum, so every Id is stored as its first 15 characters and both forms meet.
Owners that are queues (not `005…` users) are left empty. Custom fields come from a YAML file
(`data/mappings/salesforce_custom_fields.yaml`): per object, contract column -> API field name.
Values the adapter cannot interpret are passed through unchanged, so validation rejects them
with the raw value rather than dropping them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from data.contract import TABLES
from features.ingest.files import PROBLEM, Inputs
from features.ingest.sources import IngestError, Plan, Source, ident

OBJECTS = {
    "account": "accounts",
    "user": "reps",
    "opportunity": "opportunities",
    "opportunityhistory": "opportunity_stages",
    "opportunityfieldhistory": "opportunity_stages",
    "task": "activities",
    "event": "activities",
    "case": "cases",
}
OBJECT_NAMES = (
    "Account",
    "User",
    "Opportunity",
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "Task",
    "Event",
    "Case",
)


class Fields:
    """SQL for a file's fields: absent ones are NULL, ids normalised, used ones tracked."""

    def __init__(self, columns: tuple[str, ...], parquet: bool) -> None:
        self.by_name = {c.strip().lower(): c for c in columns}
        self.parquet = parquet
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return name.lower() in self.by_name

    def __call__(self, name: str) -> str:
        """The trimmed text of a field, NULL for "" or when the export lacks it."""
        if not self.has(name):
            return "null::varchar"
        self.used.add(name.lower())
        col = ident(self.by_name[name.lower()])
        text = f"cast({col} as varchar)" if self.parquet else col
        return f"nullif(trim({text}), '')"

    def id(self, name: str) -> str:
        """A record Id as its 15-character form."""
        return sfid(self(name))

    def user(self, name: str) -> str:
        """A user Id (`005…`); queue or group owners become NULL."""
        raw = self(name)
        return f"case when {raw} like '005%' then {sfid(raw)} end"

    def flag(self, name: str) -> str:
        """A boolean field's SQL boolean (NULL when absent or unreadable)."""
        return f"try_cast({self(name)} as boolean)"

    def ignored(self) -> tuple[str, ...]:
        return tuple(c for k, c in self.by_name.items() if k not in self.used)


def sfid(raw: str) -> str:
    """SQL: the 15-character case-sensitive form of a 15- or 18-character Salesforce Id."""
    return f"case when length({raw}) = 18 then left({raw}, 15) else {raw} end"


def scaled(raw: str, factor: int) -> str:
    """SQL: a number times `factor` as text; text that is not a number passes through to be
    rejected."""
    return (
        f"case when try_cast({raw} as double) is null then {raw} "
        f"else cast(try_cast({raw} as double) * {factor} as varchar) end"
    )


def closed_outcome(f: Fields) -> str:
    """won / lost / open from IsClosed + IsWon (or a Closed Won / Closed Lost StageName)."""
    stage = f("StageName")
    closed = f"coalesce({f.flag('IsClosed')}, {stage} ilike 'closed%', false)"
    won = f"coalesce({f.flag('IsWon')}, {stage} ilike 'closed won%', false)"
    bad = f"{f('IsClosed')} is not null and {f.flag('IsClosed')} is null"
    return (
        f"case when {bad} then {f('IsClosed')} when {closed} and {won} then 'won' "
        f"when {closed} then 'lost' else 'open' end"
    )


def account_of(f: Fields) -> str:
    """AccountId, or WhatId when it points at an Account (`001…`)."""
    what = f("WhatId")
    return f"coalesce({f.id('AccountId')}, case when {what} like '001%' then {sfid(what)} end)"


def opportunity_of(f: Fields) -> str:
    what = f("WhatId")
    return f"case when {what} like '006%' then {sfid(what)} end"


def account(f: Fields) -> dict[str, str]:
    return {
        "account_id": f.id("Id"),
        "created_at": f("CreatedDate"),
        "industry": f("Industry"),
        "region": f("BillingCountry"),
        "owner_rep_id": f.user("OwnerId"),
    }


def user(f: Fields) -> dict[str, str]:
    dept = f"lower(coalesce({f('Department')}, {f('Title')}, ''))"
    team = (
        f"case when {dept} like '%account manag%' or {dept} like '%success%' "
        f"then 'account_management' when {dept} like '%sales%' then 'sales' "
        f"when {dept} like '%support%' or {dept} like '%service%' then 'service' else 'other' end"
    )
    return {
        "rep_id": f.id("Id"),
        "team": team,
        "hired_at": f("CreatedDate"),
        "manager_id": f.id("ManagerId"),
    }


def opportunity(f: Fields) -> dict[str, str]:
    kind = f"lower({f('Type')})"
    opp_type = (
        f"case when {kind} is null then null "
        f"when {kind} in ('new business', 'new customer', 'new_business') then 'new_business' "
        f"when {kind} like '%upgrade%' or {kind} like '%upsell%' then 'upsell' "
        f"when {kind} like '%cross%' then 'cross_sell' when {kind} like '%renewal%' then 'renewal' "
        "else 'other' end"
    )
    outcome = closed_outcome(f)
    return {
        "opportunity_id": f.id("Id"),
        "account_id": f.id("AccountId"),
        "created_at": f("CreatedDate"),
        "owner_rep_id": f.user("OwnerId"),
        "type": opp_type,
        "amount": f("Amount"),
        "closed_at": f"case when {outcome} in ('won', 'lost') then {f('CloseDate')} end",
        "outcome": outcome,
    }


def opportunity_history(f: Fields) -> dict[str, str]:
    return {
        "opportunity_id": f.id("OpportunityId"),
        "stage": f("StageName"),
        "entered_at": f("CreatedDate"),
    }


def field_history(f: Fields) -> dict[str, str]:
    f("Field")
    return {
        "opportunity_id": f.id("OpportunityId"),
        "stage": f("NewValue"),
        "entered_at": f("CreatedDate"),
    }


def task(f: Fields) -> dict[str, str]:
    sub = f"lower({f('TaskSubtype')})"
    is_call = f"({f('CallType')} is not null or {f('CallDurationInSeconds')} is not null)"
    kind = (
        f"case when {sub} = 'call' then 'call' when {sub} in ('email', 'listemail') then 'email' "
        f"when {sub} = 'task' or {sub} is null and not {is_call} then 'task' "
        f"when {is_call} then 'call' else 'other' end"
    )
    return {
        "activity_id": f.id("Id"),
        "account_id": account_of(f),
        "occurred_at": f"coalesce({f('CompletedDateTime')}, {f('ActivityDate')}, "
        f"{f('CreatedDate')})",
        "type": kind,
        "opportunity_id": opportunity_of(f),
        "rep_id": f.user("OwnerId"),
        "contact_id": f.id("WhoId"),
        "direction": f"case lower({f('CallType')}) when 'inbound' then 'inbound' "
        "when 'outbound' then 'outbound' end",
        "duration_s": f("CallDurationInSeconds"),
        "outcome": f"lower({f('CallDisposition')})",
        "logged_at": f("CreatedDate"),
    }


def event(f: Fields) -> dict[str, str]:
    label = f"lower(coalesce({f('Type')}, '') || ' ' || coalesce({f('Subject')}, ''))"
    kind = (
        f"case when {label} like '%demo%' then 'demo' when lower({f('Type')}) = 'call' then 'call' "
        f"when lower({f('Type')}) = 'email' then 'email' else 'meeting' end"
    )
    return {
        "activity_id": f.id("Id"),
        "account_id": account_of(f),
        "occurred_at": f"coalesce({f('StartDateTime')}, {f('ActivityDateTime')}, "
        f"{f('ActivityDate')})",
        "type": kind,
        "opportunity_id": opportunity_of(f),
        "rep_id": f.user("OwnerId"),
        "contact_id": f.id("WhoId"),
        "duration_s": scaled(f("DurationInMinutes"), 60),
        "logged_at": f("CreatedDate"),
    }


def case(f: Fields) -> dict[str, str]:
    return {
        "case_id": f.id("Id"),
        "account_id": f.id("AccountId"),
        "opened_at": f("CreatedDate"),
        "closed_at": f("ClosedDate"),
        "rep_id": f.user("OwnerId"),
        "channel": f"lower({f('Origin')})",
        "priority": f"lower({f('Priority')})",
        "escalated": f("IsEscalated"),
    }


MAPPERS: dict[str, Callable[[Fields], dict[str, str]]] = {
    "account": account,
    "user": user,
    "opportunity": opportunity,
    "opportunityhistory": opportunity_history,
    "opportunityfieldhistory": field_history,
    "task": task,
    "event": event,
    "case": case,
}


def load_custom_fields(path: Path | None) -> dict[str, dict[str, str]]:
    """`{object (lower case): {contract column: API field}}` from the YAML file, if any."""
    if path is None:
        return {}
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise IngestError(f"{path}: cannot read the custom-field mapping: {exc}") from exc
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise IngestError(f"{path}: expected `Object: {{contract_column: Api_Field__c}}` entries")
    return {str(k).lower(): {str(c): str(a) for c, a in v.items()} for k, v in raw.items()}


def with_custom(
    f: Fields, exprs: dict[str, str], custom: dict[str, str], table: str
) -> dict[str, str]:
    """Add (or override) contract columns from custom fields; `*_id` values are Ids."""
    out = dict(exprs)
    for column, api_name in custom.items():
        if column not in TABLES[table].names:
            raise IngestError(
                f"custom field {api_name}: {column!r} is not a column of the {table} table"
            )
        out[column] = f.id(api_name) if column.endswith("_id") else f(api_name)
    return out


def object_source(inputs: Inputs, path: Path, obj: str, custom: dict[str, str]) -> Source:
    """One Salesforce export file as a source for its contract table."""
    entry = inputs.open(path)
    f = Fields(entry.columns, entry.parquet)
    exprs = with_custom(f, MAPPERS[obj](f), custom, OBJECTS[obj])
    missing = [c for c in custom.values() if not f.has(c)]
    notes = (f"custom field(s) not in the export: {', '.join(missing)}",) if missing else ()
    select = ", ".join(f"{e} as {ident(c)}" for c, e in exprs.items())
    if obj == "opportunityfieldhistory":
        field = f("Field")
        numbered = f"select row_number() over () as _row, * from {entry.view}"
        sql = (
            f"select _row, {PROBLEM}, {select} from ({numbered}) "
            f"where {PROBLEM} is not null or {field} = 'StageName'"
        )
        skipped = inputs.query(
            f"select count(*) from {entry.view} "
            f"where {PROBLEM} is null and {field} is distinct from 'StageName'",
            (path,),
        )
        notes += (
            f"{skipped[0][0] if skipped else 0} row(s) for fields other than StageName "
            "are not stage changes and were not read",
        )
        return Source(
            OBJECTS[obj], path, sql, tuple(exprs), True, f.ignored(), notes, inputs=(path,)
        )
    sql = f"select {PROBLEM}, {select} from {entry.view}"
    return Source(OBJECTS[obj], path, sql, tuple(exprs), False, f.ignored(), notes, inputs=(path,))


def salesforce_plan(inputs: Inputs, custom: Path | None) -> Plan:
    """Every Salesforce object file in the input, as sources."""
    fields = load_custom_fields(custom)
    plan = Plan()
    for path in inputs.listing():
        obj = path.stem.lower()
        if obj in MAPPERS:
            plan.sources.append(object_source(inputs, path, obj, fields.get(obj, {})))
        else:
            known = ", ".join(OBJECT_NAMES)
            plan.notes.append(f"{path.name}: not a Salesforce object export ({known}); ignored")
    return plan

"""Mapping adapter: any event log (purchases, usage, tickets) mapped to the contract by YAML.

A mapping file lists sources; files are relative to the ingested folder:

    derive_accounts: true            # build `accounts` from the entities (created_at = first event)
    sources:
      - file: Retail_Data_Transactions.csv
        table: activities            # default
        entity: customer_id          # -> account_id
        timestamp: trans_date        # -> the table's event time (occurred_at, opened_at, ...)
        timestamp_format: "%m-%d-%Y" # strptime format; ISO 8601 when omitted
        type: purchase               # a constant, or `type_column: feature_name`
        id: null                     # the id column; when absent a stable id is derived
        columns: {amount: tran_amount}   # contract column -> source column
        constants: {channel: web}        # contract column -> fixed value
        formats: {closed_at: "%Y-%m-%d %H:%M:%S"}
        lookup:                      # optional: join another file to find the entity
          file: subscriptions.csv
          key: subscription_id
          columns: [account_id]

A derived id is `md5(the row's mapped values)-n`, n counting identical rows in file order, so
re-ingesting the same (or an appended) log gives the same ids. Derived accounts take
`created_at` from the earliest event in this ingest, so derive from the full log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data.contract import TABLES
from features.ingest.sources import IngestError, Plan, Source, header, ident, read_sql, sql_str

EVENT_TIME = {
    "accounts": "created_at",
    "activities": "occurred_at",
    "cases": "opened_at",
    "nps": "responded_at",
    "opportunities": "created_at",
    "opportunity_stages": "entered_at",
    "reps": "hired_at",
}


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    key: str
    columns: list[str]


class SourceSpec(BaseModel):
    """One source file of a mapping."""

    model_config = ConfigDict(extra="forbid")
    file: str
    table: str = "activities"
    entity: str | None = None
    timestamp: str | None = None
    timestamp_format: str | None = None
    type: str | None = None
    type_column: str | None = None
    id: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    formats: dict[str, str] = Field(default_factory=dict)
    lookup: Lookup | None = None

    @model_validator(mode="after")
    def _known_columns(self) -> SourceSpec:
        if self.table not in TABLES:
            raise ValueError(f"table {self.table!r} is not a contract table")
        names = TABLES[self.table].names
        unknown = [c for c in [*self.columns, *self.constants, *self.formats] if c not in names]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not column(s) of {self.table}")
        return self

    def column_map(self) -> dict[str, str]:
        """Contract column -> source column, with the entity/timestamp/type/id shorthands."""
        out = dict(self.columns)
        key = TABLES[self.table].key[0]
        shorthands = {
            "account_id": self.entity,
            EVENT_TIME[self.table]: self.timestamp,
            "type": self.type_column,
            key: self.id,
        }
        out.update({k: v for k, v in shorthands.items() if v})
        return out

    def constant_map(self) -> dict[str, str]:
        out = dict(self.constants)
        if self.type and not self.type_column:
            out["type"] = self.type
        return out

    def format_map(self) -> dict[str, str]:
        out = dict(self.formats)
        if self.timestamp_format:
            out.setdefault(EVENT_TIME[self.table], self.timestamp_format)
        return out


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    derive_accounts: bool = False
    sources: list[SourceSpec]


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping YAML; errors name the file and the problem."""
    try:
        raw: Any = yaml.safe_load(Path(path).read_text())
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise IngestError(f"{path}: invalid mapping: {problems}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise IngestError(f"{path}: invalid mapping: {exc}") from exc


def _require(path: Path, columns: tuple[str, ...], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise IngestError(f"{path}: column(s) {', '.join(missing)} named in the mapping not found")


def base_select(con: duckdb.DuckDBPyConnection, folder: Path, spec: SourceSpec) -> str:
    """The source file, numbered (`_row`) and joined to its lookup file when there is one."""
    path = folder / spec.file
    numbered = f"select row_number() over () as _row, * from {read_sql(path)}"
    if spec.lookup is None:
        return numbered
    look = folder / spec.lookup.file
    _require(look, header(con, look), [spec.lookup.key, *spec.lookup.columns])
    on = ident(spec.lookup.key)
    dup = con.execute(f"select count(*) - count(distinct {on}) from {read_sql(look)}").fetchone()
    if dup and dup[0]:
        raise IngestError(f"{look}: lookup key {spec.lookup.key} is not unique ({dup[0]} repeats)")
    cols = ", ".join(f"l.{ident(c)}" for c in spec.lookup.columns)
    return f"select s.*, {cols} from ({numbered}) s left join {read_sql(look)} l on s.{on} = l.{on}"


def value_expr(column: str, source_col: str, fmt: str | None) -> str:
    """SQL for one mapped value as text; a timestamp format is turned into ISO 8601 when it
    parses, and the raw text is kept otherwise so validation reports it."""
    raw = f"nullif(trim(cast({ident(source_col)} as varchar)), '')"
    if fmt is None:
        return raw
    parsed = f"strftime(try_strptime({raw}, {sql_str(fmt)}), '%Y-%m-%dT%H:%M:%S')"
    return f"coalesce({parsed}, {raw})"


def spec_source(con: duckdb.DuckDBPyConnection, folder: Path, spec: SourceSpec) -> Source:
    """One mapped file as a source of contract columns (with `_row`)."""
    path = folder / spec.file
    columns = header(con, path)
    mapped = spec.column_map()
    lookup_cols = spec.lookup.columns if spec.lookup else []
    _require(path, columns + tuple(lookup_cols), list(mapped.values()))
    formats = spec.format_map()
    exprs = {c: value_expr(c, s, formats.get(c)) for c, s in mapped.items()}
    exprs.update({c: sql_str(v) for c, v in spec.constant_map().items()})
    table = TABLES[spec.table]
    key = table.key[0]
    if len(table.key) == 1 and key not in exprs:
        exprs[key] = derived_id(list(exprs.values()))
    select = ", ".join(f"{e} as {ident(c)}" for c, e in exprs.items())
    used = set(mapped.values()) | {spec.lookup.key if spec.lookup else ""}
    ignored = tuple(c for c in columns if c not in used)
    sql = f"select _row, {select} from ({base_select(con, folder, spec)}) order by _row"
    return Source(spec.table, path, sql, tuple(exprs), True, ignored)


def derived_id(values: list[str]) -> str:
    """A stable id: md5 of the mapped values plus the occurrence number of identical rows."""
    digest = f"md5(concat_ws('|', {', '.join(values)}))"
    return f"{digest} || '-' || row_number() over (partition by {digest} order by _row)"


def derived_accounts(sources: list[Source], mapping_file: Path) -> Source:
    """`accounts` from the distinct entities of the other sources, created at their first event."""
    parts = [
        f"select trim(account_id) as account_id, try_cast({EVENT_TIME[s.table]} as TIMESTAMPTZ) "
        f"at time zone 'UTC' as ts from ({s.select})"
        for s in sources
        if "account_id" in s.columns and EVENT_TIME[s.table] in s.columns
    ]
    if not parts:
        raise IngestError(f"{mapping_file}: derive_accounts needs sources with an entity and time")
    sql = (
        "select row_number() over (order by account_id) as _row, account_id, "
        "strftime(min(ts), '%Y-%m-%dT%H:%M:%S') as created_at "
        f"from ({' union all '.join(parts)}) where account_id is not null and account_id <> '' "
        "group by account_id"
    )
    label = f"{mapping_file} (accounts derived from events)"
    return Source("accounts", mapping_file, sql, ("account_id", "created_at"), True, label=label)


def mapping_plan(con: duckdb.DuckDBPyConnection, folder: Path, mapping_file: Path) -> Plan:
    """Sources for every file the mapping names (plus derived accounts when asked)."""
    mapping = load_mapping(mapping_file)
    folder = Path(folder)
    plan = Plan(sources=[spec_source(con, folder, s) for s in mapping.sources])
    if mapping.derive_accounts and "accounts" not in plan.tables():
        plan.sources.append(derived_accounts(plan.sources, Path(mapping_file)))
        plan.notes.append("accounts derived from the distinct entities (created_at = first event)")
    return plan

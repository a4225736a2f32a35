"""Mapping adapter: any export (deals, purchases, usage, tickets) mapped to the contract by YAML.

`features/ingest/README.md` ("Mapping adapter") documents the YAML with a worked example per
shipped data set. In short, a mapping lists sources; each reads one file (relative to the ingested
folder) into one contract table: columns and shorthands (`entity`, `timestamp`, `id`, `type`),
constants, value maps, row filters, date formats and an optional lookup join. Several sources may
fill one table, and one file may feed several tables (give each source a `name`). A derived id is
`md5(the row's mapped values)-n`, n counting identical rows in file order, so re-ingesting the same
(or an appended) log gives the same ids.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data.contract import TABLES
from features.ingest.files import PROBLEM, Inputs
from features.ingest.sources import IngestError, Plan, Source, ident, sql_str
from features.ingest.validate import EARLIEST

EVENT_TIME = {
    "accounts": "created_at",
    "activities": "occurred_at",
    "cases": "opened_at",
    "nps": "responded_at",
    "opportunities": "created_at",
    "opportunity_stages": "entered_at",
    "reps": "hired_at",
    "churn_events": "churned_at",
}
# A value that looks like a date, in any of the forms exports use (for the refusal message).
DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}-[A-Za-z]{3}-\d{2,4})"
)


class StringLoader(yaml.SafeLoader):
    """YAML where every scalar is text (`TRUE`, `01`, `1.0` stay as written); only `null` is None.

    Value maps and filters compare with the file's text, so YAML must not turn `TRUE` into a
    boolean or `01` into 1.
    """


StringLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    key: str
    columns: list[str]


class SourceSpec(BaseModel):
    """One source of a mapping: one file (rows filtered) into one contract table."""

    model_config = ConfigDict(extra="forbid")
    file: str
    name: str | None = None
    table: str = "activities"
    entity: str | None = None
    timestamp: str | None = None
    timestamp_format: str | list[str] | None = None
    type: str | None = None
    type_column: str | None = None
    id: str | None = None
    columns: dict[str, str | list[str]] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    formats: dict[str, str | list[str]] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    where: dict[str, str | list[str]] = Field(default_factory=dict)
    where_not: dict[str, str | list[str]] = Field(default_factory=dict)
    where_present: list[str] = Field(default_factory=list)
    lookup: Lookup | None = None

    @field_validator("values")
    @classmethod
    def _no_null_keys(cls, values: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for column, table in values.items():
            if any(k is None or v is None for k, v in table.items()):
                raise ValueError(f"values.{column}: write empty or null values as '' in quotes")
        return values

    @model_validator(mode="after")
    def _known_columns(self) -> SourceSpec:
        if self.table not in TABLES:
            raise ValueError(f"table {self.table!r} is not a contract table")
        contract = TABLES[self.table]
        names = contract.names
        unknown = [c for c in [*self.columns, *self.constants, *self.formats] if c not in names]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not column(s) of {self.table}")
        if self.entity and "account_id" not in names:
            raise ValueError(f"`entity` names the account, and {self.table} has no account_id")
        timed = [c for c in self.constants if contract.column(c).kind == "timestamp"]
        if timed:
            raise ValueError(
                f"constants: {', '.join(timed)} is a time; a constant time gives every row the "
                "same moment, so nothing could be learnt from the order of events. Map a column"
            )
        return self

    def column_map(self) -> dict[str, list[str]]:
        """Contract column -> source column(s), with the entity/timestamp/type/id shorthands."""
        out = {c: _as_list(s) for c, s in self.columns.items()}
        shorthands = (
            ("account_id", self.entity),
            (EVENT_TIME[self.table], self.timestamp),
            ("type", self.type_column),
            (TABLES[self.table].key[0], self.id),
        )
        out.update({k: [v] for k, v in shorthands if v})
        return out

    def constant_map(self) -> dict[str, str]:
        out = dict(self.constants)
        if self.type and not self.type_column:
            out["type"] = self.type
        return out

    def format_map(self) -> dict[str, list[str]]:
        out = {c: _as_list(f) for c, f in self.formats.items()}
        if self.timestamp_format:
            out.setdefault(EVENT_TIME[self.table], _as_list(self.timestamp_format))
        return out

    def source_columns(self) -> list[str]:
        """Every column of the file the spec names (mapped, filtered, value-mapped, lookup key)."""
        named = [s for cols in self.column_map().values() for s in cols]
        named += [*self.values, *self.where, *self.where_not, *self.where_present]
        if self.lookup:
            named.append(self.lookup.key)
        return list(dict.fromkeys(named))


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    derive_accounts: bool = False
    sources: list[SourceSpec]

    @model_validator(mode="after")
    def _sources_apart(self) -> Mapping:
        seen: set[tuple[str, str, str | None]] = set()
        for spec in self.sources:
            key = (spec.file, spec.table, spec.name)
            if key in seen:
                raise ValueError(
                    f"two sources read {spec.file} into {spec.table}: give each a distinct "
                    "`name` (it tells their rows apart in the summary and in `rejects`)"
                )
            seen.add(key)
        return self


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping YAML; errors name the file and the problem."""
    try:
        raw: Any = yaml.load(Path(path).read_text(), Loader=StringLoader)  # noqa: S506
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
        raise IngestError(
            f"{path}: column(s) {', '.join(missing)} named in the mapping not found in the file"
        )


def raw_text(column: str, qualifier: str = "") -> str:
    """SQL: a source column's trimmed text, NULL when empty."""
    return f"nullif(trim(cast({qualifier}{ident(column)} as varchar)), '')"


def mapped_text(column: str, values: dict[str, str] | None, qualifier: str = "") -> str:
    """SQL: a source column's text after its value map (unlisted values pass through)."""
    raw = raw_text(column, qualifier)
    if not values:
        return raw
    cases = " ".join(f"when {sql_str(k)} then {sql_str(v)}" for k, v in values.items())
    return f"(case {raw} {cases} else {raw} end)"


def value_expr(parts: list[str], formats: list[str] | None) -> str:
    """SQL for one contract column's text: its source column(s) joined by a space; a date format
    turns it into ISO 8601 when it parses, and the text is kept otherwise so validation reports
    it."""
    text = parts[0] if len(parts) == 1 else f"nullif(concat_ws(' ', {', '.join(parts)}), '')"
    if not formats:
        return text
    listed = "[" + ", ".join(sql_str(f) for f in formats) + "]"
    parsed = f"strftime(try_strptime({text}, {listed}), '%Y-%m-%dT%H:%M:%S')"
    return f"coalesce({parsed}, {text})"


def filter_sql(spec: SourceSpec) -> str | None:
    """SQL: the rows the spec keeps (on the file's trimmed text, before value maps)."""
    conds = []
    for column, kept in spec.where.items():
        listed = ", ".join(sql_str(v) for v in _as_list(kept))
        conds.append(f"{raw_text(column)} in ({listed})")
    for column, dropped in spec.where_not.items():
        listed = ", ".join(sql_str(v) for v in _as_list(dropped))
        conds.append(f"coalesce({raw_text(column)} not in ({listed}), true)")
    conds += [f"{raw_text(c)} is not null" for c in spec.where_present]
    return " and ".join(conds) if conds else None


def describe_filter(spec: SourceSpec) -> str:
    parts = [f"{c} in {_as_list(v)}" for c, v in spec.where.items()]
    parts += [f"{c} not in {_as_list(v)}" for c, v in spec.where_not.items()]
    parts += [f"{c} present" for c in spec.where_present]
    return "; ".join(parts)


def date_columns(inputs: Inputs, path: Path, sample: int = 500) -> list[str]:
    """Columns of a file whose sampled values mostly look like dates."""
    entry = inputs.open(path)
    if not entry.columns:
        return []
    cols = ", ".join(raw_text(c) for c in entry.columns)
    rows = inputs.query(f"select {cols} from {entry.view} limit {sample}", (path,))
    found = []
    for i, name in enumerate(entry.columns):
        values = [r[i] for r in rows if r[i] is not None]
        if values and sum(bool(DATE_LIKE.match(v)) for v in values) >= 0.8 * len(values):
            found.append(name)
    return found


def refuse_missing(inputs: Inputs, path: Path, spec: SourceSpec, missing: list[str]) -> None:
    """A required contract column nothing in the mapping provides: say what and why, in words."""
    table = TABLES[spec.table]
    when = EVENT_TIME[spec.table]
    if when in missing:
        dates = date_columns(inputs, path)
        found = (
            f"its columns that hold dates are {', '.join(dates)}: map one with `timestamp:`"
            if dates
            else f"and {path.name} has no column holding dates or times"
        )
        raise IngestError(
            f"{path}: cannot ingest into {spec.table}: the mapping gives no time for {when}, "
            f"{found}. Barometer learns what behaviour comes before an outcome, from what "
            "happened before a cutoff date and what followed it; rows without a time have no "
            "before and after, so there would be nothing to learn from them"
        )
    described = "; ".join(f"{c} ({table.column(c).meaning.rstrip('.')})" for c in missing)
    raise IngestError(
        f"{path}: the mapping gives no value for required {spec.table} column(s) {described}; "
        "map a column under `columns:` or set one under `constants:`"
    )


class SpecBuilder:
    """Turns one `SourceSpec` into a `Source` over the files' views."""

    def __init__(self, inputs: Inputs, spec: SourceSpec, derive_accounts: bool) -> None:
        self.inputs = inputs
        self.spec = spec
        self.derive_accounts = derive_accounts
        self.path = inputs.resolve(spec.file)
        self.entry = inputs.open(self.path)
        self.look = inputs.resolve(spec.lookup.file, "lookup file") if spec.lookup else None

    def check(self) -> None:
        spec, columns = self.spec, self.entry.columns
        lookup_cols = tuple(spec.lookup.columns) if spec.lookup else ()
        clash = [c for c in lookup_cols if c in columns]
        if clash:
            raise IngestError(
                f"{self.path}: lookup column(s) {', '.join(clash)} are also columns of the file; "
                "which one would count?"
            )
        named = spec.source_columns()
        mapped = {s for cols in spec.column_map().values() for s in cols}
        _require(self.path, columns, [c for c in named if c not in lookup_cols])
        _require(self.path, columns + lookup_cols, sorted(mapped))
        table = TABLES[spec.table]
        given = set(spec.column_map()) | set(spec.constant_map())
        if len(table.key) == 1:
            given.add(table.key[0])  # derived when not mapped
        if spec.table == "accounts" and self.derive_accounts:
            given.add("created_at")  # the account's first event
        missing = [c for c in table.required if c not in given]
        if missing:
            refuse_missing(self.inputs, self.path, spec, missing)

    def joined(self) -> str:
        """The file's rows, numbered, filtered, and joined to the lookup file when there is one."""
        numbered = f"select row_number() over () as _row, * from {self.entry.view}"
        keep = filter_sql(self.spec)
        rows = f"select * from ({numbered})" + (
            f" where {PROBLEM} is not null or ({keep})" if keep else ""
        )
        if self.spec.lookup is None or self.look is None:
            return rows
        lookup = self.spec.lookup
        look = self.inputs.open(self.look)
        _require(self.look, look.columns, [lookup.key, *lookup.columns])
        key = raw_text(lookup.key)
        dup = self.inputs.query(
            f"select count({key}) - count(distinct {key}) from {look.view}", (self.look,)
        )
        if dup and dup[0][0]:
            raise IngestError(
                f"{self.look}: lookup key {lookup.key} is not unique ({dup[0][0]} repeats)"
            )
        cols = ", ".join(f"{ident(c)}" for c in lookup.columns)
        right = f"select {key} as _lookup_key, {cols} from {look.view}"
        on = mapped_text(lookup.key, self.spec.values.get(lookup.key), "s.")
        return (
            f"select s.*, l.* exclude (_lookup_key) from ({rows}) s "
            f"left join ({right}) l on {on} = l._lookup_key"
        )

    def left_out(self) -> tuple[str, ...]:
        """A note counting the rows the filter leaves out (they are not this source's rows)."""
        keep = filter_sql(self.spec)
        if not keep:
            return ()
        count = self.inputs.query(
            f"select count(*) from {self.entry.view} where {PROBLEM} is null and not "
            f"coalesce(({keep}), false)",
            (self.path,),
        )[0][0]
        if not count:
            return ()
        return (
            f"{count:,} row(s) left out by the mapping's filter ({describe_filter(self.spec)})",
        )

    def source(self) -> Source:
        spec = self.spec
        self.check()
        formats = spec.format_map()
        exprs = {
            c: value_expr([mapped_text(s, spec.values.get(s)) for s in cols], formats.get(c))
            for c, cols in spec.column_map().items()
        }
        exprs.update({c: sql_str(v) for c, v in spec.constant_map().items()})
        table = TABLES[spec.table]
        key = table.key[0]
        if len(table.key) == 1 and key not in exprs:
            exprs[key] = derived_id(list(exprs.values()))
        select = ", ".join(f"{e} as {ident(c)}" for c, e in exprs.items())
        used = set(spec.source_columns())
        ignored = tuple(c for c in self.entry.columns if c not in used)
        sql = f"select _row, {PROBLEM}, {select} from ({self.joined()}) order by _row"
        inputs = (self.path,) + ((self.look,) if self.look else ())
        shown = {c: " or ".join(f) for c, f in formats.items() if c in exprs}
        origins = {c: " or ".join(s) for c, s in spec.column_map().items() if s != [c]}
        return Source(
            spec.table,
            self.path,
            sql,
            tuple(exprs),
            True,
            ignored,
            self.left_out(),
            label=f"{self.path} ({spec.name})" if spec.name else "",
            inputs=inputs,
            formats=tuple(shown.items()),
            origins=tuple(origins.items()),
        )


def derived_id(values: list[str]) -> str:
    """A stable id: md5 of the mapped values plus the occurrence number of identical rows."""
    digest = f"md5(concat_ws('|', {', '.join(values)}))"
    return f"{digest} || '-' || row_number() over (partition by {digest} order by _row)"


def first_events(sources: list[Source], mapping_file: Path) -> str:
    """SQL: each account's first event time over the event sources (`account_id`, `first`)."""
    parts = [
        f"select trim(account_id) as account_id, try_cast({EVENT_TIME[s.table]} as TIMESTAMPTZ) "
        f"at time zone 'UTC' as ts from ({s.select})"
        for s in sources
        if s.table != "accounts" and "account_id" in s.columns and EVENT_TIME[s.table] in s.columns
    ]
    if not parts:
        raise IngestError(f"{mapping_file}: derive_accounts needs sources with an entity and time")
    # Placeholder dates (`epoch`, 1900-01-01) are rejected in their own rows; they must not
    # become the account's start and cost it every later event.
    return (
        "select account_id, min(ts) as first "
        f"from ({' union all '.join(parts)}) where account_id is not null and account_id <> '' "
        f"and ts >= TIMESTAMP '{EARLIEST}' group by account_id"
    )


def inputs_of(sources: list[Source]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(p for s in sources for p in s.inputs))


def with_first_event(source: Source, events: str) -> Source:
    """An accounts source without created_at takes each account's first event."""
    sql = (
        "select a.*, strftime(f.first, '%Y-%m-%dT%H:%M:%S') as created_at "
        f"from ({source.select}) a left join ({events}) f on f.account_id = trim(a.account_id) "
        "order by a._row"
    )
    note = "created_at is each account's first event in this mapping (the file has none)"
    return Source(
        source.table,
        source.file,
        sql,
        (*source.columns, "created_at"),
        True,
        source.ignored,
        (*source.notes, note),
        source.label,
        source.inputs,
        source.formats,
    )


def derived_accounts(
    inputs: Inputs, sources: list[Source], mapping_file: Path
) -> tuple[list[Source], list[str]]:
    """Accounts for `derive_accounts: true`: accounts sources without created_at take the first
    event; entities that no accounts source lists become accounts of their own."""
    events = first_events(sources, mapping_file)
    out, notes = [], []
    account_sources = [s for s in sources if s.table == "accounts"]
    for s in sources:
        if s in account_sources and "created_at" not in s.columns:
            out.append(with_first_event(s, events))
        else:
            out.append(s)
    known = " union all ".join(
        f"select trim(account_id) from ({s.select})" for s in account_sources
    )
    unlisted = f" where account_id not in ({known})" if known else ""
    sql = (
        f"select row_number() over (order by account_id) as _row, null::varchar as {PROBLEM}, "
        f"account_id, strftime(first, '%Y-%m-%dT%H:%M:%S') as created_at "
        f"from ({events}){unlisted}"
    )
    everything = inputs_of(sources)
    count = inputs.query(f"select count(*) from ({sql})", everything)[0][0] if known else None
    if count or not known:
        label = f"{mapping_file} (accounts derived from events)"
        out.append(
            Source(
                "accounts",
                mapping_file,
                sql,
                ("account_id", "created_at"),
                True,
                label=label,
                inputs=everything,
            )
        )
        notes.append(
            "accounts derived from the distinct entities (created_at = first event)"
            if count is None
            else f"{count:,} account(s) derived from the events' entities that the accounts "
            "file does not list (created_at = first event)"
        )
    return out, notes


def mapping_plan(inputs: Inputs, mapping_file: Path) -> Plan:
    """Sources for every file the mapping names (plus derived accounts when asked)."""
    mapping = load_mapping(mapping_file)
    sources = [SpecBuilder(inputs, s, mapping.derive_accounts).source() for s in mapping.sources]
    notes: list[str] = []
    if mapping.derive_accounts:
        sources, notes = derived_accounts(inputs, sources, Path(mapping_file))
    return Plan(sources=sources, notes=notes)

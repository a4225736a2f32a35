"""What `barometer score` keeps in the warehouse, one set per target and as-of date:

- `scores`: one row per entity, with its reasons, its change since the previous scoring and its
  suggested actions (JSON text), so scores can be compared over time ("risk over time");
- `score_runs`: one row per run: when it ran, the data's last event, how it was banded;
- `scoring_features_account` / `scoring_features_opportunity`: the feature rows it scored (never
  the training tables, `features_account` and friends, which `barometer features` owns).

Rescoring the same target and as-of date replaces that run; a run's three parts are written in
one transaction, so readers see a whole run or none of it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from barometer.targets import ID_COLUMNS, TARGETS
from features.warehouse import table_exists

SCORES_TABLE = "scores"
RUNS_TABLE = "score_runs"
SCORES_TYPES = {
    "target": "varchar not null",
    "entity_id": "varchar not null",
    "account_id": "varchar",
    "as_of": "timestamp not null",
    "probability": "double not null",
    "band": "varchar not null",
    "percentile": "double",
    "base_probability": "double",
    "model_version": "varchar not null",
    "reasons": "varchar",
    "segment": "varchar",
    "owner_rep_id": "varchar",
    "team": "varchar",
    "stage": "varchar",
    "value": "double",
    "value_at_risk": "double",
    "scored_at": "timestamp not null",
    "lift": "double",
    "data_through": "timestamp",
    "previous_as_of": "timestamp",
    "previous_probability": "double",
    "previous_model_version": "varchar",
    "change_reasons": "varchar",
    "actions": "varchar",
}
SCORES_COLUMNS = tuple(SCORES_TYPES)
PREVIOUS_COLUMNS = ("previous_as_of", "previous_probability", "previous_model_version")
RUNS_TYPES = {
    "target": "varchar not null",
    "as_of": "timestamp not null",
    "model_version": "varchar not null",
    "scored_at": "timestamp not null",
    "data_through": "timestamp",
    "rows": "bigint",
    "band_rule": "varchar",
    "base_rate": "double",
    "high_at": "double",
    "medium_at": "double",
    "bands": "varchar",
    "explained": "varchar",
}
RUNS_COLUMNS = tuple(RUNS_TYPES)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create `scores` and `score_runs`, or add the columns an older workspace lacks."""
    for table, types in ((SCORES_TABLE, SCORES_TYPES), (RUNS_TABLE, RUNS_TYPES)):
        columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
        con.execute(f"create table if not exists {table} ({columns})")
        for name, kind in types.items():
            kind = kind.replace(" not null", "")
            con.execute(f"alter table {table} add column if not exists {name} {kind}")


def to_table_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The job's output in the `scores` table's column order (entity id under `entity_id`)."""
    target = str(scored["target"].iloc[0]) if len(scored) else "churn"
    rows = scored.rename(columns={ID_COLUMNS[target]: "entity_id"})
    if target == "churn":
        rows = rows.assign(account_id=rows["entity_id"])
    rows = rows.reindex(columns=list(SCORES_COLUMNS))
    for column in ("entity_id", "account_id", "segment", "owner_rep_id", "team", "stage"):
        rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
    return rows


def run_record(
    target: str,
    as_of,
    version: str,
    scored_at,
    rows: int,
    cuts,
    *,
    data_through=None,
    incremental: bool = False,
) -> dict:
    """A run's `score_runs` row (`cuts`: its `barometer.scoring.bands.BandCuts`)."""
    return {
        "target": target,
        "as_of": pd.Timestamp(as_of),
        "model_version": str(version),
        "scored_at": pd.Timestamp(scored_at),
        "data_through": None if data_through is None else pd.Timestamp(data_through),
        "rows": rows,
        "band_rule": cuts.rule,
        "base_rate": cuts.base_rate,
        "high_at": cuts.high_at,
        "medium_at": cuts.medium_at,
        "bands": cuts.explanation(),
        "explained": "incremental" if incremental else "full",
    }


def write_run(
    con: duckdb.DuckDBPyConnection,
    scored: pd.DataFrame,
    run: dict,
    features: pd.DataFrame | None = None,
) -> int:
    """Add one scoring run (scores, its `score_runs` row and the feature rows it scored); an
    earlier run of the same target and as-of is replaced. One transaction."""
    rows = to_table_rows(scored)
    target, as_of = run["target"], run["as_of"]
    ensure_tables(con)
    con.execute("begin transaction")
    try:
        for table in (SCORES_TABLE, RUNS_TABLE):
            con.execute(f"delete from {table} where target = ? and as_of = ?", [target, as_of])
        insert(con, SCORES_TABLE, rows, SCORES_COLUMNS)
        insert(con, RUNS_TABLE, pd.DataFrame([run]).reindex(columns=RUNS_COLUMNS), RUNS_COLUMNS)
        if features is not None:
            write_features(con, TARGETS[target].scoring_features, features, as_of)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)


def append_scores(con: duckdb.DuckDBPyConnection, scored: pd.DataFrame) -> int:
    """`write_run` for score rows alone (a run row is derived from them)."""
    first = scored.iloc[0] if len(scored) else None
    run = {
        "target": None if first is None else first["target"],
        "as_of": None if first is None else first["as_of"],
        "model_version": None if first is None else str(first["model_version"]),
        "scored_at": None if first is None else first["scored_at"],
        "rows": len(scored),
    }
    if first is None:
        return 0
    return write_run(con, scored, run)


def insert(con, table: str, frame: pd.DataFrame, columns) -> None:
    con.register("_rows", frame)
    names = ", ".join(columns)
    con.execute(f"insert into {table} ({names}) select {names} from _rows")
    con.unregister("_rows")


def write_features(con, table: str, features: pd.DataFrame, as_of) -> None:
    """The run's feature rows (with `as_of`) into `table`; columns a newer registry added are
    added to the table first."""
    frame = features.drop(columns=["cutoff", "snapshot"], errors="ignore").assign(
        as_of=pd.Timestamp(as_of)
    )
    con.register("_features", frame)
    if not table_exists(con, table):
        con.execute(f'create table "{table}" as select * from _features where false')
    present = {row[0] for row in con.execute(f'describe "{table}"').fetchall()}
    for name, kind, *_ in con.execute("describe _features").fetchall():
        if name not in present:
            con.execute(f'alter table "{table}" add column "{name}" {kind}')
    con.execute(f'delete from "{table}" where as_of = ?', [pd.Timestamp(as_of)])
    con.execute(f'insert into "{table}" by name select * from _features')
    con.unregister("_features")


def read_features(con, target: str, as_of) -> pd.DataFrame:
    """The feature rows scored in the run of `target` as of `as_of` (empty when none)."""
    table = TARGETS[target].scoring_features
    if not table_exists(con, table):
        return pd.DataFrame(columns=[ID_COLUMNS[target], "as_of"])
    return con.execute(f'select * from "{table}" where as_of = ?', [pd.Timestamp(as_of)]).df()


def latest_run(con, target: str, before=None) -> dict | None:
    """The latest run of `target` (strictly before `before` when given), as a dict, or None."""
    if not table_exists(con, RUNS_TABLE):
        return None
    where, params = "target = ?", [target]
    if before is not None:
        where, params = where + " and as_of < ?", [target, pd.Timestamp(before)]
    found = con.execute(
        f"select * from {RUNS_TABLE} where {where} order by as_of desc limit 1", params
    ).df()
    return None if found.empty else found.iloc[0].to_dict()


def run_scores(con, target: str, as_of) -> pd.DataFrame:
    """One run's `entity_id`, `probability`, `model_version` and `reasons`."""
    return con.execute(
        f"select entity_id, probability, model_version, reasons from {SCORES_TABLE} "
        "where target = ? and as_of = ?",
        [target, pd.Timestamp(as_of)],
    ).df()


def latest_scores(con: duckdb.DuckDBPyConnection, target: str) -> pd.DataFrame:
    """The latest run of `target`; each row carries its previous score and its change.

    Only entities scored in the latest run are returned (an account that churned or a deal that
    closed drops out of the worklist). A workspace scored by an older version lacks some columns
    (read-only here, so they are not added): they come back empty.
    """
    if not table_exists(con, SCORES_TABLE):
        return pd.DataFrame(columns=list(SCORES_COLUMNS))
    present = {row[0] for row in con.execute(f"describe {SCORES_TABLE}").fetchall()}
    columns = ", ".join(c for c in SCORES_COLUMNS if c in present)
    frame = con.execute(LATEST_SQL.format(columns=columns), [target]).df()
    return frame.reindex(columns=list(SCORES_COLUMNS))


LATEST_SQL = f"""
select {{columns}} from {SCORES_TABLE}
where target = $1 and as_of = (select max(as_of) from {SCORES_TABLE} where target = $1)
order by entity_id
"""


def latest_run_info(con, targets) -> dict[str, dict]:
    """Each target's latest `score_runs` row (for pages: the as-of date, the data's last event,
    the bands), or none."""
    out = {}
    for target in targets:
        found = latest_run(con, target)
        if found is not None:
            out[target] = found
    return out


def score_history(con: duckdb.DuckDBPyConnection, target: str, entity_id: str) -> pd.DataFrame:
    """Every stored score of one entity, oldest first."""
    if not table_exists(con, SCORES_TABLE):
        return pd.DataFrame(columns=list(SCORES_COLUMNS))
    return con.execute(
        f"select * from {SCORES_TABLE} where target = ? and entity_id = ? order by as_of",
        [target, entity_id],
    ).df()

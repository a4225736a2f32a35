"""The scoring job's edges: read features and context as of a date, score, store, export.

`barometer score --target T [--as-of DATE] [--out FILE]` calls `run`. Features come from the feature
tables at exactly the `as_of` cutoff (point-in-time: only data before it); without `--as-of` the
latest cutoff is used. Churn scores every account of the churn definition's population at `as_of`
(`churn_population`, written by `barometer features`: for "no activity within the horizon" that is
every customer ever seen, silent ones included); open deals (created before, not closed before
`as_of`) are scored. Optional tables that are missing (`reps`, `opportunity_stages`) leave their
context columns empty.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from barometer.model.store import LoadedModel
from barometer.scoring.exports import LINE_END, safe_frame
from barometer.scoring.history import append_scores
from barometer.scoring.latest_features import FEATURE_TABLES
from barometer.scoring.scores import ID_COLUMNS, score_frame
from barometer.settings import Settings
from features.warehouse import WarehouseBusyError, connect, table_exists, write_lock


def context_sql(target: str, tables: set[str], as_of: str = "$as_of") -> str:
    """Who is scored as of `as_of` (the engine's parameter marker: `$as_of` for DuckDB, `:as_of`
    for Spark), with segment, owner, team, stage and value. `tables` names the optional tables
    that exist; SQL that DuckDB and Spark both run."""
    team = "r.team" if "reps" in tables else "cast(null as string)"
    if target == "rep_attrition":
        return f"""
            select r.rep_id, cast(null as string) as segment, cast(null as string) as owner_rep_id,
                   r.team, cast(null as string) as stage, cast(null as double) as value
            from reps r
            where (r.hired_at is null or r.hired_at < {as_of})
              and (r.left_at is null or r.left_at >= {as_of})
        """
    if target == "churn":
        reps = "left join reps r on r.rep_id = a.owner_rep_id" if "reps" in tables else ""
        if "churn_population" in tables:
            who = (
                f"a.account_id in (select account_id from churn_population where cutoff = {as_of})"
            )
        else:
            who = f"a.created_at < {as_of} and (a.churned_at is null or a.churned_at >= {as_of})"
        return f"""
            select a.account_id, a.segment, a.owner_rep_id, {team} as team,
                   cast(null as string) as stage, a.arr as value
            from accounts a {reps}
            where {who}
        """
    reps = "left join reps r on r.rep_id = o.owner_rep_id" if "reps" in tables else ""
    stages = (
        f"""left join (
            select opportunity_id, stage from (
                select opportunity_id, stage, row_number() over (
                    partition by opportunity_id order by entered_at desc, stage desc) as rn
                from opportunity_stages where entered_at < {as_of}
            ) where rn = 1
        ) s on s.opportunity_id = o.opportunity_id"""
        if "opportunity_stages" in tables
        else ""
    )
    stage = "s.stage" if "opportunity_stages" in tables else "cast(null as string)"
    return f"""
        select o.opportunity_id, o.account_id, a.segment, o.owner_rep_id, {team} as team,
               {stage} as stage, o.amount as value
        from opportunities o
        left join accounts a on a.account_id = o.account_id
        {reps}
        {stages}
        where o.created_at < {as_of} and (o.closed_at is null or o.closed_at >= {as_of})
    """


@dataclass(frozen=True)
class JobResult:
    target: str
    as_of: datetime
    rows: int
    model_version: str
    seconds: float
    out: Path | None


def latest_cutoff(con, target: str) -> datetime:
    table = FEATURE_TABLES[target]
    if not table_exists(con, table):
        raise LookupError(f"No {table} table: run `barometer features` first.")
    found = con.execute(f"select max(cutoff) from {table}").fetchone()[0]
    if found is None:
        raise LookupError(f"{table} is empty: run `barometer features` first.")
    return pd.Timestamp(found).to_pydatetime()


def features_at(con, target: str, as_of: datetime) -> pd.DataFrame:
    """Feature rows at exactly `as_of` (opportunities: their `cutoff` snapshot)."""
    table = FEATURE_TABLES[target]
    snapshot = " and snapshot = 'cutoff'" if target == "deal_win" else ""
    frame = con.execute(f"select * from {table} where cutoff = ?{snapshot}", [as_of]).df()
    if frame.empty:
        cutoffs = con.execute(
            f"select distinct cutoff from {table} order by 1 desc limit 3"
        ).fetchall()
        shown = ", ".join(str(c[0].date()) for c in cutoffs) or "none"
        raise LookupError(
            f"{table} has no rows at {as_of:%Y-%m-%d} (latest cutoffs: {shown}); run "
            f"`barometer features --as-of {as_of:%Y-%m-%d}` first."
        )
    return frame


def context_at(con, target: str, as_of: datetime) -> pd.DataFrame:
    """Who is scored (the churn population / open deals) with segment, owner, team, stage,
    value."""
    names = ("reps", "opportunity_stages", "churn_population")
    tables = {name for name in names if table_exists(con, name)}
    return con.execute(context_sql(target, tables), {"as_of": as_of}).df()


def rows_to_score(features: pd.DataFrame, context: pd.DataFrame, target: str):
    """Feature rows of the entities in `context`, and the context aligned with them."""
    id_column = ID_COLUMNS[target]
    ids = context[id_column].astype(str)
    chosen = features[features[id_column].astype(str).isin(set(ids))].reset_index(drop=True)
    aligned = context.set_index(ids).loc[chosen[id_column].astype(str)].reset_index(drop=True)
    if target == "deal_win" and "account_id" in chosen:
        aligned = aligned.drop(columns="account_id").assign(account_id=chosen["account_id"])
    return chosen, aligned


def write_out(frame: pd.DataFrame, out: Path) -> Path:
    """CSV (formula-like text neutralised, `barometer.scoring.exports`) or Parquet by extension,
    written to a temporary file then renamed (atomic)."""
    out = Path(out)
    if out.suffix.lower() not in {".csv", ".parquet"}:
        raise ValueError(f"--out {out}: use a .csv or .parquet file name.")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if out.suffix.lower() == ".csv":
            safe_frame(frame).to_csv(tmp, index=False, lineterminator=LINE_END)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def export_columns(scored: pd.DataFrame, target: str) -> pd.DataFrame:
    """The documented `--out` columns: id, as_of, probability, model_version, reasons, then more."""
    first = [ID_COLUMNS[target], "as_of", "probability", "model_version", "reasons"]
    rest = [c for c in scored.columns if c not in first]
    return scored[first + rest]


def score_in_warehouse(settings: Settings, loaded: LoadedModel, as_of, registry) -> pd.DataFrame:
    """Read features and context as of `as_of`, score, and append to `scores` (one connection)."""
    target = loaded.target
    model = replace(loaded.model, num_threads=0)  # a batch job: every core (requests use one)
    with write_lock(settings.home), connect(settings.warehouse_path) as con:
        as_of = as_of or latest_cutoff(con, target)
        features = features_at(con, target, as_of)
        chosen, aligned = rows_to_score(features, context_at(con, target, as_of), target)
        scored = score_frame(
            model,
            chosen,
            aligned,
            as_of=as_of,
            model_version=loaded.version,
            scored_at=datetime.now(UTC).replace(tzinfo=None),
            registry=registry,
        )
        append_scores(con, scored)
    return scored


def run(
    settings: Settings,
    loaded: LoadedModel,
    as_of: datetime | None = None,
    out: Path | None = None,
    registry: dict | None = None,
    wait_seconds: float = 30.0,
) -> JobResult:
    """Score every active entity as of `as_of`, append to `scores`, optionally export."""
    started = time.perf_counter()
    if out is not None and Path(out).suffix.lower() not in {".csv", ".parquet"}:
        raise ValueError(f"--out {out}: use a .csv or .parquet file name.")
    while True:  # the service reads and other writers write briefly: wait for them
        try:
            scored = score_in_warehouse(settings, loaded, as_of, registry)
            break
        except WarehouseBusyError:
            if time.perf_counter() - started > wait_seconds:
                raise
            time.sleep(0.2)
    if len(scored):
        as_of = pd.Timestamp(scored["as_of"].iloc[0]).to_pydatetime()
    if out is not None:
        write_out(export_columns(scored, loaded.target), out)
    seconds = time.perf_counter() - started
    return JobResult(loaded.target, as_of, len(scored), loaded.version, seconds, out)

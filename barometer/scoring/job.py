"""The scoring job's edges: read the day's features and context, explain, store, export.

`barometer score --target T [--as-of DATE] [--out FILE] [--full]` calls `run`. The as-of date is a
midnight: by default the one after the data's last event (`barometer.scoring.day_features`), so
the latest day the data covers counts. Features for that day are computed in memory by the feature
engine; the training tables are never touched. Churn scores every account of the churn
definition's population on that day (the definition `barometer features` resolved, kept in
`build_meta`: for "no activity within the horizon" that is every customer ever seen, silent ones
included; without a build, accounts created before and not churned before `as_of`); open deals
(created before, not closed before `as_of`) are scored. Optional tables that are missing (`reps`,
`opportunity_stages`) leave their context columns empty.

With the previous run's explanation saved beside the warehouse (`barometer.scoring.incremental`)
and the same model, only what changed is re-explained; `--full` explains every row again. Either
way the scores, reasons and changes are the same.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.model.store import LoadedModel
from barometer.scoring import day_features, history
from barometer.scoring.bands import settings_cuts
from barometer.scoring.exports import LINE_END, safe_frame
from barometer.scoring.incremental import (
    Explained,
    Plan,
    explain,
    explain_full,
    load_state,
    save_state,
    state_path,
)
from barometer.scoring.scores import (
    Previous,
    raw_values,
    score_frame,
    scored_probabilities,
)
from barometer.settings import Settings
from barometer.targets import ID_COLUMNS
from features.warehouse import WarehouseBusyError, connect, table_exists, write_lock


def context_sql(
    target: str, tables: set[str], as_of: str = "$as_of", population: str = "churn_population"
) -> str:
    """Who is scored as of `as_of` (the engine's parameter marker: `$as_of` for DuckDB, `:as_of`
    for Spark), with segment, owner, team, stage and value. `tables` names the optional tables
    that exist; churn reads the definition's population from the table `population` when
    `churn_population` is among them. SQL that DuckDB and Spark both run."""
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
            who = f"a.account_id in (select account_id from {population} where cutoff = {as_of})"
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


def context_at(
    con, target: str, as_of: datetime, population: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Who is scored (the churn population / open deals) with segment, owner, team, stage,
    value. `population` (`account_id`, `cutoff`), when given, is the churn population of the day
    (`day_features.day_population`); otherwise the `churn_population` table's, when it exists."""
    names = ("reps", "opportunity_stages", "churn_population")
    tables = {name for name in names if table_exists(con, name)}
    if target != "churn" or population is None:
        return con.execute(context_sql(target, tables), {"as_of": as_of}).df()
    with con.cursor() as cursor:  # the frame is visible to this cursor only
        cursor.register("day_population", population)
        sql = context_sql(target, tables | {"churn_population"}, population="day_population")
        return cursor.execute(sql, {"as_of": as_of}).df()


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


Step = Callable[[str], None]


@dataclass(frozen=True)
class JobResult:
    target: str
    as_of: datetime
    rows: int
    model_version: str
    seconds: float
    out: Path | None
    data_through: datetime | None = None
    plan: Plan | None = None


@dataclass(frozen=True)
class DayInputs:
    """What the read phase gathers: the day, its context, the previous run."""

    as_of: pd.Timestamp
    data_through: pd.Timestamp | None
    context: pd.DataFrame
    previous_run: dict | None
    previous_scores: pd.DataFrame | None
    previous_features: pd.DataFrame | None


def read_day(settings: Settings, target: str, as_of, need_previous_features: Callable) -> DayInputs:
    """The day to score and what is read for it from the warehouse (one read-only connection):
    the data's last event, who is scored, the previous run (and its feature rows when needed)."""
    with connect(settings.warehouse_path, read_only=True) as con:
        last = day_features.data_through(con)
    day = day_features.as_of_day(as_of) if as_of is not None else day_features.default_as_of(last)
    population = None
    if target == "churn":
        population = day_features.day_population(settings.warehouse_path, day, last)
    with connect(settings.warehouse_path, read_only=True) as con:
        context = context_at(con, target, day, population)
        previous_run = history.latest_run(con, target, before=day)
        previous_scores = previous_features = None
        if previous_run is not None:
            previous_scores = history.run_scores(con, target, previous_run["as_of"])
            if need_previous_features(previous_run):
                previous_features = history.read_features(con, target, previous_run["as_of"])
    return DayInputs(day, last, context, previous_run, previous_scores, previous_features)


def previous_from_state(
    model: ScoringModel, state: Explained, scores: pd.DataFrame, registry: dict
) -> Previous:
    """The previous run as saved by it (same model version): nothing to explain again."""
    probability = stored_probability(scores, state.ids)
    versions = np.full(len(state), str(state.model_version), dtype=object)
    raw = decode(model, state.matrix, registry)
    return Previous(state.as_of, state, raw, probability, versions)


def previous_from_features(
    model: ScoringModel, run: dict, scores: pd.DataFrame, features: pd.DataFrame | None
) -> Previous | None:
    """The previous run rebuilt from its stored feature rows, explained by the current model."""
    id_column = ID_COLUMNS[model.target]
    if features is None or features.empty or id_column not in features:
        return None
    ids = features[id_column].astype(str).to_numpy()
    explained = explain_full(model, ids, model.matrix(features), run["as_of"], "previous")
    stored = scores.set_index("entity_id").reindex(ids)
    keep = np.flatnonzero(stored["probability"].notna().to_numpy())
    return Previous(
        pd.Timestamp(run["as_of"]),
        explained.take(keep),
        raw_values(model, features)[keep],
        stored["probability"].to_numpy(dtype=float)[keep],
        stored["model_version"].astype(str).to_numpy(dtype=object)[keep],
    )


def stored_probability(scores: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    stored = scores.set_index("entity_id")["probability"].reindex(ids.astype(str))
    return stored.to_numpy(dtype=float)


def decode(model: ScoringModel, matrix: np.ndarray, registry: dict) -> np.ndarray:
    """Raw values back from the booster's input: category codes as their labels, yes/no
    features as booleans, numbers as floats, missing as None."""
    out = matrix.astype(object)
    out[np.isnan(matrix)] = None
    for j, name in enumerate(model.feature_names):
        present = ~np.isnan(matrix[:, j])
        levels = model.categories.get(name)
        if levels is not None:
            out[present, j] = np.asarray(levels, dtype=object)[matrix[present, j].astype(int)]
        elif getattr(registry.get(name), "kind", None) == "bool":
            out[present, j] = matrix[present, j] != 0
    return out


def same_run(state: Explained, saved_at, run: dict | None) -> bool:
    """Whether a saved state is that run's, as stored (same as-of and scored_at)."""
    if run is None or saved_at is None:
        return False
    same_day = state.as_of == pd.Timestamp(run["as_of"])
    return same_day and pd.Timestamp(saved_at) == pd.Timestamp(run["scored_at"])


def previous_for(model, day: DayInputs, state, state_is, registry) -> Previous | None:
    """The run a change is measured from: the saved state when it is that run, else rebuilt."""
    if day.previous_run is None:
        return None
    if state_is(day.previous_run):
        return previous_from_state(model, state, day.previous_scores, registry)
    return previous_from_features(
        model, day.previous_run, day.previous_scores, day.previous_features
    )


def score_day(
    settings: Settings,
    loaded: LoadedModel,
    as_of,
    registry: dict,
    full: bool,
    step: Step,
    deadline: float,
) -> tuple[pd.DataFrame, Plan, DayInputs]:
    """Read, explain (incrementally from the saved state unless `full`), score and write one day.
    The saved state also gives the previous run's explanation for the changes, when it is that
    run's."""
    model, target, version = loaded.model, loaded.target, str(loaded.version)
    path = state_path(settings.home, target)
    state, saved_at = load_state(path) or (None, None)

    def state_is(run: dict) -> bool:
        if state is None or state.model_version != version:
            return False
        return same_run(state, saved_at, run)

    day = when_free(lambda: read_day(settings, target, as_of, lambda r: not state_is(r)), deadline)
    step(f"features as of {day.as_of:%Y-%m-%d}")
    features = day_features.day_features(
        settings.warehouse_path, target, day.as_of, settings.stage_order
    )
    chosen, aligned = rows_to_score(features, day.context, target)
    ids = chosen[ID_COLUMNS[target]].astype(str).to_numpy()
    step("explaining")
    base = None if full else state
    explained, plan = explain(model, ids, model.matrix(chosen), day.as_of, version, base)
    previous = previous_for(model, day, state, state_is, registry)
    step("reasons, changes and actions")
    cuts = settings_cuts(settings, target, scored_probabilities(model, explained)[0])
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    scored = score_frame(
        model,
        explained,
        raw_values(model, chosen),
        aligned,
        cuts,
        scored_at=scored_at,
        registry=registry,
        previous=previous,
        data_through=day.data_through,
    )
    step("writing")
    run = history.run_record(
        target,
        day.as_of,
        version,
        scored_at,
        len(scored),
        cuts,
        data_through=day.data_through,
        incremental=plan.incremental,
    )
    when_free(lambda: write_day(settings, scored, run, chosen), deadline)
    save_state(path, explained, scored_at)
    return scored, plan, day


def write_day(settings: Settings, scored: pd.DataFrame, run: dict, features: pd.DataFrame):
    with connect(settings.warehouse_path) as con:
        history.write_run(con, scored, run, features)


def when_free(action: Callable, deadline: float):
    """`action()`, retried while the warehouse is busy (the service reads it briefly) until
    `deadline` (a `time.perf_counter()` value), then WarehouseBusyError."""
    while True:
        try:
            return action()
        except WarehouseBusyError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.2)


def run(
    settings: Settings,
    loaded: LoadedModel,
    as_of: datetime | None = None,
    out: Path | None = None,
    registry: dict | None = None,
    *,
    full: bool = False,
    wait_seconds: float = 30.0,
    step: Step = lambda name: None,
) -> JobResult:
    """Score every active entity as of `as_of` (default: the day after the data's last event),
    keep the run in the warehouse, optionally export it. Holds the workspace's writer lock."""
    started = time.perf_counter()
    if out is not None and Path(out).suffix.lower() not in {".csv", ".parquet"}:
        raise ValueError(f"--out {out}: use a .csv or .parquet file name.")
    model = replace(loaded.model, num_threads=0)  # a batch job: every core (requests use one)
    batch = replace(loaded, model=model)
    deadline = started + wait_seconds
    with write_lock(settings.home, timeout=wait_seconds):
        scored, plan, day = score_day(settings, batch, as_of, registry or {}, full, step, deadline)
    if out is not None:
        write_out(export_columns(scored, loaded.target), out)
    seconds = time.perf_counter() - started
    when = day.as_of.to_pydatetime()
    return JobResult(
        loaded.target, when, len(scored), loaded.version, seconds, out, day.data_through, plan
    )

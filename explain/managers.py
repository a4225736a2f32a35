"""The manager views, built once for the API, the dashboard and the HTML report alike.

`read_tables` reads what the views need from an open warehouse connection; `build_views` turns
those frames and the champions into the rep diagnosis (`explain.reps`), service's contribution
(`explain.contribution`) and the pipeline report (`explain.sales_pipeline`). A team is `reps.team`
everywhere. Each part that cannot be built says why in `errors`; the others still are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.settings import Settings
from explain.contribution import ServiceContribution, service_contribution
from explain.reps import Diagnosis, diagnose
from explain.sales_pipeline import (
    PipelineQuality,
    backtest,
    funnel,
    leak_sentence,
    pipeline_quality,
    quarter_starts,
    stage_history_probabilities,
)

log = logging.getLogger(__name__)
PARTS = ("diagnosis", "contribution", "pipeline")
# The columns each view reads; a column the warehouse lacks is read as null.
COLUMNS = {
    "reps": ("rep_id", "team", "manager_id", "hired_at", "left_at"),
    "accounts": (
        "account_id", "created_at", "segment", "industry", "region", "owner_rep_id", "arr",
        "churned_at",
    ),
    "opportunities": (
        "opportunity_id", "account_id", "created_at", "owner_rep_id", "type", "amount",
        "closed_at", "outcome", "source_rep_id",
    ),
    "opportunity_stages": ("opportunity_id", "stage", "entered_at"),
    "cases": (
        "case_id", "account_id", "opened_at", "closed_at", "rep_id", "first_contact_resolved",
        "csat", "escalated",
    ),
    "nps": ("account_id", "responded_at", "score"),
    "activities": (
        "opportunity_id", "account_id", "rep_id", "type", "contact_id", "reached_decision_maker",
        "direction", "outcome", "duration_s", "objective", "occurred_at",
    ),
}  # fmt: skip
# Deal activities (the diagnosis' conduct, stale deals) and service reps' work (effort).
ACTIVITIES_FROM = "from activities t left join reps r on r.rep_id = t.rep_id where "
# Active accounts' churn features at the latest cutoff, with their ARR.
ACCOUNT_FEATURES_SQL = """
    select {columns}, a.arr from features_account f
    join accounts a on a.account_id = f.account_id
    where f.cutoff = (select max(cutoff) from features_account)
      and a.created_at < f.cutoff and (a.churned_at is null or a.churned_at >= f.cutoff)
"""
SCORES_SQL = "select as_of, entity_id, probability from scores where target = 'deal_win'"
NEEDS = {
    "diagnosis": ("reps", "accounts", "opportunities", "activities"),
    "contribution": ("reps", "accounts", "opportunities", "cases", "activities"),
    "pipeline": ("opportunities",),
}
DEFAULT_HORIZON_DAYS = 90  # features.label_config.ChurnLabels.horizon_days
MATCH_DAYS = 31  # a scoring run counts for a quarter when it is this close before its start


def _exists(con, name: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


NUMBERS = {"arr", "amount", "csat", "score", "duration_s"}
FLAGS = {"first_contact_resolved", "escalated", "reached_decision_maker"}


def _null(column: str) -> str:
    """A null of the column's contract type."""
    if column.endswith("_at"):
        kind = "timestamp"
    elif column in NUMBERS:
        kind = "double"
    elif column in FLAGS:
        kind = "boolean"
    else:
        kind = "varchar"
    return f'cast(null as {kind}) as "{column}"'


def _columns(con, table: str) -> set[str]:
    return {row[0] for row in con.execute(f'describe "{table}"').fetchall()}


def _select(con, table: str) -> str:
    """`t.column` for each of the view's columns the table has, a typed null otherwise."""
    present = _columns(con, table)
    return ", ".join(f't."{c}"' if c in present else _null(c) for c in COLUMNS[table])


def read_tables(con) -> dict[str, pd.DataFrame | None]:
    """The contract tables, deal and service activities, the latest account features and the
    deal-win scores history (None for what the warehouse lacks)."""
    out: dict[str, pd.DataFrame | None] = {
        name: con.execute(f'select {_select(con, name)} from "{name}" t').df()
        if _exists(con, name)
        else None
        for name in COLUMNS
        if name != "activities"
    }
    out["activities"] = None
    if _exists(con, "activities") and _exists(con, "reps"):
        linked = "opportunity_id" in _columns(con, "activities")
        deals = "t.opportunity_id is not null or " if linked else ""
        sql = f"select {_select(con, 'activities')} {ACTIVITIES_FROM}{deals}r.team = 'service'"
        out["activities"] = con.execute(sql).df()
    has_features = _exists(con, "features_account") and _exists(con, "accounts")
    out["account_features"] = None
    if has_features:
        names = {r[0] for r in con.execute("describe features_account").fetchall()}
        columns = "f.* exclude (arr)" if "arr" in names else "f.*"
        out["account_features"] = con.execute(ACCOUNT_FEATURES_SQL.format(columns=columns)).df()
    out["deal_scores"] = con.execute(SCORES_SQL).df() if _exists(con, "scores") else None
    meta = "select key, value from build_meta"
    out["build_meta"] = con.execute(meta).df() if _exists(con, "build_meta") else None
    return out


def churn_horizon_days(tables: dict) -> int:
    """The churn labels' horizon of the last feature build (`build_meta`, what the churn model
    predicts over), else the labels' default."""
    meta = tables.get("build_meta")
    if meta is not None:
        found = meta.loc[meta["key"] == "churn", "value"]
        if len(found):
            return int(json.loads(found.iloc[0]).get("horizon_days", DEFAULT_HORIZON_DAYS))
    return DEFAULT_HORIZON_DAYS


@dataclass(frozen=True)
class PipelineReport:
    """The funnel, pipeline quality now, and the forecast's backtest per past quarter."""

    funnel: pd.DataFrame
    leak: str
    quality: PipelineQuality
    backtest: pd.DataFrame


@dataclass(frozen=True)
class ManagerViews:
    diagnosis: Diagnosis | None = None
    contribution: ServiceContribution | None = None
    pipeline: PipelineReport | None = None
    errors: dict[str, str] = field(default_factory=dict)


def missing(part: str, tables: dict) -> str | None:
    """Why `part` cannot be built: the contract tables the warehouse lacks. `read_tables` reads
    activities through reps, so without reps they are absent too; reps is the one to name."""
    absent = [t for t in NEEDS[part] if tables.get(t) is None]
    if "reps" in absent and "activities" in absent:
        absent.remove("activities")
    if not absent:
        return None
    what, it = ("table", "it") if len(absent) == 1 else ("tables", "them")
    return (
        f"the warehouse has no {', '.join(absent)} {what}: ingest an export that includes {it} "
        "(`barometer ingest`)"
    )


def build_views(
    tables: dict[str, pd.DataFrame | None],
    settings: Settings,
    churn_model: ScoringModel | None,
    *,
    parts: Sequence[str] = PARTS,
    target: float | None = None,
) -> ManagerViews:
    """Every part in `parts` that the tables allow; a failing part is logged and named in errors.
    `target` overrides `settings.pipeline_target` for coverage."""
    errors = {p: reason for p in parts if (reason := missing(p, tables))}
    built = {}
    for part, build in (
        ("diagnosis", lambda: _diagnosis(tables, settings)),
        ("contribution", lambda: _contribution(tables, settings, churn_model)),
        ("pipeline", lambda: _pipeline(tables, settings, target or settings.pipeline_target)),
    ):
        if part not in parts or part in errors:
            continue
        try:
            built[part] = build()
        except Exception as exc:  # noqa: BLE001 - one part failing must not take the others down
            log.exception("manager view failed", extra={"part": part})
            errors[part] = f"could not be computed ({type(exc).__name__}: {exc})"
    return ManagerViews(
        built.get("diagnosis"), built.get("contribution"), built.get("pipeline"), errors
    )


def latest_time(tables: dict) -> pd.Timestamp:
    """The data's end: the latest deal or activity timestamp."""
    times = [tables["opportunities"]["created_at"].max()]
    if tables.get("opportunities") is not None:
        times.append(tables["opportunities"]["closed_at"].max())
    if tables.get("activities") is not None and len(tables["activities"]):
        times.append(tables["activities"]["occurred_at"].max())
    return pd.Timestamp(max(t for t in times if pd.notna(t)))


def _diagnosis(tables: dict, settings: Settings) -> Diagnosis:
    since = latest_time(tables) - pd.Timedelta(days=settings.rep_window_days)
    return diagnose(
        tables["opportunities"],
        tables.get("opportunity_stages"),
        tables["activities"],
        tables["accounts"],
        tables["reps"],
        settings.stage_order,
        since=since,
    )


def _contribution(tables: dict, settings: Settings, model) -> ServiceContribution:
    rows = tables.get("account_features")
    as_of = (
        pd.Timestamp(rows["cutoff"].max())
        if rows is not None and len(rows)
        else latest_time(tables).normalize()
    )
    return service_contribution(
        model if rows is not None else None,
        rows,
        tables,
        as_of=as_of,
        period_days=settings.service_period_days,
        horizon_days=churn_horizon_days(tables),
        after_case_days=settings.service_after_case_days,
        untimed_minutes=settings.service_untimed_minutes,
        hourly_cost=settings.service_hourly_cost,
    )


def scored_at(scores: pd.DataFrame | None, at: pd.Timestamp) -> pd.Series | None:
    """Win probabilities of the latest scoring run at or before `at` (within `MATCH_DAYS`)."""
    if scores is None or scores.empty:
        return None
    runs = scores["as_of"].drop_duplicates()
    near = runs[(runs <= at) & (runs > at - pd.Timedelta(days=MATCH_DAYS))]
    if near.empty:
        return None
    run = scores[scores["as_of"] == near.max()]
    return pd.Series(run["probability"].to_numpy(), index=run["entity_id"].astype(str).to_numpy())


def _probabilities(tables: dict, settings: Settings):
    """For a date: the stored deal-win scores of that time when a scoring run is close enough
    before it, else the stage-history rates known then."""
    opps, stages = tables["opportunities"], tables.get("opportunity_stages")

    def at(when: pd.Timestamp) -> tuple[pd.Series, str]:
        stored = scored_at(tables.get("deal_scores"), when)
        if stored is not None:
            return stored, "the deal-win model's scores stored then"
        return (
            stage_history_probabilities(opps, stages, settings.stage_order, when),
            "stage-history win rates (no deal-win scores stored then)",
        )

    return at


def _pipeline(tables: dict, settings: Settings, target: float | None) -> PipelineReport:
    opps, stages = tables["opportunities"], tables.get("opportunity_stages")
    scores = tables.get("deal_scores")
    now = pd.Timestamp(scores["as_of"].max()) if scores is not None and len(scores) else None
    now = now or latest_time(tables).normalize()
    probabilities = _probabilities(tables, settings)
    chances, source = probabilities(now)
    acts = tables.get("activities")
    acts = acts if acts is not None else pd.DataFrame(columns=["opportunity_id", "occurred_at"])
    quality = pipeline_quality(
        opps,
        stages,
        acts,
        settings.stage_order,
        now,
        chances,
        source=source,
        target=target,
        horizon_days=settings.forecast_days,
        stale_days=settings.stale_days,
    )
    table = funnel(opps, stages if stages is not None else _no_stages(), settings.stage_order)
    first = opps["created_at"].min() + pd.Timedelta(days=180)  # some history to learn from
    quarters = quarter_starts(first, now)
    tested = backtest(opps, stages, settings.stage_order, quarters, probabilities)
    return PipelineReport(table, leak_sentence(table), quality, tested)


def _no_stages() -> pd.DataFrame:
    return pd.DataFrame(columns=["opportunity_id", "stage", "entered_at"])

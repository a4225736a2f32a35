"""Manager views: rep diagnosis, team rosters and training needs, service's contribution, pipeline.

They are built by `explain.managers` (the same code the HTML report uses) once per snapshot: one
set of champion versions and one scoring run. The service starts the computation in the
background when it starts and whenever models or scores change; requests then read the finished
result (a request arriving first waits for the same computation, it never starts its own).

Teams are the contract's `reps.team` (`sales`, `service`, ...), as in the worklists' filter.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from barometer.settings import Settings
from features.warehouse import connect
from serving.observability import LOGGER

log = logging.getLogger(LOGGER)

PARTS = ("diagnosis", "contribution", "pipeline")
ROSTER_COLUMNS = ("rep_id", "tier", "deals", "won", "win_rate", "expected_win_rate", "effect")


@dataclass(frozen=True)
class Insights:
    """One snapshot's manager views as JSON-ready values; `errors` says why a part is missing."""

    versions: dict[str, str]
    reps: dict[str, dict] = field(default_factory=dict)  # rep_id -> profile
    rosters: dict[str, list[dict]] = field(default_factory=dict)  # team -> reps by effect
    training_needs: dict[str, list[dict]] = field(default_factory=dict)
    diagnosis: dict = field(default_factory=dict)  # method, period, caveat
    teams: frozenset[str] = frozenset()
    contribution: dict | None = None
    pipeline: dict | None = None
    errors: dict[str, str] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# ------------------------------------------------------------------ JSON shaping


def plain(value):
    """A JSON-safe scalar: numpy → Python, NaN/inf → None, timestamps → UTC datetimes."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, pd.Timestamp):  # stored naive UTC; served with its zone (RFC 3339)
        return (value if value.tzinfo else value.tz_localize("UTC")).to_pydatetime()
    if isinstance(value, tuple):
        return list(value)
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def diagnosis_views(d) -> tuple[dict, dict, dict, dict]:
    """(profiles by rep, rosters by team, needs by team, shared facts) from a `Diagnosis`."""
    from explain.conduct import BY_NAME

    profiles, rosters = {}, {}
    findings = d.findings.groupby("rep_id")
    stages = d.stages.groupby("rep_id")
    gaps = d.gaps.groupby("rep_id")
    for row in records(d.reps):
        rid = row["rep_id"]
        mine = findings.get_group(rid) if rid in findings.groups else d.findings.iloc[:0]
        behaviours = []
        if rid in gaps.groups:
            for g in records(gaps.get_group(rid).sort_values("win_gain", ascending=False)):
                info = BY_NAME[g["behaviour"]]
                behaviours.append(
                    g | {"description": info.description, "family": info.family, "unit": info.unit}
                )
        profile = row | {
            "stages": records(stages.get_group(rid)) if rid in stages.groups else [],
            "behaviours": behaviours,
            "findings": records(mine.drop(columns="rep_id")),
        }
        profiles[rid] = profile
        headline = mine["sentence"].iloc[0] if len(mine) else None
        rosters.setdefault(row["team"], []).append(
            {k: row[k] for k in (*ROSTER_COLUMNS, "low", "high")} | {"headline": headline}
        )
    needs = {
        str(team): records(group.drop(columns="team")) for team, group in d.needs.groupby("team")
    }
    start, end = d.period
    facts = {"method": d.method, "caveat": d.caveat, "period_start": plain(start)}
    return profiles, rosters, needs, facts | {"period_end": plain(end)}


def contribution_view(c) -> dict:
    """A `ServiceContribution` as JSON-ready values."""
    from explain.contribution import reference_words

    return {
        "as_of": plain(c.period.end),
        "period_start": plain(c.period.start),
        "horizon_days": c.period.horizon_days,
        "reference": {k: plain(v) for k, v in c.reference.items()},
        "reference_words": reference_words(c.reference),
        "total": {k: plain(v) for k, v in c.total.items()},
        "by_team": records(c.by_team),
        "by_rep": records(c.by_rep),
        "sentence": c.sentence,
        "caveat": c.caveat,
    }


def pipeline_view(p) -> dict:
    """A `PipelineReport` as JSON-ready values (the 50 stalest and most late deals listed)."""
    q, f = p.quality, p.quality.forecast
    deal_cols = ["opportunity_id", "account_id", "owner_rep_id", "stage", "amount", "age_days"]
    return {
        "as_of": plain(q.at),
        "funnel": records(p.funnel),
        "leak": p.leak,
        "open_deals": q.open_deals,
        "open_value": q.open_value,
        "forecast": {
            "horizon_days": f.horizon_days,
            "weighted_pipeline": f.weighted_pipeline,
            "expected": f.expected,
            "low": f.low,
            "high": f.high,
            "source": f.source,
        },
        "stale_days": q.stale_days,
        "stale": records(q.stale[[*deal_cols, "days_since_touch"]].head(50)),
        "stale_count": len(q.stale),
        "stale_value": float(pd.to_numeric(q.stale["amount"]).fillna(0).sum()),
        "slipping": records(q.slipping[[*deal_cols, "usual_days", "days_late"]].head(50)),
        "slipping_count": len(q.slipping),
        "slipping_value": float(pd.to_numeric(q.slipping["amount"]).fillna(0).sum()),
        "backtest": records(p.backtest),
        "sentences": q.sentences,
    }


def coverage(pipeline: dict, target: float | None) -> dict:
    """The pipeline view with its coverage of `target` (open value ÷ target)."""
    ratio = pipeline["open_value"] / target if target else None
    return pipeline | {"target": target, "coverage": ratio}


# ------------------------------------------------------------------ building


def build_insights(views, versions: dict[str, str], teams: frozenset[str]) -> Insights:
    """The JSON-ready insights of `explain.managers.ManagerViews`."""
    profiles, rosters, needs, facts = ({}, {}, {}, {})
    if views.diagnosis is not None:
        profiles, rosters, needs, facts = diagnosis_views(views.diagnosis)
    return Insights(
        dict(versions),
        profiles,
        rosters,
        needs,
        facts,
        teams,
        contribution_view(views.contribution) if views.contribution is not None else None,
        pipeline_view(views.pipeline) if views.pipeline is not None else None,
        dict(views.errors),
    )


BUILDING = threading.Lock()  # one build at a time in a process: each fits several models


class Superseded(Exception):
    """A newer snapshot replaced this one before its views were built."""


def compute(settings: Settings, bundle, stop: threading.Event | None = None) -> Insights:
    """Read the warehouse once and build every view for this bundle (one build at a time; a
    build whose snapshot was replaced while it waited is dropped)."""
    with BUILDING:
        if stop is not None and stop.is_set():
            raise Superseded("a newer snapshot replaced this one")
        return _compute(settings, bundle)


def _compute(settings: Settings, bundle) -> Insights:
    from explain.managers import PARTS as ALL
    from explain.managers import build_views, read_tables

    if not settings.warehouse_path.exists():
        reason = "needs the warehouse tables (run `barometer ingest`)"
        return Insights(bundle.versions(), errors=dict.fromkeys(ALL, reason))
    with connect(settings.warehouse_path, read_only=True) as con:
        tables = read_tables(con)
    loaded = bundle.models.get("churn")
    views = build_views(tables, settings, loaded.model if loaded is not None else None)
    reps = tables.get("reps")
    teams = frozenset() if reps is None else frozenset(reps["team"].dropna().astype(str))
    return build_insights(views, bundle.versions(), teams)


# ------------------------------------------------------------------ the holder (once per snapshot)


def snapshot_key(state) -> tuple:
    """What the views depend on: champion versions and the scoring run."""
    versions = tuple(sorted(state.models.current.versions().items()))
    return versions, state.scores.marker


class InsightsHolder:
    """The views of the current snapshot; one computation per snapshot, shared by all requests.

    The computation runs on its own daemon thread (never holding up the process's exit) behind a
    `concurrent.futures.Future`, which any event loop can await (`asyncio.wrap_future`), so a
    request never depends on the loop that started it."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.task: Future | None = None
        self.stop = threading.Event()
        self.builds = 0

    def ensure(self, state) -> Future:
        """The computation for the service's current snapshot (`state`: its `ServiceState`),
        started now if it is not running."""
        key = snapshot_key(state)
        if self.task is None or key != self.key or _failed(self.task):
            self.key, self.builds = key, self.builds + 1
            bundle = state.models.current
            self.stop.set()  # the previous snapshot's build, if it still waits, is not needed
            self.stop = threading.Event()
            self.task = in_thread(compute, state.settings, bundle, self.stop)
            self.task.add_done_callback(_log_failure)
        return self.task

    async def get(self, state) -> Insights:
        """The current snapshot's views (waits when they are still being computed)."""
        return await asyncio.shield(asyncio.wrap_future(self.ensure(state)))

    def status(self) -> str:
        if self.task is None:
            return "idle"
        if not self.task.done():
            return "computing"
        return "failed" if _failed(self.task) else "ready"


def in_thread(fn, *args) -> Future:
    """`fn(*args)` on a new daemon thread; its result (or error) in the returned future."""
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
            future.set_exception(exc)

    threading.Thread(target=run, name="insights", daemon=True).start()
    return future


def _failed(task: Future) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _log_failure(task: Future) -> None:
    if _failed(task) and not task.cancelled() and not isinstance(task.exception(), Superseded):
        log.error("insights failed", exc_info=task.exception())

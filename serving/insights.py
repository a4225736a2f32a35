"""Manager views: rep profiles, team training needs and service's contribution to sales.

They are computed with the explanations room's functions (`explain.reps.rep_profiles`,
`explain.reps.training_needs`, `explain.contribution.service_contribution`) once per snapshot:
one set of champion versions, one scoring run and one set of latest feature rows. The service
starts the computation in the background when it starts and whenever models or scores change;
requests then read the finished result (a request arriving first waits for the same computation,
it never starts its own).

Teams are the contract's `reps.team` (`sales`, `service`, ...), as in the worklists' filter.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from starlette.concurrency import run_in_threadpool

from barometer.settings import Settings
from features.warehouse import connect, table_exists
from serving.observability import LOGGER

log = logging.getLogger(LOGGER)

PARTS = ("profiles", "training_needs", "contribution")
TABLE_SQL = {
    "reps": "select rep_id, team, manager_id from reps",
    "accounts": "select account_id, segment, owner_rep_id, arr, churned_at from accounts",
    "opportunities": """
        select opportunity_id, account_id, owner_rep_id, source_rep_id, type, amount, outcome,
               created_at, closed_at
        from opportunities
    """,
    "opportunity_stages": "select opportunity_id, stage, entered_at from opportunity_stages",
    "cases": "select rep_id, account_id, first_contact_resolved from cases",
    "nps": "select account_id, score, responded_at from nps",
    # Only service reps' activities matter (influence on deals), which keeps this read small.
    "activities": """
        select a.account_id, a.rep_id, a.occurred_at from activities a
        join reps r on r.rep_id = a.rep_id where r.team = 'service'
    """,
}
# Each closed deal's behaviour as last observed before it closed.
CLOSED_FEATURES_SQL = """
    select * exclude (rn) from (
        select f.*, row_number() over (partition by f.opportunity_id order by f.cutoff desc) as rn
        from features_opportunity f
        join opportunities o on o.opportunity_id = f.opportunity_id
        where o.outcome in ('won', 'lost') and f.snapshot = 'cutoff'
    ) where rn = 1
"""
NEEDS = {
    "profiles": ("deal_win", ("reps", "opportunities", "opportunity_stages")),
    "training_needs": ("deal_win", ("reps", "opportunities")),
    "contribution": (None, ("reps", "accounts", "opportunities", "cases", "nps", "activities")),
}


@dataclass(frozen=True)
class Insights:
    """One snapshot's manager views; `errors` says why a part is unavailable."""

    versions: dict[str, str]
    profiles: dict[str, dict] = field(default_factory=dict)
    training_needs: dict[str, list[dict]] = field(default_factory=dict)
    teams: frozenset[str] = frozenset()
    contribution: dict | None = None
    errors: dict[str, str] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# ------------------------------------------------------------------ reading (the I/O edge)


def read_tables(settings: Settings) -> dict[str, pd.DataFrame | None]:
    """The contract tables the views need (None when absent), and closed deals' last features."""
    out: dict[str, pd.DataFrame | None] = dict.fromkeys([*TABLE_SQL, "closed_features"])
    if not settings.warehouse_path.exists():
        return out
    with connect(settings.warehouse_path, read_only=True) as con:
        for name, sql in TABLE_SQL.items():
            needed = ("activities", "reps") if name == "activities" else (name,)
            if all(table_exists(con, t) for t in needed):
                out[name] = con.execute(sql).df()
        if table_exists(con, "features_opportunity") and table_exists(con, "opportunities"):
            out["closed_features"] = con.execute(CLOSED_FEATURES_SQL).df()
    return out


# ------------------------------------------------------------------ pure frames


def closed_deals(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """One row per closed deal: its last features, owner, team, amount, won (1/0), mix columns."""
    from explain.sales_pipeline import size_band

    features = tables.get("closed_features")
    if features is None or features.empty:
        return pd.DataFrame()
    opps = tables["opportunities"]
    closed = opps[opps["outcome"].isin(["won", "lost"])]
    deals = features.drop(columns=["account_id"], errors="ignore").merge(
        closed[["opportunity_id", "account_id", "owner_rep_id", "type", "amount", "outcome"]],
        on="opportunity_id",
        suffixes=("", "_deal"),
    )
    accounts = tables.get("accounts")
    if "segment" not in deals and accounts is not None:
        deals = deals.merge(accounts[["account_id", "segment"]], on="account_id", how="left")
    teams = tables["reps"][["rep_id", "team"]].rename(columns={"rep_id": "owner_rep_id"})
    deals = deals.drop(columns=["team"], errors="ignore").merge(teams, on="owner_rep_id")
    return deals.assign(
        won=(deals["outcome"] == "won").astype(float), size=size_band(deals["amount"])
    ).reset_index(drop=True)


def plain(value):
    """A JSON-safe scalar: numpy → Python, NaN/inf → None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def profile_views(model, deals: pd.DataFrame, progress: pd.DataFrame, registry) -> dict[str, dict]:
    """`explain.reps.rep_profiles` keyed by rep id, with each behaviour's description."""
    from explain.reps import rep_profiles
    from explain.wording import feature_info, lookup

    features = lookup(registry)
    out = {}
    for profile in rep_profiles(model, deals, progress, registry):
        behaviours = [
            {
                "feature": name,
                "description": feature_info(features, name).description,
                "percentile": plain(pct),
            }
            for name, pct in profile.percentiles.items()
        ]
        out[profile.rep_id] = {
            "rep_id": profile.rep_id,
            "team": profile.team,
            "tier": profile.tier,
            "win_rate": plain(profile.win_rate),
            "expected_win_rate": plain(profile.expected_win_rate),
            "closed_deals": int((deals["owner_rep_id"].astype(str) == profile.rep_id).sum()),
            "categories": list(profile.categories),
            "findings": list(profile.findings),
            "behaviours": behaviours,
        }
    return out


def needs_views(model, deals: pd.DataFrame, registry) -> dict[str, list[dict]]:
    """`explain.reps.training_needs` as rows per team (most costly gap first)."""
    from explain.reps import training_needs

    table = training_needs(model, deals, registry).drop(columns="caveat")
    return {str(team): records(group.drop(columns="team")) for team, group in table.groupby("team")}


def contribution_view(models: dict, features: dict, tables: dict, registry) -> dict:
    """`explain.contribution.service_contribution` over active accounts and open deals."""
    from explain.contribution import ratio_sentence, service_contribution

    accounts = account_rows(features.get("churn"), tables)
    deals = deal_rows(features.get("deal_win"), tables)
    report = service_contribution(
        models.get("churn"), models.get("deal_win"), accounts, deals, tables, registry
    )
    return {
        "by_team": records(report.by_team),
        "by_rep": records(report.by_rep),
        "sentence": ratio_sentence(report.by_team),
        "accounts": len(report.accounts),
        "deals": len(report.deals),
    }


def account_rows(latest: pd.DataFrame | None, tables: dict) -> pd.DataFrame | None:
    """Latest feature rows of accounts that have not churned, with their ARR."""
    accounts = tables["accounts"]
    if latest is None or latest.empty:
        return None
    active = accounts[accounts["churned_at"].isna()][["account_id", "arr"]]
    rows = latest[latest["account_id"].astype(str).isin(set(active["account_id"].astype(str)))]
    if "arr" not in rows:
        rows = rows.merge(active, on="account_id", how="left")
    return rows.reset_index(drop=True)


def deal_rows(latest: pd.DataFrame | None, tables: dict) -> pd.DataFrame | None:
    """Latest feature rows of open deals, with their amount."""
    opps = tables["opportunities"]
    if latest is None or latest.empty:
        return None
    open_deals = opps[opps["closed_at"].isna()][["opportunity_id", "amount"]]
    rows = latest[latest["opportunity_id"].astype(str).isin(set(open_deals["opportunity_id"]))]
    rows = rows.drop(columns=["amount"], errors="ignore").merge(
        open_deals, on="opportunity_id", how="left"
    )
    return rows.reset_index(drop=True)


def missing_inputs(part: str, models: dict, tables: dict) -> str | None:
    """Why `part` cannot be computed, or None."""
    target, needed = NEEDS[part]
    if target is not None and target not in models:
        return f"needs a {target} champion model"
    if part == "contribution" and not models:
        return "needs a churn or deal_win champion model"
    absent = [t for t in needed if tables.get(t) is None]
    if absent:
        return f"needs the warehouse tables {', '.join(absent)} (run `barometer ingest`)"
    return None


def build_insights(
    models: dict, versions: dict[str, str], tables: dict, features: dict, registry, stage_order
) -> Insights:
    """Every manager view that its inputs allow; a part that cannot be built names why."""
    from explain.sales_pipeline import stage_progress

    errors = {p: reason for p in PARTS if (reason := missing_inputs(p, models, tables))}
    profiles, needs, contribution = {}, {}, None
    reps = tables.get("reps")
    teams = frozenset() if reps is None else frozenset(reps["team"].dropna().astype(str))
    deals = pd.DataFrame()
    if not {"profiles", "training_needs"} <= errors.keys():
        deals = closed_deals(tables)
        if deals.empty:
            for part in ("profiles", "training_needs"):
                errors.setdefault(part, "no closed deals with features (run `barometer features`)")
    if "profiles" not in errors:
        progress = stage_progress(
            tables["opportunities"], tables["opportunity_stages"], stage_order
        )
        profiles = guarded(
            errors, "profiles", profile_views, models["deal_win"], deals, progress, registry
        )
    if "training_needs" not in errors:
        needs = guarded(errors, "training_needs", needs_views, models["deal_win"], deals, registry)
    if "contribution" not in errors:
        contribution = guarded(
            errors, "contribution", contribution_view, models, features, tables, registry
        )
    return Insights(dict(versions), profiles or {}, needs or {}, teams, contribution, errors)


def guarded(errors: dict, part: str, build, *args):
    """Run one part; a failure is logged and recorded, so the other parts still serve."""
    try:
        return build(*args)
    except Exception as exc:  # noqa: BLE001 - one part failing must not take the others down
        log.exception("insight part failed", extra={"part": part})
        errors[part] = f"could not be computed ({type(exc).__name__}: {exc})"
        return None


# ------------------------------------------------------------------ the holder (once per snapshot)


def snapshot_key(state) -> tuple:
    """What the views depend on: champion versions, the scoring run, the latest feature rows."""
    versions = tuple(sorted(state.models.current.versions().items()))
    return versions, state.scores.marker, id(state.features)


def compute(settings: Settings, bundle, features, registry) -> Insights:
    """Read the warehouse once and build every view for this bundle and these feature rows."""
    models = {t: m.model for t, m in bundle.models.items()}
    tables = read_tables(settings)
    return build_insights(
        models, bundle.versions(), tables, features.frames, registry, settings.stage_order
    )


class InsightsHolder:
    """The views of the current snapshot; one computation per snapshot, shared by all requests."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.task: asyncio.Future | None = None
        self.builds = 0

    def ensure(self, state) -> asyncio.Future:
        """The computation for the service's current snapshot (`state`: its `ServiceState`),
        started now if it is not running."""
        key = snapshot_key(state)
        if self.task is None or key != self.key or _failed(self.task):
            self.key, self.builds = key, self.builds + 1
            bundle, features, registry = state.models.current, state.features, state.registry
            self.task = asyncio.ensure_future(
                run_in_threadpool(compute, state.settings, bundle, features, registry)
            )
            self.task.add_done_callback(_log_failure)
        return self.task

    async def get(self, state) -> Insights:
        """The current snapshot's views (waits when they are still being computed)."""
        return await asyncio.shield(self.ensure(state))

    def status(self) -> str:
        if self.task is None:
            return "idle"
        if not self.task.done():
            return "computing"
        return "failed" if _failed(self.task) else "ready"


def _failed(task: asyncio.Future) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _log_failure(task: asyncio.Future) -> None:
    if _failed(task) and not task.cancelled():
        log.error("insights failed", exc_info=task.exception())

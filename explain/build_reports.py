"""The I/O edge of `barometer explain`: read the warehouse and champions, build, write, log.

Everything here only gathers frames and calls the pure functions of this room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from barometer.model.artefact import ScoringModel
from barometer.settings import Settings
from explain.contribution import ratio_sentence, service_contribution
from explain.report import ReportInputs, build_report, log_report, write_report
from explain.reps import rep_profiles, training_needs
from explain.sales_pipeline import bottlenecks, size_band, stage_progress

ENTITY_TABLE = {"churn": "features_account", "deal_win": "features_opportunity"}
CONTRACT = ("accounts", "reps", "opportunities", "opportunity_stages", "cases", "nps")


@dataclass(frozen=True)
class Loaded:
    model: ScoringModel
    label: str
    run_id: str | None


def load_model(settings: Settings, target: str, folder: Path | None = None) -> Loaded:
    """A saved artefact folder, or the registered champion."""
    if folder is not None:
        return Loaded(ScoringModel.load(folder), f"{target} ({folder})", None)
    from barometer.model.store import load_champion

    model, info = load_champion(settings, target)
    return Loaded(model, info.label, info.run_id)


def _other_model(settings: Settings, target: str, loaded: Loaded) -> Loaded | None:
    """The champion of the other target, when there is one."""
    other = "deal_win" if target == "churn" else "churn"
    try:
        return load_model(settings, other)
    except (LookupError, FileNotFoundError, ValueError):
        return None


def read_tables(settings: Settings, target: str = "churn") -> dict[str, pd.DataFrame]:
    """Contract tables the report needs (optional ones are None when absent); service reps'
    activities only (small)."""
    from features.warehouse import connect, table_exists

    out = {}
    with connect(settings.warehouse_path, read_only=True) as con:
        for name in (*CONTRACT, *ENTITY_TABLE.values(), "labels_deal_win"):
            out[name] = (
                con.execute(f'select * from "{name}"').df() if table_exists(con, name) else None
            )
        if out["reps"] is not None:
            out["activities"] = con.execute(
                "select a.account_id, a.rep_id, a.occurred_at from activities a "
                "join reps r on a.rep_id = r.rep_id where r.team = 'service'"
            ).df()
    missing = [n for n in ("accounts", ENTITY_TABLE[target]) if out.get(n) is None]
    if missing:
        raise FileNotFoundError(
            f"{settings.warehouse_path}: tables {missing} missing; run `barometer ingest` and "
            "`barometer features` first."
        )
    return out


def latest_rows(features: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Rows at the latest cutoff (at most `n`, sampled reproducibly)."""
    latest = features[features["cutoff"] == features["cutoff"].max()]
    return latest.sample(min(n, len(latest)), random_state=seed) if len(latest) > n else latest


def closed_deals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per closed deal: its last feature snapshot, outcome, owner, team, mix columns."""
    feats = tables["features_opportunity"].sort_values(["opportunity_id", "cutoff"])
    last = feats.groupby("opportunity_id").tail(1)
    opps = tables["opportunities"]
    closed = opps[opps["outcome"].isin(["won", "lost"])]
    reps = tables["reps"].assign(
        team_name=lambda r: r["manager_id"].fillna(r["team"]) if "manager_id" in r else r["team"]
    )
    segments = tables["accounts"][["account_id", "segment"]]
    deals = (
        last.drop(columns=["account_id"], errors="ignore")
        .merge(
            closed[["opportunity_id", "account_id", "owner_rep_id", "type", "amount", "outcome"]],
            on="opportunity_id",
        )
        .merge(segments, on="account_id", how="left", suffixes=("", "_account"))
        .merge(
            reps[["rep_id", "team_name"]].rename(
                columns={"rep_id": "owner_rep_id", "team_name": "team"}
            ),
            on="owner_rep_id",
            how="left",
        )
    )
    return deals.assign(
        won=(deals["outcome"] == "won").astype(float), size=size_band(deals["amount"])
    )


def scored_examples(settings: Settings, target: str, n: int = 3) -> list[dict]:
    """The `n` highest scores of the latest scoring run, as stored (none before a first run)."""
    import json

    from features.warehouse import connect, table_exists

    with connect(settings.warehouse_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return []
        rows = con.execute(
            "select entity_id, as_of, probability, base_probability, reasons from scores "
            "where target = $1 and as_of = (select max(as_of) from scores where target = $1) "
            "order by probability desc, entity_id limit $2",
            [target, n],
        ).fetchall()
    return [
        {
            "entity_id": entity,
            "as_of": f"{as_of:%Y-%m-%d}",
            "probability": probability,
            "base_probability": base,
            "reasons": json.loads(reasons or "[]"),
        }
        for entity, as_of, probability, base, reasons in rows
    ]


def gather_inputs(
    settings: Settings, tables: dict, models: dict[str, ScoringModel], registry, label: str
) -> ReportInputs:
    """Rep profiles, training needs, bottlenecks and contribution (each when its data exists)."""
    inputs = ReportInputs(model_label=label)
    deal_model = models.get("deal_win")
    opps, stages = tables.get("opportunities"), tables.get("opportunity_stages")
    has_reps = tables.get("reps") is not None
    if opps is not None and stages is not None and has_reps:
        progress = stage_progress(opps, stages, settings.stage_order)
        entry = tables["features_opportunity"]
        entry = entry[entry["snapshot"] == "stage_entry"].rename(columns={"current_stage": "stage"})
        report = bottlenecks(
            tables["accounts"], opps, stages, settings.stage_order, entry, registry
        )
        inputs.funnel, inputs.bottleneck_sentence = report.funnel, report.sentence
        if deal_model is not None:
            deals = closed_deals(tables)
            inputs.profiles = rep_profiles(deal_model, deals, progress, registry)
            inputs.training_needs = training_needs(deal_model, deals, registry).head(15)
    needed = ("cases", "nps", "opportunities", "reps", "features_opportunity")
    if all(tables.get(n) is not None for n in needed):
        account_rows = latest_rows(tables["features_account"], 20_000)
        open_deals = latest_rows(tables["features_opportunity"], 20_000).assign(
            amount=lambda d: d.get("deal_amount")
        )
        contribution = service_contribution(
            models.get("churn"), deal_model, account_rows, open_deals, tables, registry
        )
        inputs.contribution = contribution.by_team
        inputs.contribution_sentence = ratio_sentence(contribution.by_team)
    return inputs


def explain_target(
    settings: Settings,
    target: str,
    *,
    model_folder: Path | None = None,
    rows: int = 3000,
    log: bool = True,
) -> Path:
    """Build the report for `target`, write it under artifacts/, log it to MLflow."""
    from features.registry import REGISTRY

    settings.ensure_home()
    loaded = load_model(settings, target, model_folder)
    tables = read_tables(settings, target)
    models = {target: loaded.model}
    other = _other_model(settings, target, loaded)
    if other is not None:
        models[other.model.target] = other.model
    frame = latest_rows(tables[ENTITY_TABLE[target]], rows)
    inputs = gather_inputs(settings, tables, models, REGISTRY, loaded.label)
    inputs.examples = scored_examples(settings, target)
    html = build_report(loaded.model, frame, REGISTRY, inputs)
    path = write_report(html, settings.artifacts_dir / f"explain_{target}.html")
    if log:
        log_report(path, settings.tracking_uri, target, loaded.run_id)
    return path

"""Load training frames from the warehouse (I/O edge): features joined to labels, per target."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from barometer.settings import Settings
from training.baselines import BGNBD_COLUMNS
from training.config import ExperimentConfig


@dataclass(frozen=True)
class TargetTables:
    entity: str
    features: str
    labels: str
    key: str
    group: str | None  # rows of one group never straddle a split


TARGETS = {
    "churn": TargetTables("account", "features_account", "labels_churn", "account_id", None),
    "deal_win": TargetTables(
        "opportunity",
        "features_opportunity",
        "labels_deal_win",
        "opportunity_id",
        "opportunity_id",
    ),
}


def feature_kinds(config: ExperimentConfig, columns: list[str]) -> dict[str, str]:
    """Registry features of the target's entity present in the frame, minus `exclude`."""
    from features.registry import features_for

    entity = TARGETS[config.target].entity
    registry = {f.name: f.kind for f in features_for(entity)}
    wanted = list(config.features) if config.features else list(registry)
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ValueError(f"experiments/{config.target}.yaml: not registry features: {unknown}")
    return {n: registry[n] for n in wanted if n in columns and n not in config.exclude}


def registry_hash() -> str:
    from features.registry import registry_hash as _hash

    return _hash()


def _query(target: str) -> str:
    t = TARGETS[target]
    if target == "deal_win":
        return f"""
            select f.*, l.label, l.label_time, a.segment as account_segment
            from {t.features} f
            join (select distinct opportunity_id, label, label_time from {t.labels}) l
              using (opportunity_id)
            left join accounts a using (account_id)
            where l.label is not null and f.cutoff < l.label_time
            order by f.cutoff, f.opportunity_id, f.snapshot"""
    return f"""
        select f.*, l.label, l.label_time
        from {t.features} f join {t.labels} l using (account_id, cutoff)
        where l.label is not null
        order by f.cutoff, f.account_id"""


BGNBD_SQL = """
    with ev as (
        select account_id, cast(occurred_at as date) as day,
               coalesce(greatest(logged_at, occurred_at), occurred_at) as seen
        from activities where type in ({types})
    ), c as (
        select distinct account_id, cutoff, cast(cutoff as date) as cutoff_day from labels_churn
    )
    select c.account_id, c.cutoff,
           greatest(count(distinct ev.day) - 1, 0) as bg_frequency,
           coalesce(date_diff('day', min(ev.day), max(ev.day)), 0) as bg_recency,
           coalesce(date_diff('day', min(ev.day), c.cutoff_day), 0) as bg_age
    from c left join ev on ev.account_id = c.account_id
        and ev.day < c.cutoff_day and ev.seen < c.cutoff
    group by c.account_id, c.cutoff, c.cutoff_day
"""


def load_frame(settings: Settings, config: ExperimentConfig) -> pd.DataFrame:
    """Features + label + label_time for every labelled row; BG/NBD summaries when enabled."""
    from features.warehouse import connect, table_exists

    t = TARGETS[config.target]
    with connect(settings.warehouse_path, read_only=True) as con:
        for table in (t.features, t.labels):
            if not table_exists(con, table):
                raise FileNotFoundError(
                    f"{settings.warehouse_path}: table {table} missing; run `barometer features`."
                )
        frame = con.execute(_query(config.target)).df()
        if config.target == "churn" and config.bgnbd.enabled and table_exists(con, "activities"):
            types = ", ".join(f"'{v}'" for v in config.bgnbd.activity_types)
            summary = con.execute(BGNBD_SQL.format(types=types)).df()
            if summary["bg_frequency"].sum() > 0:  # BG/NBD needs purchase or usage logs
                frame = frame.merge(summary, on=["account_id", "cutoff"], how="left")
                frame[list(BGNBD_COLUMNS)] = frame[list(BGNBD_COLUMNS)].fillna(0).astype(float)
    if frame.empty:
        raise ValueError(f"No labelled rows in {t.features} joined to {t.labels}.")
    frame["label"] = frame["label"].astype(int)
    return frame.reset_index(drop=True)

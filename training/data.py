"""Load training frames from the warehouse (I/O edge): features joined to labels, per target."""

from __future__ import annotations

import pandas as pd

from barometer.settings import Settings
from barometer.targets import TARGETS
from training.config import ExperimentConfig

# The optional contract table a target's features and labels need.
NEEDS = {"deal_win": "opportunities", "rep_attrition": "reps"}


class NoDataForTarget(FileNotFoundError):
    """The warehouse lacks the contract table the target needs, so no model can be trained."""


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


def _deal_rows(label_columns: str = "", label_join: str = "") -> str:
    """A deal's rows with its account's segment, in training and in the monitoring population
    alike (`label_columns`, `label_join`: the labels, for training)."""
    return f"""
        select f.*, {label_columns} a.segment as account_segment
        from {TARGETS["deal_win"].features} f {label_join}
        left join accounts a using (account_id)"""


def _query(target: str) -> str:
    t = TARGETS[target]
    if target == "deal_win":
        rows = _deal_rows(
            label_columns="l.label, l.label_time,",
            label_join=f"""join (select distinct opportunity_id, label, label_time
                from {t.labels}) l using (opportunity_id)""",
        )
        return f"""{rows}
            where l.label is not null and f.cutoff < l.label_time
            order by f.cutoff, f.opportunity_id, f.snapshot"""
    return f"""
        select f.*, l.label, l.label_time
        from {t.features} f join {t.labels} l using ({t.key}, cutoff)
        where l.label is not null
        order by f.cutoff, f.{t.key}"""


def load_frame(settings: Settings, config: ExperimentConfig) -> pd.DataFrame:
    """Features + label + label_time for every labelled row."""
    from features.warehouse import connect, table_exists

    t = TARGETS[config.target]
    needs = NEEDS.get(config.target)
    with connect(settings.warehouse_path, read_only=True) as con:
        for table in (t.features, t.labels):
            if table_exists(con, table):
                continue
            if needs and not table_exists(con, needs):  # the data lacks it: no build can help
                raise NoDataForTarget(
                    f"The data has no {needs} table, so there is no "
                    f"{config.target.replace('_', ' ')} model to train; ingest an export that "
                    f"includes {needs}."
                )
            raise FileNotFoundError(
                f"{settings.warehouse_path}: table {table} missing; run `barometer features`"
                + (f" with {'an' if needs[0] in 'aeiou' else 'a'} {needs} table" if needs else "")
                + "."
            )
        frame = con.execute(_query(config.target)).df()
    if frame.empty:
        raise ValueError(f"No labelled rows in {t.features} joined to {t.labels}.")
    frame["label"] = frame["label"].astype(int)
    return frame.reset_index(drop=True)


def load_population(settings: Settings, target: str, cutoffs: list) -> pd.DataFrame | None:
    """The rows `barometer score` would have scored at `cutoffs`, labelled or not, for a target
    whose labelled rows are not its scored population: every deal open at a cutoff (a deal is
    labelled only once it has closed, so the labelled deals of the latest cutoffs are the ones
    that closed fast, later in the funnel than the open deals a scoring sees). None for the other
    targets, whose labelled rows are the population."""
    from features.warehouse import connect, table_exists

    if target != "deal_win" or not settings.warehouse_path.exists():
        return None
    t = TARGETS[target]
    with connect(settings.warehouse_path, read_only=True) as con:
        if not table_exists(con, t.features):
            return None
        days = pd.to_datetime(pd.Series(cutoffs)).drop_duplicates().tolist()
        rows = _deal_rows()
        return con.execute(
            f"""{rows}
                where f.snapshot = 'cutoff' and f.cutoff in (select unnest($days))
                order by f.cutoff, f.opportunity_id""",
            {"days": days},
        ).df()


def load_build_meta(settings: Settings) -> dict:
    """What the feature build decided (cutoff frequency, churn definition), or {} (no workspace
    warehouse, as when Spark builds in a lake)."""
    from features.build import read_meta
    from features.warehouse import connect

    if not settings.warehouse_path.exists():
        return {}
    with connect(settings.warehouse_path, read_only=True) as con:
        return read_meta(con)

"""Load registered models from MLflow for serving and explanations (never imports `training`).

Registered names are `barometer-churn` and `barometer-deal-win`; the alias `champion` marks the
version in use. `champion_version` is a cheap registry lookup, so a long-running service can
notice a promotion and reload; `load_champion` downloads the artefact once per version into
`BAROMETER_HOME/models/<name>/<version>` (atomically) and loads the `ScoringModel`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from barometer.model.artefact import ScoringModel
from barometer.model.status import read_status
from barometer.settings import Settings

REGISTERED_NAMES = {
    "churn": "barometer-churn",
    "deal_win": "barometer-deal-win",
    "rep_attrition": "barometer-rep-attrition",
}
CHAMPION = "champion"
ARTIFACT_SUBPATH = "artifacts/scoring_model"


@dataclass(frozen=True)
class VersionInfo:
    """Which registered model version a score came from."""

    name: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.version}"


class NoChampionError(LookupError):
    """No version of the model carries the `champion` alias yet."""


class NoModelTrained(NoChampionError):
    """No champion, and the target's last training run registered none: the message is its
    verdict in a user's words (too few churned accounts, no opportunities table)."""


def registered_name(target: str) -> str:
    if target not in REGISTERED_NAMES:
        raise ValueError(f"Unknown target {target!r}; expected one of {sorted(REGISTERED_NAMES)}.")
    return REGISTERED_NAMES[target]


def client(settings: Settings):
    """An MLflow client on the workspace's tracking and registry store."""
    from mlflow import MlflowClient

    if settings.mlflow_tracking_uri is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    uri = settings.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(settings: Settings, name: str) -> str:
    """The id of MLflow experiment `name` in the current tracking store, created if missing,
    with its artefacts where `artifact_location` says."""
    import mlflow

    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlflow.create_experiment(name, artifact_location=artifact_location(settings))


def artifact_location(settings: Settings) -> str | None:
    """Where a new experiment keeps its artefacts: beside a local SQLite store (`mlartifacts`
    next to the workspace's or the given database), and wherever a tracking server decides
    (None). MLflow's own default for a local store would be `mlruns` under whatever folder the
    command ran in."""
    uri = settings.mlflow_tracking_uri
    if uri is None:
        return (settings.home / "mlartifacts").resolve().as_uri()
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        return (database.parent / "mlartifacts").resolve().as_uri()
    return None


def _info(version) -> VersionInfo:
    return VersionInfo(version.name, str(version.version), version.run_id, dict(version.tags or {}))


def champion_version(settings: Settings, target: str) -> VersionInfo | None:
    """The version carrying `champion`, or None (one registry read; no download).

    The workspace's own SQLite registry is read directly (`sqlite_champion`): standing MLflow up
    (its imports and store checks) costs seconds per command. A tracking server, or a registry
    this reader does not understand, is asked through MLflow's client."""
    found = sqlite_champion(settings, registered_name(target))
    if found is not MISSING:
        return found
    from mlflow.exceptions import MlflowException

    try:
        version = client(settings).get_model_version_by_alias(registered_name(target), CHAMPION)
    except MlflowException:
        return None
    return _info(version)


MISSING = object()  # `sqlite_champion` could not answer: ask MLflow
ALIAS_SQL = """
    select v.version, v.run_id from registered_model_aliases a
    join model_versions v on v.name = a.name and v.version = a.version{workspace}
    where a.name = ? and a.alias = ?{default}
"""
TAGS_SQL = "select key, value from model_version_tags where name = ? and version = ?{default}"


def sqlite_champion(settings: Settings, name: str) -> VersionInfo | None | object:
    """The champion of `name` read from the workspace's SQLite registry (read-only), None when no
    version carries the alias, or `MISSING` when this is not that registry or it cannot be read
    (no file yet, another schema): the caller then asks MLflow."""
    import sqlite3

    if settings.mlflow_tracking_uri is not None:
        return MISSING
    path = (settings.home / "mlflow.db").resolve()
    if not path.is_file():
        return MISSING
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            columns = {row[1] for row in con.execute("pragma table_info(model_versions)")}
            default = " and a.workspace = 'default'" if "workspace" in columns else ""
            joined = " and v.workspace = a.workspace" if default else ""
            sql = ALIAS_SQL.format(workspace=joined, default=default)
            row = con.execute(sql, [name, CHAMPION]).fetchone()
            if row is None:
                return None
            tag_filter = " and workspace = 'default'" if default else ""
            tags = con.execute(TAGS_SQL.format(default=tag_filter), [name, row[0]]).fetchall()
    except sqlite3.Error:
        return MISSING
    return VersionInfo(name, str(row[0]), row[1], dict(tags))


def download(settings: Settings, info: VersionInfo) -> Path:
    """The version's artefact folder, downloaded once into the workspace (MLflow is imported
    only to download it). Promotion downloads the candidate before it becomes champion, so a
    version that cannot be served is refused, and the commands that read the champion (explain,
    score, monitor, serve) find it on disk without importing MLflow."""
    folder = settings.home / "models" / info.name / info.version
    if (folder / "model.json").is_file():
        return folder
    import mlflow.artifacts

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".download-"))
    try:
        # The version's concrete location, asked of the workspace's own registry (a `models:/` URI
        # would be resolved against the process-wide default registry instead).
        source_uri = client(settings).get_model_version_download_uri(info.name, info.version)
        mlflow.artifacts.download_artifacts(
            artifact_uri=source_uri, dst_path=str(staging), tracking_uri=settings.tracking_uri
        )
        roots = [m.parent for m in staging.rglob("MLmodel")]  # the download keeps the folder name
        source = (roots[0] if roots else staging) / ARTIFACT_SUBPATH
        if not source.is_dir():
            raise FileNotFoundError(f"{info.label} has no {ARTIFACT_SUBPATH} artefact.")
        source.rename(folder)  # atomic on one filesystem: readers see all or nothing
    except OSError:
        if not (folder / "model.json").is_file():
            raise  # not a lost race with another process: a real failure
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_version(
    settings: Settings, target: str, version: str, *, num_threads: int = 1
) -> tuple[ScoringModel, VersionInfo]:
    """A specific registered version."""
    mv = client(settings).get_model_version(registered_name(target), str(version))
    info = _info(mv)
    return ScoringModel.load(download(settings, info), num_threads=num_threads), info


def load_champion(
    settings: Settings, target: str, *, num_threads: int = 1
) -> tuple[ScoringModel, VersionInfo]:
    """The champion's scoring model and its version; NoChampionError when none is promoted."""
    info = champion_version(settings, target)
    if info is None:
        raise NoChampionError(
            f"No champion for {registered_name(target)} in {settings.tracking_uri}: "
            f"run `barometer train --target {target}` then `barometer promote --target {target}`."
        )
    model = ScoringModel.load(download(settings, info), num_threads=num_threads)
    return model, info


@dataclass(frozen=True)
class LoadedModel:
    """One champion: the scoring artefact, its registry version and its evaluation metrics."""

    target: str
    model: ScoringModel
    version: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ModelProvider(Protocol):
    """Where champions come from: MLflow in production, an in-memory dict in tests."""

    def version(self, target: str) -> str | None:
        """The current champion's version, cheaply (None when there is none)."""

    def load(self, target: str) -> LoadedModel:
        """Load the current champion; raises LookupError when there is none."""


class StaticProvider:
    """Models given in memory (tests, benchmarks); `publish` simulates a promotion."""

    def __init__(self, models: Mapping[str, LoadedModel]) -> None:
        self._models = dict(models)

    def publish(self, loaded: LoadedModel) -> None:
        self._models[loaded.target] = loaded

    def version(self, target: str) -> str | None:
        found = self._models.get(target)
        return found.version if found else None

    def load(self, target: str) -> LoadedModel:
        if target not in self._models:
            raise LookupError(f"No champion model for {target!r}.")
        return self._models[target]


class ChampionProvider:
    """Champions by the MLflow alias `champion`."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def version(self, target: str) -> str | None:
        found = champion_version(self.settings, target)
        return None if found is None else found.version

    def load(self, target: str) -> LoadedModel:
        try:
            model, info = load_champion(self.settings, target)
        except NoChampionError:
            verdict = read_status(self.settings, target)
            if verdict is not None and not verdict.trained and verdict.reason:
                raise NoModelTrained(verdict.reason) from None
            raise
        model.num_threads = 1  # one LightGBM thread in request paths
        return LoadedModel(target, model, _version_of(info), _metrics_of(info))


def _version_of(info) -> str:
    """The version number from whatever `load_champion` returns beside the model."""
    if isinstance(info, Mapping):
        return str(info.get("version"))
    return str(getattr(info, "version", info))


def backtest_metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """A registered version's numeric `backtest_*` tags, e.g. {'backtest_roc_auc_mean': 0.81}."""
    out = {}
    for name, value in tags.items():
        if name.startswith("backtest_") and name != "backtest_id":
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


def _metrics_of(info) -> dict[str, float]:
    """Explicit `metrics` when given, else a registered version's numeric `backtest_*` tags."""
    metrics = info.get("metrics") if isinstance(info, Mapping) else getattr(info, "metrics", None)
    if not metrics:
        tags = info.get("tags") if isinstance(info, Mapping) else getattr(info, "tags", None)
        metrics = backtest_metrics(tags or {})
    return {str(k): float(v) for k, v in metrics.items()}

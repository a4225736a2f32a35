"""Load registered models from MLflow for serving and explanations (never imports `training`).

Registered names are `barometer-churn` and `barometer-deal-win`; the alias `champion` marks the
version in use. `champion_version` is a cheap registry lookup, so a long-running service can
notice a promotion and reload; `load_champion` downloads the artefact once per version into
`BAROMETER_HOME/models/<name>/<version>` (atomically) and loads the `ScoringModel`.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from barometer.settings import Settings
from explain.model import ScoringModel

REGISTERED_NAMES = {"churn": "barometer-churn", "deal_win": "barometer-deal-win"}
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


def _info(version) -> VersionInfo:
    return VersionInfo(version.name, str(version.version), version.run_id, dict(version.tags or {}))


def champion_version(settings: Settings, target: str) -> VersionInfo | None:
    """The version carrying `champion`, or None (one registry call; no download)."""
    from mlflow.exceptions import MlflowException

    try:
        version = client(settings).get_model_version_by_alias(registered_name(target), CHAMPION)
    except MlflowException:
        return None
    return _info(version)


def _download(settings: Settings, info: VersionInfo) -> Path:
    """The version's artefact folder, downloaded once into the workspace."""
    import mlflow.artifacts

    folder = settings.home / "models" / info.name / info.version
    if (folder / "model.json").is_file():
        return folder
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
    return ScoringModel.load(_download(settings, info), num_threads=num_threads), info


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
    model = ScoringModel.load(_download(settings, info), num_threads=num_threads)
    return model, info

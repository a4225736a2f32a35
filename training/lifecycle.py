"""MLflow lifecycle: tracking store, run logging, registration and champion promotion."""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from barometer.model import flavour as mlflow_model
from barometer.model import packaging
from barometer.model.artefact import ScoringModel
from barometer.model.store import (
    CHAMPION,
    VersionInfo,
    champion_version,
    client,
    download,
    registered_name,
)
from barometer.model.store import experiment_id as named_experiment
from barometer.settings import Settings

PYFUNC_FILE = Path(mlflow_model.__file__)
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False}


def configure(settings: Settings) -> str:
    """Point MLflow at the workspace store (SQLite) or MLFLOW_TRACKING_URI."""
    if settings.mlflow_tracking_uri is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    uri = settings.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment_id(settings: Settings, target: str) -> str:
    """The `barometer-<target>` experiment (artefacts of a local store in the workspace)."""
    return named_experiment(settings, f"barometer-{target}")


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a data snapshot (row order and column order matter)."""
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def log_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """Each table as CSV under `folder` (logged as run artifacts by the caller)."""
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)


def log_scoring_model(model: ScoringModel, sample: pd.DataFrame) -> str:
    """Log the pyfunc (from code, with the artefact folder); returns the logged model URI.
    `sample`: a few raw feature rows, to show the output's columns."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "scoring_model")
        explanation = model.explain(sample)
        output = pd.DataFrame(
            {"probability": explanation.probability, "base_probability": 0.0, "model_run_id": ""}
        )
        output = pd.concat(
            [output, explanation.points.reset_index(drop=True).add_prefix("contrib__")], axis=1
        )
        with warnings.catch_warnings():
            # The signature is given in full (`input_schema`); MLflow still asks for an example.
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_FILE),
                artifacts={mlflow_model.ARTIFACT_KEY: str(folder)},
                signature=mlflow_model.signature(model.encoder, output),
                # Self-contained: its code and pinned requirements (`barometer.model.packaging`).
                code_paths=[str(packaging.model_code(Path(tmp) / "code"))],
                pip_requirements=packaging.requirements(),
            )
    return info.model_uri


def register(settings: Settings, target: str, model_uri: str, tags: dict[str, str]) -> VersionInfo:
    """Create a registered model version (the last step of a run, after everything is logged)."""
    name = registered_name(target)
    mc = client(settings)
    if not mc.search_registered_models(filter_string=f"name = '{name}'"):
        mc.create_registered_model(name)
    run_id = tags.get("run_id")
    version = mc.create_model_version(name, model_uri, run_id=run_id, tags=tags)
    return VersionInfo(name, str(version.version), run_id, dict(tags))


@dataclass
class Promotion:
    """Outcome of `promote`: whether the alias moved, and why."""

    promoted: bool
    candidate: str
    champion_before: str | None
    reasons: list[str] = field(default_factory=list)
    forced: bool = False


def backtest_metric(info: VersionInfo, metric: str) -> float | None:
    value = info.tags.get(f"backtest_{metric}_mean")
    return float(value) if value is not None else None


def compare(candidate: VersionInfo, champion: VersionInfo, metric: str, margin: float) -> list[str]:
    """Reasons the candidate does not beat the champion on the same backtest (empty: it does)."""
    same = candidate.tags.get("backtest_id") == champion.tags.get("backtest_id")
    if not same:
        return [
            f"champion v{champion.version} was backtested on other data or folds "
            f"({champion.tags.get('backtest_id')} vs {candidate.tags.get('backtest_id')}); "
            f"re-run `barometer evaluate --version {champion.version}` to backtest it on the "
            "current data first"
        ]
    new, old = backtest_metric(candidate, metric), backtest_metric(champion, metric)
    if new is None or old is None:
        return [f"backtest {metric} missing on v{candidate.version} or v{champion.version}"]
    better = new - old if HIGHER_IS_BETTER[metric] else old - new
    if not better > margin:
        return [
            f"candidate v{candidate.version} backtest {metric} {new:.4f} vs champion "
            f"v{champion.version} {old:.4f}: improvement {better:+.4f} does not exceed the margin "
            f"{margin:.4f}"
        ]
    return []


def _version(settings: Settings, target: str, version: str | None) -> VersionInfo:
    mc, name = client(settings), registered_name(target)
    if version is None:
        versions = mc.search_model_versions(f"name = '{name}'")
        if not versions:
            raise LookupError(
                f"No registered versions of {name}: `barometer train --target {target}` "
                "registers one only when a model beats the base rate; if it ran, its output "
                "says why it registered none."
            )
        mv = max(versions, key=lambda v: int(v.version))
    else:
        mv = mc.get_model_version(name, str(version))
    return VersionInfo(mv.name, str(mv.version), mv.run_id, dict(mv.tags or {}))


def promote(
    settings: Settings,
    target: str,
    *,
    metric: str,
    margin: float,
    version: str | None = None,
    force: bool = False,
) -> Promotion:
    """Move `champion` to the candidate (default: newest version) only if it beats the champion."""
    candidate = _version(settings, target, version)
    champion = champion_version(settings, target)
    if champion is not None and champion.version == candidate.version:
        return Promotion(False, candidate.version, champion.version, ["already champion"])
    if candidate.tags.get("beats_baselines") != "true" and not force:
        reasons = ["candidate did not beat the baselines in its own backtest"]
        return Promotion(False, candidate.version, champion and champion.version, reasons)
    reasons = [] if champion is None else compare(candidate, champion, metric, margin)
    if reasons and not force:
        return Promotion(False, candidate.version, champion.version, reasons)
    try:
        download(settings, candidate)
    except FileNotFoundError as exc:  # no scoring artefact: nothing could serve it
        return Promotion(False, candidate.version, champion and champion.version, [str(exc)])
    mc, now = client(settings), datetime.now(UTC).isoformat(timespec="seconds")
    mc.set_model_version_tag(candidate.name, candidate.version, "promoted_at", now)
    mc.set_model_version_tag(
        candidate.name, candidate.version, "promotion_forced", str(force and bool(reasons)).lower()
    )
    if force and reasons:
        mc.set_model_version_tag(
            candidate.name, candidate.version, "forced_over", "; ".join(reasons)
        )
    mc.set_registered_model_alias(candidate.name, CHAMPION, candidate.version)  # the one move
    before = champion.version if champion else None
    return Promotion(True, candidate.version, before, reasons, forced=force and bool(reasons))


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str))
    return path

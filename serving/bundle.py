"""Champion models held as one immutable bundle, swapped atomically on reload.

A request takes `holder.current` once and uses that bundle for its whole response, so a swap in the
middle of a request can never mix two model versions in one answer, and no request is dropped:
the old bundle stays alive for as long as a request holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol

from barometer.settings import TARGETS
from explain.model import ScoringModel


@dataclass(frozen=True)
class LoadedModel:
    """One champion: the scoring artefact, its registry version and its evaluation metrics."""

    target: str
    model: ScoringModel
    version: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ModelBundle:
    """The models one request sees. Never mutated; a reload builds a new bundle."""

    models: Mapping[str, LoadedModel]
    generation: int = 0
    errors: Mapping[str, str] = field(default_factory=dict)

    def get(self, target: str) -> LoadedModel | None:
        return self.models.get(target)

    def versions(self) -> dict[str, str]:
        return {t: m.version for t, m in self.models.items()}


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
    """Champions by the MLflow alias `champion` (through `explain.model_store`)."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def version(self, target: str) -> str | None:
        from explain import model_store

        found = model_store.champion_version(self.settings, target)
        return None if found is None else str(found)

    def load(self, target: str) -> LoadedModel:
        from explain import model_store

        model, info = model_store.load_champion(self.settings, target)
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


def load_bundle(provider: ModelProvider, targets=TARGETS, generation: int = 0) -> ModelBundle:
    """Load every target's champion; a missing one is recorded in `errors`, not raised."""
    models, errors = {}, {}
    for target in targets:
        try:
            loaded = provider.load(target)
        except Exception as exc:  # noqa: BLE001 - any failure means "not loaded", reported by /readyz
            errors[target] = f"{type(exc).__name__}: {exc}"
            continue
        loaded.model.num_threads = 1
        models[target] = loaded
    return ModelBundle(MappingProxyType(models), generation, MappingProxyType(errors))


class BundleHolder:
    """Holds the current bundle; `reload` swaps in a new one with a single reference assignment."""

    def __init__(self, provider: ModelProvider, targets=TARGETS) -> None:
        self.provider = provider
        self.targets = tuple(targets)
        self.current = ModelBundle(MappingProxyType({}), -1, MappingProxyType({}))
        self._lock = threading.Lock()

    def reload(self) -> ModelBundle:
        """Load the champions and swap them in (requests in flight keep their old bundle)."""
        with self._lock:
            fresh = load_bundle(self.provider, self.targets, self.current.generation + 1)
            # A target whose new champion fails to load keeps serving its previous one.
            kept = {t: m for t, m in self.current.models.items() if t in fresh.errors}
            models = MappingProxyType({**kept, **fresh.models})
            self.current = ModelBundle(models, fresh.generation, fresh.errors)
            return self.current

    def stale_targets(self) -> list[str]:
        """Targets whose champion version differs from the loaded one (a promotion happened)."""
        loaded = self.current.versions()
        stale = []
        for target in self.targets:
            try:
                version = self.provider.version(target)
            except Exception:  # noqa: BLE001 - a registry hiccup must not take serving down
                continue
            if version is not None and version != loaded.get(target):
                stale.append(target)
        return stale

    def refresh_if_promoted(self) -> bool:
        """Reload when a new champion was promoted; True when a swap happened."""
        if self.stale_targets():
            self.reload()
            return True
        return False

"""Champion models held as one immutable bundle, swapped atomically on reload.

A request takes `holder.current` once and uses that bundle for its whole response, so a swap in the
middle of a request can never mix two model versions in one answer, and no request is dropped:
the old bundle stays alive for as long as a request holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from barometer.model.store import LoadedModel, ModelProvider, NoModelTrained
from barometer.settings import TARGETS


@dataclass(frozen=True)
class ModelBundle:
    """The models one request sees. Never mutated; a reload builds a new bundle."""

    models: Mapping[str, LoadedModel]
    generation: int = 0
    errors: Mapping[str, str] = field(default_factory=dict)
    # Targets with no model because training registered none, with its verdict: not a failure,
    # so readiness does not wait for them (a churn-only export never gets a deal-win model).
    absent: Mapping[str, str] = field(default_factory=dict)

    def get(self, target: str) -> LoadedModel | None:
        return self.models.get(target)

    def versions(self) -> dict[str, str]:
        return {t: m.version for t, m in self.models.items()}


def load_bundle(provider: ModelProvider, targets=TARGETS, generation: int = 0) -> ModelBundle:
    """Load every target's champion; a missing one is recorded in `errors` (or in `absent` when
    training registered none), not raised."""
    models, errors, absent = {}, {}, {}
    for target in targets:
        try:
            loaded = provider.load(target)
        except NoModelTrained as exc:
            absent[target] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - any failure means "not loaded", reported by /readyz
            errors[target] = f"{type(exc).__name__}: {exc}"
            continue
        loaded.model.num_threads = 1
        models[target] = loaded
    return ModelBundle(
        MappingProxyType(models), generation, MappingProxyType(errors), MappingProxyType(absent)
    )


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
            self.current = ModelBundle(models, fresh.generation, fresh.errors, fresh.absent)
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
        """Reload when a new champion was promoted; True when a swap happened. Otherwise re-read
        why each target without a model has none: training may have run since."""
        if self.stale_targets():
            self.reload()
            return True
        self.refresh_absent()
        return False

    def refresh_absent(self) -> None:
        """Re-read the verdicts of the targets without a model (the models stay as they are; a
        champion that arrived after the version check is loaded by the next poll)."""
        with self._lock:
            bundle = self.current
            missing = [t for t in self.targets if bundle.get(t) is None]
            fresh = load_bundle(self.provider, missing, bundle.generation)
            errors = {t: e for t, e in bundle.errors.items() if t not in missing} | fresh.errors
            if (errors, dict(fresh.absent)) != (dict(bundle.errors), dict(bundle.absent)):
                self.current = ModelBundle(
                    bundle.models, bundle.generation, MappingProxyType(errors), fresh.absent
                )

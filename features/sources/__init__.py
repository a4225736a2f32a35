"""The feature sources, one file each: a query and the features declared on its columns.

Adding a behaviour is one file here: a query built with the cutoff machinery of `features.core`
(`SOURCE`, a `features.declare.Source`) and the features declared on its columns (`FEATURES`).
Every module of this package is a source; the registry (`features.registry.REGISTRY`) collects
their features.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from types import ModuleType

from features.declare import Feature, Source


def source_modules() -> tuple[ModuleType, ...]:
    """Every source module of this package, by name."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__))
    return tuple(import_module(f"{__name__}.{name}") for name in names)


MODULES = source_modules()
SOURCES: dict[str, Source] = {module.SOURCE.name: module.SOURCE for module in MODULES}
FEATURES: tuple[Feature, ...] = tuple(f for module in MODULES for f in module.FEATURES)

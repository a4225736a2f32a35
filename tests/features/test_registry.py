"""The registry documents every feature, and the docs table is generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.backends import open_frames
from features.engine import make_context, read_columns
from features.registry import (
    COLUMN_ORDER,
    FAMILY_LABELS,
    REGISTRY,
    features_for,
    markdown,
    registry_hash,
)
from features.sources import MODULES, SOURCES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"
ISSUE_FAMILIES = set(FAMILY_LABELS)


@pytest.mark.parametrize("feature", REGISTRY, ids=lambda f: f.name)
def test_every_entry_is_documented(feature):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", feature.name)
    assert feature.family in FAMILY_LABELS
    assert len(feature.description) >= 10 and feature.description[0].isupper()
    assert feature.kind in ("numeric", "categorical", "bool")
    assert feature.source in SOURCES and callable(feature.expr)
    assert feature.entity == SOURCES[feature.source].entity
    assert feature.tables


def test_names_are_unique_and_every_family_is_covered():
    names = [f.name for f in REGISTRY]
    assert len(names) == len(set(names))
    assert {f.family for f in REGISTRY} == ISSUE_FAMILIES
    assert features_for("account") and features_for("opportunity")


def test_docs_match_the_generated_table():
    assert DOCS.read_text() == markdown(), "regenerate: barometer features --list --markdown"


def test_hash_changes_with_the_registry(monkeypatch):
    import features.registry as registry

    before = registry_hash()
    monkeypatch.setattr(registry, "REGISTRY", REGISTRY[:-1])
    assert registry.registry_hash() != before


@pytest.fixture(scope="module")
def source_columns(sim) -> dict[str, set[str]]:
    """The columns each source's query produces (built, never run: a lazy context)."""
    ctx = make_context(open_frames(sim), ["2024-03-01", "2024-06-01"])
    ctx.lazy = True
    return {name: set(source.query(ctx).columns) for name, source in SOURCES.items()}


@pytest.mark.parametrize("feature", REGISTRY, ids=lambda f: f.name)
def test_every_column_a_feature_reads_is_produced_by_its_source(feature, source_columns):
    """A feature reads only its own source, so it can be computed alone (`only=`) and a source
    file holds everything its features need."""
    missing = read_columns([feature]) - source_columns[feature.source]
    assert not missing, f"{feature.name} reads {sorted(missing)}, not made by {feature.source}"


def test_every_source_file_declares_its_query_and_features():
    for module in MODULES:
        assert module.__name__.rsplit(".", 1)[-1] == module.SOURCE.name  # one file per source
        assert callable(module.SOURCE.query) and module.FEATURES, module.__name__
        assert {f.source for f in module.FEATURES} == {module.SOURCE.name}, module.__name__
    assert set(COLUMN_ORDER) <= {f.name for f in REGISTRY}  # no stale names in the order

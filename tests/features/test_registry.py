"""The registry documents every feature, and the docs table is generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.engine import SOURCES
from features.registry import FAMILY_LABELS, REGISTRY, features_for, markdown, registry_hash

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"
ISSUE_FAMILIES = set(FAMILY_LABELS)


@pytest.mark.parametrize("feature", REGISTRY, ids=lambda f: f.name)
def test_every_entry_is_documented(feature):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", feature.name)
    assert feature.family in FAMILY_LABELS
    assert len(feature.description) >= 10 and feature.description[0].isupper()
    assert feature.kind in ("numeric", "categorical", "bool")
    assert feature.source in SOURCES and callable(feature.expr)
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

"""The champion read straight from the workspace's SQLite registry is the one MLflow names, and a
command that only needs the champion never imports MLflow (or LightGBM for a non-tree model)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from barometer.model import store
from barometer.model.store import CHAMPION, champion_version, registered_name
from barometer.settings import Settings


@pytest.fixture
def registry(tmp_path):
    """A workspace registry with two churn versions (tagged) and one deal-win version."""
    settings = Settings(home=tmp_path / "home")
    client = store.client(settings)
    for target, versions in (("churn", 2), ("deal_win", 1)):
        name = registered_name(target)
        client.create_registered_model(name)
        for v in range(1, versions + 1):
            client.create_model_version(
                name,
                source=str(tmp_path / f"{target}-{v}"),
                tags={"backtest_roc_auc_mean": f"0.{v}"},
            )
    return settings, client


def via_mlflow(settings: Settings, target: str, monkeypatch) -> store.VersionInfo | None:
    with monkeypatch.context() as patch:
        patch.setattr(store, "local_registry", lambda _settings: None)
        return champion_version(settings, target)


def test_the_direct_read_names_the_champion_mlflow_names(registry, monkeypatch):
    settings, client = registry
    name = registered_name("churn")
    assert store.local_registry(settings) is not None
    assert champion_version(settings, "churn") is None  # no alias yet

    client.set_registered_model_alias(name, CHAMPION, "1")
    direct = store.champion_in_sqlite(store.local_registry(settings), name)
    assert direct == via_mlflow(settings, "churn", monkeypatch)
    assert direct.version == "1" and direct.tags == {"backtest_roc_auc_mean": "0.1"}

    client.set_registered_model_alias(name, CHAMPION, "2")  # a promotion moves the alias
    assert champion_version(settings, "churn") == via_mlflow(settings, "churn", monkeypatch)
    assert champion_version(settings, "churn").version == "2"
    assert champion_version(settings, "deal_win") is None  # another model's alias is its own


def test_an_unexpected_registry_layout_falls_back_to_mlflow(registry, monkeypatch):
    settings, client = registry
    client.set_registered_model_alias(registered_name("churn"), CHAMPION, "2")

    def broken(path, name):
        raise store.sqlite3.OperationalError("no such column: a.workspace")

    monkeypatch.setattr(store, "champion_in_sqlite", broken)
    assert champion_version(settings, "churn").version == "2"


def test_loading_a_downloaded_logistic_champion_imports_neither_mlflow_nor_lightgbm(tmp_path):
    """The lookup and the load of an artefact already in the workspace, in a fresh interpreter."""
    from barometer.model.artefact import ScoringModel
    from barometer.model.encoder import FeatureEncoder
    from barometer.model.scorers import LinearScorer

    settings = Settings(home=tmp_path / "home")
    client = store.client(settings)
    name = registered_name("churn")
    client.create_registered_model(name)
    client.create_model_version(name, source=str(tmp_path / "src"))
    client.set_registered_model_alias(name, CHAMPION, "1")
    frame = __import__("pandas").DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    encoder = FeatureEncoder({"x": "numeric"}).fit(frame)
    core = LinearScorer(
        intercept=0.0,
        positions=(0,),
        fill=(0.0,),
        mean=(1.5,),
        scale=(1.0,),
        coef=(0.5,),
        missing_coef=(0.0,),
        offset=(0.0,),
        categorical=(),
    )
    ScoringModel(target="churn", encoder=encoder, core=core).save(
        settings.home / "models" / name / "1"
    )
    script = textwrap.dedent(
        f"""
        import sys
        from barometer.model.store import ChampionProvider
        from barometer.settings import Settings
        loaded = ChampionProvider(Settings(home={str(settings.home)!r})).load("churn")
        heavy = [m for m in ("mlflow", "lightgbm", "sklearn", "sqlalchemy") if m in sys.modules]
        print(loaded.version, loaded.model.kind, heavy)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["1", "logistic", "[]"]

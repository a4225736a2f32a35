"""The champion read straight from the workspace's SQLite registry is MLflow's own answer."""

from __future__ import annotations

from barometer.model.store import (
    MISSING,
    ChampionProvider,
    VersionInfo,
    _info,
    champion_version,
    client,
    sqlite_champion,
)
from barometer.settings import Settings


def test_the_sqlite_champion_is_mlflow_s(tmp_path) -> None:
    settings = Settings(home=tmp_path / "workspace")
    registry = client(settings)
    registry.create_registered_model("barometer-churn")
    registry.create_registered_model("barometer-deal-win")
    for version in ("1", "2"):
        (tmp_path / version).mkdir()
        registry.create_model_version(
            "barometer-churn",
            source=str(tmp_path / version),
            tags={"backtest_roc_auc_mean": f"0.8{version}", "version_tag": version},
        )
    assert sqlite_champion(settings, "barometer-churn") is None  # no alias yet
    assert champion_version(settings, "churn") is None
    registry.set_registered_model_alias("barometer-churn", "champion", "2")
    expected = _info(registry.get_model_version_by_alias("barometer-churn", "champion"))
    found = sqlite_champion(settings, "barometer-churn")
    assert found == expected == champion_version(settings, "churn")
    assert isinstance(found, VersionInfo) and found.version == "2"
    assert found.tags["backtest_roc_auc_mean"] == "0.82"
    # What the service compares with its loaded model's version to decide on a reload: the plain
    # number, so an unchanged champion is never reloaded.
    assert ChampionProvider(settings).version("churn") == "2"
    registry.set_registered_model_alias("barometer-churn", "champion", "1")  # a promotion
    assert champion_version(settings, "churn").version == "1"
    assert champion_version(settings, "deal_win") is None


def test_a_tracking_server_or_a_missing_store_is_left_to_mlflow(tmp_path) -> None:
    server = Settings(home=tmp_path, mlflow_tracking_uri="http://127.0.0.1:1")
    assert sqlite_champion(server, "barometer-churn") is MISSING
    assert sqlite_champion(Settings(home=tmp_path / "empty"), "barometer-churn") is MISSING
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "mlflow.db").write_bytes(b"not a database")
    assert sqlite_champion(Settings(home=tmp_path / "broken"), "barometer-churn") is MISSING


def test_new_experiments_keep_their_artefacts_beside_a_local_store(tmp_path) -> None:
    """Never in `mlruns` under the folder a command (or a test) runs in."""
    from barometer.model.store import artifact_location

    workspace = Settings(home=tmp_path / "ws", mlflow_tracking_uri=None)
    assert artifact_location(workspace) == (tmp_path / "ws" / "mlartifacts").as_uri()
    shared = Settings(home=tmp_path / "ws", mlflow_tracking_uri=f"sqlite:///{tmp_path}/s/m.db")
    assert artifact_location(shared) == (tmp_path / "s" / "mlartifacts").as_uri()
    server = Settings(home=tmp_path / "ws", mlflow_tracking_uri="http://127.0.0.1:5000")
    assert artifact_location(server) is None  # the server's own artefact root

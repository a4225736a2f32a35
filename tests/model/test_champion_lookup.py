"""A command that only needs the champion never imports MLflow (or LightGBM for a non-tree model).
The direct registry read itself is checked against MLflow's answer in test_store.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from barometer.model import store
from barometer.model.store import CHAMPION, registered_name
from barometer.settings import Settings


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


def test_no_champion_after_a_refused_training_carries_its_verdict(tmp_path):
    """The service tells "training registered none, because …" apart from "not loaded": the
    provider reads the target's last training verdict when no champion exists."""
    import pytest

    from barometer.model.status import TrainingStatus, write_status
    from barometer.model.store import ChampionProvider, NoChampionError, NoModelTrained

    settings = Settings(home=tmp_path / "home")
    settings.ensure_home()
    with pytest.raises(NoChampionError) as never_trained:
        ChampionProvider(settings).load("churn")
    assert not isinstance(never_trained.value, NoModelTrained)
    reason = "Not enough churned accounts to learn from (8; need 20)."
    write_status(settings, TrainingStatus("churn", False, reason, 8, 20))
    with pytest.raises(NoModelTrained) as refused:
        ChampionProvider(settings).load("churn")
    assert str(refused.value) == reason
    write_status(settings, TrainingStatus("churn", True))
    with pytest.raises(NoChampionError) as trained_not_promoted:
        ChampionProvider(settings).load("churn")
    assert not isinstance(trained_not_promoted.value, NoModelTrained)

"""The scoring artefact: additive reasons on the calibrated scale, and a lossless save/load."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from explain.model import Calibrator, ScoringModel


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    rng = np.random.default_rng(3)
    n = 2000
    frame = pd.DataFrame(
        {
            "calls": rng.poisson(4, n).astype(float),
            "segment": rng.choice(["smb", "enterprise"], n),
        }
    )
    logit = -1 + 0.5 * frame["calls"] - 1.0 * (frame["segment"] == "enterprise")
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    categories = {"segment": ["enterprise", "smb"]}
    draft = ScoringModel("churn", ["calls", "segment"], booster=None, categories=categories)
    data = lgb.Dataset(draft.matrix(frame), label, categorical_feature=[1], free_raw_data=False)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7}, data, 40)
    return ScoringModel(
        "churn", ["calls", "segment"], booster, Calibrator("platt", a=0.8, b=-0.2), categories
    )


def test_reasons_add_up_to_the_calibrated_probability(model: ScoringModel) -> None:
    rows = pd.DataFrame({"calls": [0.0, 3.0, 9.0], "segment": ["smb", "enterprise", "smb"]})
    explanation = model.explain(rows)
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.predict_proba(rows), atol=1e-12)
    # Log-odds contributions add up to the raw score.
    raw = explanation.raw_base_value + explanation.log_odds.sum(axis=1).to_numpy()
    np.testing.assert_allclose(raw, model.raw_score(rows), atol=1e-9)
    # More calls raise the outcome in this data, and the reason says so.
    assert explanation.points.loc[2, "calls"] > 0 > explanation.points.loc[0, "calls"]


def test_unknown_category_is_missing_not_an_error(model: ScoringModel) -> None:
    rows = pd.DataFrame({"calls": [3.0], "segment": ["galactic"]})
    assert np.isnan(model.matrix(rows)[0, 1])
    assert 0 < model.predict_proba(rows)[0] < 1


def test_save_and_load_give_identical_predictions(model: ScoringModel, tmp_path) -> None:
    rows = pd.DataFrame({"calls": [1.0, 5.0], "segment": ["smb", None]})
    loaded = ScoringModel.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.categories == model.categories and loaded.calibrator == model.calibrator


def test_missing_artefact_file_is_a_clear_error(model: ScoringModel, tmp_path) -> None:
    folder = model.save(tmp_path / "m")
    (folder / "booster.txt").unlink()
    with pytest.raises(FileNotFoundError, match="booster.txt"):
        ScoringModel.load(folder)

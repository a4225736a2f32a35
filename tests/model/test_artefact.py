"""The scoring artefact: additive reasons on the calibrated scale, and a lossless save/load."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import SMALL_BATCH, Calibrator, ScoringModel


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


def test_small_and_large_batches_encode_the_same_matrix(model: ScoringModel) -> None:
    """Up to SMALL_BATCH rows go through `encode`; more through pandas blocks: same floats."""
    rng = np.random.default_rng(5)
    n = 3 * SMALL_BATCH
    frame = pd.DataFrame(
        {
            "segment": rng.choice(["smb", "enterprise", "galactic", None], n),
            "calls": rng.choice([0.0, 2.0, np.nan, 7.5], n),
            "unused": rng.normal(size=n),
        }
    )
    large = model.matrix(frame)
    small = np.vstack([model.matrix(frame.iloc[i : i + 10]) for i in range(0, n, 10)])
    np.testing.assert_array_equal(small, large)
    assert np.isnan(large[frame["segment"].isin(["galactic", None]).to_numpy(), 1]).all()
    # Text in a numeric column and an absent column are missing on both paths.
    odd = pd.DataFrame({"calls": ["3", "lots", None]})
    np.testing.assert_array_equal(model.matrix(odd), [[3.0, np.nan], [np.nan] * 2, [np.nan] * 2])
    flags = pd.DataFrame({"calls": pd.array([True, None, False], dtype="boolean")})
    np.testing.assert_array_equal(model.matrix(flags)[:, 0], [1.0, np.nan, 0.0])
    big = pd.concat([flags] * SMALL_BATCH, ignore_index=True)
    np.testing.assert_array_equal(model.matrix(big)[:3, 0], [1.0, np.nan, 0.0])
    np.testing.assert_array_equal(
        model.matrix(pd.concat([odd] * SMALL_BATCH, ignore_index=True))[:3], model.matrix(odd)
    )


def test_one_row_explanation_equals_the_batch_row(model: ScoringModel) -> None:
    rows = pd.DataFrame(
        {"calls": [0.0, 3.0, 9.0] * 40, "segment": ["smb", "enterprise", None] * 40}
    )
    batch = model.explain(rows)
    one = model.explain(rows.iloc[[2]])
    np.testing.assert_allclose(one.point_values[0], batch.point_values[2], atol=1e-12)
    assert one.probability[0] == pytest.approx(batch.probability[2], abs=1e-12)
    assert list(one.points.columns) == model.feature_names and one.points.index.tolist() == [2]

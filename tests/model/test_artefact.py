"""The scoring artefact: additive reasons on the calibrated scale, and a lossless save/load."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import SMALL_BATCH, FeatureEncoder

KINDS = {"calls": "numeric", "segment": "categorical"}


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
    encoder = FeatureEncoder(KINDS).fit(frame)
    assert encoder.categories_ == {"segment": ["enterprise", "smb"]}
    data = lgb.Dataset(
        encoder.transform(frame), label, categorical_feature=[1], free_raw_data=False
    )
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7}, data, 40)
    return ScoringModel("churn", encoder, booster, Calibrator("platt", a=0.8, b=-0.2))


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
    assert loaded.encoder.kinds_ == KINDS


def test_missing_artefact_file_is_a_clear_error(model: ScoringModel, tmp_path) -> None:
    folder = model.save(tmp_path / "m")
    (folder / "booster.txt").unlink()
    with pytest.raises(FileNotFoundError, match="booster.txt"):
        ScoringModel.load(folder)


def test_small_and_large_batches_encode_the_same_matrix(model: ScoringModel) -> None:
    """Up to SMALL_BATCH rows are read through an object array; more column by column: same
    floats."""
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


@pytest.fixture(scope="module")
def linear() -> tuple[ScoringModel, pd.DataFrame]:
    """Logistic regression fitted by training's `fit_linear` on data with a known linear truth."""
    from training.fit import fit_linear

    rng = np.random.default_rng(8)
    n = 3000
    frame = pd.DataFrame(
        {
            "calls": rng.poisson(4, n).astype(float),
            "silence": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(20, n)),
            "segment": rng.choice(
                ["smb", "mid", "enterprise", "rare"], n, p=[0.5, 0.3, 0.199, 0.001]
            ),
        }
    )
    logit = (
        -1 - 0.4 * frame["calls"] + 0.05 * frame["silence"].fillna(20) + (frame["segment"] == "smb")
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    names = ["calls", "silence", "segment"]
    encoder = FeatureEncoder({"calls": "numeric", "silence": "numeric", "segment": "categorical"})
    encoder.fit(frame)
    assert encoder.categories_ == {"segment": ["enterprise", "mid", "rare", "smb"]}
    core = fit_linear(encoder.transform(frame), label, names, encoder.categories_)
    model = ScoringModel("churn", encoder, None, Calibrator("platt", a=0.9, b=0.1), core=core)
    return model, frame


def test_linear_reasons_are_its_exact_terms_and_add_up(linear) -> None:
    model, frame = linear
    rows = frame.head(300)
    explanation = model.explain(rows)
    assert model.kind == "logistic" and model.booster is None
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.predict_proba(rows), atol=1e-12)
    raw = explanation.raw_base_value + explanation.log_odds.sum(axis=1).to_numpy()
    np.testing.assert_allclose(raw, model.raw_score(rows), atol=1e-9)
    # Exact SHAP of a linear model, computed here independently: coefficient × (z − mean z).
    core = model.core
    k = core.positions.index(0)  # calls: never missing, so its term is coef·z alone
    z = (np.clip(rows["calls"], core.low[k], core.high[k]) - core.mean[k]) / core.scale[k]
    z_train = (np.clip(frame["calls"], core.low[k], core.high[k]) - core.mean[k]) / core.scale[k]
    expected = core.coef[k] * (z - z_train.mean())
    np.testing.assert_allclose(explanation.log_odds["calls"], expected, atol=1e-9)
    # The recovered directions: more calls lower churn, longer silence raises it.
    assert core.coef[k] < 0 < core.coef[core.positions.index(1)]
    busy = explanation.log_odds.loc[rows["calls"] > 6, "calls"]
    assert (busy < 0).all()


def test_linear_model_handles_missing_unknown_and_rare_levels(linear) -> None:
    model, _ = linear
    rows = pd.DataFrame(
        {
            "calls": [3.0, np.nan, 1e9],
            "silence": [np.nan, 5.0, 5.0],
            "segment": ["galactic", None, "rare"],
        }
    )
    p = model.predict_proba(rows)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    terms = model.core.terms(model.matrix(rows))
    seg = next(c for c in model.core.categorical if c["position"] == 2)
    # Unknown, missing and rare (fewer than 5 training rows) levels share the "other" term.
    assert terms[0, 2] == terms[1, 2] == seg["other"] == seg["levels"][2]
    # An extreme value is clipped to the training range, so it cannot dominate the score.
    assert abs(terms[2, 0]) < 5 * abs(model.core.coef[0]) + 1e-9


def test_linear_model_saves_as_json_and_loads_identically(linear, tmp_path) -> None:
    model, frame = linear
    folder = model.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json"]  # no booster, no pickle
    loaded = ScoringModel.load(folder)
    assert loaded.kind == "logistic" and loaded.core == model.core
    rows = frame.head(50)
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    np.testing.assert_array_equal(
        loaded.explain(rows).point_values, model.explain(rows).point_values
    )


def test_bgnbd_reasons_are_exact_shapley_values_that_add_up(tmp_path) -> None:
    from barometer.model.scorers import BGNBD_INPUTS, BGNBDScorer

    core = BGNBDScorer(0.8, 20.0, 0.7, 3.0, 90.0, reference=(4.0, 200.0, 30.0))
    encoder = FeatureEncoder(dict.fromkeys(BGNBD_INPUTS, "numeric")).fit(pd.DataFrame())
    model = ScoringModel("churn", encoder, None, Calibrator("platt", 1.1, 0.2), core=core)
    rows = pd.DataFrame(
        {
            "usage_days_total": [1.0, 12.0, 12.0, 0.0],
            "days_since_first_usage": [10.0, 300, 300, np.nan],
            "days_since_last_usage": [10.0, 5.0, 200.0, np.nan],
        }
    )
    explanation = model.explain(rows)
    raw = explanation.raw_base_value + explanation.log_odds.sum(axis=1).to_numpy()
    np.testing.assert_allclose(raw, model.raw_score(rows), atol=1e-9)
    total = explanation.base_probability + explanation.points.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.predict_proba(rows), atol=1e-12)
    # The base is the reference customer's score; a long silence raises "no purchase".
    assert explanation.raw_base_value == pytest.approx(core.score(np.array([core.reference]))[0])
    assert explanation.log_odds.loc[2, "days_since_last_usage"] > 0
    assert model.predict_proba(rows)[2] > model.predict_proba(rows)[1]
    loaded = ScoringModel.load(model.save(tmp_path / "bg"))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))


def test_unknown_kind_is_a_clear_error(model: ScoringModel, tmp_path) -> None:
    folder = model.save(tmp_path / "m")
    meta = (folder / "model.json").read_text().replace('"kind": "lightgbm"', '"kind": "forest"')
    (folder / "model.json").write_text(meta)
    with pytest.raises(ValueError, match="unknown model kind 'forest'"):
        ScoringModel.load(folder)


def test_bgnbd_without_heterogeneity_is_a_poisson_not_a_rounding_error() -> None:
    """When every customer buys at the same rate the fit sends r and alpha to ~1e16-1e18 (their
    ratio is the rate); P(no purchase in H) must then be exp(-rate·H), not (1 - 1e-17)^1e16 = 1."""
    from barometer.model.scorers import BGNBDScorer

    rate = 0.012
    core = BGNBDScorer(rate * 2.5e18, 2.5e18, 0.03, 3000.0, 90.0, (6.0, 469.0, 52.0))
    p = core.no_purchase(np.array([6.0, 20.0]), np.array([469.0, 900.0]), np.array([52.0, 3.0]))
    np.testing.assert_allclose(p, np.exp(-rate * 90), rtol=1e-3)

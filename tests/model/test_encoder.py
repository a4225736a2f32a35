"""The one encoder: scikit-learn's transformer contract, yes/no values in every spelling, the same
floats from every input shape, and a lossless JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from barometer.model.encoder import SMALL_BATCH, FeatureEncoder, NotFittedError

KINDS = {"calls": "numeric", "segment": "categorical", "reached": "bool"}


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "calls": [1.0, np.nan, 3.0, 0.0],
            "segment": pd.array(["smb", "enterprise", None, "smb"], dtype="string"),
            "reached": pd.array([True, False, None, True], dtype="boolean"),
            "label": [0, 1, 0, 1],
        }
    )


def test_fit_learns_sorted_levels_and_stores_only_parameters(train) -> None:
    encoder = FeatureEncoder(KINDS)
    assert vars(encoder) == {"kinds": KINDS}  # __init__ stores its parameter, nothing else
    assert encoder.fit(train) is encoder
    assert encoder.categories_ == {"segment": ["enterprise", "smb"]}
    assert encoder.feature_names_in_.tolist() == list(KINDS) and encoder.n_features_in_ == 3
    learned = {k for k in vars(encoder) if k != "kinds" and not k.startswith("_")}
    assert learned and all(k.endswith("_") for k in learned)
    np.testing.assert_array_equal(
        encoder.transform(train),
        [[1.0, 1.0, 1.0], [np.nan, 0.0, 0.0], [3.0, np.nan, np.nan], [0.0, 1.0, 1.0]],
    )


def test_transform_before_fit_is_refused(train) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        FeatureEncoder(KINDS).transform(train)
    with pytest.raises(ValueError, match="unknown feature kind"):
        FeatureEncoder({"calls": "text"}).fit(train)


def test_scikit_learn_clones_it_and_set_output_keeps_frames(train) -> None:
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.utils.validation import check_is_fitted

    encoder = FeatureEncoder(KINDS).fit(train)
    check_is_fitted(encoder)
    copy = clone(encoder)
    assert copy.get_params() == {"kinds": KINDS} and not hasattr(copy, "categories_")
    pipeline = make_pipeline(FeatureEncoder(KINDS)).set_output(transform="pandas")
    out = pipeline.fit_transform(train)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(KINDS)
    assert out.index.equals(train.index)
    np.testing.assert_array_equal(out.to_numpy(), encoder.transform(train))
    assert encoder.get_feature_names_out().tolist() == list(KINDS)


@pytest.mark.parametrize(
    "spelling",
    [
        [True, False, None],
        pd.array([True, False, None], dtype="boolean"),
        [1, 0, None],
        [1.0, 0.0, np.nan],
        ["true", "false", None],
        ["yes", "no", ""],
        ["Y", "N", None],
        ["1", "0", pd.NA],
    ],
    ids=["bool", "nullable", "int", "float", "words", "yes-no", "letters", "digits"],
)
def test_a_yes_no_column_in_any_spelling_encodes_identically(train, spelling) -> None:
    encoder = FeatureEncoder(KINDS).fit(train)
    rows = pd.DataFrame({"reached": pd.Series(spelling, dtype=getattr(spelling, "dtype", None))})
    np.testing.assert_array_equal(encoder.transform(rows)[:, 2], [1.0, 0.0, np.nan])
    as_array = np.array([[None, None, v] for v in rows["reached"].tolist()], dtype=object)
    np.testing.assert_array_equal(encoder.transform(as_array)[:, 2], [1.0, 0.0, np.nan])


def test_a_value_that_is_not_yes_or_no_names_the_row_and_field(train) -> None:
    encoder = FeatureEncoder(KINDS).fit(train)
    rows = pd.DataFrame({"reached": ["yes", "maybe"]}, index=["a1", "a2"])
    with pytest.raises(ValueError, match=r"'reached', row 'a2': 'maybe' is not a yes/no value"):
        encoder.transform(rows)


def test_small_large_and_array_inputs_give_the_same_floats(train) -> None:
    encoder = FeatureEncoder(KINDS).fit(train)
    rng = np.random.default_rng(4)
    n = 3 * SMALL_BATCH
    rows = pd.DataFrame(
        {
            "segment": pd.array(rng.choice(["smb", "enterprise", "galactic", None], n), "string"),
            "calls": rng.choice([0.0, 2.0, np.nan, 7.5], n),
            "reached": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "unused": rng.normal(size=n),
        }
    )
    large = encoder.transform(rows)
    small = np.vstack([encoder.transform(rows.iloc[i : i + 10]) for i in range(0, n, 10)])
    objects = rows.astype(object).where(rows.notna(), None)
    np.testing.assert_array_equal(small, large)
    np.testing.assert_array_equal(encoder.transform(objects), large)
    np.testing.assert_array_equal(encoder.transform(objects[list(KINDS)].to_numpy()), large)
    assert np.isnan(large[rows["segment"].isin(["galactic"]).fillna(True).to_numpy(), 1]).all()
    # Text in a numeric column and an absent column are missing.
    odd = pd.DataFrame({"calls": ["3", "lots", None]})
    np.testing.assert_array_equal(
        encoder.transform(odd)[:, :2], [[3.0, np.nan], [np.nan] * 2, [np.nan] * 2]
    )


def test_json_round_trip_transforms_identically(train) -> None:
    encoder = FeatureEncoder(KINDS).fit(train)
    loaded = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert loaded.kinds_ == KINDS and loaded.categories_ == encoder.categories_
    np.testing.assert_array_equal(loaded.transform(train), encoder.transform(train))

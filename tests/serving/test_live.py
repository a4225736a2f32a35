"""On-demand scoring's prepared rows give exactly the artefact's own explanation."""

from __future__ import annotations

import numpy as np

from serving.live import LiveCache, prepare


def test_prepared_rows_explain_exactly_like_the_model(models, workspace) -> None:
    model = models["churn"].model
    frame = workspace[1]["churn"]
    rows = prepare(model, frame)
    expected = model.explain(frame)
    got = model.explain_matrix(rows.matrix)
    np.testing.assert_allclose(got.probability, expected.probability, atol=1e-12)
    np.testing.assert_allclose(got.points.to_numpy(), expected.points.to_numpy(), atol=1e-12)
    assert got.base_probability == expected.base_probability
    matrix, values = rows.row("A007")
    one = model.explain_matrix(matrix)
    position = frame.index[frame["account_id"] == "A007"][0]
    assert one.probability[0] == expected.probability[position]
    assert list(values[0]) == list(frame.loc[position, model.feature_names])
    assert rows.row("NOPE") is None


def test_live_cache_prepares_once_per_model_version_and_source(models, workspace) -> None:
    from barometer.model.store import LoadedModel
    from barometer.scoring.latest_features import FrameFeatureSource

    source = FrameFeatureSource({"churn": workspace[1]["churn"]})
    cache = LiveCache()
    first = cache.rows(models["churn"], source)
    assert cache.rows(models["churn"], source) is first
    promoted = LoadedModel("churn", models["churn"].model, "4")
    assert cache.rows(promoted, source) is not first
    assert cache.rows(models["churn"], FrameFeatureSource({})) is None


def test_warming_a_new_bundle_drops_rows_of_models_no_longer_served(models, workspace) -> None:
    from types import MappingProxyType

    from barometer.model.store import LoadedModel
    from barometer.scoring.latest_features import FrameFeatureSource
    from serving.bundle import ModelBundle

    source = FrameFeatureSource({"churn": workspace[1]["churn"]})
    cache = LiveCache()
    old = models["churn"]
    cache.warm(ModelBundle(MappingProxyType({"churn": old})), source)
    assert cache.ready(old, source)
    promoted = LoadedModel("churn", old.model, "4")
    assert not cache.ready(promoted, source)
    cache.warm(ModelBundle(MappingProxyType({"churn": promoted})), source)
    assert cache.ready(promoted, source) and not cache.ready(old, source)
    matrix, _ = cache.rows(promoted, source).row("A007")
    assert matrix.shape == (1, len(old.model.feature_names))


def test_feature_records_hold_what_the_latest_frame_holds(workspace) -> None:
    import pandas as pd

    from barometer.scoring.latest_features import FrameFeatureSource

    frame = workspace[1]["churn"]
    frame = frame.assign(
        as_of=pd.Timestamp("2026-10-01"),
        note=pd.Series(np.where(np.arange(len(frame)) % 2, None, "x")),  # text with missing values
    )
    frame.loc[3, "open_cases"] = np.nan
    source = FrameFeatureSource({"churn": frame.set_index("account_id", drop=False)})
    for position in (0, 1, 3, len(frame) - 1):
        entity = frame.loc[position, "account_id"]
        record, latest = source.record("churn", entity), source.latest("churn", entity)
        assert list(record) == list(frame.columns)
        for name, value in record.items():
            expected = latest.loc[0, name]
            assert type(value) is type(expected), name
            assert value == expected or (pd.isna(value) and pd.isna(expected)), name
    assert source.as_of("churn", "A007") == pd.Timestamp("2026-10-01")
    assert source.record("churn", "NOPE") is None and source.record("deal_win", "A007") is None

"""One encoding on every path: the same raw warehouse rows reach the booster as bit-identical
matrices through training, `barometer score`'s job, the MLflow pyfunc and the service, and raw
DuckDB rows (nullable booleans, nulls, unseen categories) pass the pyfunc's input check."""

from __future__ import annotations

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from barometer.model.artefact import ScoringModel
from barometer.model.store import ChampionProvider, registered_name
from barometer.settings import Settings
from features.warehouse import connect
from tests.training.conftest import simulated_workspace

KEY = "retention-key-0123456789"


class BoosterInputs:
    """Records every matrix LightGBM is asked to score, and the ids of the frames the model
    explains (the batch job's rows arrive in the warehouse's order)."""

    def __init__(self, monkeypatch) -> None:
        self.matrices: list[np.ndarray] = []
        self.ids: list[np.ndarray] = []
        predict, explain = lgb.Booster.predict, ScoringModel.explain

        def spy_predict(booster, data, *args, **kwargs):
            self.matrices.append(np.array(data, dtype=float, copy=True))
            return predict(booster, data, *args, **kwargs)

        def spy_explain(model, frame):
            if "account_id" in frame:
                self.ids.append(frame["account_id"].astype(str).to_numpy())
            return explain(model, frame)

        monkeypatch.setattr(lgb.Booster, "predict", spy_predict)
        monkeypatch.setattr(ScoringModel, "explain", spy_explain)

    def last(self, rows: int | None = None) -> np.ndarray:
        """The latest matrix (of `rows` rows: the service's background work scores others)."""
        found = [m for m in self.matrices if rows is None or len(m) == rows]
        self.matrices.clear()
        assert len(found) >= 1
        return found[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulated workspace, its last labelled cutoff's raw feature rows, and a LightGBM churn
    model fitted by training on the earlier cutoffs with those rows as its holdout (the matrix
    training scored them with is kept), registered and promoted to champion."""
    from training import lifecycle
    from training.data import feature_kinds, load_frame
    from training.fit import fit_candidate
    from training.runs import resolve_config

    root = tmp_path_factory.mktemp("encoding")
    home = simulated_workspace(root, accounts=300).home
    settings = Settings(home=home, api_keys=f"retention:{KEY}")
    config = resolve_config("churn", None)
    frame = load_frame(settings, config)
    kinds = feature_kinds(config, list(frame.columns))
    cutoff = frame["cutoff"].max()
    holdout = frame[frame["cutoff"] == cutoff].reset_index(drop=True)
    train = frame[frame["cutoff"] < cutoff]
    with pytest.MonkeyPatch.context() as patch:
        spy = BoosterInputs(patch)
        model = fit_candidate("lightgbm", train, holdout, kinds, config)
        trained = spy.last()  # the holdout's matrix, scored for calibration
    lifecycle.configure(settings)
    with mlflow.start_run(experiment_id=lifecycle.experiment_id(settings, "churn")) as run:
        uri = lifecycle.log_scoring_model(model, holdout.head(20))
    tags = {"run_id": run.info.run_id, "beats_baselines": "true"}
    lifecycle.register(settings, "churn", uri, tags)
    lifecycle.promote(settings, "churn", metric="roc_auc", margin=0.0)
    return settings, model, holdout, trained, pd.Timestamp(cutoff).to_pydatetime()


def raw_rows(settings: Settings, cutoff, sql: str = "*") -> pd.DataFrame:
    """Feature rows at `cutoff` exactly as DuckDB returns them (nullable booleans, text)."""
    with connect(settings.warehouse_path, read_only=True) as con:
        query = f"select {sql} from features_account where cutoff = ? order by account_id"
        return con.execute(query, [cutoff]).df()


def by_id(ids, matrix: np.ndarray, order) -> np.ndarray:
    position = {str(i): k for k, i in enumerate(ids)}
    return matrix[[position[str(i)] for i in order]]


def assert_bit_identical(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()  # NaNs included: the same bits, not just close


def test_the_same_raw_rows_reach_the_booster_identically_on_every_path(world, monkeypatch):
    settings, model, holdout, trained, cutoff = world
    ids = holdout["account_id"].astype(str).to_numpy()
    known = {name: set(levels) for name, levels in model.categories.items()}
    spy = BoosterInputs(monkeypatch)
    loaded = ChampionProvider(settings).load("churn")
    assert loaded.model.kind == "lightgbm" and loaded.model.encoder.kinds_ == model.encoder.kinds_

    # `barometer score --as-of`: the job reads the warehouse and scores the churn population.
    from barometer.scoring import job

    job.run(settings, loaded, as_of=cutoff)
    scored_ids, scored = spy.ids[-1], spy.last()
    common = [i for i in ids if i in set(scored_ids)]
    assert len(common) > 0.8 * len(ids)
    want = by_id(ids, trained, common)
    assert_bit_identical(by_id(scored_ids, scored, common), want)

    # The MLflow pyfunc, given the raw DuckDB rows.
    raw = raw_rows(settings, cutoff)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{registered_name('churn')}@champion")
    pyfunc.predict(raw)
    assert_bit_identical(by_id(raw["account_id"], spy.last(), common), want)

    # The service: rows prepared for live scoring, and raw rows posted as JSON.
    from serving.app import ServeOptions, create_app
    from serving.live import prepare

    prepared = prepare(loaded.model, raw)
    assert_bit_identical(by_id(raw["account_id"], prepared.matrix, common), want)
    names = loaded.model.feature_names
    posted = raw[raw["account_id"].isin(common)]
    posted = posted[
        posted[list(known)].apply(lambda c: c.isna() | c.isin(known[c.name])).all(axis=1)
    ]
    assert len(posted) > 50 and posted[names].isna().any().any()
    body = [
        {"id": row["account_id"], **{n: _json(row[n]) for n in names}}
        for row in posted.to_dict("records")
    ]
    app = create_app(settings, options=ServeOptions(poll_seconds=3600))
    with TestClient(app) as client:
        spy.matrices.clear()
        answer = client.post("/v1/score/churn", json={"rows": body}, headers={"X-API-Key": KEY})
    assert answer.status_code == 200, answer.text
    assert_bit_identical(spy.last(len(posted)), by_id(ids, trained, posted["account_id"]))


def _json(value):
    """A warehouse value as a client sends it in JSON (null for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def test_raw_duckdb_rows_with_nulls_and_unseen_levels_pass_the_pyfunc(world) -> None:
    settings, model, _, _, cutoff = world
    flags = [n for n, kind in model.encoder.kinds_.items() if kind == "bool"]
    levels = [n for n, kind in model.encoder.kinds_.items() if kind == "categorical"]
    assert flags and levels
    # Nulls in a boolean and a numeric column, and a level training never saw.
    edits = [f"case when account_id like '%1' then null else {flags[0]} end as {flags[0]}"]
    edits.append(
        f"case when account_id like '%2' then 'galactic' else {levels[0]} end as {levels[0]}"
    )
    edits.append("case when account_id like '%3' then null else tenure_days end as tenure_days")
    raw = raw_rows(settings, cutoff, f"* replace ({', '.join(edits)})").head(60)
    assert isinstance(raw[flags[0]].dtype, pd.BooleanDtype) and raw[flags[0]].isna().any()
    pyfunc = mlflow.pyfunc.load_model(f"models:/{registered_name('churn')}@champion")
    out = pyfunc.predict(raw)
    local = model.explain(raw)
    np.testing.assert_array_equal(out["probability"], local.probability)
    galactic = raw[levels[0]].eq("galactic").to_numpy()
    assert (
        galactic.any()
        and np.isnan(model.matrix(raw)[galactic, model.feature_names.index(levels[0])]).all()
    )
    # The same yes/no column as 0/1, as "yes"/"no" and as "true"/"false": the same scores.
    for spelling in (
        {True: 1, False: 0},
        {True: "yes", False: "no"},
        {True: "true", False: "false"},
    ):
        respelled = raw.assign(**{n: raw[n].astype(object).map(spelling) for n in flags})
        np.testing.assert_array_equal(pyfunc.predict(respelled)["probability"], out["probability"])
    with pytest.raises(Exception, match="not a yes/no value"):
        pyfunc.predict(raw.assign(**{flags[0]: "maybe"}))

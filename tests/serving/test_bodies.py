"""Stored-score bodies built in bulk with the snapshot are the per-row answers, byte for byte."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from barometer.scoring.history import append_scores, latest_scores
from barometer.scoring.scores import previous_of, score_rows
from features.warehouse import connect
from serving.bodies import CHUNK, SCHEMAS, body_of, build_bodies
from serving.snapshot import ScoreSnapshot
from tests.serving.conftest import context_for, feature_rows

RUNS = (datetime(2026, 9, 1), datetime(2026, 10, 1))


def scored_runs(model, target: str, id_column: str, prefix: str) -> list[pd.DataFrame]:
    """Two runs: the second adds entities never scored before and keeps some rows unchanged."""
    first = feature_rows(id_column, 30, seed=1, prefix=prefix)
    second = feature_rows(id_column, 45, seed=2, prefix=prefix)
    second.iloc[:5, 1:] = first.iloc[:5, 1:].to_numpy()  # same features: no change, same reasons
    runs, previous = [], None
    for features, as_of in zip((first, second), RUNS, strict=True):
        context = context_for(features, seed=3, deals=target == "deal_win")
        scored, explained, _ = score_rows(
            model, "7", features, context, as_of=as_of, scored_at=as_of, previous=previous
        )
        runs.append(scored)
        previous = previous_of(model, explained, features)
    return runs


@pytest.fixture(params=[("churn", "account_id", "A"), ("deal_win", "opportunity_id", "O")])
def snapshot(request, tmp_path, models) -> ScoreSnapshot:
    target, id_column, prefix = request.param
    with connect(tmp_path / "warehouse.duckdb") as con:
        for scored in scored_runs(models[target].model, target, id_column, prefix):
            append_scores(con, scored)
        return ScoreSnapshot(target, latest_scores(con, target))


def test_every_bulk_body_is_the_per_row_answer(snapshot) -> None:
    schema = SCHEMAS[snapshot.target]
    kinds = {"changed": 0, "unchanged": 0, "new": 0}
    for entity in snapshot.frame["entity_id"]:
        stored = snapshot.body(entity)
        row = snapshot.row(entity)
        assert stored.body == body_of(schema, row, snapshot.target)
        assert stored.probability == row["probability"]
        parsed = schema.model_validate_json(stored.body)
        assert parsed.model_dump_json().encode() == stored.body
        change = json.loads(stored.body)["change"]
        if change is None:
            kinds["new"] += 1
        else:
            kinds["changed" if change["reasons"] else "unchanged"] += 1
    assert kinds == {"changed": 25, "unchanged": 5, "new": 15}


def test_unscored_entities_have_no_body(snapshot) -> None:
    assert snapshot.body("NOPE") is None
    assert snapshot.body(str(snapshot.frame["entity_id"].iloc[0])) is not None


def test_bodies_span_chunks_in_position_order(snapshot) -> None:
    frame = snapshot.frame
    many = pd.concat([frame] * (CHUNK // len(frame) + 2), ignore_index=True)
    many["probability"] = np.linspace(0.01, 0.99, len(many))
    bodies = build_bodies(many, snapshot.target)
    assert len(bodies) == len(many) > CHUNK
    for position in (0, CHUNK - 1, CHUNK, len(many) - 1):
        found = bodies.at(position)
        assert json.loads(found.body)["probability"] == found.probability
        assert found.probability == many["probability"].iloc[position]
    assert bodies.nbytes >= sum(len(bodies.at(i).body) for i in range(len(many)))


def test_an_empty_run_has_no_bodies() -> None:
    from serving.snapshot import empty_snapshot

    snapshot = empty_snapshot("churn")
    assert len(snapshot) == 0 and snapshot.body("A001") is None and snapshot.body_bytes == 0

"""write_export, determinism by seed, true_effects.json and the `barometer simulate` command."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import get_args

import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from data.contract import TABLES
from data.simulator import (
    EFFECTS_FILE,
    PLANTED_FILE,
    TRUE_EFFECTS,
    simulate,
    simulate_chunks,
    write_export,
)
from data.simulator.effects import SHAPES
from features.registry import Family

FAMILIES = set(get_args(Family))  # the registry's behaviour families
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return simulate(120, seed=21)


def test_csv_export_round_trips_with_iso_timestamps(small, tmp_path):
    rows = write_export(small, tmp_path / "out")
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert files == {f"{n}.csv" for n in TABLES} | {EFFECTS_FILE, PLANTED_FILE}
    for name, table in TABLES.items():
        assert rows[name] == len(small[name])
        back = pd.read_csv(tmp_path / "out" / f"{name}.csv", dtype=str, keep_default_na=False)
        assert tuple(back.columns) == table.names
        assert len(back) == len(small[name])
        for col in table.columns:
            if col.kind == "timestamp":
                text = back[col.name][back[col.name] != ""]
                assert text.str.match(ISO).all(), (name, col.name)
                parsed = pd.to_datetime(text).to_numpy()
                assert (parsed == small[name][col.name].dropna().to_numpy()).all()


def test_parquet_export_keeps_contract_types(small, tmp_path):
    write_export(small, tmp_path, fmt="parquet")
    acts = pd.read_parquet(tmp_path / "activities.parquet")
    assert tuple(acts.columns) == TABLES["activities"].names
    assert str(acts.occurred_at.dtype) == "datetime64[us]"
    assert acts.reached_decision_maker.dropna().isin([True, False]).all()
    pd.testing.assert_series_equal(
        acts.activity_id, small["activities"].activity_id, check_dtype=False
    )


def test_same_seed_gives_byte_identical_files(tmp_path):
    write_export(simulate_chunks(80, seed=4, chunk_accounts=30), tmp_path / "a")
    write_export(simulate_chunks(80, seed=4, chunk_accounts=30), tmp_path / "b")
    write_export(simulate_chunks(80, seed=5, chunk_accounts=30), tmp_path / "c")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a")["activities.csv"] != _digests(tmp_path / "c")["activities.csv"]


def test_streamed_chunks_equal_the_in_memory_tables(tmp_path):
    write_export(simulate_chunks(70, seed=8, chunk_accounts=25), tmp_path / "streamed")
    write_export(simulate(70, seed=8, chunk_accounts=25), tmp_path / "whole")
    assert _digests(tmp_path / "streamed") == _digests(tmp_path / "whole")


def test_a_failed_export_leaves_the_previous_one_untouched(small, tmp_path):
    write_export(small, tmp_path)
    before = _digests(tmp_path)

    def broken():
        yield {"reps": small["reps"]}
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_export(broken(), tmp_path)
    assert _digests(tmp_path) == before  # no half-written file, no leftover staging folder


def test_switching_format_replaces_the_old_files(small, tmp_path):
    write_export(small, tmp_path)
    write_export(small, tmp_path, fmt="parquet")
    assert not list(tmp_path.glob("*.csv"))
    assert len(list(tmp_path.glob("*.parquet"))) == len(TABLES)


def test_unknown_format_is_refused(small, tmp_path):
    with pytest.raises(ValueError, match="format"):
        write_export(small, tmp_path, fmt="xlsx")


def test_true_effects_json_lists_every_effect(small, tmp_path):
    write_export(small, tmp_path)
    effects = json.loads((tmp_path / EFFECTS_FILE).read_text())
    assert len(effects) == len(TRUE_EFFECTS)
    behaviours = {(e["outcome"], e["behaviour"]) for e in effects}
    for e in effects:
        assert set(e) == {
            "outcome",
            "behaviour",
            "family",
            "direction",
            "strength",
            "description",
            "shape",
            "threshold",
            "ramp",
            "neutral",
            "interaction",
        }
        assert e["outcome"] in {"churn", "deal_win", "rep_attrition"}
        assert e["family"] in FAMILIES
        assert e["direction"] in {1, -1} and e["strength"] > 0 and e["description"]
        low, high = e["ramp"]
        assert e["shape"] in SHAPES and low < high and low <= e["threshold"] <= high
        if e["interaction"] is not None:
            assert set(e["interaction"]) == {"with", "ramp", "low", "high"}
            other = e["interaction"]["with"]
            assert (e["outcome"], other) in behaviours or other == "deal_amount"
    shapes = {e["shape"] for e in effects}
    assert {"step", "saturating", "hinge"} <= shapes, "effects should not all be linear"
    assert sum(e["interaction"] is not None for e in effects) >= 3
    families = {(e["outcome"], e["family"]) for e in effects}
    for family in (
        "cadence",
        "timing",
        "conversation_depth",
        "reach",
        "responsiveness",
        "service_quality",
        "customer_voice",
    ):
        assert ("churn", family) in families
    for family in ("reach", "responsiveness", "conversation_depth", "cadence"):
        assert ("deal_win", family) in families


def test_simulate_command_writes_the_export(tmp_path):
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(out), "--accounts", "40", "--seed", "2", "--months", "12"]
    )
    assert result.exit_code == 0, result.output
    assert "activities.csv" in result.output
    assert {p.name for p in out.iterdir()} == {f"{n}.csv" for n in TABLES} | {
        EFFECTS_FILE,
        PLANTED_FILE,
    }
    assert len(pd.read_csv(out / "accounts.csv")) == 40


def test_simulate_command_writes_parquet_and_refuses_bad_options(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(
        app, ["simulate", "--out", str(tmp_path), "--accounts", "20", "--format", "parquet"]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "accounts.parquet").exists()
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--accounts", "0"])
    assert bad.exit_code != 0
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--format", "json"])
    assert bad.exit_code != 0

"""`make bench-spark` still runs: both of its sides, each in its own process as the benchmark
runs them, on a tiny simulation, and they do the same work (the same tables, row for row), so the
ratio it prints compares like with like. No timings are asserted."""

from __future__ import annotations

from argparse import Namespace

import pytest

pytestmark = pytest.mark.spark


def test_both_sides_of_the_spark_benchmark_write_the_same_tables(tmp_path) -> None:
    from benchmarks.features import build_warehouse
    from benchmarks.spark import in_fresh_process

    warehouse = tmp_path / "features.duckdb"
    activities = build_warehouse(warehouse, 120, seed=3)
    assert activities > 1_000
    args = Namespace(cutoffs=4, driver_memory="1g", shuffle_partitions=4)
    duck = in_fresh_process("duckdb", warehouse, tmp_path / "out", args)
    spark = in_fresh_process("spark", warehouse, tmp_path / "out", args)
    assert set(duck["rows"]) == {
        "churn_population",
        "features_account",
        "features_opportunity",
        "features_rep",
        "labels_churn",
        "labels_deal_win",
        "labels_rep_attrition",
    }
    assert spark["rows"] == duck["rows"]
    assert duck["rows"]["features_account"] > 0 and duck["rows"]["labels_deal_win"] > 0
    assert spark["stages"] and all(seconds >= 0 for seconds in spark["stages"].values())

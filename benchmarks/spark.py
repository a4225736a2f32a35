"""`make bench-spark`: the whole registry and both labels on Spark local[2] against DuckDB, at
about 1M and 10M activities, in one run; then a model of the cluster needed at 1B.

    python -m benchmarks.spark --accounts 5000 50000

Each size is the `bench-features` simulation (cached as a DuckDB file, 24 monthly cutoffs).
Both sides run in a fresh process and start from stored contract tables, and both end with the
four feature and label tables written as Parquet:
- DuckDB: `features.build.compute_all` on the warehouse file (2 threads, 3 GB), written with pandas;
- Spark: `features.lake_build.build_lake` on the same tables exported to the lake layout (the
  export is not timed), local[2] with `--driver-memory`, `--shuffle-partitions`.

Spark's time is split by stage (each materialised intermediate and source, then the final
joins and writes). Measured at two sizes, each stage's time is fitted as `fixed + per_row * n`
and extrapolated to 1B activities on E executors of C cores, assuming its per-row part spreads
evenly over the cores and its fixed part does not shrink. That is a model, not a measurement:
it leaves out network shuffles and stragglers, so the printed cluster size is a lower bound,
given also with 2x slack.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from barometer.settings import Settings
from benchmarks.features import activity_count, bench_cutoffs, build_warehouse

TARGET_ACTIVITIES = 1_000_000_000
GOAL_SECONDS = 600


def run_duckdb(path: Path, out: Path, n_cutoffs: int) -> dict:
    """Features and labels on DuckDB from the warehouse file, written as Parquet."""
    import ibis

    from features.backends import tune_duckdb
    from features.build import compute_all, data_span

    settings = Settings(home=out / "duck")
    cutoffs = bench_cutoffs(path, n_cutoffs)
    start = time.perf_counter()
    with duckdb.connect(str(path), read_only=True) as con:
        _, last = data_span(con)
    backend = tune_duckdb(ibis.duckdb.connect(str(path), read_only=True))
    tables, _, _ = compute_all(backend, cutoffs, settings, last)
    backend.disconnect()
    (out / "duck").mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / "duck" / f"{name}.parquet", index=False)
    rows = {name: len(frame) for name, frame in tables.items()}
    return {"seconds": time.perf_counter() - start, "rows": rows}


def export_lake(path: Path, settings: Settings) -> None:
    """The warehouse file's contract tables in the lake layout (not timed)."""
    from features import lake_build

    settings.home.mkdir(parents=True, exist_ok=True)
    link = settings.warehouse_path
    link.unlink(missing_ok=True)
    link.symlink_to(path.resolve())
    lake_build.export_warehouse(settings)
    link.unlink()


def run_spark(path: Path, out: Path, n_cutoffs: int, memory: str, partitions: int) -> dict:
    """Features and labels on Spark local[2] from the lake layout, written as Parquet; per-stage
    seconds (materialised intermediates and sources, then the final joins and writes)."""
    from features import core, lake_build
    from features.label_config import ChurnLabels

    settings = Settings(
        home=out / "spark",
        lake_tables={},
        spark_master="local[2]",
        spark_conf={
            "spark.driver.memory": memory,
            "spark.sql.shuffle.partitions": str(partitions),
            "spark.ui.enabled": "false",
        },
    )
    export_lake(path, settings)
    # Contract tables now sit in the lake layout: with `lake` set, the build reads them there
    # instead of exporting the warehouse again (only validation reads `lake` itself).
    settings = settings.model_copy(update={"lake": str(settings.home / "lake")})
    cutoffs = bench_cutoffs(path, n_cutoffs)
    stages: dict[str, float] = {}
    original = core.Context.materialise

    def timed(self, name, table):
        begun = time.perf_counter()
        try:
            return original(self, name, table)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - begun

    core.Context.materialise = timed
    marks: dict[str, float] = {}
    start = time.perf_counter()
    report = lake_build.build_lake(
        settings, cutoffs, ChurnLabels(), step=lambda n: marks.setdefault(n, time.perf_counter())
    )
    total = time.perf_counter() - start
    stages["final joins, labels and writes"] = marks["counting rows"] - marks["writing tables"]
    stages["session, planning, counts"] = total - sum(stages.values())
    return {"seconds": total, "stages": stages, "rows": report.rows}


def in_fresh_process(part: str, path: Path, out: Path, args) -> dict:
    """One side in a new Python process; its JSON result with the load average around it."""
    cmd = [sys.executable, "-m", "benchmarks.spark", "--part", part, "--warehouse", str(path)]
    cmd += [
        "--out",
        str(out),
        "--cutoffs",
        str(args.cutoffs),
        "--driver-memory",
        args.driver_memory,
    ]
    cmd += ["--shuffle-partitions", str(args.shuffle_partitions)]
    before = os.getloadavg()[0]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"part {part} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = f"load {before:.1f}->{os.getloadavg()[0]:.1f}"
    return result


def fit(small: tuple[int, float], large: tuple[int, float]) -> tuple[float, float]:
    """(fixed seconds, seconds per activity) through two measurements, both kept >= 0."""
    (n1, t1), (n2, t2) = small, large
    per = max((t2 - t1) / (n2 - n1), 0.0)
    return max(t1 - per * n1, 0.0), per


def cluster_seconds(model: dict[str, tuple[float, float]], n: int, cores: int) -> float:
    """Modelled build time at n activities on `cores` cores (measured on 2)."""
    return sum(fixed + per * n * 2 / cores for fixed, per in model.values())


def executors_needed(model: dict, n: int, cores_each: int, slack: float) -> int | None:
    """The fewest executors whose modelled time (times `slack`) is under the goal."""
    for executors in range(1, 10_001):
        if slack * cluster_seconds(model, n, executors * cores_each) < GOAL_SECONDS:
            return executors
    return None


def report_scaling(sizes: list[int], spark: list[dict], cores_each: int) -> None:
    names = list(dict.fromkeys(k for r in spark for k in r["stages"]))
    model = {
        name: fit(
            (sizes[0], spark[0]["stages"].get(name, 0.0)),
            (sizes[-1], spark[-1]["stages"].get(name, 0.0)),
        )
        for name in names
    }
    print("\nSpark per-stage seconds (measured, local[2]) and the fitted cost per stage:")
    print(f"  {'stage':34} {sizes[0]:>12,} {sizes[-1]:>12,}   fixed s   µs/activity")
    for name in names:
        fixed, per = model[name]
        cells = " ".join(f"{r['stages'].get(name, 0.0):12.1f}" for r in (spark[0], spark[-1]))
        print(f"  {name:34} {cells}   {fixed:7.1f}   {per * 1e6:10.3f}")
    single = cluster_seconds(model, TARGET_ACTIVITIES, 2)
    print(
        f"\nModel (not a measurement): {TARGET_ACTIVITIES:,} activities would take "
        f"{single / 3600:.1f} h on these 2 cores."
    )
    for slack in (1.0, 2.0):
        needed = executors_needed(model, TARGET_ACTIVITIES, cores_each, slack)
        if needed is None:
            print(f"  no cluster size reaches {GOAL_SECONDS} s (fixed costs alone exceed it)")
            continue
        secs = cluster_seconds(model, TARGET_ACTIVITIES, needed * cores_each) * slack
        print(
            f"  under {GOAL_SECONDS // 60} min{' with 2x slack' if slack > 1 else ''}: "
            f"{needed} executors x {cores_each} cores ({needed * cores_each} cores), "
            f"modelled {secs:.0f} s"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[5_000, 50_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cutoffs", type=int, default=24)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--shuffle-partitions", type=int, default=16)
    parser.add_argument("--executor-cores", type=int, default=4, help="For the 1B model.")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part:
        if args.part == "duckdb":
            result = run_duckdb(args.warehouse, args.out, args.cutoffs)
        else:
            result = run_spark(
                args.warehouse, args.out, args.cutoffs, args.driver_memory, args.shuffle_partitions
            )
        result["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
        print(json.dumps(result))
        return
    home = Settings().home.resolve() / "bench"
    home.mkdir(parents=True, exist_ok=True)
    sizes, spark_runs = [], []
    print(f"load average at start: {os.getloadavg()}")
    for accounts in args.accounts:
        path = home / f"features_{accounts}_{args.seed}.duckdb"
        if not path.exists():
            build_warehouse(path, accounts, args.seed)
        n = activity_count(path)
        out = home / f"spark_{accounts}"
        shutil.rmtree(out, ignore_errors=True)
        duck = in_fresh_process("duckdb", path, out, args)
        spark = in_fresh_process("spark", path, out, args)
        shutil.rmtree(out, ignore_errors=True)
        if spark["rows"] != duck["rows"]:  # a ratio of unequal work would mean nothing
            raise SystemExit(
                f"the two engines wrote different tables: {duck['rows']} vs {spark['rows']}"
            )
        sizes.append(n)
        spark_runs.append(spark)
        ratio = spark["seconds"] / duck["seconds"]
        print(
            f"{accounts:,} accounts, {n:,} activities, {args.cutoffs} cutoffs: DuckDB "
            f"{duck['seconds']:.1f} s ({duck['load']}), Spark local[2] {spark['seconds']:.1f} s "
            f"({spark['load']}, driver {args.driver_memory}, {args.shuffle_partitions} shuffle "
            f"partitions) -> Spark/DuckDB {ratio:.2f}x (goal <= 3x at 10M)"
        )
    if len(sizes) >= 2:
        report_scaling(sizes, spark_runs, args.executor_cores)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""`make bench-score`: `barometer score` end to end, each run its own process (start-up included).

    python -m benchmarks.score [--home DIR] [--small-home DIR] [--target churn]

1. A day's incremental rescoring against a full one, on the workspace `--home` (default
   BAROMETER_HOME: a simulated warehouse with a champion, e.g. 50k accounts built with
   `barometer simulate/ingest/features/train/promote`). The day before the data's last day is
   scored first (untimed: it is "yesterday's scoring", whose saved state today starts from). Then
   the last day is scored twice, each by a fresh `barometer score` process: `--full` (every row
   explained again), and incrementally (yesterday's saved state put back first, so the run starts
   from it, as a daily job does). Both compute the day's features; the ratio is full over
   incremental, and the two runs' stored scores are checked equal.
2. Scoring a small workspace (`--small-home`, e.g. the 2k-account `make demo` one): the wall time
   of `barometer score` from process start to exit (goal: 5 s).

Each figure is printed with the load average (2 cores shared: wall time rises with load).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BAROMETER = Path(sys.executable).with_name("barometer")


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def score(home: Path, target: str, *args: str) -> float:
    """Wall seconds of one `barometer score` process (raises if it fails)."""
    env = {**os.environ, "BAROMETER_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(BAROMETER), "score", "--target", target, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"barometer score failed:\n{done.stderr}")
    print(f"  {' '.join(args) or '(default day)'}: {seconds:.1f} s wall · {done.stdout.strip()}")
    return seconds


def last_day(home: Path) -> pd.Timestamp:
    """The day `barometer score` scores by default: the midnight after the last event."""
    from barometer.scoring.day_features import data_through, default_as_of
    from features.warehouse import connect

    with connect(home / "warehouse.duckdb", read_only=True) as con:
        return default_as_of(data_through(con))


def stored(home: Path, target: str, day: pd.Timestamp) -> pd.DataFrame:
    from features.warehouse import connect

    columns = "entity_id, probability, band, reasons, change_reasons, actions"
    with connect(home / "warehouse.duckdb", read_only=True) as con:
        return con.execute(
            f"select {columns} from scores where target = ? and as_of = ? order by entity_id",
            [target, day],
        ).df()


def differing(first: pd.DataFrame, second: pd.DataFrame) -> int:
    """Rows (by entity) where any stored column differs between two runs of the same day."""
    merged = first.merge(second, on="entity_id", how="outer", suffixes=("_a", "_b"))
    differ = pd.Series(False, index=merged.index)
    for column in first.columns.drop("entity_id"):
        a, b = merged[f"{column}_a"], merged[f"{column}_b"]
        differ |= ~((a == b) | (a.isna() & b.isna()))
    return int(differ.sum())


def incremental_against_full(home: Path, target: str) -> None:
    from barometer.scoring.incremental import state_path

    today = last_day(home)
    yesterday = today - pd.Timedelta(days=1)
    print(f"{home}: {target}, yesterday {yesterday:%Y-%m-%d}, today {today:%Y-%m-%d}")
    print(f"load before: {load()}")
    score(home, target, "--as-of", f"{yesterday:%Y-%m-%d}", "--full")  # the previous scoring
    state = state_path(home, target)
    with tempfile.TemporaryDirectory() as keep:
        saved = Path(shutil.copy2(state, Path(keep) / state.name))
        full = score(home, target, "--as-of", f"{today:%Y-%m-%d}", "--full")
        full_scores = stored(home, target, today)
        shutil.copy2(saved, state)  # today starts from yesterday's state, as a daily run does
        incremental = score(home, target, "--as-of", f"{today:%Y-%m-%d}")
    same = differing(full_scores, stored(home, target, today))
    goal = "met" if full >= 10 * incremental else "MISSED"
    print(
        f"a day's rescoring end to end: full {full:.1f} s, incremental {incremental:.1f} s · "
        f"{full / incremental:.1f}x faster (goal >= 10x: {goal}) · rows whose stored score, "
        f"reasons, change or actions differ between the two: {same} · load {load()}"
    )


def small_workspace(home: Path, target: str) -> None:
    print(f"{home}: {target}; load before: {load()}")
    score(home, target)  # once to warm the file cache, as a second daily run would find it
    seconds = score(home, target)
    print(
        f"scoring the small workspace end to end: {seconds:.1f} s wall, start-up included "
        f"(goal <= 5 s: {'met' if seconds <= 5 else 'MISSED'}) · load {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("BAROMETER_HOME", "")))
    parser.add_argument("--small-home", type=Path, default=None)
    parser.add_argument("--target", default="churn")
    args = parser.parse_args()
    if args.home and (args.home / "warehouse.duckdb").exists():
        incremental_against_full(args.home.resolve(), args.target)
    else:
        print(f"no warehouse at {args.home}: set BAROMETER_HOME or --home (skipped)")
    if args.small_home is not None:
        small_workspace(args.small_home.resolve(), args.target)


if __name__ == "__main__":
    main()

"""`make bench-features`: the whole registry on the N-account simulation × 24 monthly cutoffs.

Prints wall time, peak memory and rows per second, then the same representative subset (counts,
means, recency and gap variability over 30 and 90 days) on the Ibis/DuckDB rollup engine against a
well-vectorised pandas implementation, and featuretools DFS (own virtualenv, pandas<3) on a
1M-activity subset, as ratios per feature value.

    python -m benchmarks.features --accounts 50000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd

from barometer.settings import Settings
from data.simulator import simulate_chunks
from features import engine
from features.sources import normalise_frame
from features.timeline import cutoff_day

SUBSET = [
    "touches_per_week_30d",
    "touches_per_week_90d",
    "avg_connected_call_minutes_90d",
    "days_since_last_touch",
    "touch_gap_variability_30d",
    "touch_gap_variability_90d",
]
TOUCH = ("call", "email", "meeting", "demo")


class PeakRss:
    """Samples this process's resident memory every 50 ms; `peak_gb` after the block."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            with open("/proc/self/statm") as f:
                self.peak = max(self.peak, int(f.read().split()[1]) * page)
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gb(self) -> float:
        return self.peak / 1e9


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """Result, seconds and peak RSS (GB) of fn()."""
    gc.collect()
    with PeakRss() as rss:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return out, seconds, rss.peak_gb


def build_warehouse(path: Path, accounts: int, seed: int) -> int:
    """Stream the simulation into a DuckDB file (chunk by chunk); returns the activity count."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    for chunk in simulate_chunks(accounts, seed):
        for name, frame in chunk.items():
            frame = normalise_frame(name, frame)
            con.register("_chunk", frame)
            exists = con.execute(
                "select count(*) from information_schema.tables where table_name = ?", [name]
            ).fetchone()[0]
            verb = f"insert into {name}" if exists else f"create table {name} as"
            con.execute(f"{verb} select * from _chunk")
            con.unregister("_chunk")
    n = con.execute("select count(*) from activities").fetchone()[0]
    con.close()
    return int(n)


def bench_cutoffs(path: Path, n: int = 24) -> list[pd.Timestamp]:
    """The last n month starts covered by the data (leaving a full window before the first)."""
    con = duckdb.connect(str(path), read_only=True)
    last = pd.Timestamp(con.execute("select max(occurred_at) from activities").fetchone()[0])
    con.close()
    ends = pd.date_range(end=last.normalize(), periods=n, freq="MS")
    return [pd.Timestamp(c) for c in ends]


def run_registry(path: Path, cutoffs: list[pd.Timestamp], only: list[str] | None = None) -> dict:
    """Every registry feature (or `only`) for both entities; rows and feature values."""
    con = ibis.duckdb.connect(str(path), read_only=True)
    rows = values = 0
    for entity in ("account", "opportunity") if only is None else ("account",):
        expr, feats, _ = engine.features_expr(con, entity, cutoffs, only=only)
        frame = engine.to_frame(expr, entity, feats)
        rows += len(frame)
        values += len(frame) * len(feats)
    con.disconnect()
    return {"rows": rows, "values": values}


def load_activities(path: Path) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    frame = con.execute(
        "select account_id, occurred_at, logged_at, type, outcome, duration_s from activities"
    ).df()
    con.close()
    return frame


def pandas_subset(acts: pd.DataFrame, cutoffs: list[pd.Timestamp]) -> pd.DataFrame:
    """The subset in plain vectorised pandas: per cutoff, filter, group, aggregate."""
    a = acts[acts["type"].isin(TOUCH)]
    occ_day = (a["occurred_at"].values.astype("datetime64[D]")).astype("int64")
    seen = np.maximum(a["occurred_at"].values, a["logged_at"].fillna(a["occurred_at"]).values)
    vis_day = seen.astype("datetime64[D]").astype("int64")
    base = pd.DataFrame(
        {
            "account_id": a["account_id"].values,
            "occ_day": occ_day,
            "vis_day": vis_day,
            "connected_s": np.where(
                (a["type"] == "call") & (a["outcome"] == "connected"),
                a["duration_s"].values,
                np.nan,
            ),
        }
    )
    out = []
    for cutoff in cutoffs:
        c = cutoff_day(cutoff)
        seen_rows = base[base.vis_day < c]
        win = seen_rows[seen_rows.occ_day >= c - 90]
        g = win.groupby("account_id")
        f = pd.DataFrame(
            {
                "touches_per_week_90d": g.size() * 7 / 90,
                "touches_per_week_30d": win[win.occ_day >= c - 30].groupby("account_id").size()
                * 7
                / 30,
                "avg_connected_call_minutes_90d": g["connected_s"].mean() / 60,
            }
        )
        f["days_since_last_touch"] = c - seen_rows.groupby("account_id")["occ_day"].max()
        days = (
            win[["account_id", "occ_day"]].drop_duplicates().sort_values(["account_id", "occ_day"])
        )
        gap = days.groupby("account_id")["occ_day"].diff()
        days = days.assign(gap=gap, recent=days.occ_day.shift(1) >= c - 30)
        f["touch_gap_variability_90d"] = days.groupby("account_id")["gap"].std(ddof=0)
        f["touch_gap_variability_30d"] = days[days.recent].groupby("account_id")["gap"].std(ddof=0)
        out.append(f.assign(cutoff=cutoff))
    return pd.concat(out)


FT_SCRIPT = r"""
import json, sys, time
import featuretools as ft, pandas as pd
acts = pd.read_csv(sys.argv[1], parse_dates=["occurred_at", "logged_at"])
cut = pd.read_csv(sys.argv[2], parse_dates=["time"])
acts["index"] = range(len(acts))
accounts = pd.DataFrame({"account_id": acts["account_id"].unique()})
es = ft.EntitySet("crm")
es = es.add_dataframe(dataframe_name="activities", dataframe=acts, index="index",
                      time_index="occurred_at",
                      secondary_time_index={"logged_at": ["duration_s"]})
es = es.add_dataframe(dataframe_name="accounts", dataframe=accounts, index="account_id")
es = es.add_relationship("accounts", "account_id", "activities", "account_id")
es.add_last_time_indexes()
start = time.perf_counter()
fm = ft.dfs(entityset=es, target_dataframe_name="accounts", cutoff_time=cut,
            agg_primitives=["count", "mean", "time_since_last", "std"], trans_primitives=[],
            training_window="90 days", max_depth=1, cutoff_time_in_index=True,
            features_only=False, verbose=False)[0]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(fm), "features": fm.shape[1]}))
"""


def featuretools_run(acts: pd.DataFrame, cutoffs: list[pd.Timestamp], home: Path) -> dict | None:
    """featuretools DFS in its own virtualenv (pandas<3): built once under `home`."""
    venv = home / "featuretools-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "featuretools", "pandas<3"], check=True
        )
    data, cuts, script = home / "ft_acts.csv", home / "ft_cutoffs.csv", home / "ft_run.py"
    acts.to_csv(data, index=False)
    ids = acts["account_id"].unique()
    pd.DataFrame(
        {
            "account_id": np.repeat(ids, len(cutoffs)),
            "time": np.tile(np.array(cutoffs, dtype="datetime64[us]"), len(ids)),
        }
    ).to_csv(cuts, index=False)
    script.write_text(FT_SCRIPT)
    done = subprocess.run(
        [str(python), str(script), str(data), str(cuts)], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"featuretools failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def ft_subset(path: Path, max_activities: int) -> tuple[pd.DataFrame, list[str]]:
    """Whole accounts' activities up to about `max_activities` rows, and their ids."""
    con = duckdb.connect(str(path), read_only=True)
    per = con.execute("select account_id, count(*) n from activities group by 1 order by 1").df()
    keep = per[per.n.cumsum() <= max_activities].account_id.tolist()
    con.register("keep", pd.DataFrame({"account_id": keep}))
    acts = con.execute(
        "select a.account_id, occurred_at, coalesce(logged_at, occurred_at) logged_at, type, "
        "duration_s from activities a join keep using (account_id) "
        "where type in ('call', 'email', 'meeting', 'demo')"
    ).df()
    con.close()
    return acts, keep


def subset_warehouse(path: Path, target: Path, keep: list[str]) -> None:
    """A copy of the warehouse with only `keep` accounts (for a like-for-like DuckDB run)."""
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    con.execute(f"attach '{path}' as src (read_only)")
    con.register("keep", pd.DataFrame({"account_id": keep}))
    for name in ("accounts", "activities"):
        con.execute(f"create table {name} as select * from src.{name} join keep using (account_id)")
    con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cutoffs", type=int, default=24)
    parser.add_argument("--ft-activities", type=int, default=1_000_000)
    parser.add_argument("--skip-featuretools", action="store_true")
    args = parser.parse_args(argv)
    home = Settings().home.resolve() / "bench"
    home.mkdir(parents=True, exist_ok=True)
    path = home / f"features_{args.accounts}.duckdb"

    n_acts, secs, _ = timed(lambda: build_warehouse(path, args.accounts, args.seed))
    print(f"simulated {args.accounts:,} accounts, {n_acts:,} activities in {secs:.0f} s")
    cutoffs = bench_cutoffs(path, args.cutoffs)
    print(f"{len(cutoffs)} cutoffs {cutoffs[0]:%Y-%m-%d}..{cutoffs[-1]:%Y-%m-%d}")

    res, secs, peak = timed(lambda: run_registry(path, cutoffs))
    print(
        f"registry: {secs:.1f} s wall, peak RSS {peak:.2f} GB, {res['rows']:,} rows "
        f"({res['rows'] / secs:,.0f} rows/s, {n_acts / secs:,.0f} activities/s, "
        f"{res['values'] / secs:,.0f} feature values/s)  goal < 60 s, < 4 GB"
    )

    res, duck_s, _ = timed(lambda: run_registry(path, cutoffs, only=SUBSET))
    acts = load_activities(path)
    _, pandas_s, _ = timed(lambda: pandas_subset(acts, cutoffs))
    print(
        f"subset ({len(SUBSET)} features): rollup engine {duck_s:.1f} s, pandas {pandas_s:.1f} s "
        f"-> {pandas_s / duck_s:.1f}x faster (goal >= 3x)"
    )

    if args.skip_featuretools:
        return
    ft_acts, keep = ft_subset(path, args.ft_activities)
    ft = featuretools_run(ft_acts, cutoffs, home)
    if ft is None:
        return
    small = home / "features_ft_subset.duckdb"
    subset_warehouse(path, small, keep)
    res, small_s, _ = timed(lambda: run_registry(small, cutoffs, only=SUBSET))
    ours = res["values"] / small_s
    theirs = ft["rows"] * ft["features"] / ft["seconds"]
    print(
        f"featuretools DFS on {len(ft_acts):,} activities: {ft['seconds']:.1f} s for "
        f"{ft['rows']:,} rows x {ft['features']} features ({theirs:,.0f} values/s); "
        f"rollup engine {small_s:.1f} s ({ours:,.0f} values/s) -> {ours / theirs:.1f}x faster "
        f"per feature value (goal >= 30x)"
    )


if __name__ == "__main__":
    main()

"""`make bench-explain`: batch SHAP rows/s, single-row latency, full vs incremental rescoring.

Uses the workspace's churn champion and its latest features when they exist (rows are resampled
up to `--accounts`); otherwise a synthetic model of 200 trees × 31 leaves × 60 features. The
baseline, measured in the same run, is `shap.TreeExplainer` on the same rows.

Goals: one account's score and reasons < 2 ms p50; full rescoring of 50k accounts with reasons
< 60 s; incremental rescoring after one day of new activity >= 10x faster than full.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from explain.model import Calibrator, ScoringModel
from explain.reasons import reasons
from explain.rescoring import entities_with_new_events, rescore_incremental, score_with_reasons
from features.registry import Feature


@dataclass
class Setup:
    model: ScoringModel
    frame: pd.DataFrame  # account_id + features, `accounts` rows
    registry: object
    source: str


def synthetic_setup(n: int, seed: int = 0) -> Setup:
    """200 trees × 31 leaves × 60 numeric features on a random logistic ground truth."""
    rng = np.random.default_rng(seed)
    names = [f"behaviour_{i:02d}" for i in range(60)]
    train = rng.normal(size=(20_000, 60))
    logit = train[:, :10] @ rng.normal(0, 0.6, 10) + 0.5 * train[:, 10] * train[:, 11]
    label = (rng.random(len(train)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 31,
        "learning_rate": 0.05,
        "verbose": -1,
        "min_data_in_leaf": 20,
        "num_threads": 2,
        "seed": seed,
    }
    booster = lgb.train(params, lgb.Dataset(train, label), 200)
    model = ScoringModel("churn", names, booster, Calibrator("platt", a=0.95, b=0.02))
    registry = [
        Feature(n, "account", "cadence", f"Synthetic behaviour {n[-2:]}", 90, actionable=True)
        for n in names
    ]
    frame = pd.DataFrame(rng.normal(size=(n, 60)), columns=names)
    frame.insert(0, "account_id", [f"A{i:07d}" for i in range(n)])
    return Setup(model, frame, registry, "synthetic 200 trees × 31 leaves × 60 features")


def champion_setup(n: int) -> Setup | None:
    """The churn champion and its latest features, resampled to `n` rows; None if absent."""
    try:
        from barometer.settings import Settings
        from explain.model_store import load_champion
        from features.registry import REGISTRY
        from features.warehouse import connect

        settings = Settings()
        model, info = load_champion(settings, "churn", num_threads=1)
        with connect(settings.warehouse_path, read_only=True) as con:
            frame = con.execute(
                "select * from features_account where cutoff = (select max(cutoff) from "
                "features_account)"
            ).df()
    except Exception as exc:  # noqa: BLE001 - any missing piece means: use the synthetic model
        print(f"(no champion workspace: {type(exc).__name__}: {str(exc)[:120]})")
        return None
    frame = frame.sample(n, replace=len(frame) < n, random_state=0).reset_index(drop=True)
    frame["account_id"] = [f"A{i:07d}" for i in range(n)]
    trees = model.booster.num_trees()
    return Setup(
        model,
        frame,
        REGISTRY,
        f"champion {info.label} ({trees} trees, "
        f"{len(model.feature_names)} features) on resampled latest features",
    )


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def batch_shap(setup: Setup, rows: int) -> None:
    import shap

    sample = setup.frame.head(rows)
    setup.model.num_threads = 2
    ours, _ = timed(setup.model.explain, sample)
    explainer = shap.TreeExplainer(setup.model.booster)
    matrix = setup.model.matrix(sample)
    theirs, _ = timed(explainer.shap_values, matrix, check_additivity=False)
    print(
        f"batch SHAP ({rows:,} rows, 2 threads): {rows / ours:,.0f} rows/s with calibrated points"
        f" · shap.TreeExplainer {rows / theirs:,.0f} rows/s · ratio {theirs / ours:.2f}x"
    )


def single_row(setup: Setup, calls: int = 1000) -> float:
    setup.model.num_threads = 1
    rows = [setup.frame.iloc[[i % len(setup.frame)]] for i in range(calls)]
    samples = {"score + reasons": [], "explain only": []}
    for row in rows[:50]:
        reasons(setup.model, row, setup.registry)  # warm-up
    for row in rows:
        start = time.perf_counter()
        reasons(setup.model, row, setup.registry)
        samples["score + reasons"].append(time.perf_counter() - start)
        start = time.perf_counter()
        setup.model.explain(row)
        samples["explain only"].append(time.perf_counter() - start)
    for name, values in samples.items():
        ms = np.asarray(values) * 1000
        print(
            f"single row, 1 thread, {name}: p50 {np.percentile(ms, 50):.2f} ms · "
            f"p99 {np.percentile(ms, 99):.2f} ms"
        )
    return float(np.percentile(np.asarray(samples["score + reasons"]) * 1000, 50))


def day_share(seed: int = 7) -> float:
    """Share of accounts with new activity on one (the last full) day of a simulated export."""
    from data.simulator import simulate

    tables = simulate(2000, seed)
    acts = tables["activities"]
    stamp = (
        acts["logged_at"].fillna(acts["occurred_at"])
        if "logged_at" in acts
        else acts["occurred_at"]
    )
    day = pd.Timestamp(stamp.max()).normalize() - pd.Timedelta(days=1)
    busy = acts.loc[(stamp >= day) & (stamp < day + pd.Timedelta(days=1)), "account_id"].nunique()
    return busy / len(tables["accounts"])


def rescoring(setup: Setup, share: float) -> tuple[float, float]:
    setup.model.num_threads = 2
    full_s, scored = timed(score_with_reasons, setup.model, setup.frame, setup.registry)
    n = len(setup.frame)
    rng = np.random.default_rng(1)
    touched = rng.choice(setup.frame["account_id"].to_numpy(), max(1, int(share * n)), False)
    since = pd.Timestamp("2026-06-01")
    events = pd.DataFrame({"account_id": touched, "occurred_at": since + pd.Timedelta(hours=9)})
    start = time.perf_counter()
    changed = entities_with_new_events(events, since)
    updated = rescore_incremental(setup.model, setup.frame, scored, changed, setup.registry)
    inc_s = time.perf_counter() - start
    assert len(updated) == n
    print(f"full rescoring with reasons, {n:,} accounts: {full_s:.1f} s ({n / full_s:,.0f}/s)")
    print(
        f"incremental after one day ({len(changed):,} accounts with new events, "
        f"{share:.1%}): {inc_s:.2f} s · {full_s / inc_s:.0f}x faster than full"
    )
    return full_s, inc_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--synthetic", action="store_true", help="Skip the champion look-up.")
    args = parser.parse_args()
    setup = None if args.synthetic else champion_setup(args.accounts)
    setup = setup or synthetic_setup(args.accounts)
    print(f"model: {setup.source}")
    batch_shap(setup, min(args.accounts, 20_000))
    p50 = single_row(setup)
    share = day_share()
    full_s, inc_s = rescoring(setup, share)
    print(
        "goals: "
        f"single-row p50 < 2 ms: {'met' if p50 < 2 else 'MISSED'} ({p50:.2f} ms) · "
        f"full < 60 s: {'met' if full_s < 60 else 'MISSED'} ({full_s:.1f} s) · "
        f"incremental >= 10x: {'met' if full_s / inc_s >= 10 else 'MISSED'} "
        f"({full_s / inc_s:.0f}x)"
    )


if __name__ == "__main__":
    main()

"""`make bench-explain`: batch SHAP rows/s, single-row latency, full vs incremental rescoring.

Model, in order of preference:

1. the workspace's (BAROMETER_HOME) churn champion and its latest features (rows resampled up to
   `--accounts`): train one on the 50k-account simulator (`barometer features`, `barometer train
   --target churn`, `barometer promote --target churn`) so the figures are the champion's;
2. otherwise a synthetic model shaped like that champion: `experiments/churn.yaml`'s LightGBM
   settings (15 leaves, min 50 rows a leaf, learning rate 0.05) on the registry's 55 account
   features, with `--trees` trees (default 78: what early stopping kept for churn on the
   5k-account simulator, seed 7);
3. `--reference`: the issue's 200 trees × 31 leaves × 60 features (its quoted ~1.5 ms a row).

The single-row latency of the reference size is always printed too, so both sizes are in one run.
The batch baseline, measured in the same run, is `shap.TreeExplainer` on the same rows.

Incremental rescoring after one day. With a champion, the day is real: the project's feature
engine computes the champion's features for every account as of two midnights one day apart (the
last full day of the warehouse's activity), yesterday's rows are scored in full (untimed: the
previous scoring), and today's rows are then rescored both ways. Computing the two days' features
is timed and printed separately; it is excluded from both the full and the incremental time
(both start from today's feature rows). Recency features move for every account every day, so
most rows cross some tree's threshold; `rescore_incremental` reruns TreeSHAP only for the (row,
tree) pairs where the row crossed one of that tree's own thresholds (once per distinct pattern of
sides of the tree's thresholds), and formats sentences only where a shown reason's feature, value
or printed points moved. The printout gives the rows explained and worded, the (row, tree) pairs
that moved and the TreeSHAP evaluations out of rows × trees, and checks the result equals the
full run (probabilities, keys and sentences).
The issue's own design is then measured too: rescore only the accounts with events recorded that
day (activities by the later of their time and `logged_at`, cases opened or closed, NPS answers;
`explain.rescoring.rescore_changed`) and reuse every other account's score as it was. Those reused
scores keep yesterday's as-of (their recency features age at the next full run); the rescored
accounts are checked equal to the full run. The goal line reports this ratio, next to the one
for bringing every account up to date. A model's tree tables (`explain.rescoring.tree_tables`)
are built once per model, at its first scoring, here the untimed previous one; the time to build
them is printed separately.
Without a champion, the synthetic day gives the share of accounts with new activity on one day of
a 2k-account simulation three features replaced by other accounts' values.

Goals: one account's score and reasons < 2 ms p50 (checked on the path the service runs for an
on-demand score, `serving.live`; the one-row DataFrame path is printed beside it); full
rescoring of 50k accounts with reasons < 60 s; incremental rescoring after one day of new
activity >= 10x faster than full.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, replace

import lightgbm as lgb
import numpy as np
import pandas as pd

from barometer.model.artefact import Calibrator, ScoringModel
from barometer.model.encoder import FeatureEncoder
from barometer.scoring.reasons import matrix_reasons, registry_map
from explain.reasons import reasons
from explain.rescoring import rescore_changed, rescore_incremental, score_rows, tree_tables
from features.registry import Feature
from serving.live import prepare


@dataclass
class Setup:
    model: ScoringModel
    frame: pd.DataFrame  # account_id + features, `accounts` rows
    registry: object
    source: str
    champion: bool = False


@dataclass
class Day:
    """Every account's features yesterday and today (account_id + the model's features)."""

    before: pd.DataFrame
    after: pd.DataFrame
    label: str
    changed: set | None = None  # accounts with events recorded that day (None: synthetic day)


CHAMPION_FEATURES = 55  # the registry's account features


def synthetic_setup(
    n: int, *, trees: int, leaves: int, features: int, min_leaf: int, seed: int = 0
) -> Setup:
    """`trees` × `leaves` × `features` numeric features on a random non-linear ground truth."""
    rng = np.random.default_rng(seed)
    names = [f"behaviour_{i:02d}" for i in range(features)]
    train = rng.normal(size=(20_000, features))
    logit = train[:, :10] @ rng.normal(0, 0.6, 10) + 0.5 * train[:, 10] * train[:, 11]
    label = (rng.random(len(train)) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "learning_rate": 0.05,
        "verbose": -1,
        "min_data_in_leaf": min_leaf,
        "num_threads": 2,
        "seed": seed,
    }
    booster = lgb.train(params, lgb.Dataset(train, label), trees)
    encoder = FeatureEncoder(dict.fromkeys(names, "numeric")).fit(pd.DataFrame())
    model = ScoringModel("churn", encoder, booster, Calibrator("platt", a=0.95, b=0.02))
    registry = [
        Feature(n, "account", "cadence", f"Synthetic behaviour {n[-2:]}", 90, actionable=True)
        for n in names
    ]
    frame = pd.DataFrame(rng.normal(size=(n, features)), columns=names).round(2)
    frame.insert(0, "account_id", [f"A{i:07d}" for i in range(n)])
    source = f"synthetic {trees} trees × {leaves} leaves × {features} features"
    return Setup(model, frame, registry, source)


def reference_setup(n: int) -> Setup:
    """The issue's size: 200 trees × 31 leaves × 60 features."""
    return synthetic_setup(n, trees=200, leaves=31, features=60, min_leaf=20)


def champion_shaped_setup(n: int, trees: int) -> Setup:
    """experiments/churn.yaml's leaves and leaf size, the registry's 55 features, `trees` trees."""
    from training.runs import resolve_config

    cfg = resolve_config("churn", None).lightgbm
    setup = synthetic_setup(
        n,
        trees=trees,
        leaves=cfg.num_leaves,
        features=CHAMPION_FEATURES,
        min_leaf=cfg.min_data_in_leaf,
    )
    setup.source += " (shaped like the churn champion: experiments/churn.yaml, early-stopped)"
    return setup


def champion_setup(n: int) -> Setup | None:
    """The churn champion and its latest features, resampled to `n` rows; None if absent."""
    try:
        from barometer.model.store import load_champion
        from barometer.settings import Settings
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
        champion=True,
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


def single_row(setup: Setup, calls: int = 1000, label: str = "") -> float:
    """p50/p99 of one account's score + reasons, 1 LightGBM thread: as the service computes them
    (`serving.live`: every latest row encoded once per model, then per request the account's
    prepared row -> `explain_matrix` -> `matrix_reasons`), from a one-row DataFrame through the
    library's `explain.reasons.reasons`, and a prepared row's explanation without reasons.
    Returns the service path's p50 (ms)."""
    setup.model.num_threads = 1
    frame = setup.frame.head(calls).reset_index(drop=True)
    prepared = prepare(setup.model, frame)
    ids = frame["account_id"].astype(str).tolist()
    served = registry_map(setup.registry)
    names, target = setup.model.feature_names, setup.model.target

    def as_served(i: int) -> list:
        matrix, values = prepared.row(ids[i])
        explanation = setup.model.explain_matrix(matrix)
        return matrix_reasons(explanation.point_values, values, names, target, served)

    rows = [frame.iloc[[i]] for i in range(len(frame))]
    calls_by = {
        "score + reasons, as served (prepared row)": as_served,
        "score + reasons from a one-row DataFrame (explain.reasons.reasons)": lambda i: reasons(
            setup.model, rows[i], setup.registry
        ),
        "explain a prepared row (no reasons)": lambda i: setup.model.explain_matrix(
            prepared.row(ids[i])[0]
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in calls_by}
    for fn in calls_by.values():
        for i in range(50):
            fn(i)  # warm-up
    for n in range(calls):
        for name, fn in calls_by.items():  # interleaved: the machine's drift hits all alike
            start = time.perf_counter()
            fn(n % len(rows))
            samples[name].append(time.perf_counter() - start)
    for name, values in samples.items():
        ms = np.asarray(values) * 1000
        print(
            f"single row{label}, 1 thread, {name}: p50 {np.percentile(ms, 50):.2f} ms · "
            f"p99 {np.percentile(ms, 99):.2f} ms"
        )
    first = next(iter(samples))
    return float(np.percentile(np.asarray(samples[first]) * 1000, 50))


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


def one_day(frame: pd.DataFrame, share: float, seed: int = 1) -> pd.DataFrame:
    """`frame` after a day: `share` of the accounts get three features set to other accounts'."""
    rng = np.random.default_rng(seed)
    after = frame.copy()
    names = [c for c in frame.columns if c != "account_id" and frame[c].dtype.kind in "fiub"]
    touched = rng.choice(len(frame), max(1, int(share * len(frame))), replace=False)
    for column in rng.choice(len(names), (3, len(touched))):
        for j in np.unique(column):
            rows = touched[column == j]
            donors = rng.integers(0, len(frame), len(rows))
            after.iloc[rows, after.columns.get_loc(names[j])] = frame[names[j]].to_numpy()[donors]
    return after


def synthetic_day(setup: Setup) -> Day:
    share = day_share()
    label = f"simulated day: {share:.1%} of accounts get 3 features replaced"
    return Day(setup.frame, one_day(setup.frame, share), label)


# Accounts with an event that became visible in [?, ?): an activity recorded (the later of its
# time and `logged_at`, the features' visibility rule), a case opened or closed, an NPS answer.
NEW_EVENTS = """
select account_id from activities
where greatest(occurred_at, coalesce(logged_at, occurred_at)) >= ?
  and greatest(occurred_at, coalesce(logged_at, occurred_at)) < ?
union select account_id from cases where opened_at >= ? and opened_at < ?
union select account_id from cases where closed_at >= ? and closed_at < ?
union select account_id from nps where responded_at >= ? and responded_at < ?
"""


def real_day(model: ScoringModel) -> Day:
    """The champion's features for every account at the warehouse's last two midnights.

    Prints the feature computation time (excluded from the rescoring timings).
    """
    import ibis

    from barometer.settings import Settings
    from features.backends import tune_duckdb
    from features.engine import feature_frames

    settings = Settings()
    con = tune_duckdb(ibis.duckdb.connect(str(settings.warehouse_path), read_only=True))
    try:
        last = con.raw_sql("select max(occurred_at) from activities").fetchone()[0]
        today = pd.Timestamp(last).normalize()
        yesterday = today - pd.Timedelta(days=1)
        changed = {
            row[0]
            for row in con.raw_sql(
                NEW_EVENTS, parameters=[yesterday.to_pydatetime(), today.to_pydatetime()] * 4
            ).fetchall()
        }
        start = time.perf_counter()
        frames = feature_frames(
            con, ["account"], [yesterday, today], settings.stage_order, only=model.feature_names
        )
        seconds = time.perf_counter() - start
    finally:
        con.disconnect()
    frame = frames["account"][0]
    before, after = (
        frame[frame["cutoff"] == day].drop(columns="cutoff").reset_index(drop=True)
        for day in (yesterday, today)
    )
    print(
        f"real day {yesterday:%Y-%m-%d}: features of {len(before):,} / {len(after):,} accounts "
        f"as of {yesterday:%Y-%m-%d} / {today:%Y-%m-%d} 00:00 computed by the feature engine "
        f"(the champion's {len(model.feature_names)} features) in {seconds:.1f} s — excluded "
        f"from both rescoring times; {len(changed):,} accounts had events recorded that day"
    )
    return Day(before, after, f"real day {yesterday:%Y-%m-%d} → {today:%Y-%m-%d}", changed)


def same_scores(full: pd.DataFrame, incremental: pd.DataFrame) -> str:
    """How far the incremental result is from the full one (it should be equal)."""
    gap = np.abs(full["probability"].to_numpy() - incremental["probability"].to_numpy()).max()
    words = all(full[c].tolist() == incremental[c].tolist() for c in ("reasons_up", "reasons_down"))
    keys = full.iloc[:, 0].tolist() == incremental.iloc[:, 0].tolist()
    return f"max |Δ probability| {gap:.1e}, same keys {keys}, same reasons {words}"


def rescoring(setup: Setup, day: Day) -> tuple[float, float, float | None]:
    """Today's rows rescored in full and incrementally from yesterday's full scoring."""
    setup.model.num_threads = 2
    model, registry = setup.model, setup.registry
    previous = score_rows(model, day.before, registry)
    full_s, full = timed(score_rows, model, day.after, registry)
    inc_s, (updated, plan) = timed(rescore_incremental, model, day.after, previous, registry)
    n, trees = len(day.after), model.booster.num_trees()
    fresh = replace(model, booster=lgb.Booster(model_str=model.booster.model_to_string()))
    tables_s, _ = timed(tree_tables, fresh)
    print(
        f"the model's tree tables (built once per model, at its first scoring; counted in neither "
        f"time below): {tables_s * 1000:.0f} ms"
    )
    explained = len(plan.explain)
    print(f"full rescoring with reasons, {n:,} accounts: {full_s:.1f} s ({n / full_s:,.0f}/s)")
    print(
        f"incremental after one day ({day.label}): {inc_s:.2f} s · {full_s / inc_s:.1f}x faster "
        f"than full · rows explained (crossed a split or new) {explained:,} ({explained / n:.1%})"
        f" · rows worded {plan.worded:,} ({plan.worded / n:.1%}; the others' shown reasons, "
        f"values and printed points did not move) · rows reused whole {len(plan.reuse):,}"
    )
    print(
        f"  (row, tree) pairs: {n * trees:,} in a full run; {plan.moved:,} moved "
        f"({plan.moved / (n * trees):.2%}: the row crossed one of that tree's thresholds) · "
        f"TreeSHAP evaluations {plan.pairs:,} ({plan.pairs / (n * trees):.2%}; a moved pair needs"
        f" its old and new row, once per distinct pattern of the tree's thresholds) · "
        f"incremental == full: {same_scores(full.scores, updated.scores)}"
    )
    events_s = None
    if day.changed is not None:
        events_s = new_events(model, registry, day, previous, full, full_s)
    return full_s, inc_s, events_s


def new_events(model, registry, day: Day, previous, full, full_s: float) -> float:
    """The issue's design: rescore only the accounts with new events, reuse everyone else.

    The reused accounts keep yesterday's score (their recency features age by a day only at the
    next full run); the rescored ones must equal the full run exactly.
    """
    after, known = day.after, set(day.before["account_id"])
    ids = after["account_id"]
    changed = after[ids.isin(day.changed) | ~ids.isin(known)]
    keep = set(ids)
    seconds, (updated, plan) = timed(rescore_changed, model, previous, changed, registry, keep=keep)
    mine = updated.scores.tail(len(changed)).set_index("account_id")
    theirs = full.scores.set_index("account_id").loc[mine.index]
    print(
        f"incremental, only the {len(changed):,} accounts with new events that day "
        f"({len(changed) / len(after):.1%}; the other {len(after) - len(changed):,} keep "
        f"yesterday's score): {seconds:.2f} s · {full_s / seconds:.1f}x faster than full · rows "
        f"explained {len(plan.explain):,} · TreeSHAP evaluations {plan.pairs:,} · rescored "
        f"accounts == full: {same_scores(theirs.reset_index(), mine.reset_index())}"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--synthetic", action="store_true", help="Skip the champion look-up.")
    parser.add_argument("--reference", action="store_true", help="200 × 31 × 60 model instead.")
    parser.add_argument("--trees", type=int, default=78, help="Trees of the champion-shaped model.")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    setup = None if args.synthetic or args.reference else champion_setup(args.accounts)
    if setup is None:
        shaped = reference_setup if args.reference else None
        setup = (
            shaped(args.accounts) if shaped else champion_shaped_setup(args.accounts, args.trees)
        )
    print(f"model: {setup.source} · load average {load:.1f}")
    batch_shap(setup, min(args.accounts, 20_000))
    p50 = single_row(setup)
    if not args.reference:
        single_row(reference_setup(2_000), label=" (reference 200 × 31 × 60)")
    day = real_day(setup.model) if setup.champion else synthetic_day(setup)
    full_s, inc_s, events_s = rescoring(setup, day)
    ratio = full_s / (events_s or inc_s)
    how = "only accounts with new events" if events_s else "every account"
    print(
        f"goals (load average {os.getloadavg()[0]:.1f}): "
        f"single-row p50 < 2 ms as served: {'met' if p50 < 2 else 'MISSED'} ({p50:.2f} ms) · "
        f"full < 60 s: {'met' if full_s < 60 else 'MISSED'} ({full_s:.1f} s) · "
        f"incremental >= 10x: {'met' if ratio >= 10 else 'MISSED'} ({ratio:.1f}x, {how}; "
        f"every account brought up to date: {full_s / inc_s:.1f}x)"
    )


if __name__ == "__main__":
    main()

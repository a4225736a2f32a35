"""`make bench-train`: LightGBM training time and peak memory at 1.2M rows × ~100 features.

The frame has the shape of the 50k-account simulator at 24 monthly cutoffs (`--accounts` × 24
rows) with 96 numeric and 4 categorical features carrying a known nonlinear signal; it is
synthetic, so the benchmark does not need the (slow) 50k simulation and feature build first.
Each contender trains in its own process, which reports its own peak RSS (data included):

- Barometer: `training.fit.fit_scoring_model` (LightGBM, early stopping on a holdout slice, then
  Platt/isotonic calibration chosen by cross-fitted log loss), 2 threads;
- baseline: scikit-learn's `HistGradientBoostingClassifier` with the same number of trees,
  leaves and learning rate, on the same rows and 2 cores.

Goal: under 2 minutes and under 6 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np
import pandas as pd

N_NUMERIC, N_CATEGORICAL, CUTOFFS = 96, 4, 24


def synthetic_frame(accounts: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """accounts × 24 cutoffs rows; label from thresholds, an interaction and a category."""
    rng = np.random.default_rng(seed)
    n = accounts * CUTOFFS
    numeric = rng.normal(size=(n, N_NUMERIC)).astype(np.float32)
    numeric[rng.random(size=numeric.shape) < 0.05] = np.nan
    frame = pd.DataFrame(numeric, columns=[f"behaviour_{i:02d}" for i in range(N_NUMERIC)])
    for j in range(N_CATEGORICAL):
        frame[f"context_{j}"] = rng.choice([f"level_{k}" for k in range(8)], n)
    x = np.nan_to_num(numeric[:, :6])
    logit = (
        -1.5
        + 1.2 * (x[:, 0] > 0.5)
        - 0.8 * x[:, 1]
        + 0.6 * x[:, 2] * x[:, 3]
        + 0.4 * np.abs(x[:, 4])
        + 0.7 * (frame["context_0"] == "level_3").to_numpy()
    )
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["cutoff"] = np.tile(pd.date_range("2023-01-01", periods=CUTOFFS, freq="MS"), accounts)
    frame["label_time"] = frame["cutoff"] + pd.Timedelta(days=90)
    kinds = {c: "numeric" for c in frame.columns if c.startswith("behaviour_")}
    kinds |= {f"context_{j}": "categorical" for j in range(N_CATEGORICAL)}
    return frame, kinds


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def _split(frame: pd.DataFrame):
    from training.splits import time_split

    split = time_split(frame, test_cutoffs=3, holdout_cutoffs=3)
    return frame.loc[split.train], frame.loc[split.holdout], frame.loc[split.test]


def run_lightgbm(accounts: int, out: mp.Queue) -> None:
    from training.config import ExperimentConfig
    from training.fit import as_model_input, fit_scoring_model
    from training.metrics import roc_auc

    frame, kinds = synthetic_frame(accounts)
    train, holdout, test = _split(frame)
    config = ExperimentConfig.model_validate(
        {
            "target": "churn",
            "lightgbm": {
                "num_threads": 2,
                "num_leaves": 31,
                "learning_rate": 0.1,
                "max_rounds": 300,
                "min_data_in_leaf": 100,
            },
        }
    )
    started = time.perf_counter()
    model = fit_scoring_model(train, holdout, kinds, config)
    seconds = time.perf_counter() - started
    p = model.predict_proba(as_model_input(test, kinds))
    out.put(
        {
            "name": "barometer (LightGBM + calibration)",
            "seconds": seconds,
            "trees": model.booster.current_iteration(),
            "train_rows": len(train),
            "auc": roc_auc(test["label"].to_numpy(), p),
            "peak_gb": _peak_rss_gb(),
        }
    )


def run_sklearn(accounts: int, trees: int, out: mp.Queue) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OrdinalEncoder

    from training.metrics import roc_auc

    frame, kinds = synthetic_frame(accounts)
    train, _, test = _split(frame)
    cats = [n for n, k in kinds.items() if k == "categorical"]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    started = time.perf_counter()
    x = train[list(kinds)].copy()
    x[cats] = encoder.fit_transform(x[cats])
    model = HistGradientBoostingClassifier(
        max_iter=trees,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=100,
        early_stopping=False,
        categorical_features=[list(kinds).index(c) for c in cats],
        random_state=0,
    ).fit(x, train["label"].to_numpy())
    seconds = time.perf_counter() - started
    xt = test[list(kinds)].copy()
    xt[cats] = encoder.transform(xt[cats])
    out.put(
        {
            "name": "sklearn HistGradientBoosting",
            "seconds": seconds,
            "trees": trees,
            "train_rows": len(train),
            "auc": roc_auc(test["label"].to_numpy(), model.predict_proba(xt)[:, 1]),
            "peak_gb": _peak_rss_gb(),
        }
    )


def in_child(target, *args) -> dict:
    """Run `target` in a fresh process (own peak RSS) and return what it reports."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000, help="rows = accounts × 24")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")  # both contenders on 2 cores
    rows = args.accounts * CUTOFFS
    print(
        f"bench-train: {args.accounts} accounts × {CUTOFFS} cutoffs = {rows:,} rows × "
        f"{N_NUMERIC + N_CATEGORICAL} features (synthetic), 2 threads"
    )
    ours = in_child(run_lightgbm, args.accounts)
    theirs = in_child(run_sklearn, args.accounts, ours["trees"])
    for r in (ours, theirs):
        print(
            f"  {r['name']:<36} {r['seconds']:7.1f} s  {r['trees']:4d} trees  "
            f"peak {r['peak_gb']:.2f} GB  test AUC {r['auc']:.3f}  ({r['train_rows']:,} train rows)"
        )
    print(f"  speed ratio (sklearn / barometer): {theirs['seconds'] / ours['seconds']:.2f}x")
    ok = ours["seconds"] < 120 and ours["peak_gb"] < 6
    print(f"  goal < 120 s and < 6 GB: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

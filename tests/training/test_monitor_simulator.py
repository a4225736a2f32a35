"""Planted drift in a simulated company is caught by `barometer monitor`, each kind with its own
reason, and the same company left alone raises no retrain signal (over several seeds).

Each seed's company is simulated once (1,200 accounts, 30 months to 2025-07-01). The churn
champion is trained on monthly cutoffs up to 2024-07-01, whose labels end before the plant date
(2024-10-01), with a lighter recipe than the shipped one (one backtest fold) to keep the test
short; the monitoring thresholds are the shipped `experiments/churn.yaml` ones. Then, per
scenario, the export is planted from 2024-10-01 on, ingested into a workspace of its own (sharing
the champion's MLflow store), scored with the champion on 2024-11-01, 2025-01-01 and 2025-03-01
(whose 90-day outcomes have all happened by the data's end) and monitored on the last day:

- `none`: the export unchanged;
- `broken`: call durations stop being logged (`duration_s` empty);
- `call_mix`: half of all calls are logged as support calls (a new product line);
- `churn_rate`: 1.2% of the remaining customers a month churn on top, whatever they do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barometer.settings import Settings

ACCOUNTS = 1200
PLANT = pd.Timestamp("2024-10-01")
TRAIN_CUTOFFS = list(pd.date_range("2023-07-01", "2024-07-01", freq="MS"))
MONITORED = [pd.Timestamp(d) for d in ("2024-11-01", "2025-01-01", "2025-03-01")]
CONTROL_SEEDS = (1, 2, 3)
DURATION_FEATURES = ("avg_connected_call_minutes_90d", "long_call_share_90d")


def plant(tables: dict[str, pd.DataFrame], kind: str) -> dict[str, pd.DataFrame]:
    """The export with `kind` of drift from `PLANT` on (a copy)."""
    out = {name: frame.copy() for name, frame in tables.items()}
    acts, rng = out["activities"], np.random.default_rng(0)
    after = (acts["occurred_at"] >= PLANT).to_numpy()
    if kind == "broken":
        acts.loc[after, "duration_s"] = np.nan
    elif kind == "call_mix":
        calls = after & (acts["type"] == "call").to_numpy() & (rng.random(len(acts)) < 0.5)
        acts.loc[calls, "objective"] = "support"
    elif kind == "churn_rate":
        accounts = out["accounts"]
        end = acts["occurred_at"].max()
        days = (end - PLANT).days
        alive = (accounts["created_at"] < PLANT) & ~(accounts["churned_at"] < PLANT)
        extra = alive & (rng.random(len(accounts)) < 0.012 * days / 30)
        when = (PLANT + pd.to_timedelta(rng.uniform(0, days, len(accounts)), unit="D")).round("s")
        earlier = accounts["churned_at"].notna() & (accounts["churned_at"] < when)
        accounts["churned_at"] = accounts["churned_at"].where(~extra | earlier, when)
    elif kind != "none":
        raise ValueError(kind)
    return out


def light_config():
    """The shipped churn recipe with one backtest fold and a smaller bootstrap."""
    from training.config import ExperimentConfig, default_config_path, load_config

    base = load_config(default_config_path("churn")).model_dump()
    base["split"] |= {"folds": 1}
    base["report"] |= {"bootstrap": 50, "learning_curve_fractions": [1.0]}
    return ExperimentConfig.model_validate(base)


def load(root, tables, settings: Settings, as_of) -> None:
    from data.simulator import write_export
    from features.build import build_all
    from features.ingest.run import ingest

    settings.ensure_home()
    write_export(tables, root, fmt="parquet")
    ingest(root, settings, "canonical", None)
    build_all(settings, as_of=as_of)


class Company:
    """One seed's simulated export and its champion (trained once, on the clean history)."""

    def __init__(self, root, seed: int) -> None:
        from data.simulator import simulate
        from training.lifecycle import promote
        from training.runs import train_target

        self.root, self.seed = root, seed
        self.tables = simulate(ACCOUNTS, seed=seed)
        self.train = Settings(home=root / "train")
        load(root / "export", self.tables, self.train, TRAIN_CUTOFFS)
        self.trained = train_target(self.train, light_config())
        assert self.trained.version is not None, self.trained.refusals
        assert promote(self.train, "churn", metric="roc_auc", margin=0.0).promoted
        self.results: dict[str, object] = {}

    def monitored(self, kind: str):
        """The monitor's result on the last day of the `kind` scenario (computed once)."""
        if kind not in self.results:
            from barometer.model.store import ChampionProvider
            from barometer.scoring import job
            from barometer.scoring.reasons import load_registry
            from training.config import resolve_config
            from training.monitor import run_monitor

            settings = Settings(home=self.root / kind, mlflow_tracking_uri=self.train.tracking_uri)
            load(self.root / f"export-{kind}", plant(self.tables, kind), settings, MONITORED)
            loaded, registry = ChampionProvider(settings).load("churn"), load_registry()
            for day in MONITORED:
                job.run(settings, loaded, day.to_pydatetime(), None, registry)
            config = resolve_config("churn", None)  # the shipped thresholds
            self.results[kind] = run_monitor(settings, "churn", config, MONITORED[-1])
        return self.results[kind]


@pytest.fixture(scope="module")
def companies(tmp_path_factory):
    made: dict[int, Company] = {}

    def get(seed: int) -> Company:
        if seed not in made:
            made[seed] = Company(tmp_path_factory.mktemp(f"company{seed}"), seed)
        return made[seed]

    return get


def statuses(result, status: str) -> set[str]:
    features = result.day.features
    return set(features.loc[features["status"] == status, "feature"])


def words(result) -> str:
    day = result.day
    realised = ", ".join(
        f"{as_of:%Y-%m-%d} AUC {r.roc_auc:.3f} (backtest from "
        f"{info['backtest']['roc_auc_ci_low']:.3f}) rate {r.observed_rate:.2%}/"
        f"{r.predicted_rate:.2%} z {r.z:+.1f}"
        for as_of, _, r, info in day.realised
    )
    return (
        f"signal {day.signal.status}; alerts {sorted(statuses(result, 'alert'))}; broken "
        f"{sorted(statuses(result, 'broken'))}; score PSI {day.score['psi']:.3f}; {realised}"
    )


@pytest.mark.parametrize("seed", CONTROL_SEEDS)
def test_an_unchanged_company_raises_no_retrain_signal(companies, seed, record_property) -> None:
    result = companies(seed).monitored("none")
    day = result.day
    record_property("summary", f"monitor, seed {seed}, unchanged: {words(result)}")
    assert not day.signal.needs_retraining, day.signal
    assert not day.signal.pipeline_broken, day.signal
    assert day.signal.status in ("ok", "watch")
    assert day.score["status"] == "ok"
    assert len(day.realised) == len(MONITORED)  # every monitored day's outcomes have matured
    for as_of, version, realised, info in day.realised:
        assert info["judged"] and version == companies(seed).trained.version.version
        assert realised.status == "ok", (as_of, realised.flags)
    # Whatever moved by itself (a quarterly survey's phase, tenure) is a small part of the model.
    moved = day.features[day.features["status"] == "alert"]
    assert moved["importance"].sum() < 0.1


def test_a_feature_that_stops_being_logged_is_a_broken_pipeline(companies, record_property):
    result = companies(1).monitored("broken")
    record_property("summary", f"monitor, seed 1, broken durations: {words(result)}")
    features = result.day.features.set_index("feature")
    for name in DURATION_FEATURES:
        assert features.loc[name, "status"] == "broken"
        assert "stopped arriving" in features.loc[name, "reason"]
        assert "data pipeline problem" in features.loc[name, "reason"]
    signal = result.day.signal
    assert signal.status == "broken" and signal.pipeline_broken
    assert any(
        r.startswith("avg_connected_call_minutes_90d stopped arriving") for r in signal.reasons
    )
    # Nothing else is called broken.
    assert statuses(result, "broken") == set(DURATION_FEATURES)


def test_a_shifted_call_mix_is_flagged_on_the_call_mix_features(companies, record_property):
    result = companies(1).monitored("call_mix")
    control = companies(1).monitored("none")
    record_property("summary", f"monitor, seed 1, call mix: {words(result)}")
    features = result.day.features.set_index("feature")
    assert features.loc["support_call_share_90d", "status"] == "alert"
    assert features.loc["support_call_share_90d", "reason"].startswith("distribution shifted")
    # What shifted beyond the unchanged run is the call mix and nothing else.
    new = statuses(result, "alert") - statuses(control, "alert")
    assert new and all(name.endswith("_call_share_90d") for name in new), new
    assert not statuses(result, "broken")
    # The signal names the shift (as a reason to retrain, or as a note when the call mix carries
    # too little of the model's attributions to need one).
    signal = result.day.signal
    assert "support_call_share_90d" in " ".join(signal.reasons + signal.notes)
    assert not signal.pipeline_broken


def test_a_changed_churn_rate_with_unchanged_behaviour_is_caught_by_realised_calibration(
    companies, record_property
) -> None:
    result = companies(1).monitored("churn_rate")
    control = companies(1).monitored("none")
    record_property("summary", f"monitor, seed 1, churn rate: {words(result)}")
    day = result.day
    for _, _, realised, _ in day.realised:
        assert "rate" in realised.flags
        assert realised.observed_rate > realised.predicted_rate
    assert day.signal.needs_retraining
    assert any("observed rate" in r for r in day.signal.reasons)
    # Behaviour did not change: no feature shifted that had not shifted in the unchanged run,
    # and the scores kept their distribution.
    assert statuses(result, "alert") <= statuses(control, "alert")
    assert not statuses(result, "broken")
    assert day.score["status"] == "ok"

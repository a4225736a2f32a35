"""`barometer monitor`: the champion against the population it scores, and against what happened.

For one target and one scoring run (`--as-of`, default the latest in `scores`):

1. **Feature drift**: the run's feature rows (`scoring_features_*` when the scoring job keeps
   them, else the feature table at that cutoff) against the champion's reference profile
   (`training.reference`, logged with the model's run), per feature with its share of the
   model's attributions.
2. **Score drift**: the run's calibrated probabilities and band shares (band names read from the
   `scores` table) against the test period's, when the run was scored by the champion.
3. **Realised performance**: every earlier run whose outcomes have matured since (churn: the
   horizon has passed, labels by the churn definition in `build_meta`; deals: closed won or lost)
   is scored against what happened, by as-of date, against the backtest of the version that
   served it (its `backtest_*` tags; the ROC AUC's 95% interval is the tolerance). A run is
   recomputed until it is final (every deal closed).
4. **The retrain signal** (`training.drift.retrain_signal`), with the thresholds of the experiment
   config's `monitoring:` block, tied to the champion's version: promoting a new champion leaves
   it without a signal until it is monitored.

Everything is read, checked and written under the workspace's writer lock, the rows in one
transaction (`barometer.model.monitoring`); then the day's figures are logged as metrics on the
champion's monitoring run in MLflow (a child of its training run, `monitor v<version>`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from barometer.model import monitoring as table
from barometer.model.store import NoChampionError, VersionInfo, backtest_metrics, champion_version
from barometer.settings import Settings
from barometer.targets import TARGETS
from features.warehouse import WarehouseBusyError, connect, table_exists, write_lock
from training import drift
from training.config import ExperimentConfig
from training.reference import load_reference

# A deal run is judged once this share of its deals has closed: the first to close are the fast
# ones, whose outcomes differ from the rest.
DEALS_MATURED = 0.9
REALISED_METRICS = ("roc_auc", "rate", "ece", "brier")


@dataclass
class Day:
    """One day's checks, before they are written."""

    target: str
    as_of: pd.Timestamp
    champion: str
    scored_version: str | None
    rows: int
    features: pd.DataFrame | None = None
    feature_source: str | None = None
    score: dict | None = None
    realised: list[tuple[pd.Timestamp, str, drift.Realised, dict]] = field(default_factory=list)
    signal: drift.Signal | None = None
    notes: list[str] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)  # those the day was checked with


@dataclass
class MonitorResult:
    day: Day
    written: int
    mlflow_run_id: str | None
    seconds: float


# ------------------------------------------------------------------------------ reads


def latest_as_of(con, target: str) -> pd.Timestamp:
    if not table_exists(con, "scores"):
        raise LookupError(f"No scores yet: run `barometer score --target {target}` first.")
    found = con.execute("select max(as_of) from scores where target = ?", [target]).fetchone()[0]
    if found is None:
        raise LookupError(f"No {target} scores yet: run `barometer score --target {target}` first.")
    return pd.Timestamp(found)


def scored_run(con, target: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The run's `entity_id`, `probability`, `band`, `model_version`."""
    frame = con.execute(
        "select entity_id, probability, band, model_version from scores "
        "where target = ? and as_of = ?",
        [target, as_of.to_pydatetime()],
    ).df()
    if frame.empty:
        runs = con.execute(
            "select distinct as_of from scores where target = ? order by 1 desc limit 3", [target]
        ).fetchall()
        shown = ", ".join(f"{pd.Timestamp(r[0]):%Y-%m-%d}" for r in runs) or "none"
        raise LookupError(f"No {target} scores as of {as_of:%Y-%m-%d} (latest runs: {shown}).")
    return frame


def day_features(
    con, target: str, as_of: pd.Timestamp, names: list[str]
) -> tuple[pd.DataFrame | None, str | None]:
    """The feature rows of the entities scored on `as_of` (the columns of `names` the table has),
    and the table they came from; (None, None) when no table holds that day."""
    key = TARGETS[target].key
    sources = [(TARGETS[target].scoring_features, "as_of = $day")]
    snapshot = " and snapshot = 'cutoff'" if target == "deal_win" else ""
    sources.append((TARGETS[target].features, f"cutoff = $day{snapshot}"))
    for name, where in sources:
        if not table_exists(con, name):
            continue
        present = {row[0] for row in con.execute(f'describe "{name}"').fetchall()}
        columns = ", ".join(f'f."{c}"' for c in names if c in present)
        sql = f"""
            select f."{key}"{", " + columns if columns else ""} from "{name}" f
            where {where.replace("cutoff", "f.cutoff").replace("as_of =", "f.as_of =")}
              and f."{key}" in (
                select entity_id from scores where target = $target and as_of = $day)
        """
        frame = con.execute(sql, {"day": as_of.to_pydatetime(), "target": target}).df()
        if len(frame):
            return frame, name
    return None, None


def realised_due(con, target: str) -> pd.DataFrame:
    """Each scoring run (`as_of`, `model_version`, `scored`) that has no final realised row."""
    runs = con.execute(
        "select as_of, any_value(model_version) as model_version, count(*) as scored "
        "from scores where target = ? group by as_of order by as_of",
        [target],
    ).df()
    done = table.read_rows(con, target, ["realised"])
    if len(done):
        final = done[done["subject"] == "rate"]
        final = final[[bool(table.detail(d).get("final")) for d in final["detail"]]]
        runs = runs[~runs["as_of"].isin(set(final["as_of"]))]
    return runs.reset_index(drop=True)


def labelled_through(con, target: str) -> str | None:
    """The warehouse's latest labelled cutoff for `target`, counted as the champion's training
    period is (`training.reference`): for deals, cutoff snapshots only, not stage entries."""
    t = TARGETS[target]
    if not table_exists(con, t.labels):
        return None
    snapshots = "snapshot" in {c[0] for c in con.execute(f"describe {t.features}").fetchall()}
    sql = (
        f"select max(l.cutoff) from {t.labels} l join {t.features} f using ({t.key}, cutoff) "
        "where f.snapshot = 'cutoff'"
        if snapshots
        else f"select max(cutoff) from {t.labels}"
    )
    found = con.execute(sql).fetchone()[0]
    return None if found is None else str(pd.Timestamp(found).date())


def data_end(con) -> pd.Timestamp | None:
    if not table_exists(con, "activities"):
        return None
    found = con.execute("select max(occurred_at) from activities").fetchone()[0]
    return None if found is None else pd.Timestamp(found)


def churn_outcomes(con, days: list[pd.Timestamp], meta: dict, end: pd.Timestamp) -> pd.DataFrame:
    """(`entity_id`, `as_of`, `label`) of every account in the churn definition's population on
    each day whose horizon has passed by `end`, labelled by that definition."""
    import ibis

    from features.label_config import ResolvedChurn
    from features.labels import churn_population

    churn = meta.get("churn") or {}
    if not churn:
        raise LookupError("build_meta has no churn definition: run `barometer features` first.")
    resolved = ResolvedChurn(
        churn["definition"],
        int(churn["horizon_days"]),
        int(churn["inactive_days"]),
        tuple(churn["activity_types"]),
        churn.get("chosen_because", ""),
    )
    horizon = pd.Timedelta(days=resolved.horizon_days)
    days = [d for d in days if d + horizon <= end]
    if not days:
        return pd.DataFrame(columns=["entity_id", "as_of", "label"])
    population = churn_population(ibis.duckdb.from_connection(con), days, resolved, end)
    population = population[population["label_time"] <= end]
    return population.rename(columns={"account_id": "entity_id", "cutoff": "as_of"})[
        ["entity_id", "as_of", "label"]
    ]


def deal_outcomes(con, target: str, days: list[pd.Timestamp]) -> pd.DataFrame:
    """(`entity_id`, `as_of`, `label`) of the deals scored on each day that closed won or lost
    since."""
    if not days or not table_exists(con, "opportunities"):
        return pd.DataFrame(columns=["entity_id", "as_of", "label"])
    return con.execute(
        """
        select s.entity_id, s.as_of, case when o.outcome = 'won' then 1 else 0 end as label
        from scores s join opportunities o on o.opportunity_id = s.entity_id
        where s.target = $target and s.as_of in (select unnest($days))
          and o.outcome in ('won', 'lost') and o.closed_at is not null
          and o.closed_at >= s.as_of
        """,
        {"target": target, "days": [d.to_pydatetime() for d in days]},
    ).df()


def served_predictions(con, target: str, days: list[pd.Timestamp]) -> pd.DataFrame:
    """(`entity_id`, `as_of`, `probability`) of the runs of `days`."""
    return con.execute(
        "select entity_id, as_of, probability from scores "
        "where target = $target and as_of in (select unnest($days))",
        {"target": target, "days": [pd.Timestamp(d).to_pydatetime() for d in days]},
    ).df()


# ------------------------------------------------------------------------------ checks


def tolerance(tags: dict[str, str], reference: dict | None) -> dict[str, float]:
    """The backtest figures realised performance is held to: the version's `backtest_*` tags
    (re-tagged by `barometer evaluate`), else those stored with its reference; an interval
    missing from both is the fold mean ± 1.96 std."""
    found = {k.removeprefix("backtest_"): v for k, v in backtest_metrics(tags).items()}
    for key, value in ((reference or {}).get("backtest") or {}).items():
        found.setdefault(key, value)
    if "roc_auc_ci_low" not in found and "roc_auc_mean" in found:
        spread = 1.96 * found.get("roc_auc_std", 0.0)
        found["roc_auc_ci_low"] = found["roc_auc_mean"] - spread
        found["roc_auc_ci_high"] = found["roc_auc_mean"] + spread
    return found


def realised_runs(
    due: pd.DataFrame,
    served: pd.DataFrame,
    outcomes: pd.DataFrame,
    backtests: dict[str, dict[str, float]],
    target: str,
    thresholds: drift.Thresholds,
) -> list[tuple[pd.Timestamp, str, drift.Realised, dict]]:
    """Each due run with matured outcomes, scored against its version's backtest."""
    joined = served.merge(outcomes, on=["entity_id", "as_of"], how="inner")
    out = []
    for run in due.itertuples():
        rows = joined[joined["as_of"] == run.as_of]
        if rows.empty:
            continue
        version = str(run.model_version)
        limits = backtests.get(version, {})
        result = drift.realised(
            rows["label"].to_numpy(),
            rows["probability"].to_numpy(),
            limits.get("roc_auc_ci_low"),
            thresholds,
        )
        share = len(rows) / run.scored if run.scored else 0.0
        final = target == "churn" or len(rows) >= run.scored
        judged = target == "churn" or share >= DEALS_MATURED
        info = {"scored": int(run.scored), "matured_share": share, "final": final}
        info["judged"] = judged and result.n >= thresholds.min_outcomes
        out.append((pd.Timestamp(run.as_of), version, result, info | {"backtest": limits}))
    return out


def latest_judged(day: Day, stored: pd.DataFrame) -> tuple[str, list[str]] | None:
    """What was wrong with the newest judged realised run of the champion's own predictions:
    checked now (`day.realised`) or by an earlier run (`stored` realised rows)."""
    runs = {
        as_of: list(r.reasons)
        for as_of, version, r, info in day.realised
        if version == day.champion and info["judged"]
    }
    mine = stored[(stored["model_version"].astype(str) == day.champion)]
    mine = mine[mine["status"] != "pending"]
    for as_of, rows in mine.groupby("as_of"):
        if pd.Timestamp(as_of) in runs:
            continue
        flags = dict(
            zip(rows["subject"], rows["reason"].where(rows["status"] == "alert"), strict=True)
        )
        reasons = [flags[k] for k in ("roc_auc", "rate") if isinstance(flags.get(k), str)]
        if isinstance(flags.get("ece"), str) and not isinstance(flags.get("rate"), str):
            reasons.append(flags["ece"])
        runs[pd.Timestamp(as_of)] = reasons
    if not runs:
        return None
    newest = max(runs)
    return f"{newest:%Y-%m-%d}", runs[newest]


def check_day(
    target: str,
    as_of: pd.Timestamp,
    champion: str,
    reference: dict | None,
    scored: pd.DataFrame,
    features: pd.DataFrame | None,
    thresholds: drift.Thresholds,
) -> Day:
    """Feature and score drift of one scoring run against the champion's reference."""
    versions = scored["model_version"].astype(str).unique()
    day = Day(target, as_of, champion, versions[0] if len(versions) else None, len(scored))
    if reference is None:
        day.notes.append(
            f"v{champion} has no monitoring reference (it was trained before one was recorded): "
            "retrain to get feature and score drift; realised performance is still checked"
        )
        return day
    if features is None:
        day.notes.append(f"no feature rows for {as_of:%Y-%m-%d}: feature drift not checked")
    else:
        day.features = drift.feature_drift(
            reference["features"], features, thresholds, reference.get("importance") or None
        )
    if day.scored_version != champion:
        day.notes.append(
            f"the {as_of:%Y-%m-%d} run was scored by v{day.scored_version}, not the champion "
            f"v{champion}: score drift waits for a run of the champion"
        )
    elif len(scored):
        day.score = drift.score_drift(
            reference["scores"],
            scored["probability"].to_numpy(),
            scored["band"].to_numpy(),
            thresholds,
        )
    return day


def rows_of(day: Day, monitored_at: datetime) -> tuple[pd.DataFrame, list[tuple]]:
    """The day's `monitoring` rows and the (target, as_of, kind) groups they replace."""
    rows, replace = [], []
    if day.features is not None:
        replace.append((day.target, day.as_of, "feature"))
        rows += _feature_rows(day)
    if day.score is not None:
        replace += [(day.target, day.as_of, "score"), (day.target, day.as_of, "band")]
        rows += _score_rows(day)
    for as_of, version, r, info in day.realised:
        replace.append((day.target, as_of, "realised"))
        rows += [
            _monitoring_row(as_of, "realised", subject, version, status, reason=reason, n=r.n, **v)
            for subject, status, reason, v in realised_checks(r, info)
        ]
    if day.signal is not None:
        replace.append((day.target, day.as_of, "signal"))
        rows.append(_signal_row(day))
    base = {"target": day.target, "monitored_at": monitored_at}
    return pd.DataFrame([base | row for row in rows]), replace


def _monitoring_row(as_of, kind, subject, version, status, **values) -> dict:
    """One `monitoring` row without its target and run time; `detail` is stored as JSON."""
    extra = values.pop("detail", None)
    return (
        {"as_of": as_of, "kind": kind, "subject": subject, "model_version": version}
        | {"status": status, "detail": json.dumps(extra, default=_json) if extra else None}
        | values
    )


def _feature_rows(day: Day) -> list[dict]:
    """One row per monitored feature: its PSI, and its other drift measures as detail."""
    rows = []
    for f in day.features.to_dict("records"):
        measures = {
            k: f[k]
            for k in ("kind", "importance", "null_rate", "null_rate_reference", "psi_chance")
        }
        measures |= {k: f[k] for k in ("wasserstein", "out_of_range", "mode", "mode_share")}
        rows.append(
            _monitoring_row(
                day.as_of,
                "feature",
                f["feature"],
                day.champion,
                f["status"],
                value=f["psi"],
                n=day.rows,
                reason=f["reason"],
                detail=measures,
            )
        )
    return rows


def _score_rows(day: Day) -> list[dict]:
    """The score's PSI row, then one row per risk band with its share now and in the reference
    (bands of either, reference order first)."""
    s = day.score
    score = _monitoring_row(
        day.as_of,
        "score",
        "probability",
        day.champion,
        s["status"],
        value=s["psi"],
        reference=None,
        n=s["rows"],
        reason=s["reason"],
        detail={k: s[k] for k in ("mean", "mean_reference", "wasserstein", "psi_chance")},
    )
    bands = dict.fromkeys([*s["bands_reference"], *s["bands"]])
    return [score] + [
        _monitoring_row(
            day.as_of,
            "band",
            band,
            day.champion,
            "ok",
            value=s["bands"].get(band, 0.0),
            reference=s["bands_reference"].get(band),
            n=s["rows"],
            detail={"order": order},
        )
        for order, band in enumerate(bands)
    ]


def _signal_row(day: Day) -> dict:
    """The retraining signal's row, with its notes and the thresholds it was judged by."""
    return _monitoring_row(
        day.as_of,
        "signal",
        "retrain",
        day.champion,
        day.signal.status,
        value=float(day.signal.needs_retraining),
        reason="; ".join(day.signal.reasons),
        detail=day.signal.as_dict()
        | {"notes": list(day.signal.notes) + day.notes, "thresholds": day.thresholds},
    )


def realised_checks(r: drift.Realised, info: dict) -> list[tuple[str, str, str, dict]]:
    """(subject, status, reason, values) of one realised run's rows: ROC AUC against the
    backtest's interval, the observed rate against the predicted one and its noise, the ECE
    against a calibrated model's noise floor, and the Brier score beside the backtest's."""
    limits = info["backtest"]
    extra = {k: v for k, v in info.items() if k != "backtest"} | {"positives": r.positives}
    spread = {
        "low": limits.get("brier_mean", np.nan) - 1.96 * limits.get("brier_std", 0.0),
        "high": limits.get("brier_mean", np.nan) + 1.96 * limits.get("brier_std", 0.0),
    }
    checks = [
        (
            "roc_auc",
            "ROC AUC",
            {
                "value": r.roc_auc,
                "reference": limits.get("roc_auc_mean"),
                "low": limits.get("roc_auc_ci_low"),
                "high": limits.get("roc_auc_ci_high"),
                "detail": extra | {"auc_se": r.auc_se},
            },
        ),
        (
            "rate",
            "observed rate",
            {
                "value": r.observed_rate,
                "reference": r.predicted_rate,
                "low": r.predicted_rate - 3 * r.rate_se,
                "high": r.predicted_rate + 3 * r.rate_se,
                "detail": extra | {"z": r.z},
            },
        ),
        (
            "ece",
            "calibration error",
            {
                "value": r.ece,
                "reference": limits.get("ece_mean"),
                "high": r.ece_floor,
                "detail": extra,
            },
        ),
        (
            "brier",
            "Brier",
            {"value": r.brier, "reference": limits.get("brier_mean"), **spread, "detail": extra},
        ),
    ]
    out = []
    for subject, _, values in checks:
        if not info["judged"]:
            out.append((subject, "pending", _pending_words(r, info), values))
        elif subject in r.flags:
            out.append((subject, "alert", r.flags[subject], values))
        elif subject == "brier" and not values["low"] <= r.brier <= values["high"]:
            words = (
                f"Brier {r.brier:.4f} outside the backtest's {values['low']:.4f}-"
                f"{values['high']:.4f} (its level moves with the outcome rate)"
            )
            out.append((subject, "warn", words, values))
        else:
            out.append((subject, "ok", "", values))
    return out


def _pending_words(r: drift.Realised, info: dict) -> str:
    if info["matured_share"] < DEALS_MATURED and not info["final"]:
        return f"{info['matured_share']:.0%} of the deals scored have closed so far"
    return f"only {r.n} matured outcomes: too few to judge"


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value)}")


# ------------------------------------------------------------------------------ the run


def monitor_unlocked(
    con,
    settings: Settings,
    target: str,
    info: VersionInfo,
    reference: dict | None,
    thresholds: drift.Thresholds,
    as_of: pd.Timestamp | None,
) -> Day:
    """Read, check and weigh one target's day on an open warehouse connection."""
    from features.build import read_meta

    as_of = pd.Timestamp(as_of) if as_of is not None else latest_as_of(con, target)
    scored = scored_run(con, target, as_of)
    names = list((reference or {}).get("features", {}))
    features, source = day_features(con, target, as_of, names) if names else (None, None)
    day = check_day(target, as_of, info.version, reference, scored, features, thresholds)
    day.feature_source = source
    due = realised_due(con, target)
    end = data_end(con)
    if len(due) and end is not None:
        days = [pd.Timestamp(d) for d in due["as_of"] if pd.Timestamp(d) < end]
        if target == "churn":
            outcomes = churn_outcomes(con, days, read_meta(con), end)
        else:
            outcomes = deal_outcomes(con, target, days)
        matured = sorted(set(outcomes["as_of"]))
        if matured:
            served = served_predictions(con, target, matured)
            backtests = {
                v: tolerance(
                    _tags(settings, target, v, info), reference if v == info.version else None
                )
                for v in due["model_version"].astype(str).unique()
            }
            day.realised = realised_runs(due, served, outcomes, backtests, target, thresholds)
    stored = table.read_rows(con, target, ["realised"])
    realised = latest_judged(day, stored)
    trained = ((reference or {}).get("period") or {}).get("last_cutoff")
    labels = (trained, labelled_through(con, target))
    day.signal = drift.retrain_signal(day.features, day.score, realised, thresholds, labels)
    day.thresholds = thresholds.model_dump()
    return day


def _tags(settings: Settings, target: str, version: str, champion: VersionInfo) -> dict:
    if version == champion.version:
        return champion.tags
    from mlflow.exceptions import MlflowException

    from barometer.model.store import client, registered_name

    try:
        return dict(client(settings).get_model_version(registered_name(target), version).tags)
    except MlflowException:
        return {}


def run_monitor(
    settings: Settings,
    target: str,
    config: ExperimentConfig,
    as_of: pd.Timestamp | None = None,
    *,
    wait_seconds: float = 30.0,
    log_mlflow: bool = True,
) -> MonitorResult:
    """Monitor one target's scoring run (default: the latest) and record the results."""
    started = time.perf_counter()
    info = champion_version(settings, target)
    if info is None:
        raise NoChampionError(
            f"No {target} champion to monitor: run `barometer train --target {target}` and "
            f"`barometer promote --target {target}` first."
        )
    reference = load_reference(settings, info.run_id) if info.run_id else None
    while True:  # other writers hold the lock briefly: wait for them
        try:
            with write_lock(settings.home), connect(settings.warehouse_path) as con:
                day = monitor_unlocked(
                    con, settings, target, info, reference, config.monitoring, as_of
                )
                rows, replace = rows_of(day, datetime.now(UTC).replace(tzinfo=None))
                written = table.write_checks(con, rows, replace)
            break
        except WarehouseBusyError:
            if time.perf_counter() - started > wait_seconds:
                raise
            time.sleep(0.2)
    run_id = log_day(settings, info, day, rows) if log_mlflow else None
    return MonitorResult(day, written, run_id, time.perf_counter() - started)


# ------------------------------------------------------------------------------ MLflow


def log_day(settings: Settings, info: VersionInfo, day: Day, rows: pd.DataFrame) -> str:
    """The day's figures as metrics on the champion's monitoring run (created on first use as a
    child of its training run); realised figures at their own as-of date's step."""
    from mlflow.entities import Metric, RunStatus

    from barometer.model.store import client
    from training import lifecycle

    lifecycle.configure(settings)
    mc = client(settings)
    experiment = lifecycle.experiment_id(settings, day.target)
    key = "barometer.monitors_version"
    found = mc.search_runs(
        [experiment], filter_string=f"tags.`{key}` = '{info.version}'", max_results=1
    )
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {key: info.version, "barometer.kind": "monitoring"}
        if info.run_id:
            tags |= {"mlflow.parentRunId": info.run_id, "barometer.model_run_id": info.run_id}
        run_id = mc.create_run(
            experiment, run_name=f"monitor v{info.version}", tags=tags
        ).info.run_id
    metrics = [
        Metric(name, float(value), _millis(when), _step(when))
        for name, value, when in metric_values(day, rows)
        if value is not None and np.isfinite(value)
    ]
    for start in range(0, len(metrics), 1000):
        mc.log_batch(run_id, metrics=metrics[start : start + 1000])
    mc.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id


def metric_values(day: Day, rows: pd.DataFrame) -> list[tuple[str, float, pd.Timestamp]]:
    """(name, value, day) of every figure logged to MLflow."""
    out = []
    if day.features is not None:
        f = day.features
        out += [(f"drift.psi.{r.feature}", r.psi, day.as_of) for r in f.itertuples()]
        out += [
            ("drift.psi_max", f["psi"].max(), day.as_of),
            ("drift.alerts", float((f["status"] == "alert").sum()), day.as_of),
            ("drift.broken", float((f["status"] == "broken").sum()), day.as_of),
            (
                "drift.shifted_importance",
                f.loc[f["status"] == "alert", "importance"].sum(),
                day.as_of,
            ),
        ]
    if day.score is not None:
        out += [
            ("score.psi", day.score["psi"], day.as_of),
            ("score.mean", day.score["mean"], day.as_of),
        ]
        out += [(f"score.band.{b}", v, day.as_of) for b, v in day.score["bands"].items()]
    for as_of, _, r, _ in day.realised:
        out += [
            ("realised.roc_auc", r.roc_auc, as_of),
            ("realised.brier", r.brier, as_of),
            ("realised.ece", r.ece, as_of),
            ("realised.observed_rate", r.observed_rate, as_of),
            ("realised.predicted_rate", r.predicted_rate, as_of),
        ]
    if day.signal is not None:
        out += [
            ("signal.needs_retraining", float(day.signal.needs_retraining), day.as_of),
            ("signal.pipeline_broken", float(day.signal.pipeline_broken), day.as_of),
        ]
    return out


def _millis(day: pd.Timestamp) -> int:
    return int(pd.Timestamp(day).value // 1_000_000)


def _step(day: pd.Timestamp) -> int:
    """Days since 1970-01-01: MLflow orders a metric's history by step."""
    return int(pd.Timestamp(day).value // 86_400_000_000_000)

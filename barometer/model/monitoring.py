"""The `monitoring` table: what `barometer monitor` found about each champion, one row per check
per day. `training.monitor` writes it; the service reads it (serving never imports `training`).

- `target`: `churn` / `deal_win`;
- `as_of`: the day checked, the scoring run's as-of date (realised rows: the day the predictions
  were served);
- `kind`: `feature`, `score`, `band`, `realised` or `signal`;
- `subject`: the feature; `probability` (score); the band's name; `roc_auc`, `rate`, `ece` or
  `brier` (realised); `retrain` (signal);
- `model_version`: the champion checked (realised rows: the version that served the predictions);
- `status`: `ok`, `warn`, `alert`, `broken` (a feature stopped arriving), `pending` (too few
  outcomes yet); signal rows: `ok`, `watch`, `retrain` or `broken`;
- `value`, `reference`: the measure now and in the reference: the PSI (feature, score), the share
  (band), the realised metric against the backtest's (`rate`: observed against predicted);
- `low`, `high`: the tolerance: the backtest's 95% interval (roc_auc), the predicted rate ± three
  binomial standard errors (rate), a calibrated model's noise floor (ece, `high`), the backtest's
  mean ± 1.96 std (brier);
- `n`: rows compared (realised: matured predictions);
- `reason`: why the status, in words;
- `detail`: JSON with every other measure (null rates, Wasserstein distance, out-of-range share,
  importance; positives, matured share; the signal's reasons and notes);
- `monitored_at`: when `barometer monitor` wrote the row (naive UTC).

A monitor run replaces its day's rows of each kind it checked (and realised rows it recomputed)
in one transaction, so readers see a whole run or the previous one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

TABLE = "monitoring"
TYPES = {
    "target": "varchar not null",
    "as_of": "timestamp not null",
    "kind": "varchar not null",
    "subject": "varchar not null",
    "model_version": "varchar",
    "status": "varchar not null",
    "value": "double",
    "reference": "double",
    "low": "double",
    "high": "double",
    "n": "bigint",
    "reason": "varchar",
    "detail": "varchar",
    "monitored_at": "timestamp not null",
}
COLUMNS = tuple(TYPES)
KINDS = ("feature", "score", "band", "realised", "signal")
SEVERITY = {"broken": 0, "alert": 1, "retrain": 1, "warn": 2, "watch": 2, "pending": 3, "ok": 4}

# The retrain signal's verdict in words, one per status: the dashboard's headline and the line
# `barometer monitor` prints.
SIGNAL_WORDS = {
    "broken": "A data pipeline is broken",
    "retrain": "Needs retraining",
    "watch": "Watch: something moved; no retraining called for yet (see the notes)",
    "ok": "No drift, and performance as backtested",
}


def _exists(con) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema='main' and table_name=?",
        [TABLE],
    ).fetchone()
    return bool(row and row[0])


def ensure_table(con) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in TYPES.items())
    con.execute(f"create table if not exists {TABLE} ({columns})")


def write_checks(con, rows: pd.DataFrame, replace: Iterable[tuple[str, object, str]]) -> int:
    """Replace the `(target, as_of, kind)` groups in `replace` with `rows`, in one transaction."""
    ensure_table(con)
    frame = rows.reindex(columns=list(COLUMNS))
    con.execute("begin transaction")
    try:
        for target, as_of, kind in dict.fromkeys(replace):
            con.execute(
                f"delete from {TABLE} where target = ? and as_of = ? and kind = ?",
                [target, pd.Timestamp(as_of).to_pydatetime(), kind],
            )
        con.register("_monitoring_rows", frame)
        names = ", ".join(COLUMNS)
        con.execute(f"insert into {TABLE} ({names}) select {names} from _monitoring_rows")
        con.unregister("_monitoring_rows")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(frame)


def read_rows(con, target: str | None = None, kinds: Iterable[str] | None = None) -> pd.DataFrame:
    """The table's rows (of one target, of some kinds), oldest day first; empty without a table."""
    if not _exists(con):
        return pd.DataFrame(columns=list(COLUMNS))
    where, params = [], []
    if target is not None:
        where.append("target = ?")
        params.append(target)
    if kinds is not None:
        kinds = list(kinds)
        where.append(f"kind in ({', '.join('?' for _ in kinds)})")
        params += kinds
    sql = f"select * from {TABLE}" + (f" where {' and '.join(where)}" if where else "")
    return con.execute(sql + " order by as_of, kind, subject", params).df()


def marker(con) -> tuple:
    """Changes whenever a monitor run writes."""
    if not _exists(con):
        return ()
    return tuple(con.execute(f"select count(*), max(monitored_at) from {TABLE}").fetchone())


# ------------------------------------------------------------------------------ what people see


def detail(value) -> dict:
    """A row's `detail` JSON as a dict ({} when empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return {}
    return json.loads(value)


def _clean(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _record(row: pd.Series) -> dict:
    out = {k: _clean(v) for k, v in row.items() if k != "detail"}
    return out | {k: _clean(v) for k, v in detail(row.get("detail")).items()}


def signal_for(rows: pd.DataFrame, version: str | None) -> dict | None:
    """The latest retrain signal written for the champion `version`, or None: a newly promoted
    champion has none until the next `barometer monitor` (so `make retrain` clears it)."""
    found = rows[(rows["kind"] == "signal") & (rows["model_version"].astype(str) == str(version))]
    if found.empty:
        return None
    latest = found.sort_values(["as_of", "monitored_at"]).iloc[-1]
    record = _record(latest)
    return {
        "status": record["status"],
        "needs_retraining": bool(record.get("needs_retraining", False)),
        "pipeline_broken": bool(record.get("pipeline_broken", False)),
        "reasons": list(record.get("reasons") or []),
        "notes": list(record.get("notes") or []),
        "as_of": record["as_of"],
        "monitored_at": record["monitored_at"],
        "model_version": str(record["model_version"]),
        "thresholds": record.get("thresholds") or {},
    }


def target_view(rows: pd.DataFrame, version: str | None) -> dict:
    """One target's monitoring as the service shows it: the champion's retrain signal, the latest
    day's feature drift (worst first, then by importance), score drift and band shares, realised
    performance by as-of date, and the drift of each day checked."""
    rows = rows.sort_values(["as_of", "monitored_at"], kind="stable")
    checked = rows[rows["kind"].isin(("feature", "score"))]
    latest = checked["as_of"].max() if len(checked) else None
    day = rows[rows["as_of"] == latest] if latest is not None else rows.iloc[0:0]
    features = [_record(r) for _, r in day[day["kind"] == "feature"].iterrows()]
    features.sort(
        key=lambda f: (SEVERITY.get(f["status"], 9), -(f.get("importance") or 0.0), f["subject"])
    )
    score = day[day["kind"] == "score"]
    bands = [_record(r) for _, r in day[day["kind"] == "band"].iterrows()]
    bands.sort(key=lambda b: b.get("order", 0))
    return {
        "signal": signal_for(rows, version),
        "as_of": _clean(latest),
        "features": features,
        "score": _record(score.iloc[-1]) if len(score) else None,
        "bands": bands,
        "realised": realised_series(rows),
        "drift_history": drift_history(rows),
    }


def realised_series(rows: pd.DataFrame) -> list[dict]:
    """Realised performance per as-of date, oldest first: one dict with each metric's row."""
    found = rows[rows["kind"] == "realised"]
    out = []
    for as_of, day in found.groupby("as_of", sort=True):
        entry: dict = {"as_of": _clean(as_of)}
        for _, row in day.iterrows():
            entry[row["subject"]] = _record(row)
        first = day.iloc[0]
        entry["model_version"] = str(first["model_version"])
        entry["n"] = _clean(first["n"])
        entry["status"] = min(day["status"], key=lambda s: SEVERITY.get(s, 9))
        out.append(entry)
    return out


def drift_history(rows: pd.DataFrame) -> list[dict]:
    """Per day checked: the largest feature PSI, the features per status and the score PSI."""
    out = []
    for as_of, day in rows[rows["kind"].isin(("feature", "score"))].groupby("as_of", sort=True):
        features, score = day[day["kind"] == "feature"], day[day["kind"] == "score"]
        counts = features["status"].value_counts()
        out.append(
            {
                "as_of": _clean(as_of),
                "max_psi": _clean(features["value"].max()) if len(features) else None,
                "alerts": int(counts.get("alert", 0)),
                "broken": int(counts.get("broken", 0)),
                "warnings": int(counts.get("warn", 0)),
                "score_psi": _clean(score["value"].iloc[-1]) if len(score) else None,
            }
        )
    return out

"""The Models page's monitoring section, shaped from a target's monitoring view
(`barometer.model.monitoring.target_view`, read by `serving.monitoring`): the retrain signal,
feature drift with its chart, score drift with band shares then and now, and realised performance
over time against the backtest's interval. Pure: view in, words, rows and SVG out."""

from __future__ import annotations

from barometer.model.monitoring import SIGNAL_WORDS
from serving.dashboard import svg

SHOWN_FEATURES = 12  # features in the drift chart and table (the worst, then the most important)
HEADLINES = SIGNAL_WORDS | {"unknown": "Not monitored yet"}


def date(value) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d}"


def panel(view: dict | None, target: str, version: str) -> dict:
    """Everything the template shows for one champion."""
    if view is None:
        return {
            "status": "unknown",
            "headline": HEADLINES["unknown"],
            "why": [f"Run `barometer monitor --target {target}` after a scoring run."],
            "notes": [],
        }
    signal = view["signal"]
    out = {"as_of": date(view["as_of"]), "version": version}
    if signal is None:
        out |= {
            "status": "unknown",
            "headline": HEADLINES["unknown"],
            "why": [
                f"v{version} has not been monitored since it became champion: run "
                f"`barometer monitor --target {target}`."
            ],
            "notes": [],
        }
        thresholds = {}
    else:
        out |= {
            "status": signal["status"],
            "headline": HEADLINES[signal["status"]],
            "why": signal["reasons"],
            "notes": signal["notes"],
            "checked": date(signal["as_of"]),
            "monitored_at": f"{signal['monitored_at']:%Y-%m-%d %H:%M}",
        }
        thresholds = signal.get("thresholds") or {}
    out |= features_part(view, target, thresholds)
    out |= score_part(view, target)
    out |= realised_part(view, target)
    return out


def features_part(view: dict, target: str, thresholds: dict) -> dict:
    features = view["features"]
    if not features:
        return {"features": [], "feature_counts": {}, "drift_chart": None}
    shown = features[:SHOWN_FEATURES]
    names = (("psi_warn", "moved"), ("psi_alert", "shifted"))
    lines = [(thresholds[k], w) for k, w in names if thresholds.get(k) is not None]
    chart = svg.threshold_bars(
        [(f["subject"], f["value"], f["status"]) for f in shown if f.get("value") is not None],
        f"{target}: population stability index of each feature on {date(view['as_of'])}, "
        "against the champion's test period",
        lines,
        axis="PSI (square-root scale)",
    )
    counts = {s: sum(f["status"] == s for f in features) for s in ("broken", "alert", "warn", "ok")}
    return {"features": shown, "feature_counts": counts, "drift_chart": chart}


def score_part(view: dict, target: str) -> dict:
    score, bands = view["score"], view["bands"]
    if score is None:
        return {"score": None, "band_chart": None}
    chart = svg.paired_bars(
        [(b["subject"], b.get("reference"), b["value"]) for b in bands],
        f"{target}: share of scores in each band, test period against {date(view['as_of'])}",
        ("test period", "now"),
    )
    return {"score": score, "band_chart": chart}


def realised_part(view: dict, target: str) -> dict:
    runs = view["realised"]
    if not runs:
        return {"realised": [], "auc_chart": None, "rate_chart": None}
    labels = [date(r["as_of"]) for r in runs]

    def pick(subject: str, key: str) -> list:
        return [(r.get(subject) or {}).get(key) for r in runs]

    auc_chart = svg.interval_line(
        labels,
        [("realised ROC AUC", pick("roc_auc", "value"), "main")],
        f"{target}: ROC AUC of the predictions served on each day, once their outcomes matured, "
        "against the backtest's 95% interval",
        band=(pick("roc_auc", "low"), pick("roc_auc", "high")),
        band_name="backtest 95% interval",
    )
    rate_chart = svg.interval_line(
        labels,
        [
            ("observed rate", pick("rate", "value"), "main"),
            ("predicted rate", pick("rate", "reference"), "second"),
        ],
        f"{target}: outcome rate observed against the rate predicted, by day served",
        band=(pick("rate", "low"), pick("rate", "high")),
        band_name="predicted ± 3 standard errors",
        percent=True,
    )
    rows = [
        {
            "as_of": date(r["as_of"]),
            "version": r["model_version"],
            "n": r["n"],
            "status": r["status"],
            "roc_auc": r.get("roc_auc") or {},
            "rate": r.get("rate") or {},
            "ece": r.get("ece") or {},
            "brier": r.get("brier") or {},
        }
        for r in reversed(runs)
    ]
    return {"realised": rows, "auc_chart": auc_chart, "rate_chart": rate_chart}

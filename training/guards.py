"""Guards: refuse too few labels, warn about leaky features, refuse models that lose."""

from __future__ import annotations

import pandas as pd

from training.config import GuardConfig

# Why these minimums (also in experiments/README.md): every backtest fold needs both classes in its
# holdout slice (to calibrate) and its test window (to measure). With fewer than ~100 of the rarer
# class spread over the history, a three-fold backtest leaves ~10-20 per test window, where the
# AUC's standard error exceeds 0.05 and isotonic calibration overfits. The learning curve, not
# this floor, tells a user whether more history would help.


class GuardError(RuntimeError):
    """Training refused, with the reason in words."""


def check_label_counts(frame: pd.DataFrame, guards: GuardConfig, target: str) -> dict[str, int]:
    """Refuse when there are fewer positives or negatives than the configured minimums."""
    positives = int((frame["label"] == 1).sum())
    negatives = int((frame["label"] == 0).sum())
    problems = []
    if positives < guards.min_positives:
        problems.append(f"{positives} positive labels (minimum {guards.min_positives})")
    if negatives < guards.min_negatives:
        problems.append(f"{negatives} negative labels (minimum {guards.min_negatives})")
    if problems:
        raise GuardError(
            f"Refusing to train {target}: only {' and '.join(problems)}. A backtest needs both "
            "classes in every fold's holdout and test window; add history or lower "
            "guards.min_positives/min_negatives in the experiment config if you accept wider "
            "error bars."
        )
    return {"positives": positives, "negatives": negatives}


def leaky_features(report: pd.DataFrame) -> list[str]:
    """Features the data-quality report flags as suspiciously predictive."""
    if report.empty or "flags" not in report.columns:
        return []
    name = "feature" if "feature" in report.columns else report.index.name
    rows = report.reset_index() if name == report.index.name else report
    flagged = rows["flags"].map(lambda f: "suspiciously_predictive" in str(f))
    return sorted(rows.loc[flagged, name or "index"].astype(str).tolist())


def leakage_message(names: list[str], target: str) -> str:
    return (
        f"Possible leakage for {target}: {', '.join(names)} predict the label almost on their "
        "own. Check they are known before the cutoff (e.g. rep notes or status fields written "
        "after the outcome) and add them to `exclude` in the experiment config if not."
    )


def check_beats_baselines(
    summary: pd.DataFrame, margin: float, model: str = "model", auc_ci_low: float | None = None
) -> list[str]:
    """Reasons the model fails to beat every baseline on backtest mean ROC AUC and log loss.

    `auc_ci_low` (bootstrap lower bound over the backtest's pooled test predictions) must also
    exceed 0.5: skill that cannot be told apart from chance is not claimed.
    """
    reasons = []
    if auc_ci_low is not None and not auc_ci_low > 0.5:
        reasons.append(
            f"backtest ROC AUC 95% CI reaches {auc_ci_low:.3f}: not distinguishable from chance"
        )
    auc = summary.loc[model, "roc_auc_mean"]
    for name in summary.index.drop(model):
        other = summary.loc[name, "roc_auc_mean"]
        if not auc > other + margin:
            reasons.append(
                f"backtest ROC AUC {auc:.3f} does not beat {name} ({other:.3f}) by {margin:.3f}"
            )
    if "base_rate" in summary.index:
        ll, base = summary.loc[model, "log_loss_mean"], summary.loc["base_rate", "log_loss_mean"]
        if not ll < base:
            reasons.append(f"log loss {ll:.4f} is no better than the base rate's ({base:.4f})")
    return reasons

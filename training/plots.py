"""Report plots: ROC, PR, reliability, lift, learning curve, SHAP summary.

Figures are built with matplotlib's object API (`Figure` drawn by the Agg canvas), not pyplot:
no global figure state to close, no GUI backend to choose, and pyplot's import is skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve


def _subplots(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def roc_plot(predictions: pd.DataFrame, scorers: list[str], path: Path) -> Path:
    fig, ax = _subplots((5, 5))
    y = predictions["label"].to_numpy()
    for name in scorers:
        fpr, tpr, _ = roc_curve(y, predictions[name])
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC (test period)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def pr_plot(predictions: pd.DataFrame, scorers: list[str], path: Path) -> Path:
    fig, ax = _subplots((5, 5))
    y = predictions["label"].to_numpy()
    for name in scorers:
        precision, recall, _ = precision_recall_curve(y, predictions[name])
        ax.plot(recall, precision, label=name)
    ax.axhline(y.mean(), ls=":", color="grey")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall (test period)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def reliability_plot(table: pd.DataFrame, path: Path) -> Path:
    fig, ax = _subplots((5, 5))
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.scatter(table["predicted"], table["observed"], s=np.sqrt(table["count"]) * 4)
    ax.plot(table["predicted"], table["observed"])
    ax.set(xlabel="Predicted probability", ylabel="Observed rate", title="Reliability")
    return _save(fig, path)


def lift_plot(table: pd.DataFrame, path: Path) -> Path:
    fig, ax = _subplots((5, 4))
    ax.bar(table["fraction"] * 100, table["capture"] * 100, width=8)
    ax.plot([0, 100], [0, 100], ":", color="grey")
    ax.set(xlabel="Top % by score", ylabel="% of positives captured", title="Cumulative capture")
    return _save(fig, path)


def learning_curve_plot(table: pd.DataFrame, path: Path) -> Path:
    fig, ax = _subplots((5, 4))
    ax.plot(table["train_rows"], table["roc_auc"], marker="o")
    ax.set(
        xlabel="Training rows (most recent history)", ylabel="Test ROC AUC", title="Learning curve"
    )
    return _save(fig, path)


def shap_summary_plot(log_odds: pd.DataFrame, path: Path, top: int = 15) -> Path:
    """Mean |SHAP| per feature (log-odds), the top `top` features."""
    importance = log_odds.abs().mean().sort_values().tail(top)
    fig, ax = _subplots((6, 0.3 * len(importance) + 1.5))
    ax.barh(importance.index, importance.to_numpy())
    ax.set(xlabel="mean |SHAP| (log-odds)", title="Feature impact (test period)")
    return _save(fig, path)

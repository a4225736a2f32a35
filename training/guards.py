"""Guards: refuse too few labels, warn about leaky features, choose the model that wins honestly."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from training.config import GuardConfig

# Why these minimums (also in experiments/README.md): every backtest fold needs both classes in its
# calibration slice and its test window. Below ~30 rows of the rarer class there is nothing to
# split; above it, the backtest's confidence interval (over entities) says how much the estimate
# can be trusted, and the choice refuses only a model that cannot be told apart from the base rate.


class GuardError(RuntimeError):
    """Training refused, with the reason in words."""


class TooFewPositives(GuardError):
    """Too few distinct entities with a positive label: `count` seen, `need` required."""

    def __init__(self, message: str, count: int, need: int) -> None:
        super().__init__(message)
        self.count, self.need = count, need


# What a positive and a negative label are, counted per entity, in a manager's words.
POSITIVE_ENTITIES = {
    "churn": "churned accounts",
    "deal_win": "won deals",
    "rep_attrition": "departures",
}
NEGATIVE_ENTITIES = {
    "churn": "accounts that stayed",
    "deal_win": "lost deals",
    "rep_attrition": "reps who stayed",
}


def check_positive_entities(
    frame: pd.DataFrame, guards: GuardConfig, target: str, entity: str | None
) -> int:
    """Refuse when fewer distinct entities than `guards.min_positive_entities` have a positive
    label, or a negative one: one rep who leaves is positive at several cutoffs, but it is one
    departure, and a deal's snapshots are one lost deal. Returns the positive entities."""
    if not guards.min_positive_entities or entity is None or entity not in frame:
        return 0
    need = guards.min_positive_entities
    counts = {}
    for label, nouns in ((1, POSITIVE_ENTITIES), (0, NEGATIVE_ENTITIES)):
        count = counts[label] = int(frame.loc[frame["label"] == label, entity].nunique())
        if count < need:
            noun = nouns.get(target, "entities of one class")
            raise TooFewPositives(
                f"Not enough {noun} to learn from ({count}; need {need}). "
                f"No {target.replace('_', ' ')} model is "
                "trained until the history holds more.",
                count,
                need,
            )
    return counts[1]


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


@dataclass
class Choice:
    """Which candidate the backtest picked, by how much, or why none is registered."""

    winner: str | None
    refusals: list[str] = field(default_factory=list)
    runner_up: str | None = None
    margin: float | None = None  # winner's backtest AUC minus the runner-up's (the best other
    # candidate that beats the base rate, else the best other one)
    notes: list[str] = field(default_factory=list)
    runner_up_eligible: bool = True

    def words(self, summary: pd.DataFrame) -> str:
        if self.winner is None:
            return "no model registered: " + "; ".join(self.refusals)
        auc = summary.loc[self.winner, "roc_auc_mean"]
        text = f"{self.winner} won with backtest ROC AUC {auc:.3f}"
        if self.runner_up is not None:
            other = summary.loc[self.runner_up, "roc_auc_mean"]
            text += f", {self.margin:+.3f} against {self.runner_up} ({other:.3f}"
            if not self.runner_up_eligible:
                text += ", which does not beat the base rate"
            elif self.margin < 0:
                text += ", within min_auc_margin: the simpler model is kept"
            text += ")"
        return text


def base_rate_problems(summary: pd.DataFrame, kind: str, ci_low: float) -> list[str]:
    """Why `kind` does not beat the base rate (empty when it does): its backtest ROC AUC's CI
    must lie above 0.5 and its mean log loss below the base rate's."""
    problems = []
    if not ci_low > 0.5:
        problems.append(
            f"backtest ROC AUC {summary.loc[kind, 'roc_auc_mean']:.3f} with its CI reaching "
            f"{ci_low:.3f}"
        )
    if "base_rate" in summary.index:
        ll, base = summary.loc[kind, "log_loss_mean"], summary.loc["base_rate", "log_loss_mean"]
        if not ll < base:
            problems.append(f"log loss {ll:.4f} against the base rate's {base:.4f}")
    return problems


def choose_model(
    summary: pd.DataFrame,
    candidates: list[str],
    auc_ci_low: dict[str, float],
    margin: float,
) -> Choice:
    """The candidate to register: it must beat the base rate, and the simplest one within
    `margin` of the best backtest AUC wins (`candidates` are ordered simplest first).

    Beating the base rate: the backtest ROC AUC's CI (bootstrap over entities; 95%, widened
    for the number of candidates by the caller) lies above 0.5 and the mean log loss is below
    the base rate's. If no candidate does, nothing is registered and the reasons say so.
    """
    auc = summary["roc_auc_mean"]
    eligible, why = [], []
    for kind in candidates:
        problems = base_rate_problems(summary, kind, auc_ci_low.get(kind, float("nan")))
        if problems:
            why.append(f"{kind}: {' and '.join(problems)}")
        else:
            eligible.append(kind)
    if not eligible:
        return Choice(None, [f"nothing beats the base rate ({'; '.join(why)})"])
    best = max(auc[k] for k in eligible)
    winner = next(k for k in candidates if k in eligible and auc[k] >= best - margin)
    others = [k for k in eligible if k != winner] or [k for k in candidates if k != winner]
    runner_up = max(others, key=lambda k: auc[k]) if others else None
    gap = float(auc[winner] - auc[runner_up]) if runner_up else None
    notes = []
    if "recency_frequency" in summary.index and not auc[winner] > auc["recency_frequency"]:
        notes.append(
            f"the recency/frequency heuristic ranks as well ({auc['recency_frequency']:.3f}) as "
            f"{winner} ({auc[winner]:.3f})"
        )
    return Choice(
        winner,
        [],
        runner_up,
        gap,
        notes + [f"not eligible: {w}" for w in why],
        runner_up in eligible,
    )

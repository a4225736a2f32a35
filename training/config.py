"""Model configs: versioned YAML under `experiments/`, validated into pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from barometer.model.store import REGISTERED_NAMES
from barometer.settings import EXPERIMENTS_DIR
from features.label_config import ChurnLabels, read_yaml_model
from training.drift import Thresholds

Target = Literal["churn", "deal_win", "rep_attrition"]
TARGETS: tuple[str, ...] = ("churn", "deal_win", "rep_attrition")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(Strict):
    """How cutoffs are split by time: [train] gap [holdout] gap [test], sized to the history.

    `training.splits.plan_split` derives the windows and the number of folds from the labelled
    cutoffs that exist; the numbers here are targets and limits, not requirements.
    """

    test_cutoffs: int | None = Field(
        None, ge=1, description="Cutoffs per test window; default about a quarter of cutoffs."
    )
    holdout_cutoffs: int | None = Field(
        None, ge=1, description="Calibration window after train; default about a quarter."
    )
    folds: int = Field(3, ge=1, description="At most this many rolling-origin backtest folds.")
    fold_step: int | None = Field(
        None, ge=1, description="Cutoffs the origin moves back per fold; default test_cutoffs."
    )
    holdout: Literal["auto", "time", "entity", "none"] = Field(
        "auto",
        description="Calibration slice: its own later window (time), other entities of the "
        "same cutoffs (entity), or a holdout-only estimate (none); auto tries them in order.",
    )
    min_labelled_cutoffs: int = Field(
        4, ge=1, description="Refuse to train with fewer labelled cutoffs than this."
    )


class LightGBMConfig(Strict):
    """LightGBM parameters; early stopping picks the number of rounds on the holdout slice."""

    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_data_in_leaf: int = Field(40, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    max_rounds: int = Field(600, ge=1)
    early_stopping_rounds: int = Field(40, ge=1)
    num_threads: int = Field(2, ge=1)
    seed: int = 7
    monotone: dict[str, Literal[1, -1]] = Field(
        default_factory=dict,
        description="Features whose effect may only raise (1) or lower (-1) the outcome.",
    )


class ImbalanceConfig(Strict):
    """`balanced` weights positives up in training; calibration afterwards undoes the shift."""

    strategy: Literal["none", "balanced"] = "none"
    max_weight: float = Field(10.0, ge=1)


class TuningConfig(Strict):
    """Optional optuna search, bounded by trials and wall time."""

    enabled: bool = False
    trials: int = Field(20, ge=1)
    time_budget_s: float = Field(120.0, gt=0)


class GuardConfig(Strict):
    """Refusals and warnings. See experiments/README.md for why the minimums are what they are."""

    min_positives: int = Field(30, ge=1)
    min_negatives: int = Field(30, ge=1)
    min_positive_entities: int = Field(
        0,
        ge=0,
        description="Distinct entities with a positive label needed (e.g. reps who left); "
        "0 checks rows only.",
    )
    min_auc_margin: float = Field(
        0.01,
        ge=0,
        description="A more complex candidate (lightgbm over logistic over bgnbd) is chosen only "
        "if its backtest AUC is higher by this much.",
    )
    leakage: Literal["warn", "fail"] = "warn"
    leakage_auc: float = Field(
        0.9, gt=0.5, le=1, description="Single-feature AUC from which a feature is called leaky."
    )


class HeuristicConfig(Strict):
    """The recency/frequency heuristic baseline: columns and which way raises the outcome.

    `recency` and `frequency` each name a column or a list of them; the heuristic uses the first
    that tells the training rows apart (touch columns on a CRM log, purchase columns on a
    purchase log)."""

    recency: str | list[str] | None = None
    frequency: str | list[str] | None = None
    recency_direction: Literal[1, -1] = 1
    frequency_direction: Literal[1, -1] = -1

    @property
    def recency_columns(self) -> tuple[str, ...]:
        return _names(self.recency)

    @property
    def frequency_columns(self) -> tuple[str, ...]:
        return _names(self.frequency)


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class BGNBDConfig(Strict):
    """BG/NBD as a candidate, on the purchase-log features (days with usage or a purchase, days
    since the first and the last); it runs only when the data has usage or purchases."""

    enabled: bool = False


class ReportConfig(Strict):
    segment_columns: tuple[str, ...] = ()
    stage_column: str | None = None
    value_column: str | None = Field(None, description="ARR for churn capture.")
    bootstrap: int = Field(200, ge=10)
    learning_curve_fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


class PromotionConfig(Strict):
    metric: Literal["roc_auc", "pr_auc", "log_loss", "brier"] = "roc_auc"
    margin: float = Field(0.0, ge=0)


class ExperimentConfig(Strict):
    """One model's training recipe."""

    target: Target
    description: str = ""
    features: tuple[str, ...] | None = Field(
        None, description="Feature columns; default every registry feature for the entity."
    )
    exclude: tuple[str, ...] = ()
    labels: ChurnLabels | None = Field(
        None,
        description="churn only: what churn means (read by `barometer features`, which builds "
        "the labels; features.label_config.ChurnLabels).",
    )
    split: SplitConfig = SplitConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    imbalance: ImbalanceConfig = ImbalanceConfig()
    calibration: tuple[Literal["platt", "isotonic"], ...] = ("platt", "isotonic")
    tuning: TuningConfig = TuningConfig()
    guards: GuardConfig = GuardConfig()
    heuristic: HeuristicConfig = HeuristicConfig()
    bgnbd: BGNBDConfig = BGNBDConfig()
    report: ReportConfig = ReportConfig()
    promotion: PromotionConfig = PromotionConfig()
    monitoring: Thresholds = Field(
        Thresholds(),
        description="`barometer monitor`: when drift and realised performance warn, alert and "
        "mark the target as needing retraining (training.drift.Thresholds).",
    )

    @model_validator(mode="after")
    def _calibration_not_empty(self) -> ExperimentConfig:
        if not self.calibration:
            raise ValueError("calibration: list at least one of platt, isotonic")
        if self.labels is not None and self.target != "churn":
            raise ValueError("labels: only the churn config defines its labels")
        return self

    @property
    def registered_name(self) -> str:
        return REGISTERED_NAMES[self.target]


def default_config_path(target: str) -> Path:
    return EXPERIMENTS_DIR / f"{target}.yaml"


def load_config(path: Path) -> ExperimentConfig:
    """Read and validate a YAML config; errors name the file and the field."""
    return read_yaml_model(path, ExperimentConfig)


def resolve_config(target: str, path: Path | None) -> ExperimentConfig:
    """The experiment config at `path` (default: the target's shipped one), checked to be the
    target's."""
    config = load_config(path or default_config_path(target))
    if config.target != target:
        raise ValueError(f"{path}: config is for target {config.target!r}, not {target!r}.")
    return config

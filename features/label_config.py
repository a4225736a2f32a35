"""What churn means, as configured and as resolved for one data set: the `labels:` block of
`experiments/churn.yaml` (`ChurnLabels`) and the concrete definition a build used
(`ResolvedChurn`); plus the YAML reader every experiment config goes through.

Kept apart from the label queries (`features.labels`) so that reading a config loads pydantic
and YAML only, not the query engine: `barometer train` and `evaluate` read it on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from barometer.settings import EXPERIMENTS_DIR

ChurnDefinition = Literal["explicit", "inactivity", "no_activity"]
DEFINITIONS: tuple[str, ...] = ("explicit", "inactivity", "no_activity")
CHURN_CONFIG = EXPERIMENTS_DIR / "churn.yaml"


class ChurnLabels(BaseModel):
    """What churn means: the `labels:` block of `experiments/churn.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    definition: Literal["auto", "explicit", "inactivity", "no_activity"] = Field(
        "auto",
        description="auto: explicit when churn dates or churn events were ingested, otherwise "
        "no_activity.",
    )
    horizon_days: int = Field(90, gt=0, description="A churn counts if it happens this soon.")
    inactive_days: int = Field(60, gt=0, description="inactivity: a silence this long is churn.")
    activity_types: tuple[str, ...] | None = Field(
        None,
        description="Activity types that count as activity (inactivity, no_activity); default "
        "usage and purchase when any were ingested, otherwise every type.",
    )


def read_yaml_model(path: Path, model: type[BaseModel], block: str | None = None):
    """A YAML file, or one top-level `block` of it, validated into `model`; errors name the file
    and the field (the experiment configs are read this way, by `training.config` too)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Experiment config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if block is not None:
        data = (data.get(block) if isinstance(data, dict) else None) or {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = [block] if block else []
        problems = "; ".join(
            f"{'.'.join(str(p) for p in [*prefix, *err['loc']])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"{path}: invalid experiment config: {problems}") from exc


def read_churn_labels(path: Path | None = None) -> ChurnLabels:
    """The `labels:` block of an experiment YAML (default `experiments/churn.yaml`)."""
    return read_yaml_model(Path(path or CHURN_CONFIG), ChurnLabels, "labels")


@dataclass(frozen=True)
class ResolvedChurn:
    """A concrete churn definition, as built and stored with the features and the model."""

    definition: ChurnDefinition
    horizon_days: int
    inactive_days: int
    activity_types: tuple[str, ...]
    why: str  # how it was chosen, in words

    def types_words(self) -> str:
        """The activity types that count, as a list a reader can follow: "call, email"."""
        return ", ".join(t.replace("_", " ") for t in self.activity_types) or "any type"

    def describe(self) -> str:
        words = {
            "explicit": "recorded churn dates (churned_at, churn events)",
            "inactivity": f"{self.inactive_days} days without activity ({self.types_words()})",
            "no_activity": f"no activity ({self.types_words()}) in the horizon",
        }[self.definition]
        return (
            f"churn = {self.definition}: {words} within {self.horizon_days} days of the cutoff "
            f"({self.why})"
        )

    def as_dict(self) -> dict:
        return {
            "definition": self.definition,
            "horizon_days": self.horizon_days,
            "inactive_days": self.inactive_days,
            "activity_types": list(self.activity_types),
            "chosen_because": self.why,
        }

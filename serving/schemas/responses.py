"""What clients get back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

FeatureValue = float | int | bool | str | None
Band = Literal["high", "medium", "low"]


class Contribution(BaseModel):
    """One reason: the feature, its value, and the probability points it adds (+) or removes (−)."""

    feature: str
    family: str | None = None
    value: FeatureValue = None
    points: float
    sentence: str


class ChangeReason(BaseModel):
    feature: str
    family: str | None = None
    value: FeatureValue = None
    previous_value: FeatureValue = None
    points_change: float
    sentence: str


class ScoreChange(BaseModel):
    """The change since the previous scoring and what moved it."""

    previous_as_of: datetime
    previous_probability: float
    previous_model_version: str | None = None
    change: float
    reasons: list[ChangeReason]


class ScoreBase(BaseModel):
    as_of: datetime
    probability: float
    band: Band
    percentile: float | None = None
    model_version: str
    base_probability: float | None = None
    reasons: list[str]
    contributions: list[Contribution]
    change: ScoreChange | None = None
    segment: str | None = None
    owner_rep_id: str | None = None
    team: str | None = None
    live: bool = False


class ChurnRisk(ScoreBase):
    account_id: str
    arr: float | None = None
    arr_at_risk: float | None = None


class WinProbability(ScoreBase):
    opportunity_id: str
    account_id: str | None = None
    stage: str | None = None
    amount: float | None = None
    expected_value: float | None = None


class AccountItem(BaseModel):
    account_id: str
    probability: float
    band: Band
    percentile: float | None = None
    arr: float | None = None
    arr_at_risk: float | None = None
    segment: str | None = None
    owner_rep_id: str | None = None
    team: str | None = None
    top_reason: str | None = None
    as_of: datetime
    model_version: str


class OpportunityItem(BaseModel):
    opportunity_id: str
    account_id: str | None = None
    probability: float
    band: Band
    percentile: float | None = None
    amount: float | None = None
    expected_value: float | None = None
    stage: str | None = None
    segment: str | None = None
    owner_rep_id: str | None = None
    team: str | None = None
    top_reason: str | None = None
    as_of: datetime
    model_version: str


class AccountPage(BaseModel):
    items: list[AccountItem]
    next_cursor: str | None = None
    total: int


class OpportunityPage(BaseModel):
    items: list[OpportunityItem]
    next_cursor: str | None = None
    total: int


class RowScore(BaseModel):
    id: str | None = None
    probability: float
    band: Band
    base_probability: float
    reasons: list[str]
    contributions: list[Contribution]


class BatchScores(BaseModel):
    target: str
    model_version: str
    results: list[RowScore]


class ChangedFeature(BaseModel):
    feature: str
    before: FeatureValue = None
    after: FeatureValue = None


class WhatIfResult(BaseModel):
    target: str
    entity_id: str
    model_version: str
    probability_before: float
    probability_after: float
    change: float
    changed: list[ChangedFeature]
    caveat: str


class ModelInfo(BaseModel):
    target: str
    version: str
    loaded_at: datetime
    n_features: int
    metrics: dict[str, float]


class Models(BaseModel):
    generation: int
    models: list[ModelInfo]
    errors: dict[str, str]


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    models: dict[str, str]
    missing: dict[str, str]
    scores: dict[str, int]


class Problem(BaseModel):
    """Every error body: a message and, for 422, field-level errors."""

    detail: str
    errors: list[dict] | None = None

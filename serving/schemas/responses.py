"""What clients get back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

FeatureValue = float | int | bool | str | None
Band = Literal["high", "medium", "low"]


class Contribution(BaseModel):
    """One reason: the feature, its value, and the probability points it adds (+) or removes (−).
    The last one, feature `other`, holds every feature not shown: `base_probability` plus every
    contribution's points is the probability."""

    feature: str
    family: str | None = None
    value: FeatureValue = None
    points: float
    sentence: str


class ChangeReason(BaseModel):
    """One line of a change: a feature whose value changed (`value` now, `previous_value` then),
    `model` (a new model version) or `other` (everything else); the lines add up to the change."""

    feature: str
    family: str | None = None
    value: FeatureValue = None
    previous_value: FeatureValue = None
    points_change: float
    sentence: str


class ScoreChange(BaseModel):
    """The change since the previous scoring and what moved it, exactly."""

    previous_as_of: datetime
    previous_probability: float
    previous_model_version: str | None = None
    change: float
    reasons: list[ChangeReason]


class Action(BaseModel):
    """A suggested behaviour: the feature, its value now, the value suggested and the change in
    probability the model associates with it (an association in past data, not a promise)."""

    feature: str
    family: str | None = None
    value: FeatureValue = None
    suggested: FeatureValue = None
    points: float
    sentence: str


class ScoreBase(BaseModel):
    as_of: datetime
    data_through: datetime | None = None
    probability: float
    band: Band
    lift: float | None = None
    percentile: float | None = None
    model_version: str
    base_probability: float | None = None
    reasons: list[str]
    contributions: list[Contribution]
    change: ScoreChange | None = None
    actions: list[Action] = []
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
    lift: float | None = None
    change: float | None = None
    percentile: float | None = None
    arr: float | None = None
    arr_at_risk: float | None = None
    segment: str | None = None
    owner_rep_id: str | None = None
    team: str | None = None
    top_reason: str | None = None
    as_of: datetime
    data_through: datetime | None = None
    model_version: str


class OpportunityItem(BaseModel):
    opportunity_id: str
    account_id: str | None = None
    probability: float
    band: Band
    lift: float | None = None
    change: float | None = None
    percentile: float | None = None
    amount: float | None = None
    expected_value: float | None = None
    stage: str | None = None
    segment: str | None = None
    owner_rep_id: str | None = None
    team: str | None = None
    top_reason: str | None = None
    as_of: datetime
    data_through: datetime | None = None
    model_version: str


class Bands(BaseModel):
    """How the run's scores are banded (`barometer.scoring.bands`): a probability at or above
    `high_at` is high, at or above `medium_at` medium; `base_rate` is the typical score."""

    rule: str
    base_rate: float
    high_at: float
    medium_at: float
    explanation: str


class AccountPage(BaseModel):
    items: list[AccountItem]
    next_cursor: str | None = None
    total: int
    as_of: datetime | None = None
    data_through: datetime | None = None
    bands: Bands | None = None


class OpportunityPage(BaseModel):
    items: list[OpportunityItem]
    next_cursor: str | None = None
    total: int
    as_of: datetime | None = None
    data_through: datetime | None = None
    bands: Bands | None = None


class Actions(BaseModel):
    """An entity's suggested behaviours (`actions` of its churn-risk or win-probability answer)."""

    entity_id: str
    as_of: datetime
    data_through: datetime | None = None
    model_version: str
    actions: list[Action]
    caveat: str


class RowScore(BaseModel):
    id: str | None = None
    probability: float
    band: Band
    lift: float | None = None
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
    as_of: datetime | None = None  # the day of the feature row the what-if starts from
    data_through: datetime | None = None
    probability_before: float
    probability_after: float
    change: float
    changed: list[ChangedFeature]
    caveat: str


class RetrainSignal(BaseModel):
    """What `barometer monitor` last concluded about this champion version."""

    status: Literal["ok", "watch", "retrain", "broken"]
    needs_retraining: bool
    pipeline_broken: bool
    reasons: list[str]
    notes: list[str]
    as_of: datetime  # the scoring run checked
    monitored_at: datetime
    model_version: str


class ModelInfo(BaseModel):
    target: str
    version: str
    loaded_at: datetime
    n_features: int
    metrics: dict[str, float]
    retrain: RetrainSignal | None = None  # None until this version has been monitored


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
    insights: Literal["idle", "computing", "ready", "failed"] = "idle"


class Problem(BaseModel):
    """Every error body: a message and, for 422, field-level errors."""

    detail: str
    errors: list[dict] | None = None


class Behaviour(BaseModel):
    """Where the rep sits among their team on one behaviour that helps win deals."""

    feature: str
    description: str
    percentile: float | None = None


class RepProfile(BaseModel):
    """A rep's coaching view: outcomes against the deal mix, classification and behaviours."""

    rep_id: str
    team: str
    tier: Literal["top", "core", "low"]
    win_rate: float | None = None
    expected_win_rate: float | None = None
    closed_deals: int
    categories: list[str]
    findings: list[str]
    behaviours: list[Behaviour]
    model_version: str
    caveat: str


class TrainingNeed(BaseModel):
    feature: str
    family: str
    description: str
    top_median: float | None = None
    others_median: float | None = None
    expected_revenue_gap: float | None = None
    deals: int


class TrainingNeeds(BaseModel):
    """A team's behaviours whose gap to its top performers costs the most expected revenue."""

    team: str
    model_version: str
    needs: list[TrainingNeed]
    caveat: str


class ContributionRow(BaseModel):
    service_value: float | None = None
    sales_value: float | None = None
    ratio: float | None = None
    retention_rate: float | None = None
    nps: float | None = None
    first_contact_resolution: float | None = None
    service_sourced_expansion: float | None = None


class TeamContribution(ContributionRow):
    team: str


class RepContribution(ContributionRow):
    rep_id: str
    team: str


class ContributionReport(BaseModel):
    """Service vs sales behaviours' contribution in expected revenue, per team and rep."""

    model_versions: dict[str, str]
    accounts: int
    deals: int
    by_team: list[TeamContribution]
    by_rep: list[RepContribution]
    sentence: str
    caveat: str

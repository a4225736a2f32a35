"""What clients get back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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
    without_model: dict[str, str] = Field(
        default_factory=dict, description="Targets training registered no model for, and why."
    )


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    models: dict[str, str]
    missing: dict[str, str]
    without_model: dict[str, str] = Field(
        default_factory=dict,
        description="Targets whose training registered no model (the models page says why).",
    )
    scores: dict[str, int]
    insights: Literal["idle", "computing", "ready", "failed"] = "idle"


class Problem(BaseModel):
    """Every error body: a message and, for 422, field-level errors."""

    detail: str
    errors: list[dict] | None = None


Tier = Literal["top", "core", "low"]


class Effect(BaseModel):
    """Actual against expected for the deal mix, in rate points, shrunk by its noise."""

    effect: float | None = Field(None, description="Actual − expected rate, shrunk.")
    low: float | None = Field(None, description="90% interval, low end.")
    high: float | None = Field(None, description="90% interval, high end.")


class StageEffect(Effect):
    stage: str
    stage_index: int
    n: int = Field(description="The rep's deals with a known fate at this stage.")
    pass_rate: float | None = None
    expected: float | None = Field(None, description="Pass rate expected for the deal mix.")


class BehaviourGap(BaseModel):
    """One coachable behaviour: the rep's typical level, the team's best reps', and the gain."""

    behaviour: str
    description: str
    family: str
    unit: str
    value: float | None = Field(None, description="The rep's median (share for yes/no).")
    benchmark: float | None = Field(None, description="The team's best reps' level.")
    win_gain: float | None = Field(None, description="Win-chance gain at the benchmark, points.")
    revenue: float | None = Field(None, description="Expected won revenue of that gain.")
    stage: str | None = Field(None, description="Stage where the gap costs most.")
    stage_gain: float | None = None


class Finding(BaseModel):
    kind: Literal[
        "stumble", "off_playbook", "skill_gap", "low_gap", "low_unexplained", "top_clean", "in_line"
    ]
    stage: str | None = None
    behaviours: list[str]
    sentence: str


class RepProfile(Effect):
    """A rep's diagnosis: effect against the deal mix per stage, what to coach, and findings."""

    rep_id: str
    team: str
    tier: Tier
    left_at: datetime | None = None
    deals: int = Field(description="Closed deals in the period.")
    won: int
    win_rate: float | None = None
    expected_win_rate: float | None = Field(None, description="Expected from deal mix alone.")
    stages: list[StageEffect]
    behaviours: list[BehaviourGap]
    findings: list[Finding]
    period_start: datetime | None = None
    period_end: datetime | None = None
    method: str
    caveat: str


class RosterRep(Effect):
    rep_id: str
    tier: Tier
    deals: int
    won: int
    win_rate: float | None = None
    expected_win_rate: float | None = None
    headline: str | None = None


class TeamReps(BaseModel):
    """A team's reps, highest effect first."""

    team: str
    reps: list[RosterRep]
    method: str
    caveat: str


class TrainingNeed(BaseModel):
    behaviour: str
    family: str
    description: str
    benchmark: float | None = Field(None, description="The team's best reps' level.")
    typical: float | None = Field(None, description="The reps below it: their median level.")
    reps: int = Field(description="Reps below the benchmark.")
    deals: int
    expected_revenue: float = Field(description="Expected won revenue the gap cost (positive).")
    sentence: str


class TrainingNeeds(BaseModel):
    """A team's behaviours whose gap to its best reps costs the most expected revenue."""

    team: str
    needs: list[TrainingNeed]
    period_start: datetime | None = None
    period_end: datetime | None = None
    caveat: str


class ServiceKpis(BaseModel):
    cases: int | None = None
    first_contact_resolution: float | None = None
    csat: float | None = None
    retention_rate: float | None = None
    nps: float | None = None
    retention_saved: float | None = None
    expansion: float | None = None
    hours: float | None = None
    revenue_per_hour: float | None = None


class ServiceTeam(ServiceKpis):
    team: str
    reps: int
    retention_low: float | None = None
    retention_high: float | None = None


class ServiceRep(ServiceKpis):
    rep_id: str
    team: str
    accounts_served: int | None = None
    escalation: float | None = None


class ContributionTotal(BaseModel):
    retention_saved: float
    retention_low: float
    retention_high: float
    accounts: int
    expansion: float
    expansion_deals: int
    hours: float
    cost: float | None = None
    revenue_per_hour: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    per: str


class ContributionReport(BaseModel):
    """Service's contribution in revenue (retention saved against a stated reference, and sourced
    expansion) over its effort, with the KPIs per service team and rep."""

    as_of: datetime
    period_start: datetime
    horizon_days: int
    reference: dict[str, float | None]
    reference_words: str
    total: ContributionTotal
    by_team: list[ServiceTeam]
    by_rep: list[ServiceRep]
    sentence: str
    model_versions: dict[str, str]
    caveat: str


class FunnelStep(BaseModel):
    step: str
    entered: int
    passed: int
    lost: int
    still_open: int
    conversion: float | None = None
    median_days: float | None = None
    lost_value: float | None = None


class PipelineDeal(BaseModel):
    opportunity_id: str
    account_id: str | None = None
    owner_rep_id: str | None = None
    stage: str | None = None
    amount: float | None = None
    age_days: float | None = None
    days_since_touch: float | None = None
    usual_days: float | None = None
    days_late: float | None = None


class BookingsForecast(BaseModel):
    horizon_days: int
    weighted_pipeline: float
    expected: float
    low: float
    high: float
    source: str


class BacktestQuarter(BaseModel):
    quarter: str
    start: datetime
    deals: int
    forecast: float
    low: float
    high: float
    actual: float
    error: float
    within_interval: bool
    source: str


class PipelineReport(BaseModel):
    """The funnel, pipeline quality, the expected-bookings forecast and its quarterly backtest."""

    as_of: datetime
    funnel: list[FunnelStep]
    leak: str
    open_deals: int
    open_value: float
    target: float | None = None
    coverage: float | None = Field(None, description="Open pipeline ÷ target.")
    forecast: BookingsForecast
    stale_days: int
    stale_count: int
    stale_value: float
    stale: list[PipelineDeal]
    slipping_count: int
    slipping_value: float
    slipping: list[PipelineDeal]
    backtest: list[BacktestQuarter]
    sentences: list[str]


class AttritionRisk(BaseModel):
    """A rep's risk of leaving within the horizon, with the reasons that add up to it from
    `base_probability`."""

    rep_id: str
    team: str | None = None
    probability: float
    band: Band
    percentile: float | None = Field(None, description="Rank among the reps of the run.")
    base_probability: float | None = None
    reasons: list[str]
    contributions: list[Contribution]
    as_of: datetime
    model_version: str


class AttritionFacts(BaseModel):
    available: bool = Field(description="False when there is no model; `reason` says why.")
    reason: str | None = Field(
        None, description="Why there is no model, e.g. not enough departures to learn from."
    )
    horizon_days: int = Field(description="The risk is of leaving within this many days.")
    as_of: datetime | None = None
    model_version: str | None = None


class RepAttrition(AttritionFacts):
    """One rep's attrition risk (managers only), or why there is none."""

    rep_id: str
    risk: AttritionRisk | None = None


class TeamAttrition(AttritionFacts):
    """A team's reps by their risk of leaving, highest first (managers only)."""

    team: str
    reps: list[AttritionRisk]

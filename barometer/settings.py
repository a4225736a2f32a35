"""One pydantic-settings object for every command and the service."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TARGETS = ("churn", "deal_win")  # the worklist models: trained, scored and served to every role
# Every model trained and scored. Rep attrition is served to managers only, from its scores
# (`serving.attrition`), and its absence never makes the service unready.
MODEL_TARGETS = (*TARGETS, "rep_attrition")
EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "experiments"  # versioned model configs

# The simulator's stages and Salesforce's standard opportunity stages, interleaved where they mean
# the same step, so either export is ordered without configuration. Closed stages (`Closed Won`,
# `Closed Lost`) sort after every open one without being listed.
DEFAULT_STAGE_ORDER = (
    "Prospecting",
    "Qualification",
    "Discovery",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal",
    "Proposal/Price Quote",
    "Negotiation",
    "Negotiation/Review",
)


class Settings(BaseSettings):
    """Reads `BAROMETER_*` variables and `.env`; every path hangs off `home`."""

    model_config = SettingsConfigDict(env_prefix="BAROMETER_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".barometer"), description="Workspace folder.")
    reject_threshold: float = Field(
        default=0.05, ge=0, le=1, description="Ingest exits non-zero above this rejected share."
    )
    stage_order: tuple[str, ...] = Field(
        default=DEFAULT_STAGE_ORDER, description="Opportunity stages, earliest first."
    )
    ingest_read_timeout_s: float = Field(
        default=30.0, gt=0, description="Ingest gives up on a file that stops answering this long."
    )
    cutoff_frequency: str = Field(
        default="auto",
        description="pandas offset alias for cutoffs (MS, SMS, W-MON), or auto: monthly unless "
        "the history gives too few labelled months (features.timeline.choose_frequency).",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="Tracking server; a SQLite store in the workspace when unset.",
    )
    rep_window_days: int = Field(
        default=730, gt=0, description="Rep diagnosis: closed deals of this many days back."
    )
    rep_attrition_horizon_days: int = Field(
        default=90, gt=0, description="Rep attrition: a rep leaving within this many days."
    )
    pipeline_target: float | None = Field(
        default=None, gt=0, description="Pipeline coverage target (bookings) for the period."
    )
    forecast_days: int = Field(default=90, gt=0, description="Expected-bookings horizon, days.")
    stale_days: int = Field(
        default=21, gt=0, description="A deal without activity this long is stale."
    )
    service_period_days: int = Field(
        default=90, gt=0, description="Service contribution: effort and expansion window, days."
    )
    service_after_case_days: int = Field(
        default=30,
        ge=0,
        description="A deal opened this soon after a service case counts as sourced.",
    )
    service_untimed_minutes: float = Field(
        default=10.0, ge=0, description="Minutes counted for a service activity without a duration."
    )
    service_hourly_cost: float | None = Field(
        default=None,
        gt=0,
        description="Cost of a service hour; the ratio is then revenue per cost.",
    )
    band_rule: Literal["lift", "capacity"] = Field(
        default="lift",
        description="How scores are banded (`barometer.scoring.bands`): `lift` against the base "
        "rate (the mean score of the run), or `capacity`: the top `band_capacity` are high.",
    )
    band_lift_churn: tuple[float, float] = Field(
        default=(3.0, 1.5), description="Churn: high and medium from these times the base rate."
    )
    band_lift_deal_win: tuple[float, float] = Field(
        default=(1.5, 1.0), description="Deals: high and medium from these times the base rate."
    )
    band_lift_rep_attrition: tuple[float, float] = Field(
        default=(3.0, 1.5), description="Reps: high and medium from these times the base rate."
    )
    band_capacity: int = Field(
        default=100, gt=0, description="`capacity` rule: scores a team can work in a week."
    )
    port: int = Field(default=8000, gt=0, lt=65536, description="`barometer serve`'s port.")
    api_keys: str | None = Field(default=None, description="`role:key,role:key`.", repr=False)
    api_keys_file: Path | None = None
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs dashboard sessions; a random secret kept in the workspace when unset.",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="`Secure` session cookies (HTTPS only); unset: on unless serving on loopback.",
    )
    # Spark (`--engine spark`): see "Running on Spark" in the README.
    spark_master: str | None = Field(
        default=None,
        description="spark.master; unset: what spark-submit, PYSPARK_SUBMIT_ARGS or "
        "spark-defaults.conf give, else local[*].",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark configuration as JSON, e.g. {"spark.executor.memory": "8g"}.',
    )
    lake: str | None = Field(
        default=None,
        description="Folder or URI holding one Parquet (or Delta) folder per contract table; "
        "unset: the workspace warehouse is exported to the lake output first.",
    )
    lake_format: Literal["parquet", "delta"] = Field(
        default="parquet", description="Format of the folders under `lake`."
    )
    lake_tables: dict[str, str] = Field(
        default_factory=dict,
        description='Catalogue tables per contract table, e.g. {"activities": "crm.activities"}; '
        "they take precedence over `lake` folders.",
    )
    lake_out: str | None = Field(
        default=None,
        description="Where Spark writes validated contract tables, features, labels and scores; "
        "default <home>/lake.",
    )
    train_memory_gb: float = Field(
        default=4.0, gt=0, description="Memory the training sample may take (`--engine spark`)."
    )
    train_sample_seed: int = Field(default=7, description="Seed of the training sample.")

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    @property
    def session_secret_path(self) -> Path:
        return self.home / "session-secret"

    @property
    def lake_output(self) -> str:
        """Where Spark writes (a folder or URI); the workspace's `lake/` by default."""
        return self.lake_out or str((self.home / "lake").resolve())

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    def ensure_home(self) -> Path:
        """Create the workspace folders (called by commands, never at import)."""
        for folder in (self.home, self.artifacts_dir, self.features_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings(...)` instead."""
    return Settings()

"""One pydantic-settings object for every command and the service."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TARGETS = ("churn", "deal_win")  # the two models Barometer trains, scores and serves
EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "experiments"  # versioned model configs

DEFAULT_STAGE_ORDER = (
    "Prospecting",
    "Qualification",
    "Discovery",
    "Proposal",
    "Negotiation",
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
    api_keys: str | None = Field(default=None, description="`role:key,role:key`.", repr=False)
    api_keys_file: Path | None = None

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

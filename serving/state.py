"""The service's state: one typed object, built by `serving.app.create_app` and kept on
`app.state.service`. Routes and pages read it through the `ServiceDep` dependency
(`serving.deps`); middleware, exception handlers and the background refresh read it from the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from barometer.scoring.latest_features import FrameFeatureSource
from barometer.settings import Settings
from serving.attrition import AttritionHolder
from serving.auth import KeyRing
from serving.bundle import BundleHolder
from serving.insights import InsightsHolder
from serving.live import LiveCache
from serving.monitoring import MonitoringHolder
from serving.observability import Metrics
from serving.snapshot import ScoreSnapshot, empty_snapshot

if TYPE_CHECKING:
    from serving.dashboard.pages.core import DashboardState


class ScoreHolder:
    """The latest score snapshot per target; `refresh` swaps in new ones when a run lands."""

    def __init__(self, targets) -> None:
        self.current: dict[str, ScoreSnapshot] = {t: empty_snapshot(t) for t in targets}
        self.marker: tuple | None = None


@dataclass(eq=False)
class ServiceState:
    """Everything the service keeps between requests (one per app)."""

    settings: Settings
    keyring: KeyRing
    models: BundleHolder  # the champions; `current` is the bundle a request uses throughout
    scores: ScoreHolder
    features: FrameFeatureSource  # the latest feature rows (live scoring, what-if, drivers)
    load_scores: Callable | None  # reads scores and features; None keeps those a test gave
    keys_marker: tuple | None = None  # the keys file's identity when it was last read
    registry: dict = field(default_factory=dict)  # feature name -> registry entry
    drivers_cache: dict = field(default_factory=dict)  # (target, version, by, features) -> body
    insights: InsightsHolder = field(default_factory=InsightsHolder)  # the manager views
    attrition: AttritionHolder = field(default_factory=AttritionHolder)  # rep attrition risk
    live: LiveCache = field(default_factory=LiveCache)  # rows prepared for on-demand scoring
    metrics: Metrics = field(default_factory=Metrics)
    monitoring: MonitoringHolder = field(default_factory=MonitoringHolder)  # `barometer monitor`
    dashboard: DashboardState | None = None  # set by `serving.dashboard.mount`

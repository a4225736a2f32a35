"""What `barometer monitor` found, as the service shows it: read from the warehouse's `monitoring`
table (never from `training`) once per monitor run, in the background refresh, and kept in memory
for `/v1/models`, the Models page and the `/metrics` gauges.

A champion's retrain signal is the latest one written for its version, so a newly promoted
champion shows none until it is monitored (`make retrain` clears the signal).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from barometer.model import monitoring
from features.warehouse import connect

if TYPE_CHECKING:
    from serving.state import ServiceState


class MonitoringHolder:
    """The `monitoring` rows per target and the views built from them, per champion version."""

    def __init__(self) -> None:
        self.marker: tuple | None = None
        self.rows: dict[str, pd.DataFrame] = {}
        self._views: dict[tuple[str, str | None], dict] = {}

    def swap(self, marker: tuple, rows: dict[str, pd.DataFrame]) -> None:
        self.rows, self.marker, self._views = rows, marker, {}

    def view(self, target: str, version: str | None) -> dict | None:
        """`barometer.model.monitoring.target_view` of the target for its champion `version`
        (None when the target was never monitored)."""
        rows = self.rows.get(target)
        if rows is None or rows.empty:
            return None
        key = (target, None if version is None else str(version))
        if key not in self._views:
            self._views[key] = monitoring.target_view(rows, key[1])
        return self._views[key]

    def signal(self, target: str, version: str | None) -> dict | None:
        found = self.view(target, version)
        return None if found is None else found["signal"]


def read_marker(path: Path) -> tuple:
    if not path.exists():
        return ()
    with connect(path, read_only=True) as con:
        return monitoring.marker(con)


def read_monitoring(path: Path, targets) -> tuple[tuple, dict[str, pd.DataFrame]]:
    """The table's marker and every target's rows (one short read-only connection)."""
    if not path.exists():
        return (), {}
    with connect(path, read_only=True) as con:
        marker = monitoring.marker(con)
        return marker, {t: monitoring.read_rows(con, t) for t in targets}


def refresh(holder: MonitoringHolder, path: Path, targets) -> bool:
    """Reload the rows when a monitor run wrote since; True when swapped."""
    marker = read_marker(path)
    if marker == holder.marker:
        return False
    marker, rows = read_monitoring(path, targets)
    holder.swap(marker, rows)
    return True


def update(state: ServiceState) -> None:
    """Reload the rows when a monitor run wrote since, and set the monitoring gauges for the
    champions being served (also after a promotion, whose champion has no signal yet)."""
    refresh(state.monitoring, state.settings.warehouse_path, state.models.targets)
    versions = state.models.current.versions()
    views = {t: state.monitoring.view(t, versions.get(t)) for t in state.models.targets}
    state.metrics.set_monitoring(views)

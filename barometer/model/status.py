"""A target's last training verdict, kept in the workspace so the service can say why there is no
model ("not enough departures to learn from (4; need 20)") instead of only that there is none.

`barometer train` writes it (`artifacts/<target>/training_status.json`, atomically) whether it
registered a model or refused; the service reads it. Serving never imports `training`, so the
file, not the guard, is what both rooms share.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from barometer.settings import Settings

FILE_NAME = "training_status.json"


@dataclass(frozen=True)
class TrainingStatus:
    """What the last `barometer train --target T` decided.

    `trained` is True when a model was registered; otherwise `reason` says why not, and for a
    count guard `count` and `need` give the figures (e.g. departures seen and needed).
    """

    target: str
    trained: bool
    reason: str = ""
    count: int | None = None
    need: int | None = None
    at: str = ""


def status_path(settings: Settings, target: str) -> Path:
    return settings.artifacts_dir / target / FILE_NAME


def write_status(settings: Settings, status: TrainingStatus) -> Path:
    """Write the verdict beside the target's other artefacts (temporary file, then rename)."""
    path = status_path(settings, status.target)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = asdict(status) | {"at": status.at or datetime.now(UTC).isoformat(timespec="seconds")}
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{FILE_NAME}.", suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(body, out)
    os.replace(tmp, path)
    return path


def read_status(settings: Settings, target: str) -> TrainingStatus | None:
    """The last verdict, or None when the target was never trained in this workspace (or the
    file is unreadable: then nothing is claimed)."""
    path = status_path(settings, target)
    try:
        body = json.loads(path.read_text())
        return TrainingStatus(**{k: body[k] for k in TrainingStatus.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None

"""Explaining every scored entity, in full or incrementally from the previous scoring.

A scoring keeps, per entity, the booster's input row and its TreeSHAP log-odds (`Explained`,
saved beside the warehouse by `save_state`). The next scoring with the same model explains only
what can have changed: a row whose encoded features are the same keeps its values; a row that
changed is brought up to date tree by tree, for the trees whose thresholds it crossed
(`barometer.model.treeshap.update_contributions`); a new entity is explained in full. The result
equals a full explanation (to float rounding), so probabilities and reasons are exact, whichever
path produced them. A different model version, or no saved scoring, means a full run.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel, apportion
from barometer.model.treeshap import crossed_trees, tree_splits, update_contributions


@dataclass(frozen=True)
class Explained:
    """One scoring's explanation of every entity, aligned by row with `ids`."""

    ids: np.ndarray  # (n,) entity ids as text
    matrix: np.ndarray  # (n, features) the booster's input
    contributions: np.ndarray  # (n, features + 1) TreeSHAP log-odds, bias last
    model_version: str
    as_of: pd.Timestamp

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> Explained:
        """The rows at positions `rows`."""
        return Explained(
            self.ids[rows],
            self.matrix[rows],
            self.contributions[rows],
            self.model_version,
            self.as_of,
        )


@dataclass(frozen=True)
class Plan:
    """What an incremental explanation did, for the job's summary and the benchmark."""

    rows: int = 0
    new: int = 0  # entities the base scoring did not have: explained in full
    changed: int = 0  # known entities whose encoded features changed
    crossed: int = 0  # of those, rows that crossed at least one tree's threshold
    pairs: int = 0  # (row, tree) pairs re-explained
    incremental: bool = False


def probabilities_and_points(
    model: ScoringModel, contributions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Calibrated probabilities, probability points and the base probability from TreeSHAP
    log-odds (bias last), as `ScoringModel.explain_matrix` computes them."""
    phi, bias = contributions[:, :-1], contributions[:, -1]
    probability = model.calibrator(bias + phi.sum(axis=1))
    base = model.calibrator(bias)
    base_probability = float(base[0]) if len(base) else float("nan")
    return probability, apportion(phi, probability - base), base_probability


def explain_full(
    model: ScoringModel, ids: np.ndarray, matrix: np.ndarray, as_of, version: str
) -> Explained:
    """Every row explained by the model's scorer (a tree's `pred_contrib`)."""
    contributions = contributions_of(model, matrix)
    return Explained(
        np.asarray(ids, dtype=str), matrix, contributions, version, pd.Timestamp(as_of)
    )


def contributions_of(model: ScoringModel, matrix: np.ndarray) -> np.ndarray:
    width = len(model.feature_names) + 1
    if not len(matrix):
        return np.empty((0, width))
    return model.scorer.contributions(matrix, num_threads=model.num_threads)


def explain_incremental(
    model: ScoringModel,
    base: Explained,
    ids: np.ndarray,
    matrix: np.ndarray,
    as_of,
    version: str,
) -> tuple[Explained, Plan]:
    """Rows explained from `base` (an earlier scoring by the same model): unchanged rows keep
    their values, changed rows are updated for the trees they crossed, new rows are explained in
    full. Equal to `explain_full` to float rounding."""
    ids = np.asarray(ids, dtype=str)
    position = pd.Index(base.ids).get_indexer(ids)
    known = np.flatnonzero(position >= 0)
    new = np.flatnonzero(position < 0)
    contributions = np.empty((len(ids), len(model.feature_names) + 1))
    before = base.matrix[position[known]]
    crossed = crossed_trees(before, matrix[known], tree_splits(model))
    contributions[known] = update_contributions(
        model, base.contributions[position[known]], before, matrix[known], crossed
    )
    contributions[new] = contributions_of(model, matrix[new])
    changed = int((~same_rows(before, matrix[known])).sum())
    plan = Plan(
        rows=len(ids),
        new=len(new),
        changed=changed,
        crossed=int(crossed.any(axis=1).sum()),
        pairs=int(crossed.sum()),
        incremental=True,
    )
    return Explained(ids, matrix, contributions, version, pd.Timestamp(as_of)), plan


def same_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per row: every encoded value equal (missing on both sides counts as equal)."""
    return ((before == after) | (np.isnan(before) & np.isnan(after))).all(axis=1)


def explain(
    model: ScoringModel,
    ids: np.ndarray,
    matrix: np.ndarray,
    as_of,
    version: str,
    base: Explained | None = None,
) -> tuple[Explained, Plan]:
    """`explain_incremental` from `base` when it was made by this model version (and has the
    same features) and the model is a tree model, else `explain_full` (a linear or BG/NBD model
    is explained in full: its parts are a few array operations)."""
    if usable(base, model, version):
        return explain_incremental(model, base, ids, matrix, as_of, version)
    explained = explain_full(model, ids, matrix, as_of, version)
    return explained, Plan(rows=len(ids), new=len(ids))


def usable(base: Explained | None, model: ScoringModel, version: str) -> bool:
    width = len(model.feature_names)
    if base is None or model.booster is None:
        return False
    return base.model_version == version and base.matrix.shape[1] == width


# ------------------------------------------------------------------ the saved state


def state_path(home: Path, target: str) -> Path:
    return Path(home) / "scoring" / f"{target}.npz"


def save_state(path: Path, explained: Explained, scored_at) -> None:
    """Write the scoring's `Explained` (atomically: a temporary file renamed into place), tagged
    with the run it belongs to (`scored_at`), so a reader can tell it matches the stored run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with open(tmp, "wb") as out:
            np.savez(
                out,
                ids=explained.ids.astype(str),
                matrix=explained.matrix,
                contributions=explained.contributions,
                model_version=np.array(str(explained.model_version)),
                as_of=np.array(pd.Timestamp(explained.as_of).isoformat()),
                scored_at=np.array(pd.Timestamp(scored_at).isoformat()),
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_state(path: Path) -> tuple[Explained, pd.Timestamp] | None:
    """The saved `Explained` and the `scored_at` of its run, or None (missing or unreadable:
    the next scoring is then a full one)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            explained = Explained(
                saved["ids"],
                saved["matrix"],
                saved["contributions"],
                str(saved["model_version"]),
                pd.Timestamp(str(saved["as_of"])),
            )
            return explained, pd.Timestamp(str(saved["scored_at"]))
    except (OSError, ValueError, KeyError):
        return None

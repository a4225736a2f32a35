"""Time splits: [train] → [holdout: early stopping + calibration] → [test], with label gaps.

A row is `(entity, cutoff, label, label_time, features…)`; `label_time` is when its label became
known (`cutoff + horizon` for churn, `closed_at` for deals). A row may only train a model that is
evaluated on a later period if its label was known before that period starts, so:

- holdout rows need `label_time <= test_start`;
- train rows need `cutoff < holdout_start` and `label_time <= holdout_start`.

For deal win, `group="opportunity_id"`: every snapshot of a deal goes to the period of the deal's
latest snapshot (over all its snapshots), so one opportunity never straddles train, holdout and
test, and each period holds the deals that closed in it. A deal still open after a fold's test
window belongs to a later period and sits that fold out, as deals open at the data's end do in
the latest fold. Counting it in the earlier test window (its snapshots up to the window's end)
would weight deals by their length plus the window's and keep only the early stages of long
deals: measured on the simulator, the oldest fold's predictions then sat 0.18-0.20 logit below
its win rate (0.12-0.13 with this rule; experiments/README.md).

Periods are counted on the regular cutoff grid (rows with `snapshot == "cutoff"` when that column
exists); extra snapshots between grid cutoffs (deal stage entries) fall in the period around them.

`plan_split` sizes the backtest to the labelled cutoffs that exist (see its docstring): as many
folds as fit with a calibration window of its own (`holdout_by="time"`); on a shorter history the
calibration slice is drawn from other entities of the same earlier cutoffs (`"entity"`), so only
one label gap is needed; below that, a holdout-only estimate on entities kept out of training
(`"none"`, no forward test), down to `split.min_labelled_cutoffs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

HoldoutBy = Literal["time", "entity", "none"]
ENTITY_HOLDOUT_SHARE = 0.25  # calibration slice when drawn by entity
MIN_CLASS_ROWS = 3  # each class in every calibration and test slice


class SplitError(ValueError):
    """Not enough history for the requested split."""


@dataclass(frozen=True)
class Split:
    """Row labels (frame index values) of each period and the boundaries used."""

    train: pd.Index
    holdout: pd.Index
    test: pd.Index
    holdout_start: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    holdout_by: HoldoutBy = "time"

    def describe(self) -> dict[str, object]:
        return {
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            "test_rows": len(self.test),
            "holdout_by": self.holdout_by,
            "holdout_start": str(self.holdout_start.date()),
            "test_start": str(self.test_start.date()),
            "test_end": str(self.test_end.date()),
        }


def _period_time(frame: pd.DataFrame, group: str | None) -> pd.Series:
    """The cutoff that decides a row's period: its own, or its group's latest."""
    if group is None:
        return frame["cutoff"]
    return frame.groupby(group, sort=False)["cutoff"].transform("max")


def cutoff_grid(frame: pd.DataFrame) -> np.ndarray:
    """The regular cutoffs, sorted (stage-entry snapshots are not grid points)."""
    rows = frame[frame["snapshot"] == "cutoff"] if "snapshot" in frame.columns else frame
    return np.sort(rows["cutoff"].unique())


def _floor(times: pd.Series, grid: np.ndarray) -> np.ndarray:
    """Each time's latest grid cutoff at or before it (the earliest grid point if none)."""
    position = np.searchsorted(grid, times.to_numpy(dtype=grid.dtype), side="right") - 1
    return grid[np.clip(position, 0, len(grid) - 1)]


def entity_share(values: pd.Series, low: float, high: float) -> np.ndarray:
    """Rows whose entity falls in [low, high) of a fixed hash of its id (reproducible)."""
    hashed = pd.util.hash_pandas_object(values.astype(str), index=False).to_numpy()
    position = (hashed % 10_000) / 10_000
    return (position >= low) & (position < high)


def stratified_share(rows: pd.DataFrame, entity: str, share: float) -> np.ndarray:
    """Rows of about `share` of the entities, drawn separately among entities with a positive
    label in `rows` and those without, so a rare outcome is not left to the hash's luck."""
    positive = rows.groupby(entity)["label"].transform("max").to_numpy() == 1
    ids = rows[entity].astype(str) + np.where(positive, "|1", "|0")
    return entity_share(ids, 0.0, share)


def time_split(
    frame: pd.DataFrame,
    *,
    test_cutoffs: int,
    holdout_cutoffs: int,
    end: int | None = None,
    group: str | None = None,
    holdout_by: HoldoutBy = "time",
    entity: str | None = None,
) -> Split:
    """Split on the distinct cutoffs before position `end` (exclusive; default all of them).

    `holdout_by="entity"`: the calibration slice is a share of the entities (`entity`, default
    `group`) among the rows known before the test window, the rest trains; `"none"`: every
    labelled row, with entities split three ways (train, calibration, test).
    """
    cutoffs = cutoff_grid(frame)
    entity = entity or group
    if holdout_by == "none":
        return entity_split(frame, cutoffs, entity)
    end = len(cutoffs) if end is None else end
    if end - test_cutoffs < 1:
        raise SplitError(
            f"Need more than {test_cutoffs} cutoffs before position {end}; have {len(cutoffs)}."
        )
    test_start, test_end = pd.Timestamp(cutoffs[end - test_cutoffs]), pd.Timestamp(cutoffs[end - 1])
    period = pd.Series(_floor(_period_time(frame, group), cutoffs), index=frame.index)
    window = frame[(frame["cutoff"] <= test_end) & (period <= test_end)]
    when = _period_time(window, group)
    test = window.index[when >= test_start]
    known = window[(when < test_start) & (window["label_time"] <= test_start)]
    if holdout_by == "entity":
        if known.empty:
            raise SplitError(f"No rows have labels known before {test_start.date()}.")
        held = stratified_share(known, entity, ENTITY_HOLDOUT_SHARE)
        start = pd.Timestamp(known["cutoff"].min())
        return Split(
            known.index[~held], known.index[held], test, start, test_start, test_end, "entity"
        )
    known_cutoffs = np.unique(_floor(_period_time(known, group), cutoffs))
    if len(known_cutoffs) <= holdout_cutoffs:
        raise SplitError(
            f"Too little history before {test_start.date()}: {len(known_cutoffs)} cutoffs with "
            f"labels known in time, need more than holdout_cutoffs={holdout_cutoffs}."
        )
    holdout_start = pd.Timestamp(known_cutoffs[-holdout_cutoffs])
    known_when = _period_time(known, group)
    holdout = known.index[known_when >= holdout_start]
    early = known[known_when < holdout_start]
    train = early.index[(early["cutoff"] < holdout_start) & (early["label_time"] <= holdout_start)]
    if len(train) == 0:
        raise SplitError(f"No training rows have labels known before {holdout_start.date()}.")
    return Split(train, holdout, test, holdout_start, test_start, test_end)


def entity_split(frame: pd.DataFrame, cutoffs: np.ndarray, entity: str | None) -> Split:
    """Every labelled row, entities split 60/20/20 into train, calibration and test."""
    if entity is None:
        raise SplitError("A holdout-only estimate needs an entity column to hold out.")
    ids = frame[entity]
    test = entity_share(ids, 0.8, 1.0)
    holdout = entity_share(ids, 0.6, 0.8)
    first, last = pd.Timestamp(cutoffs[0]), pd.Timestamp(cutoffs[-1])
    return Split(
        frame.index[~(test | holdout)],
        frame.index[holdout],
        frame.index[test],
        first,
        first,
        last,
        "none",
    )


def rolling_origin(
    frame: pd.DataFrame,
    *,
    folds: int,
    test_cutoffs: int,
    holdout_cutoffs: int,
    step: int | None = None,
    group: str | None = None,
    holdout_by: HoldoutBy = "time",
    entity: str | None = None,
) -> list[Split]:
    """`folds` time splits whose test windows step back from the latest cutoff; oldest first."""
    n_cutoffs = len(cutoff_grid(frame))
    step = step or test_cutoffs
    splits = []
    for k in range(folds):
        end = n_cutoffs - k * step
        try:
            splits.append(
                time_split(
                    frame,
                    test_cutoffs=test_cutoffs,
                    holdout_cutoffs=holdout_cutoffs,
                    end=end,
                    group=group,
                    holdout_by=holdout_by,
                    entity=entity,
                )
            )
        except SplitError as exc:
            raise SplitError(
                f"Backtest fold {k + 1} of {folds} does not fit in {n_cutoffs} cutoffs: {exc}"
            ) from exc
    return splits[::-1]


def recent_fraction(frame: pd.DataFrame, index: pd.Index, fraction: float) -> pd.Index:
    """The rows of `index` in the most recent `fraction` of its distinct cutoffs (≥ 1 cutoff)."""
    cutoffs = np.sort(frame.loc[index, "cutoff"].unique())
    keep = max(1, int(round(len(cutoffs) * fraction)))
    start = cutoffs[-keep]
    return index[frame.loc[index, "cutoff"].to_numpy() >= start]


@dataclass(frozen=True)
class SplitPlan:
    """How the backtest was sized to the history, and its splits (oldest first)."""

    splits: list[Split] = field(repr=False)
    holdout_by: HoldoutBy
    test_cutoffs: int
    holdout_cutoffs: int  # the calibration window, when it is one (`holdout_by == "time"`)
    labelled: int  # distinct labelled grid cutoffs
    unit: str  # monthly, semi-monthly, weekly
    gap: int  # grid cutoffs between the last known label and the test window (the horizon)

    @property
    def folds(self) -> int:
        return len(self.splits) if self.holdout_by != "none" else 0

    def words(self) -> str:
        """e.g. '12 labelled monthly cutoffs: 1 backtest fold (test 3 cutoffs, ...)'."""
        head = f"{self.labelled} labelled {self.unit} cutoffs: "
        if self.holdout_by == "none":
            return head + (
                "too few for a forward test, so the estimate is holdout-only: 20% of the "
                "entities kept out of training, at the same cutoffs"
            )
        fold = "fold" if self.folds == 1 else "folds"
        calibration = (
            f"calibrated on the {self.holdout_cutoffs} cutoffs before it"
            if self.holdout_by == "time"
            else "calibrated on a quarter of the entities of the earlier cutoffs"
        )
        return head + (
            f"{self.folds} backtest {fold} (each tests {self.test_cutoffs} cutoffs, "
            f"{calibration}; {self.gap} cutoffs left out before the test for the label horizon)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "folds": self.folds,
            "holdout_by": self.holdout_by,
            "test_cutoffs": self.test_cutoffs,
            "holdout_cutoffs": self.holdout_cutoffs,
            "labelled_cutoffs": self.labelled,
            "cutoff_unit": self.unit,
            "label_gap_cutoffs": self.gap,
        }


def grid_unit(grid: np.ndarray) -> tuple[str, int]:
    """The grid's frequency in words and how many of its cutoffs make about a quarter."""
    if len(grid) < 2:
        return "monthly", 3
    days = float(np.median(np.diff(grid).astype("timedelta64[D]").astype(float)))
    if days >= 25:
        return "monthly", 3
    if days >= 12:
        return "semi-monthly", 6
    return ("weekly", 13) if days >= 5 else ("daily", 91)


def _balanced(frame: pd.DataFrame, split: Split) -> bool:
    """Both classes in the calibration and test slices, and in training."""
    for part in (split.holdout, split.test, split.train):
        labels = frame.loc[part, "label"]
        if (labels == 1).sum() < MIN_CLASS_ROWS or (labels == 0).sum() < MIN_CLASS_ROWS:
            return False
    return True


def _fit_cutoffs(frame: pd.DataFrame, split: Split) -> int:
    """Distinct cutoffs the model learns from (train, and for an entity holdout its slice too)."""
    rows = split.train if split.holdout_by == "time" else split.train.union(split.holdout)
    return frame.loc[rows, "cutoff"].nunique()


def _folds(
    frame: pd.DataFrame,
    max_folds: int,
    test: int,
    holdout: int,
    holdout_by: HoldoutBy,
    min_fit: int,
    step: int | None,
    group: str | None,
    entity: str | None,
) -> list[Split]:
    """The most folds (up to `max_folds`, latest first) that fit; oldest first."""
    n = len(cutoff_grid(frame))
    out = []
    for k in range(max_folds):
        try:
            split = time_split(
                frame,
                test_cutoffs=test,
                holdout_cutoffs=holdout,
                end=n - k * (step or test),
                group=group,
                holdout_by=holdout_by,
                entity=entity,
            )
        except SplitError:
            break
        if _fit_cutoffs(frame, split) < min_fit or not _balanced(frame, split):
            break
        out.append(split)
    return out[::-1]


def _gap(grid: np.ndarray, split: Split, frame: pd.DataFrame) -> int:
    """Grid cutoffs strictly between the last cutoff learnt from and the test window."""
    if split.holdout_by == "none":
        return 0
    last = frame.loc[split.train.union(split.holdout), "cutoff"].max()
    return int(((grid > np.datetime64(last)) & (grid < np.datetime64(split.test_start))).sum())


def plan_split(
    frame: pd.DataFrame,
    *,
    max_folds: int,
    test_cutoffs: int | None = None,
    holdout_cutoffs: int | None = None,
    holdout: Literal["auto", "time", "entity", "none"] = "auto",
    min_labelled: int = 4,
    step: int | None = None,
    group: str | None = None,
    entity: str | None = None,
) -> SplitPlan:
    """Size the backtest to the labelled cutoffs that exist.

    Windows default to about a quarter of cutoffs (3 monthly, 6 semi-monthly, 13 weekly).

    1. A calibration window of its own (train | gap | calibration | gap | test): as many folds
       as fit, up to `max_folds`, each training on at least a window's worth of cutoffs.
    2. Otherwise the calibration slice is a quarter of the entities of the cutoffs known before
       the test (train+calibration | gap | test), with test windows shrunk until one fits.
    3. Otherwise (the label horizon is longer than the history left after it) a holdout-only
       estimate: entities split 60/20/20 at the same cutoffs.
    Every slice must hold both classes. Fewer than `min_labelled` labelled cutoffs is refused.
    """
    grid = cutoff_grid(frame)
    labelled = len(grid)
    unit, quarter = grid_unit(grid)
    test = test_cutoffs or quarter
    calibration = holdout_cutoffs or quarter
    if labelled < min_labelled:
        raise SplitError(
            f"{labelled} labelled {unit} cutoffs: fewer than split.min_labelled_cutoffs="
            f"{min_labelled}. Build features at a finer frequency (`barometer features "
            "--frequency W-MON`) or a shorter horizon (--horizon-days), or lower "
            "split.min_labelled_cutoffs in the experiment config."
        )
    args = {"step": step, "group": group, "entity": entity}

    def plan(splits: list[Split], how: HoldoutBy, w: int, h: int) -> SplitPlan:
        return SplitPlan(splits, how, w, h, labelled, unit, _gap(grid, splits[-1], frame))

    if holdout in ("auto", "time"):
        splits = _folds(frame, max_folds, test, calibration, "time", test, **args)
        if splits:
            return plan(splits, "time", test, calibration)
    if holdout in ("auto", "entity"):
        for w in range(test, 0, -1):
            splits = _folds(frame, max_folds, w, 0, "entity", w, **args)
            if splits:
                return plan(splits, "entity", w, 0)
    if holdout in ("auto", "none"):
        split = time_split(
            frame, test_cutoffs=1, holdout_cutoffs=0, holdout_by="none", group=group, entity=entity
        )
        if _balanced(frame, split):
            return plan([split], "none", 0, 0)
    raise SplitError(
        f"{labelled} labelled {unit} cutoffs, but no split holds both outcomes in its training, "
        f"calibration and test slices (split.holdout: {holdout}). Add history, build features "
        "at a finer frequency (`barometer features --frequency W-MON`), or choose another churn "
        "definition (`barometer features --churn-definition ...`)."
    )

"""The scoring job's pure part: explained rows + context in, one score row per entity out.

Output columns (also the `--out` CSV/Parquet columns, in this order):

- `account_id` / `opportunity_id`: the entity scored;
- `as_of`: the midnight the score is as of (features use only data before it);
- `probability`: calibrated churn risk / win probability, 0-1;
- `model_version`: the champion version that produced it;
- `reasons`: JSON list of the top reasons each way (`feature, family, value, points, sentence`)
  and one `other` line; `base_probability` plus every line's points is `probability`;
- `band`: `high` / `medium` / `low`, relative to this run's base rate (`barometer.scoring.bands`);
- `lift`: `probability` over the base rate (6.0: six times the typical account or deal);
- `percentile`: 0-100, rank of the probability among peers (same segment; same stage for deals);
- `base_probability`: the model's base probability; the reasons' points add up from it;
- `previous_as_of`, `previous_probability`, `previous_model_version`: the previous scoring;
- `change_reasons`: JSON list of what moved the score since then (`feature, family, value,
  previous_value, points_change, sentence`) with `model` and `other` lines; they add up to
  `probability - previous_probability`;
- `actions`: JSON list of up to three suggested behaviours for at-risk accounts and open deals
  (`feature, family, value, suggested, points, sentence`): associations, not promises;
- `data_through`: the data's last event when the run was made;
- `account_id` (opportunities only): the deal's account;
- `segment`, `owner_rep_id`, `team`, `stage`: context at scoring time, for worklist filters;
- `value`: ARR (accounts) or deal amount (opportunities);
- `value_at_risk`: `probability * value` (ARR at risk; a deal's expected value);
- `target`, `scored_at`: which model, and when the job ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from barometer.model.artefact import ScoringModel, apportion
from barometer.model.treeshap import changed_cells
from barometer.scoring.bands import BandCuts, band_cuts
from barometer.scoring.incremental import (
    Explained,
    contributions_of,
    explain_full,
    probabilities_and_points,
)
from barometer.scoring.reasons import (
    DECIMALS,
    TOP_K,
    action_reasons,
    as_json,
    change_reasons,
    matrix_reasons,
)
from barometer.targets import ID_COLUMNS, TARGETS
from explain.whatif import candidates, suggest_actions

CONTEXT_COLUMNS = ("segment", "owner_rep_id", "team", "stage", "value")
MONEY_DECIMALS = 2


@dataclass(frozen=True)
class Previous:
    """The scoring a change is measured from: its rows explained by the current model."""

    as_of: pd.Timestamp
    explained: Explained  # its rows, encoded and explained by the current model
    raw: np.ndarray  # (rows, features) its raw values, for "was ..."
    probability: np.ndarray  # as it was shown then
    model_version: np.ndarray  # per row, as stored


def peer_percentile(probability: np.ndarray, peers: pd.Series | None) -> np.ndarray:
    """Percentile (0-100] of each probability within its peer group (all rows when no groups)."""
    scores = pd.Series(np.asarray(probability, dtype=float))
    if peers is None:
        return (scores.rank(pct=True, method="max") * 100).to_numpy()
    groups = pd.Series(peers.to_numpy(dtype=object)).fillna("(none)")
    return (scores.groupby(groups).rank(pct=True, method="max") * 100).to_numpy()


def peer_column(target: str) -> str:
    return TARGETS[target].peer_column


def raw_values(model: ScoringModel, features: pd.DataFrame) -> np.ndarray:
    """The rows' raw values in the model's feature order (for sentences)."""
    return features.reindex(columns=model.feature_names).to_numpy(dtype=object)


def scored_probabilities(model: ScoringModel, explained: Explained):
    """Probabilities, points and base probability of an explanation, rounded as stored."""
    probability, points, base = probabilities_and_points(model, explained.contributions)
    return np.round(probability, DECIMALS), points, round(base, DECIMALS)


def score_frame(
    model: ScoringModel,
    explained: Explained,
    raw: np.ndarray,
    context: pd.DataFrame,
    cuts: BandCuts,
    *,
    scored_at: datetime,
    registry: dict,
    previous: Previous | None = None,
    data_through=None,
    top_k: int = TOP_K,
) -> pd.DataFrame:
    """Score rows for the explained entities (`context` aligned by row), with reasons, bands
    (`cuts`), the change since `previous` and suggested actions. Returns the documented output
    columns; inputs are not modified."""
    target = model.target
    probability, points, base = scored_probabilities(model, explained)
    ctx = context.reset_index(drop=True).reindex(columns=[*CONTEXT_COLUMNS, "account_id"])
    names = model.feature_names
    reasons = matrix_reasons(points, raw, names, target, registry, top_k, probability - base)
    out = pd.DataFrame({ID_COLUMNS[target]: explained.ids.astype(str)})
    out["as_of"] = pd.Timestamp(explained.as_of)
    out["probability"] = probability
    out["model_version"] = str(explained.model_version)
    out["reasons"] = as_json(reasons)
    out["band"] = cuts.band(probability)
    out["lift"] = np.round(cuts.lift(probability), 4)
    peers = ctx[peer_column(target)]
    out["percentile"] = np.round(
        peer_percentile(probability, peers if peers.notna().any() else None), 1
    )
    out["base_probability"] = base
    out = out.join(change_columns(model, explained, probability, raw, previous, registry, top_k))
    out["actions"] = as_json(actions_for(model, explained, raw, out["band"], registry))
    out["data_through"] = None if data_through is None else pd.Timestamp(data_through)
    if target == "deal_win":
        out["account_id"] = ctx["account_id"].astype(object).to_numpy()
    for column in CONTEXT_COLUMNS:
        out[column] = ctx[column].to_numpy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce").round(MONEY_DECIMALS)
    out["value_at_risk"] = (out["probability"] * out["value"]).round(MONEY_DECIMALS)
    out["target"] = target
    out["scored_at"] = pd.Timestamp(scored_at)
    return out


def change_columns(
    model: ScoringModel,
    explained: Explained,
    probability: np.ndarray,
    raw: np.ndarray,
    previous: Previous | None,
    registry: dict,
    top_k: int,
) -> pd.DataFrame:
    """`previous_*` and `change_reasons` per row (empty where the entity was not scored before).

    The change `probability - previous probability` splits into the part a new model version made
    (the previous rows scored by the current model, against what was shown then) and the part the
    features made, which is shared among features in proportion to the change of their log-odds
    contributions (`barometer.model.artefact.apportion`), so the lines add up to the change."""
    n = len(explained)
    out = pd.DataFrame(
        {
            "previous_as_of": pd.Series([pd.NaT] * n, dtype="datetime64[us]"),
            "previous_probability": np.full(n, np.nan),
            "previous_model_version": pd.Series([None] * n, dtype=object),
            "change_reasons": pd.Series([None] * n, dtype=object),
        }
    )
    if previous is None:
        return out
    where = pd.Index(previous.explained.ids).get_indexer(explained.ids)
    rows = np.flatnonzero(where >= 0)
    if not len(rows):
        return out
    before = previous.explained.take(where[rows])
    was = previous.probability[where[rows]]
    now_of_before, _, _ = probabilities_and_points(model, before.contributions)
    same_model = previous.model_version[where[rows]].astype(str) == str(explained.model_version)
    model_part = np.where(same_model, 0.0, np.round(now_of_before, DECIMALS) - was)
    change = probability[rows] - was
    shift = explained.contributions[rows, :-1] - before.contributions[:, :-1]
    feature_part = apportion(shift, change - model_part)
    changed = changed_cells(before.matrix, explained.matrix[rows])
    values = (previous.raw[where[rows]], raw[rows])
    reasons = change_reasons(
        feature_part,
        changed,
        change,
        model_part,
        values,
        model.feature_names,
        model.target,
        registry,
        top_k,
    )
    out.loc[rows, "previous_as_of"] = pd.Timestamp(previous.as_of)
    out.loc[rows, "previous_probability"] = was
    out.loc[rows, "previous_model_version"] = previous.model_version[where[rows]].astype(str)
    out.loc[rows, "change_reasons"] = as_json(reasons)
    return out


def actions_for(
    model: ScoringModel, explained: Explained, raw: np.ndarray, bands: pd.Series, registry: dict
) -> list[list[dict]]:
    """Up to three suggested behaviours for each at-risk account (high or medium band) and each
    open deal, tried at the values their peers (everyone scored) have; none for the others."""
    chosen = np.flatnonzero(bands.isin(TARGETS[model.target].action_bands).to_numpy())
    out: list[list[dict]] = [[] for _ in range(len(explained))]
    if not len(chosen):
        return out
    tried = candidates(model, registry, explained.matrix)
    suggestions = suggest_actions(model, explained.matrix[chosen], tried)
    for i, found in zip(chosen, suggestions, strict=True):
        out[i] = action_reasons(found, raw[i], model.feature_names, model.target, registry)
    return out


def score_rows(
    model: ScoringModel,
    version: str,
    features: pd.DataFrame,
    context: pd.DataFrame,
    *,
    as_of,
    scored_at,
    registry: dict | None = None,
    previous: Previous | None = None,
    data_through=None,
) -> tuple[pd.DataFrame, Explained, BandCuts]:
    """Every row of `features` (id column first) explained in full and scored with the default
    bands: the job's path without a saved state, for tests, benchmarks and one-off scoring."""
    ids = features[ID_COLUMNS[model.target]].astype(str).to_numpy()
    explained = explain_full(model, ids, model.matrix(features), as_of, version)
    cuts = band_cuts(scored_probabilities(model, explained)[0], model.target)
    raw = raw_values(model, features)
    scored = score_frame(
        model,
        explained,
        raw,
        context,
        cuts,
        scored_at=scored_at,
        registry=registry or {},
        previous=previous,
        data_through=data_through,
    )
    return scored, explained, cuts


def previous_of(model: ScoringModel, explained: Explained, features: pd.DataFrame) -> Previous:
    """A scoring made by `explained` as the previous one of the next (same model)."""
    probability = scored_probabilities(model, explained)[0]
    versions = np.full(len(explained), str(explained.model_version), dtype=object)
    return Previous(explained.as_of, explained, raw_values(model, features), probability, versions)


# ------------------------------------------------------------------ one entity, on demand


def score_now(
    model: ScoringModel,
    matrix: np.ndarray,
    raw: np.ndarray,
    cuts: BandCuts,
    registry: dict,
    tried: list | None = None,
    top_k: int = TOP_K,
) -> dict:
    """One entity scored now from its encoded row (`matrix`, `raw`: one row each), by the batch
    job's rules: the same rounding, reasons and other line, bands (`cuts`: the stored run's) and
    suggested actions (tried at `tried`, `explain.whatif.candidates`)."""
    probability, points, base = probabilities_and_points(model, contributions_of(model, matrix))
    p, base = np.round(probability, DECIMALS), round(base, DECIMALS)
    names = model.feature_names
    reasons = matrix_reasons(points, raw, names, model.target, registry, top_k, p - base)[0]
    band = str(cuts.band(p)[0])
    actions = []
    if tried and band in TARGETS[model.target].action_bands:
        [found] = suggest_actions(model, matrix, tried)
        actions = action_reasons(found, raw[0], names, model.target, registry)
    lift = float(cuts.lift(p)[0])
    return {
        "probability": float(p[0]),
        "base_probability": base,
        "reasons": reasons,
        "band": band,
        "lift": round(lift, 4) if np.isfinite(lift) else None,
        "actions": actions,
    }


def change_since(
    previous_probability: float,
    previous_version: str,
    probability: float,
    version: str,
    target: str,
    registry: dict,
) -> list[dict]:
    """The change of a score made now from the same feature row as a stored score: only a new
    model version can move it, so it is the `model` line (and the `other` line it balances)."""
    change = np.array([round(probability - previous_probability, DECIMALS)])
    model_part = change if str(previous_version) != str(version) else np.zeros(1)
    nothing = np.zeros((1, 0))
    empty = np.empty((1, 0), dtype=object)
    return change_reasons(
        nothing, nothing.astype(bool), change, model_part, (empty, empty), [], target, registry
    )[0]

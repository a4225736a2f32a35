"""Rep diagnosis: each rep's effect against their deal mix, per stage, and what to coach.

How it works, on closed deals (`explain.conduct.closed_deals`) and their stage history:

1. **Expected from deal mix alone.** A LightGBM model of winning (and one of passing each stage)
   on the mix columns only: segment, industry, region, deal type, size, service sourcing and the
   account's history (`explain.conduct.MIX_*`), plus the stage for stage passes. Never the rep's
   identity or record. It is cross-fitted by rep: a rep's deals are scored by a model fitted
   without any of that rep's deals, so the expected rate cannot learn the rep.
2. **Rep effect** = actual − expected, in points of win (or pass) rate, per rep and per stage.
   Effects are shrunk towards the team's (stage's) average in proportion to their noise
   (empirical Bayes, normal approximation: the between-rep spread τ² by DerSimonian-Laird), and
   carry a 90% interval. A rep with a handful of deals stays near the average with a wide interval.
3. **Tiers** come from the win effect: *top* when its interval is above zero, *low* when below,
   *core* otherwise.
4. **What to coach.** A second model adds the owner's conduct on each deal (`CONDUCT`: contacts
   engaged, decision maker reached, follow-up speed, touches per week, call depth) to the mix,
   fitted on every deal (it never sees the rep, and a behaviour only one rep gets wrong can only
   be priced from that rep's deals). A behaviour's *gap* for a rep is the average gain in win (or
   stage-pass) probability on the rep's deals if that behaviour were at the benchmark: the median
   of the team's other best reps (its top tier, or its top quartile by effect) on deals of the
   same segment. Only positive gains count; only conduct is coachable, deal state and account
   attributes are context.
5. **Training needs** per team: for each behaviour, the reps below the benchmark and the expected
   won revenue their gap costs (Σ gain × amount over their deals), largest first.

Figures are associations learned from history (`CAVEAT`): a gap says what the best reps do
differently on comparable deals, not a guaranteed effect of coaching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from explain.conduct import (
    BINARY,
    BY_NAME,
    CONDUCT_NAMES,
    MIX_CATEGORIES,
    MIX_NUMBERS,
    closed_deals,
    with_conduct,
)
from explain.sales_pipeline import stage_progress
from explain.wording import CAVEAT

Z90 = 1.6449
FOLDS = 5
MIN_GAIN = 0.035  # a behaviour gap worth naming: +3.5 pts of win or stage-pass probability
MIN_STAGE_ROWS = 5
WON = "Won"  # the whole funnel, next to the stages
METHOD = (
    "Expected rates come from a model of deal mix alone (segment, industry, region, deal type, "
    "size, service sourcing, the account's earlier deals and tenure, and the stage), fitted "
    "without the rep's own deals; a rep's effect is actual minus expected, shrunk towards the "
    "team average by its noise, with a 90% interval. Top: interval above zero; low: below."
)


# ------------------------------------------------------------------ models


def _encode(frame: pd.DataFrame, numbers: Sequence[str], categories: dict) -> pd.DataFrame:
    """The model columns: numbers as floats, categories with a fixed vocabulary."""
    out = pd.DataFrame(index=frame.index)
    for name in numbers:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name, values in categories.items():
        out[name] = pd.Categorical(frame[name].astype("object"), categories=values)
    return out


def _vocabulary(frame: pd.DataFrame) -> dict[str, list]:
    return {
        c: sorted(frame[c].dropna().astype(str).unique())
        for c in MIX_CATEGORIES
        if frame[c].notna().any()
    }


def _fit(x: pd.DataFrame, y: pd.Series, monotone: dict | None = None) -> lgb.Booster | float:
    """A small, regularised LightGBM classifier (or the base rate when y has one class);
    `monotone` maps columns to +1 / −1 constraints."""
    if y.nunique() < 2:
        return float(y.mean()) if len(y) else 0.5
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 8,
        "min_data_in_leaf": max(10, len(y) // 100),
        "lambda_l2": 1.0,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "seed": 1,
    }
    if monotone:
        params["monotone_constraints"] = [int(monotone.get(c, 0)) for c in x.columns]
    return lgb.train(params, lgb.Dataset(x, y.astype(float)), num_boost_round=150)


def _predict(model: lgb.Booster | float, x: pd.DataFrame) -> np.ndarray:
    if isinstance(model, float):
        return np.full(len(x), model)
    return model.predict(x)


def rep_folds(group: pd.Series, seed: int = 0) -> list[np.ndarray]:
    """Row masks of up to `FOLDS` folds that never split a rep (one fold of all rows when there
    is a single rep)."""
    reps = np.sort(group.astype(str).unique())
    folds = min(FOLDS, len(reps))
    if folds < 2:
        return [np.ones(len(group), dtype=bool)]
    order = np.random.default_rng(seed).permutation(len(reps))
    fold_of = dict(zip(reps[order], np.arange(len(reps)) % folds, strict=True))
    fold = group.astype(str).map(fold_of).to_numpy()
    return [fold == k for k in range(folds)]


def cross_fitted(x: pd.DataFrame, y: pd.Series, group: pd.Series) -> np.ndarray:
    """Each row's probability from a model fitted without its rep's rows (`rep_folds`; with a
    single rep, fitted on all rows)."""
    out = np.empty(len(x))
    for test in rep_folds(group):
        train = ~test if (~test).any() else test
        out[test] = _predict(_fit(x[train], y[train]), x[test])
    return out


# ------------------------------------------------------------------ effects with uncertainty


def _tau2(d: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """DerSimonian-Laird between-rep variance and the precision-weighted mean."""
    w = 1.0 / v
    mu = float(np.sum(w * d) / np.sum(w))
    if len(d) < 2:
        return 0.0, mu
    q = float(np.sum(w * (d - mu) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - (len(d) - 1)) / c) if c > 0 else 0.0, mu


MIN_TAU2 = 0.02**2  # reps are never assumed identical: at least a 2-point spread


def shrunk_effects(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """`table` (n, actual, expected, variance per row) with effect, low and high: actual −
    expected shrunk towards the `by` group's mean (groups of fewer than 3 reps borrow the spread
    of all rows), with a 90% interval that also carries the uncertainty of that mean."""
    raw = (table["actual"] - table["expected"]).to_numpy(float)
    var = np.maximum(table["variance"].to_numpy(float), 1e-6)
    tau_all, _ = _tau2(raw, var)
    effect, sd = np.empty(len(table)), np.empty(len(table))
    keys = table[list(by)].astype(str).agg("|".join, axis=1) if by else pd.Series("", table.index)
    for _, rows in table.groupby(keys.to_numpy()).indices.items():
        tau, mu = _tau2(raw[rows], var[rows])
        tau = max(tau if len(rows) >= 3 else tau_all, MIN_TAU2)
        weight = tau / (tau + var[rows])
        mean_var = 1.0 / np.sum(1.0 / (tau + var[rows]))
        effect[rows] = mu + weight * (raw[rows] - mu)
        sd[rows] = np.sqrt(weight * var[rows] + (1 - weight) ** 2 * mean_var)
    return table.assign(
        effect=effect, low=effect - Z90 * sd, high=effect + Z90 * sd, raw_effect=raw
    )


def _outcomes(rows: pd.DataFrame, outcome: str, keys: list[str]) -> pd.DataFrame:
    """Per group: n, actual rate, expected rate, and the variance of actual − expected."""
    rows = rows.assign(_var=rows["expected"] * (1 - rows["expected"]))
    table = rows.groupby(keys, dropna=False).agg(
        n=(outcome, "size"),
        actual=(outcome, "mean"),
        expected=("expected", "mean"),
        _var=("_var", "sum"),
    )
    table["variance"] = table["_var"] / table["n"] ** 2
    return table.drop(columns="_var").reset_index()


def tier(low: float, high: float) -> str:
    return "top" if low > 0 else "low" if high < 0 else "core"


# ------------------------------------------------------------------ behaviour gaps


def benchmark_reps(reps: pd.DataFrame) -> set[str]:
    """Per team, the best reps: its top tier, or (fewer than two) its top quartile by effect."""
    best: set[str] = set()
    for _, team in reps.groupby("team"):
        top = team[team["tier"] == "top"]
        if len(top) < 2:
            k = max(1, int(np.ceil(len(team) / 4)))
            top = team.nlargest(k, "effect")
        best |= set(top["rep_id"])
    return best


def benchmarks(deals: pd.DataFrame, best: set[str]) -> pd.DataFrame:
    """The best reps' conduct per (team, segment), and per team (segment None): the median, or
    for a yes/no behaviour the share of deals."""
    mine = deals[deals["owner_rep_id"].isin(best)]
    per_segment = typical(mine, ["team", "segment"]).reset_index()
    per_team = typical(mine, ["team"]).reset_index().assign(segment=None)
    return pd.concat([per_segment, per_team], ignore_index=True)


def typical(deals: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group: each behaviour's median, or for a yes/no behaviour its share of deals."""
    grouped = deals.groupby(keys)
    medians = grouped[[n for n in CONDUCT_NAMES if n not in BINARY]].median()
    shares = grouped[[n for n in CONDUCT_NAMES if n in BINARY]].mean()
    return medians.join(shares)[list(CONDUCT_NAMES)]


def _benchmark_values(rows: pd.DataFrame, bench: pd.DataFrame, name: str) -> np.ndarray:
    """The benchmark of `name` for each row: its team and segment, else its team."""
    seg = bench.dropna(subset=["segment"]).set_index(["team", "segment"])[name]
    team = bench[bench["segment"].isna()].set_index("team")[name]
    keys = pd.MultiIndex.from_arrays([rows["team"], rows["segment"]])
    found = seg.reindex(keys).to_numpy(float)
    fallback = team.reindex(rows["team"]).to_numpy(float)
    return np.where(np.isnan(found), fallback, found)


def directions(model, x: pd.DataFrame) -> dict[str, int]:
    """+1 when more of a behaviour raises the model's probability on average (10th → 90th
    percentile of its values), −1 when it lowers it, 0 when it does not move it."""
    out = {}
    for name in CONDUCT_NAMES:
        values = x[name].dropna()
        if values.nunique() < 2:
            out[name] = 0
            continue
        low, high = values.quantile([0.1, 0.9]).to_numpy()
        if low == high:
            low, high = values.min(), values.max()
        lift = _predict(model, x.assign(**{name: high})) - _predict(model, x.assign(**{name: low}))
        out[name] = int(np.sign(np.round(lift.mean(), 4)))
    return out


def gains(
    model, x: pd.DataFrame, rows: pd.DataFrame, bench: pd.DataFrame, sign: dict
) -> pd.DataFrame:
    """Per row and behaviour: the model's probability if the rep's typical level on deals of
    that segment moved to the benchmark, minus the probability as it was.

    A number shifts every one of the rep's deals by (benchmark − the rep's median), within the
    values seen; a yes/no behaviour turns on for enough of the rep's "no" deals to reach the
    benchmark's share. Only moves in the helpful direction (`sign`) count: a rep already at or
    beyond the benchmark gains nothing, and nobody is coached down. Rows without a value (e.g. no
    meeting to follow up) gain nothing."""
    base = _predict(model, x)
    keys = [rows["owner_rep_id"], rows["segment"]]
    mine = typical(rows.assign(**{n: x[n] for n in CONDUCT_NAMES}), ["owner_rep_id", "segment"])
    own_typical = mine.reindex(pd.MultiIndex.from_arrays(keys))
    out = pd.DataFrame(index=rows.index)
    for name in CONDUCT_NAMES:
        target = _benchmark_values(rows, bench, name)
        level = own_typical[name].to_numpy(float)
        own = x[name].to_numpy(float)
        ahead = sign[name] * (target - level) > 0
        if name in BINARY:
            share = np.clip((target - level) / np.where(level < 1, 1 - level, 1), 0, 1)
            flip = 1.0 if sign[name] > 0 else 0.0
            moved = _predict(model, x.assign(**{name: flip}))
            gain = np.where(own != flip, share * (moved - base), 0.0)
        else:
            values = x[name].dropna()
            shifted = np.clip(own + (target - level), values.min(), values.max())
            gain = _predict(model, x.assign(**{name: np.where(ahead, shifted, own)})) - base
        out[name] = np.where(ahead & ~np.isnan(own), gain, 0.0)
    return out


def fold_gains(
    x: pd.DataFrame, y: pd.Series, rows: pd.DataFrame, deals: pd.DataFrame, best: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`gains` with each rep's rows compared with the benchmark of the other best reps, so a
    rep's own deals never set the level they are measured against.

    The conduct model that prices a gap is fitted on every deal: it sees conduct and deal mix,
    never the rep, and a behaviour only one rep gets wrong (the one rep who never reaches the
    decision maker) can only be priced from that rep's deals. Each behaviour's direction comes
    from the same model, which is then held monotone in it.

    Returns the gains and, per rep, the team benchmark they were compared with (rep_id,
    behaviour, benchmark)."""
    sign = directions(_fit(x, y), x)
    model = _fit(x, y, sign)
    parts, used = [], []
    for test in rep_folds(rows["owner_rep_id"]):
        fold_reps = set(rows.loc[test, "owner_rep_id"])
        bench = _fold_benchmarks(deals, best, fold_reps)
        parts.append(gains(model, x[test], rows[test], bench, sign))
        used.append(_team_benchmark(bench, deals, fold_reps))
    return pd.concat(parts).loc[rows.index], pd.concat(used, ignore_index=True)


def _fold_benchmarks(deals: pd.DataFrame, best: set[str], excluded: set[str]) -> pd.DataFrame:
    """Benchmarks from the best reps outside `excluded`; a team left without any keeps all its
    best reps."""
    full, held = benchmarks(deals, best), benchmarks(deals, best - excluded)
    missing = full[~full["team"].isin(held["team"])]
    return pd.concat([held, missing], ignore_index=True)


def _team_benchmark(bench: pd.DataFrame, deals: pd.DataFrame, reps: set[str]) -> pd.DataFrame:
    team_of = deals.drop_duplicates("owner_rep_id").set_index("owner_rep_id")["team"]
    per_team = bench[bench["segment"].isna()].set_index("team")[list(CONDUCT_NAMES)]
    rows = per_team.reindex(team_of.reindex(sorted(reps)).to_numpy())
    rows.index = sorted(reps)
    return rows.stack().rename("benchmark").rename_axis(["rep_id", "behaviour"]).reset_index()


# ------------------------------------------------------------------ the diagnosis


@dataclass(frozen=True)
class Diagnosis:
    """Every rep's effect, stage effects, behaviour gaps and findings, and each team's needs."""

    reps: (
        pd.DataFrame
    )  # rep_id, team, left, deals, won, win_rate, expected_win_rate, effect, low, high, tier
    stages: pd.DataFrame  # rep_id, stage, stage_index, n, pass_rate, expected, effect, low, high
    gaps: pd.DataFrame  # rep_id, behaviour, value, benchmark, win_gain, revenue, stage, stage_gain
    stage_gaps: pd.DataFrame  # rep_id, stage, behaviour, gain (stage-pass probability)
    findings: pd.DataFrame  # rep_id, kind, stage, behaviours (tuple), sentence
    needs: pd.DataFrame  # team, behaviour, family, description, benchmark, typical, reps, deals,
    #                      expected_revenue, sentence
    period: tuple[pd.Timestamp | None, pd.Timestamp | None]
    method: str = METHOD
    caveat: str = CAVEAT


def _model_inputs(frame: pd.DataFrame, vocab: dict, extra: Sequence[str] = ()) -> pd.DataFrame:
    return _encode(frame, [*MIX_NUMBERS, *extra], vocab)


def _stage_rows(
    deals: pd.DataFrame, opportunities: pd.DataFrame, stages: pd.DataFrame, order: Sequence[str]
) -> pd.DataFrame:
    """(closed deal, stage) rows with a known fate, the deal's columns joined on."""
    closed = opportunities[opportunities["opportunity_id"].isin(deals["opportunity_id"])]
    progress = stage_progress(closed, stages, order)
    return progress.merge(deals, on="opportunity_id").assign(
        passed=lambda r: r["passed"].astype(float)
    )


def diagnose(
    opportunities: pd.DataFrame,
    stages: pd.DataFrame | None,
    activities: pd.DataFrame,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    stage_order: Sequence[str],
    *,
    since: pd.Timestamp | None = None,
) -> Diagnosis:
    """The diagnosis of every rep who owns closed deals (closed at or after `since`).

    Inputs are contract tables: `activities` needs the deal-linked rows (see
    `explain.conduct.deal_conduct`); `stages` may be None (no stage effects then).
    """
    deals = with_conduct(closed_deals(opportunities, accounts, reps, since=since), activities)
    if deals.empty:
        raise ValueError("no closed deals with an owner to diagnose")
    vocab = _vocabulary(deals)
    x_mix = _model_inputs(deals, vocab)
    deals["expected"] = cross_fitted(x_mix, deals["won"], deals["owner_rep_id"])
    rep_table = _rep_table(deals, reps)
    rows = (
        _stage_rows(deals, opportunities, stages, stage_order)
        if stages is not None
        else pd.DataFrame()
    )
    stage_table = pd.DataFrame(
        columns=["rep_id", "stage", "stage_index", "n", "pass_rate", "expected", "effect"]
    )
    if not rows.empty:
        x_stage = _model_inputs(rows, vocab, ["stage_index"])
        rows["expected"] = cross_fitted(x_stage, rows["passed"], rows["owner_rep_id"])
        stage_table = _stage_table(rows)
    gap_table, stage_gaps = _gaps(deals, rows, rep_table, vocab)
    findings = _findings(rep_table, stage_table, gap_table, stage_gaps)
    needs = training_needs(gap_table, rep_table, deals)
    period = (deals["closed_at"].min(), deals["closed_at"].max())
    return Diagnosis(rep_table, stage_table, gap_table, stage_gaps, findings, needs, period)


def _rep_table(deals: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    table = _outcomes(deals, "won", ["owner_rep_id", "team"]).rename(
        columns={"owner_rep_id": "rep_id", "actual": "win_rate", "expected": "expected_win_rate"}
    )
    table = shrunk_effects(
        table.rename(columns={"win_rate": "actual", "expected_win_rate": "expected"}), ["team"]
    ).rename(columns={"actual": "win_rate", "expected": "expected_win_rate", "n": "deals"})
    won = deals.groupby("owner_rep_id")["won"].sum()
    table["won"] = table["rep_id"].map(won).astype(int)
    table["tier"] = [tier(lo, hi) for lo, hi in zip(table["low"], table["high"], strict=True)]
    left = reps.set_index("rep_id")["left_at"] if "left_at" in reps else pd.Series(dtype=object)
    table["left_at"] = table["rep_id"].map(left)
    columns = ["rep_id", "team", "left_at", "deals", "won", "win_rate", "expected_win_rate"]
    columns += ["effect", "low", "high", "raw_effect", "variance", "tier"]
    return table[columns].sort_values(
        ["team", "effect"], ascending=[True, False], ignore_index=True
    )


def _stage_table(rows: pd.DataFrame) -> pd.DataFrame:
    table = _outcomes(rows, "passed", ["owner_rep_id", "stage", "stage_index"])
    table = shrunk_effects(table, ["stage"]).rename(
        columns={"owner_rep_id": "rep_id", "actual": "pass_rate"}
    )
    return table.sort_values(["rep_id", "stage_index"], ignore_index=True)


def _gaps(
    deals: pd.DataFrame, rows: pd.DataFrame, rep_table: pd.DataFrame, vocab: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per rep and behaviour: the rep's median, the team benchmark, the win gain and its revenue,
    and the stage where the behaviour's pass gain is largest; and the per-stage gains (rep_id,
    stage, behaviour, gain) for stages with at least `MIN_STAGE_ROWS` of the rep's deals."""
    best = benchmark_reps(rep_table)
    x_win = _model_inputs(deals, vocab, CONDUCT_NAMES)
    win, bench = fold_gains(x_win, deals["won"], deals, deals, best)
    amount = pd.to_numeric(deals["amount"], errors="coerce").fillna(0.0).to_numpy()
    owner = deals["owner_rep_id"]
    table = win.groupby(owner).mean().stack().rename("win_gain").to_frame()
    table["revenue"] = win.mul(amount, axis=0).groupby(owner).sum().stack()
    table["value"] = typical(deals, ["owner_rep_id"]).stack()
    table = table.rename_axis(["rep_id", "behaviour"]).reset_index()
    table = table.merge(bench, on=["rep_id", "behaviour"], how="left")
    at_stage = _stage_gains(rows, deals, best, vocab)
    best = at_stage.sort_values("gain", ascending=False).drop_duplicates(["rep_id", "behaviour"])
    table = table.merge(
        best.rename(columns={"gain": "stage_gain"}), on=["rep_id", "behaviour"], how="left"
    )
    return table, at_stage


def _stage_gains(
    rows: pd.DataFrame, deals: pd.DataFrame, best: set[str], vocab: dict
) -> pd.DataFrame:
    """Mean stage-pass gain per (rep, stage, behaviour) with enough of the rep's deals."""
    columns = ["rep_id", "stage", "behaviour", "gain"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    x_pass = _model_inputs(rows, vocab, ["stage_index", *CONDUCT_NAMES])
    passing, _ = fold_gains(x_pass, rows["passed"], rows, deals, best)
    groups = passing.groupby([rows["owner_rep_id"], rows["stage"]])
    mean = groups.mean()[groups.size() >= MIN_STAGE_ROWS]
    long = mean.stack().reset_index()
    long.columns = columns
    return long


# ------------------------------------------------------------------ findings in words


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _pts(value: float) -> str:
    return f"{value * 100:+.0f} pts"


def _value(name: str, value: float) -> str:
    unit = BY_NAME[name].unit
    if unit == "share":
        return _pct(value)
    return f"{value:.1f} {unit}" if unit else f"{value:.1f}"


def behaviour_words(gap: pd.Series) -> str:
    """'follow-up speed after meetings (4.3 days against 0.6 days for the team's best reps, worth
    +9 pts of win chance)'."""
    name = gap["behaviour"]
    return (
        f"{BY_NAME[name].phrase} ({_value(name, gap['value'])} against "
        f"{_value(name, gap['benchmark'])} for the team's best reps, worth "
        f"{_pts(gap['win_gain'])} of win chance)"
    )


def _behind(gaps: pd.DataFrame, stage_gaps: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The rep's behaviours whose gain at `stage` is worth naming, largest first (`gaps` rows)."""
    at = stage_gaps[(stage_gaps["stage"] == stage) & (stage_gaps["gain"] >= MIN_GAIN)]
    at = at.sort_values("gain", ascending=False)
    return gaps.set_index("behaviour").loc[at["behaviour"]].reset_index()


def _finding(rep_id: str, kind: str, stage: str | None, names, sentence: str) -> dict:
    return {
        "rep_id": rep_id,
        "kind": kind,
        "stage": stage,
        "behaviours": tuple(names),
        "sentence": sentence,
    }


def _rep_findings(
    rep: pd.Series, stages: pd.DataFrame, gaps: pd.DataFrame, stage_gaps: pd.DataFrame
) -> list[dict]:
    """The findings for one rep (see `_findings`)."""
    rid, out = rep["rep_id"], []
    wins = f"wins {_pct(rep['win_rate'])} against {_pct(rep['expected_win_rate'])} expected"
    stumbles = stages[stages["high"] < 0].sort_values("effect")
    coach = gaps[gaps["win_gain"] >= MIN_GAIN].sort_values("win_gain", ascending=False)
    for s in stumbles.itertuples():
        behind = _behind(gaps, stage_gaps, s.stage)
        why = (
            "; behind it: " + "; ".join(behaviour_words(g) for _, g in behind.head(2).iterrows())
            if len(behind)
            else "; no coachable behaviour explains it"
        )
        label = {
            "top": "Top performer who stumbles",
            "core": "Core performer who stalls",
            "low": "Low performer who stalls",
        }[rep["tier"]]
        out.append(
            _finding(
                rid,
                "stumble",
                s.stage,
                behind["behaviour"].head(2),
                f"{label} at {s.stage}: passes {_pct(s.pass_rate)} there against "
                f"{_pct(s.expected)} expected for the deal mix{why}.",
            )
        )
    named = {b for f in out for b in f["behaviours"]}
    worst = stages.sort_values("effect")["stage"].head(1).tolist()
    for _, g in coach[~coach["behaviour"].isin(named)].head(2).iterrows():
        stage = g["stage"] if isinstance(g["stage"], str) else (worst[0] if worst else None)
        where = f", most at {stage}" if stage else ""
        if rep["tier"] == "top":
            kind, text = "off_playbook", f"Strong closer off the playbook: {wins}, yet skips"
        elif rep["tier"] == "core":
            kind, text = "skill_gap", f"Core performer with a skill gap: {wins}; gap in"
        else:
            kind, text = "low_gap", f"Low performer: {wins}; what differs most is"
        out.append(
            _finding(rid, kind, stage, [g["behaviour"]], f"{text} {behaviour_words(g)}{where}.")
        )
    if out:
        return out
    stage = worst[0] if worst else None
    if rep["tier"] == "low":
        where = f"; the largest shortfall is at {stage}" if stage else ""
        return [
            _finding(
                rid,
                "low_unexplained",
                stage,
                [],
                f"Low performer: {wins}{where}; no coachable behaviour explains it.",
            )
        ]
    if rep["tier"] == "top":
        text = f"Top performer: {wins}; no stage below expectations and nothing to coach."
        return [_finding(rid, "top_clean", None, [], text)]
    return [_finding(rid, "in_line", None, [], f"In line with the deal mix: {wins}.")]


def _findings(
    reps: pd.DataFrame, stages: pd.DataFrame, gaps: pd.DataFrame, stage_gaps: pd.DataFrame
) -> pd.DataFrame:
    """Findings for every rep, each naming the stage and the behaviours behind it:

    - *stumble*: a stage whose pass rate is credibly below expected (90% interval below zero),
      with the behaviours whose benchmark would lift it most;
    - *off_playbook* (top tier), *skill_gap* (core), *low_gap* (low): a behaviour whose gap to the
      team's best reps is worth at least `MIN_GAIN` of win chance, with the stage where it bites;
    - otherwise *top_clean*, *in_line* or *low_unexplained*.
    """
    rows = []
    for _, rep in reps.iterrows():
        rid = rep["rep_id"]
        rows += _rep_findings(
            rep,
            stages[stages["rep_id"] == rid],
            gaps[gaps["rep_id"] == rid],
            stage_gaps[stage_gaps["rep_id"] == rid],
        )
    return pd.DataFrame(rows, columns=["rep_id", "kind", "stage", "behaviours", "sentence"])


def flagged(findings: pd.DataFrame) -> dict[str, set[str]]:
    """Per rep, the behaviours the findings name as flaws."""
    out: dict[str, set[str]] = {}
    for rep, names in zip(findings["rep_id"], findings["behaviours"], strict=True):
        out.setdefault(rep, set()).update(names)
    return out


# ------------------------------------------------------------------ training needs


def training_needs(gaps: pd.DataFrame, reps: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    """Per team and behaviour: the reps whose gap to the benchmark is positive and the expected
    won revenue it costs over their closed deals; only positive gaps, largest first."""
    teams = reps.set_index("rep_id")["team"]
    below = gaps[(gaps["win_gain"] > 0.005) & (gaps["revenue"] > 0)].assign(
        team=lambda g: g["rep_id"].map(teams)
    )
    counts = deals.groupby("owner_rep_id").size()
    start, end = deals["closed_at"].min(), deals["closed_at"].max()
    rows = []
    for (team, name), group in below.groupby(["team", "behaviour"]):
        info = BY_NAME[name]
        n_deals = int(counts.reindex(group["rep_id"]).sum())
        revenue = float(group["revenue"].sum())
        rows.append(
            {
                "team": team,
                "behaviour": name,
                "family": info.family,
                "description": info.description,
                "benchmark": float(group["benchmark"].iloc[0]),
                "typical": float(group["value"].median()),
                "reps": len(group),
                "deals": n_deals,
                "expected_revenue": revenue,
                "sentence": (
                    f"{len(group)} reps fall short on {info.phrase}: the team's best reps reach "
                    f"{_value(name, group['benchmark'].iloc[0])}, they "
                    f"{_value(name, group['value'].median())}. Matching the best reps would have "
                    f"won about ${revenue:,.0f} more (expected) on their {n_deals} deals closed "
                    f"{start:%Y-%m-%d} to {end:%Y-%m-%d}."
                ),
            }
        )
    columns = ["team", "behaviour", "family", "description", "benchmark", "typical", "reps"]
    columns += ["deals", "expected_revenue", "sentence"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(
        ["team", "expected_revenue"], ascending=[True, False], ignore_index=True
    )

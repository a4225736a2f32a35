"""Outcome labels with their own time, so the trainer can keep a gap of H between train and test.

- Churn: "the account churns within H days after the cutoff", for the accounts in the
  definition's population at the cutoff. Three definitions (`ChurnLabels.definition`):
  - `explicit`: churn dates recorded by the company: `accounts.churned_at` and the
    `churn_events` log (several per account). A customer churns at a churn event and is a customer
    again after a reactivation event or a later usage or purchase, so it may churn again.
    Population: created before the cutoff and not churned at it.
  - `inactivity`: the account churns when it has gone N days without an activity of the chosen
    types (it churns at the end of the silence; a later activity reactivates it). Population:
    created before the cutoff and not inside such a silence.
  - `no_activity`: "no activity of the chosen types within the horizon", the usual question for
    purchase logs (will this customer buy again in the next 90 days?). Population: every account
    seen before the cutoff, however long it has been silent.
  `label_time = cutoff + H`.
- Deal win: one row per open-deal snapshot (each cutoff while open, each stage entry) of deals
  that eventually closed; the label is the eventual outcome, `label_time` its `closed_at`. Deals
  still open never get a label.
- Rep attrition: "the rep leaves within H days after the cutoff" (`reps.left_at`), for the reps
  employed at the cutoff (`features.core.rep_grid`, the rep features' entities too);
  `label_time = cutoff + H` (`Settings.rep_attrition_horizon_days`).
Rows whose label is not yet fully known at `data_end` are dropped (`churn_population` keeps them:
it is who is scored at each cutoff).

The definition, horizon and inactivity days are set in one place, the `labels:` block of
`experiments/churn.yaml` (`ChurnLabels`, embedded by `training.config`), which `barometer
features` reads and its flags override.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _
from ibis.backends import BaseBackend

from barometer.settings import DEFAULT_STAGE_ORDER
from features import prep
from features.backends import Engine, available, fetch, open_frames
from features.core import Context
from features.label_config import DEFINITIONS, ChurnDefinition, ChurnLabels, ResolvedChurn
from features.timeline import US_PER_DAY, cutoff_table, day_to_timestamp, normalise_cutoffs


class LabelError(ValueError):
    """The chosen churn definition gives labels nothing can learn from."""


def churn_evidence(con: BaseBackend) -> dict[str, int]:
    """Recorded churn in the data: accounts with `churned_at`, churn and reactivation events."""
    tables = available(con)
    a = con.table("accounts")
    out = {"churned_at": int(a.churned_at.notnull().sum().to_pyarrow().as_py() or 0)}
    out["churn_events"] = out["reactivations"] = 0
    if "churn_events" in tables:
        e = con.table("churn_events")
        back = e.is_reactivation.fill_null(False)
        counts = e.aggregate(
            churns=ibis.ifelse(back, 0, 1).sum(), returns=ibis.ifelse(back, 1, 0).sum()
        ).to_pyarrow()
        out["churn_events"] = int(counts["churns"][0].as_py() or 0)
        out["reactivations"] = int(counts["returns"][0].as_py() or 0)
    return out


def default_activity_types(con: BaseBackend) -> tuple[str, ...]:
    """Usage and purchase when any were ingested, otherwise every activity type present."""
    t = con.table("activities")
    kinds = sorted(v for v in fetch(t.select(kind=prep.lower(t.type)).distinct())["kind"] if v)
    usage = tuple(k for k in prep.USAGE_TYPES if k in kinds)
    return usage or tuple(kinds)


def resolve_churn(
    con: BaseBackend, config: ChurnLabels, evidence: dict[str, int] | None = None
) -> ResolvedChurn:
    """The concrete definition for this data (`auto` decided by what was ingested)."""
    evidence = churn_evidence(con) if evidence is None else evidence
    types = config.activity_types or default_activity_types(con)
    if config.definition != "auto":
        why = "set in the config or by a flag"
        definition = config.definition
    elif evidence["churned_at"] or evidence["churn_events"]:
        definition = "explicit"
        why = (
            f"auto: churn dates were ingested ({evidence['churned_at']:,} accounts.churned_at, "
            f"{evidence['churn_events']:,} churn events)"
        )
    else:
        definition = "no_activity"
        why = "auto: no churn dates or churn events were ingested"
    return ResolvedChurn(definition, config.horizon_days, config.inactive_days, tuple(types), why)


def _backend(tables: dict[str, pd.DataFrame] | BaseBackend, engine: Engine) -> BaseBackend:
    return open_frames(tables, engine) if isinstance(tables, dict) else tables


def _data_end_us(data_end: pd.Timestamp | None) -> int | None:
    if data_end is None:
        return None
    return int((pd.Timestamp(data_end) - pd.Timestamp("1970-01-01")) // pd.Timedelta("1us"))


def _created_before(con: BaseBackend, cut: ir.Table) -> ir.Table:
    """(account_id, c_day) for accounts created before each cutoff."""
    a = prep.accounts(con)
    return a.join(cut, a.created_us < cut.c_day * US_PER_DAY).select("account_id", "c_day")


def _activity_times(con: BaseBackend, types: tuple[str, ...]) -> ir.Table:
    """(account_id, us) of the activities of `types`."""
    t = con.table("activities")
    kinds = tuple(k.lower() for k in types)
    return t.filter(prep.lower(t.type).isin(kinds)).select(
        "account_id", us=prep.micros(t.occurred_at)
    )


def _churn_moments(con: BaseBackend) -> ir.Table:
    """(account_id, us) of every recorded churn: `accounts.churned_at` and churn events."""
    a = prep.accounts(con)
    moments = a.filter(a.churned_us.notnull()).select("account_id", us=a.churned_us)
    if "churn_events" in available(con):
        e = con.table("churn_events")
        churns = e.filter(~e.is_reactivation.fill_null(False))
        moments = moments.union(churns.select("account_id", us=prep.micros(churns.churned_at)))
    return moments


def _returns(con: BaseBackend) -> ir.Table:
    """(account_id, us) of returns after a churn: reactivation events, usage and purchases."""
    back = _activity_times(con, prep.USAGE_TYPES)
    if "churn_events" in available(con):
        e = con.table("churn_events")
        again = e.filter(e.is_reactivation.fill_null(False))
        back = back.union(again.select("account_id", us=prep.micros(again.churned_at)))
    return back


def _hits(moments: ir.Table, cut: ir.Table, horizon_days: int) -> ir.Table:
    """(account_id, c_day) with a moment in [cutoff, cutoff + H)."""
    start = cut.c_day * US_PER_DAY
    inside = (moments.us >= start) & (moments.us < start + horizon_days * US_PER_DAY)
    return moments.join(cut, inside).select("account_id", "c_day").distinct()


def _labelled(population: ir.Table, hits: ir.Table) -> ir.Table:
    j = population.left_join(hits.mutate(hit=ibis.literal(1)), ["account_id", "c_day"])
    return j.select(
        population.account_id, population.c_day, label=ibis.ifelse(j.hit.notnull(), 1, 0)
    )


def explicit_churn(con: BaseBackend, cut: ir.Table, horizon_days: int) -> ir.Table:
    """Customers at each cutoff (created before, not churned at it) and whether they churn
    within the horizon; churning exactly at the cutoff counts as churning within it.

    Churned at a cutoff: the latest churn before it has no return (reactivation event, usage or
    purchase) at or after it and before the cutoff."""
    moments = _churn_moments(con)
    before = moments.join(cut, moments.us < cut.c_day * US_PER_DAY)
    last = before.group_by(["account_id", "c_day"]).aggregate(last_us=before.us.max())
    back = _returns(con)
    came_back = (
        last.join(
            back,
            [
                last.account_id == back.account_id,
                back.us >= last.last_us,
                back.us < last.c_day * US_PER_DAY,
            ],
        )
        .select(last.account_id, last.c_day)
        .distinct()
    )
    churned = last.select("account_id", "c_day").difference(came_back)
    population = _created_before(con, cut).difference(churned)
    return _labelled(population, _hits(moments, cut, horizon_days))


def _silences(con: BaseBackend, types: tuple[str, ...], days: int, end_us: int | None) -> ir.Table:
    """Churn moments under the inactivity rule: `days` after an activity (or account creation)
    with no further activity of `types` within `days`. Open silences at the data's end count only
    if they already lasted `days`."""
    a = prep.accounts(con)
    events = _activity_times(con, types).union(a.select("account_id", us=a.created_us))
    nxt = _.us.lead().over(ibis.window(group_by=_.account_id, order_by=_.us))
    events = events.mutate(next_us=nxt)
    span = days * US_PER_DAY
    ended = events.next_us.notnull() & (events.next_us - events.us >= span)
    if end_us is not None:
        ended |= events.next_us.isnull() & (ibis.literal(end_us) - events.us >= span)
    return events.filter(ended).select("account_id", churn_us=_.us + span, last_us=_.us)


def inactivity_churn(
    con: BaseBackend,
    cut: ir.Table,
    horizon_days: int,
    inactive_days: int,
    types: tuple[str, ...],
    end_us: int | None,
) -> ir.Table:
    """Customers at each cutoff under the inactivity rule, and whether they churn within H."""
    s = _silences(con, types, inactive_days, end_us)
    # Churned at the cutoff: inside a silence whose churn moment has passed (and not yet broken).
    s2 = s.view()
    inside = s2.join(cut, (s2.churn_us < cut.c_day * US_PER_DAY)).select(
        "account_id", "c_day", "last_us"
    )
    acts = _activity_times(con, types)
    broken = (
        inside.join(
            acts,
            [
                inside.account_id == acts.account_id,
                acts.us > inside.last_us,
                acts.us < inside.c_day * US_PER_DAY,
            ],
        )
        .select(inside.account_id, inside.c_day, inside.last_us)
        .distinct()
    )
    churned = inside.difference(broken).select("account_id", "c_day").distinct()
    customers = _created_before(con, cut).difference(churned)
    return _labelled(customers, _hits(s.select("account_id", us=s.churn_us), cut, horizon_days))


def no_activity_churn(
    con: BaseBackend, cut: ir.Table, horizon_days: int, types: tuple[str, ...]
) -> ir.Table:
    """Every account seen before each cutoff; 1 when it has no activity of `types` in
    [cutoff, cutoff + H)."""
    active = _hits(_activity_times(con, types), cut, horizon_days)
    j = _created_before(con, cut).left_join(
        active.mutate(hit=ibis.literal(1)), ["account_id", "c_day"]
    )
    return j.select("account_id", "c_day", label=ibis.ifelse(j.hit.notnull(), 0, 1))


def churn_population(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    churn: ResolvedChurn,
    data_end: pd.Timestamp | None = None,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """Every account of the definition's population at every cutoff, with its label (known or
    not yet): account_id, cutoff, label (0/1), label_time (cutoff + horizon)."""
    con = _backend(tables, engine)
    cut = cutoff_table(normalise_cutoffs(cutoffs))
    h = churn.horizon_days
    frame = fetch(churn_expr(con, cut, churn, _data_end_us(data_end)))
    frame["cutoff"] = day_to_timestamp(frame.pop("c_day"))
    frame["label_time"] = (frame["cutoff"] + pd.Timedelta(days=h)).astype("datetime64[us]")
    frame["label"] = frame["label"].astype("int64")
    out = frame[["account_id", "cutoff", "label", "label_time"]]
    return out.sort_values(["account_id", "cutoff"]).reset_index(drop=True)


def known(population: pd.DataFrame, data_end: pd.Timestamp | None) -> pd.DataFrame:
    """The rows whose label is fully known by `data_end`."""
    if data_end is None:
        return population
    keep = population["label_time"] <= pd.Timestamp(data_end)
    return population[keep].reset_index(drop=True)


def churn_expr(
    con: BaseBackend, cut: ir.Table, churn: ResolvedChurn, end_us: int | None
) -> ir.Table:
    """(account_id, c_day, label) for the definition's population at every cutoff, as an
    expression (the Spark lake build writes it without fetching it)."""
    h = churn.horizon_days
    if churn.definition == "explicit":
        return explicit_churn(con, cut, h)
    if churn.definition == "inactivity":
        return inactivity_churn(con, cut, h, churn.inactive_days, churn.activity_types, end_us)
    if churn.definition == "no_activity":
        return no_activity_churn(con, cut, h, churn.activity_types)
    raise ValueError(f"unknown churn definition {churn.definition!r}: use {DEFINITIONS}")


def churn_labels(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    horizon_days: int = 90,
    definition: ChurnDefinition = "explicit",
    inactive_days: int = 60,
    activity_types: tuple[str, ...] = prep.USAGE_TYPES,
    data_end: pd.Timestamp | None = None,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """`labels_churn` rows: account_id, cutoff, label (0/1), label_time (cutoff + horizon)."""
    churn = ResolvedChurn(definition, horizon_days, inactive_days, tuple(activity_types), "given")
    return known(churn_population(tables, cutoffs, churn, data_end, engine), data_end)


def label_counts(labels: pd.DataFrame) -> dict[str, int]:
    return {
        "rows": len(labels),
        "positives": int((labels["label"] == 1).sum()),
        "negatives": int((labels["label"] == 0).sum()),
    }


def deal_win_expr(ctx: Context) -> ir.Table:
    """(opportunity_id, c_day, label, label_time) for snapshots of deals that closed won or lost."""
    g, o = ctx.opportunity_grid, ctx.opportunities
    closed = o.filter(o.closed_us.notnull() & o.result.isin(("won", "lost")))
    j = g.join(closed, "opportunity_id")
    return j.select(
        "opportunity_id",
        "c_day",
        label=ibis.ifelse(j.result == "won", 1, 0),
        label_time=j.closed_at,
    )


def deal_win_labels(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    stage_order: tuple[str, ...] = DEFAULT_STAGE_ORDER,
    stage_entry_snapshots: bool = True,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """`labels_deal_win` rows: opportunity_id, cutoff, label (1 = won), label_time (closed_at)."""
    con = _backend(tables, engine)
    ctx = Context(
        con, normalise_cutoffs(cutoffs), tuple(stage_order), available(con), stage_entry_snapshots
    )
    try:
        frame = fetch(deal_win_expr(ctx))
    finally:
        ctx.close()
    frame["cutoff"] = day_to_timestamp(frame.pop("c_day"))
    frame["label"] = frame["label"].astype("int64")
    frame["label_time"] = frame["label_time"].astype("datetime64[us]")
    out = frame[["opportunity_id", "cutoff", "label", "label_time"]]
    return out.sort_values(["opportunity_id", "cutoff"]).reset_index(drop=True)


def rep_attrition_expr(ctx: Context, horizon_days: int) -> ir.Table:
    """(rep_id, c_day, label) for the reps employed at each cutoff (`Context.rep_grid`): 1 when
    the rep leaves within H days of it (leaving on the cutoff day counts)."""
    g, r = ctx.rep_grid, prep.reps(ctx.con)
    j = g.join(r.select("rep_id", "left_day"), "rep_id")
    leaves = j.left_day.notnull() & (j.left_day < j.c_day + horizon_days)
    return j.select("rep_id", "c_day", label=ibis.ifelse(leaves, 1, 0))


def rep_attrition_labels(
    tables: dict[str, pd.DataFrame] | BaseBackend,
    cutoffs: Iterable,
    horizon_days: int = 90,
    data_end: pd.Timestamp | None = None,
    engine: Engine = "duckdb",
) -> pd.DataFrame:
    """`labels_rep_attrition` rows: rep_id, cutoff, label (1 = leaves within the horizon),
    label_time (cutoff + horizon); rows not yet known at `data_end` are dropped."""
    con = _backend(tables, engine)
    ctx = Context(con, normalise_cutoffs(cutoffs), DEFAULT_STAGE_ORDER, available(con))
    try:
        frame = fetch(rep_attrition_expr(ctx, horizon_days))
    finally:
        ctx.close()
    frame["cutoff"] = day_to_timestamp(frame.pop("c_day"))
    frame["label_time"] = (frame["cutoff"] + pd.Timedelta(days=horizon_days)).astype(
        "datetime64[us]"
    )
    frame["label"] = frame["label"].astype("int64")
    out = known(frame[["rep_id", "cutoff", "label", "label_time"]], data_end)
    return out.sort_values(["rep_id", "cutoff"]).reset_index(drop=True)

"""The three churn definitions on hand-made cases with known answers, their point-in-time rules,
the default chosen from what was ingested, and one-class labels caught when features are built."""

from __future__ import annotations

import pandas as pd
import pytest

from features.backends import normalise_tables, open_frames
from features.build import build_all
from features.label_config import ChurnLabels, ResolvedChurn
from features.labels import LabelError, churn_labels, churn_population, resolve_churn
from features.warehouse import connect, replace_table

T = pd.Timestamp
FEB, MAR, APR, MAY = T("2024-02-01"), T("2024-03-01"), T("2024-04-01"), T("2024-05-01")
END = T("2024-12-31")


def _accounts(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "created_at", "churned_at"])


def _activities(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "occurred_at", "type"])
    return frame.assign(activity_id=[f"x{i}" for i in range(len(frame))])


def _events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "churned_at", "is_reactivation"])
    return frame.assign(churn_event_id=[f"e{i}" for i in range(len(frame))])


def _labels(tables, cutoffs, definition, **kw) -> dict:
    frame = churn_labels(tables, cutoffs, definition=definition, data_end=END, **kw)
    return {(r.account_id, r.cutoff): r.label for r in frame.itertuples()}


@pytest.fixture
def churn_log() -> dict[str, pd.DataFrame]:
    """`back` churns 10 Feb, is reactivated 20 Mar and churns again 10 Jun; `used` churns 10 Feb
    and comes back by buying on 5 Apr (no reactivation event)."""
    return {
        "accounts": _accounts(
            [("back", T("2023-01-01"), pd.NaT), ("used", T("2023-01-01"), pd.NaT)]
        ),
        "activities": _activities([("used", T("2024-04-05"), "purchase")]),
        "churn_events": _events(
            [
                ("back", T("2024-02-10"), False),
                ("back", T("2024-03-20"), True),
                ("back", T("2024-06-10"), False),
                ("used", T("2024-02-10"), None),
            ]
        ),
    }


def test_explicit_churn_from_events_with_returns_and_a_second_churn(churn_log):
    got = _labels(churn_log, [FEB, MAR, APR, MAY], "explicit", horizon_days=90)
    assert got[("back", FEB)] == 1  # churns on 10 Feb
    assert ("back", MAR) not in got  # churned, not yet back
    assert got[("back", APR)] == 1 and got[("back", MAY)] == 1  # back, churns again on 10 Jun
    assert got[("used", FEB)] == 1
    assert ("used", APR) not in got  # its purchase on 5 Apr is after the April cutoff
    assert got[("used", MAY)] == 0  # a customer again, no further churn


def test_explicit_churn_uses_accounts_churned_at_too():
    tables = {
        "accounts": _accounts([("a", T("2023-01-01"), T("2024-03-15"))]),
        "activities": _activities([]),
        "churn_events": _events([("a", T("2024-08-01"), False)]),
    }
    got = _labels(tables, [FEB, MAR, APR, MAY], "explicit", horizon_days=90)
    assert got == {("a", FEB): 1, ("a", MAR): 1}  # churned 15 Mar; no return after it


@pytest.fixture
def purchases() -> dict[str, pd.DataFrame]:
    """`quiet` last bought in July 2023, `buyer` every two weeks, `edge` on the cutoff day and
    exactly one horizon later, `new` appears in March."""
    buys = [("quiet", T("2023-07-01"), "purchase")]
    buys += [("buyer", d, "purchase") for d in pd.date_range("2023-06-01", END, freq="14D")]
    buys += [("edge", FEB, "purchase"), ("edge", FEB + pd.Timedelta(days=90), "purchase")]
    buys += [("new", T("2024-03-10"), "purchase"), ("new", T("2024-03-10"), "call")]
    accounts = _accounts(
        [
            ("quiet", T("2023-07-01"), pd.NaT),
            ("buyer", T("2023-06-01"), pd.NaT),
            ("edge", T("2023-06-01"), pd.NaT),
            ("new", T("2024-03-10"), pd.NaT),
        ]
    )
    return {"accounts": accounts, "activities": _activities(buys)}


def test_no_activity_within_the_horizon_covers_everyone_ever_seen(purchases):
    got = _labels(
        purchases, [FEB, APR], "no_activity", horizon_days=90, activity_types=("purchase",)
    )
    assert got[("quiet", FEB)] == 1 and got[("quiet", APR)] == 1  # silent for months: still scored
    assert got[("buyer", FEB)] == 0
    assert got[("edge", FEB)] == 0  # a purchase on the cutoff day is within the horizon
    assert ("new", FEB) not in got and got[("new", APR)] == 1  # its call does not count
    later = _labels(
        purchases,
        [FEB + pd.Timedelta(days=1)],
        "no_activity",
        horizon_days=90,
        activity_types=("purchase",),
    )
    assert later[("edge", FEB + pd.Timedelta(days=1))] == 0  # the purchase 90 days after 1 Feb
    assert (
        _labels(purchases, [FEB], "no_activity", horizon_days=89, activity_types=("purchase",))[
            ("edge", FEB)
        ]
        == 0
    )  # (the cutoff-day one)


def _moved(tables: dict, delta: pd.Timedelta, after: pd.Timestamp) -> dict:
    """The tables with every activity and churn event at or after `after` moved by `delta`."""
    out = {k: v.copy() for k, v in tables.items()}
    acts = out["activities"]
    acts.loc[acts.occurred_at >= after, "occurred_at"] += delta
    if "churn_events" in out:
        ev = out["churn_events"]
        ev.loc[ev.churned_at >= after, "churned_at"] += delta
    return out


@pytest.mark.parametrize("definition", ["explicit", "inactivity", "no_activity"])
def test_labels_depend_on_nothing_after_the_horizon(churn_log, purchases, definition):
    """Pushing everything that happens after cutoff + horizon further into the future changes no
    label (and no population) at that cutoff."""
    tables = {
        "accounts": pd.concat([churn_log["accounts"], purchases["accounts"]], ignore_index=True),
        "activities": pd.concat(
            [churn_log["activities"], purchases["activities"]], ignore_index=True
        ),
        "churn_events": churn_log["churn_events"],
    }
    kw = {"horizon_days": 60, "activity_types": ("purchase",), "inactive_days": 30}
    horizon_end = FEB + pd.Timedelta(days=60)
    before = _labels(tables, [FEB], definition, **kw)
    after = _labels(_moved(tables, pd.Timedelta(days=200), horizon_end), [FEB], definition, **kw)
    assert before and before == after
    # ...while moving the events inside the horizon past it does change some label: the
    # comparison above has teeth.
    inside = _labels(_moved(tables, pd.Timedelta(days=200), FEB), [FEB], definition, **kw)
    assert inside != before


def test_no_activity_label_comes_only_from_after_the_cutoff(purchases):
    """A purchase the day before the cutoff is history, not an answer to the question."""
    kw = {"horizon_days": 90, "activity_types": ("purchase",)}
    tables = {k: v.copy() for k, v in purchases.items()}
    acts = tables["activities"]
    acts.loc[(acts.account_id == "edge") & (acts.occurred_at == FEB), "occurred_at"] = (
        FEB - pd.Timedelta(days=1)
    )
    assert _labels(tables, [FEB], "no_activity", **kw)[("edge", FEB)] == 1


def _resolved(tables: dict, **config) -> ResolvedChurn:
    return resolve_churn(open_frames(tables), ChurnLabels(**config))


def test_auto_chooses_explicit_when_churn_dates_were_ingested(churn_log, purchases):
    assert _resolved(churn_log).definition == "explicit"
    dated = {**purchases, "accounts": purchases["accounts"].assign(churned_at=T("2024-06-01"))}
    chosen = _resolved(dated)
    assert chosen.definition == "explicit" and "4 accounts.churned_at" in chosen.why
    plain = _resolved(purchases)
    assert plain.definition == "no_activity" and "no churn dates" in plain.why
    assert plain.activity_types == ("purchase",)  # usage/purchase ingested: those count
    assert _resolved(purchases, definition="inactivity").definition == "inactivity"


def test_population_keeps_unlabelled_recent_cutoffs(purchases):
    churn = ResolvedChurn("no_activity", 90, 60, ("purchase",), "test")
    population = churn_population(purchases, [FEB, T("2024-12-01")], churn, data_end=END)
    late = population[population.cutoff == T("2024-12-01")]
    assert set(late.account_id) == {"quiet", "buyer", "edge", "new"}  # scored, not yet labelled
    assert T("2024-12-01") not in set(
        churn_labels(
            purchases,
            [T("2024-12-01")],
            90,
            "no_activity",
            activity_types=("purchase",),
            data_end=END,
        ).cutoff
    )


def _warehouse(settings, tables) -> None:
    settings.ensure_home()
    with connect(settings.warehouse_path) as con:
        for name, frame in normalise_tables(tables).items():
            replace_table(con, name, frame)


@pytest.fixture
def buyers() -> dict[str, pd.DataFrame]:
    """Twelve customers buying regularly; four stop on 20 January. No churn dates."""
    buys, accounts = [], []
    for i in range(12):
        stop = T("2024-01-20") if i < 4 else END
        days = pd.date_range("2023-09-01", stop, freq="10D")
        buys += [(f"c{i}", d, "purchase") for d in days]
        accounts.append((f"c{i}", T("2023-09-01"), pd.NaT))
    return {"accounts": _accounts(accounts), "activities": _activities(buys)}


def test_one_class_labels_are_refused_at_build_with_the_other_definitions(settings, buyers):
    _warehouse(settings, buyers)
    with pytest.raises(LabelError) as caught:
        build_all(settings, as_of=[FEB, MAR], churn=ChurnLabels(definition="explicit"))
    message = str(caught.value)
    assert "no churning accounts" in message
    assert "no_activity: 8 churning of 24" in message  # four accounts at both cutoffs
    assert "inactivity (60 days): 8 churning of 24" in message  # silent 60 days on 20 March
    assert "--churn-definition" in message
    assert not (settings.features_dir / "labels_churn.parquet").exists()  # nothing half-written


def test_auto_moves_on_from_one_class_labels_and_says_so(settings, buyers):
    dated = {**buyers, "accounts": buyers["accounts"].assign(churned_at=T("2024-11-30"))}
    _warehouse(settings, dated)
    report = build_all(settings, as_of=[FEB, MAR], churn=ChurnLabels())
    assert report.meta["churn"]["definition"] != "explicit"
    assert any("using" in note and "instead" in note for note in report.notes)
    assert report.meta["churn"]["chosen_because"].startswith("auto: explicit gave one class")


def _one_feature_model():
    from barometer.model.artefact import ScoringModel
    from barometer.model.encoder import FeatureEncoder
    from barometer.model.scorers import LinearScorer
    from barometer.model.store import LoadedModel

    core = LinearScorer(-2.0, (0,), (0.0,), (0.0,), (30.0,), (1.0,), (0.0,), (0.0,))
    encoder = FeatureEncoder({"days_since_last_usage": "numeric"}).fit(pd.DataFrame())
    model = ScoringModel("churn", encoder, core=core)
    return LoadedModel("churn", model, "1")


def test_scoring_covers_the_definitions_population_silent_customers_included(
    settings, purchases, churn_log
):
    from barometer.scoring import job

    tables = {
        "accounts": pd.concat([purchases["accounts"], churn_log["accounts"]], ignore_index=True),
        "activities": pd.concat(
            [purchases["activities"], churn_log["activities"]], ignore_index=True
        ),
        "churn_events": churn_log["churn_events"],
    }
    _warehouse(settings, tables)
    as_of = T("2024-03-01")
    build_all(settings, as_of=[FEB, as_of], churn=ChurnLabels(definition="no_activity"))
    scored = job.run(settings, _one_feature_model(), as_of.to_pydatetime())
    with connect(settings.warehouse_path, read_only=True) as con:
        who = {r[0] for r in con.execute("select entity_id from scores").fetchall()}
    # Everyone seen before 1 March, however silent (`quiet` last bought in July 2023).
    assert who == {"quiet", "buyer", "edge", "back", "used"} and scored.rows == 5
    build_all(settings, as_of=[FEB, as_of], churn=ChurnLabels(definition="explicit"))
    job.run(settings, _one_feature_model(), as_of.to_pydatetime())
    with connect(settings.warehouse_path, read_only=True) as con:
        latest = con.execute(
            "select entity_id from scores where scored_at = (select max(scored_at) from scores)"
        ).fetchall()
    # Explicit churn: `back` and `used` churned on 10 February and had not come back by March.
    assert {r[0] for r in latest} == {"quiet", "buyer", "edge"}

"""Rep profiles, training needs and the bottleneck report on a hand-built team with known habits."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from barometer.model.artefact import ScoringModel
from barometer.model.encoder import FeatureEncoder
from explain.reps import rep_profiles, training_needs
from explain.sales_pipeline import bottlenecks, size_band, stage_progress
from features.registry import Feature

STAGES = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation")
DEAL_REGISTRY = (
    Feature(
        "contacts_engaged",
        "opportunity",
        "reach",
        "Contacts engaged on the deal",
        90,
        actionable=True,
        unit="contacts",
    ),
    Feature(
        "follow_up_days",
        "opportunity",
        "responsiveness",
        "Days to follow up after a meeting",
        90,
        actionable=True,
        unit="days",
    ),
    Feature("amount", "opportunity", "account_context", "Deal amount", None),
)
DEAL_FEATURES = [f.name for f in DEAL_REGISTRY]

# rep: (pass probability per stage, contacts range, follow-up days range)
HABITS = {
    "r0": ([0.95] * 5, (0, 1), (8, 10)),  # wins a lot, single-threaded and slow: off the playbook
    "r1": ([1, 1, 1, 0.55, 1], (1, 2), (1, 5)),  # top performer who stumbles at Proposal
    "r2": ([0.8] * 5, (2, 6), (12, 15)),  # core performer, very slow to follow up
    "r3": ([0.6] * 5, (2, 6), (1, 5)),
    "r4": ([0.6] * 5, (2, 6), (1, 5)),
    "r5": ([0.8] * 5, (2, 6), (1, 5)),
    "r6": ([0.8] * 5, (2, 6), (1, 5)),
    "r7": ([0.8] * 5, (2, 6), (1, 5)),
}


def deal_model() -> ScoringModel:
    """Deal-win model where engaging more contacts and following up fast both help."""
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame(
        {
            "contacts_engaged": rng.integers(0, 8, n).astype(float),
            "follow_up_days": rng.uniform(0, 15, n).round(1),
            "amount": rng.uniform(5000, 40000, n).round(0),
        }
    )
    logit = -0.8 + 0.5 * frame["contacts_engaged"] - 0.25 * frame["follow_up_days"]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "seed": 2, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(frame.to_numpy(), label), 60)
    encoder = FeatureEncoder(dict.fromkeys(DEAL_FEATURES, "numeric")).fit(frame)
    return ScoringModel("deal_win", encoder, booster)


def team_world(seed: int = 9, per_rep: int = 40):
    """Deals, stage history and opportunities of one team, following HABITS."""
    rng = np.random.default_rng(seed)
    deals, stages = [], []
    for rep, (passes, contacts, follow) in HABITS.items():
        for k in range(per_rep):
            oid = f"{rep}-{k}"
            reached = 0
            for i, p in enumerate(passes):
                stages.append((oid, STAGES[i], pd.Timestamp("2026-01-01") + pd.Timedelta(days=i)))
                reached = i
                if rng.random() >= p:
                    break
            else:
                reached = len(passes)
            won = reached == len(passes)
            deals.append(
                {
                    "opportunity_id": oid,
                    "account_id": f"a-{rep}-{k}",
                    "owner_rep_id": rep,
                    "team": "east",
                    "segment": "smb",
                    "type": "new_business",
                    "amount": 20000.0,
                    "contacts_engaged": float(rng.integers(contacts[0], contacts[1] + 1)),
                    "follow_up_days": float(rng.uniform(*follow)),
                    "won": float(won),
                    "outcome": "won" if won else "lost",
                }
            )
    deals = pd.DataFrame(deals)
    deals["size"] = size_band(deals["amount"])
    stages = pd.DataFrame(stages, columns=["opportunity_id", "stage", "entered_at"])
    return deals, stages


@pytest.fixture(scope="module")
def world():
    deals, stages = team_world()
    return deal_model(), deals, stages


def test_stage_progress_counts_known_fates_only() -> None:
    opps = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "outcome": ["won", "lost", "open"]})
    stages = pd.DataFrame(
        {
            "opportunity_id": ["a", "a", "b", "b", "c", "c"],
            "stage": [
                "Prospecting",
                "Proposal",
                "Prospecting",
                "Proposal",
                "Prospecting",
                "Proposal",
            ],
        }
    )
    progress = stage_progress(opps, stages, STAGES).set_index(["opportunity_id", "stage"])
    assert progress.loc[("a", "Proposal"), "passed"]  # won at its last stage
    assert not progress.loc[("b", "Proposal"), "passed"]  # lost there
    assert progress.loc[("c", "Prospecting"), "passed"]  # moved on
    assert ("c", "Proposal") not in progress.index  # still open there: fate unknown
    assert ("a", "Discovery") not in progress.index  # skipped stage


def test_rep_profiles_classify_the_known_habits(world) -> None:
    model, deals, stages = world
    progress = stage_progress(deals, stages, STAGES)
    profiles = {p.rep_id: p for p in rep_profiles(model, deals, progress, DEAL_REGISTRY)}
    assert {profiles["r0"].tier, profiles["r1"].tier} == {"top"}
    assert {profiles["r3"].tier, profiles["r4"].tier} == {"low"}

    r1 = profiles["r1"]
    assert "top performer stumbling at a stage" in r1.categories
    assert any("stumbles at Proposal" in f and "Contacts engaged" in f for f in r1.findings)

    r0 = profiles["r0"]
    assert "successful closer off the playbook" in r0.categories
    assert r0.win_rate > r0.expected_win_rate + 0.3

    r2 = profiles["r2"]
    assert r2.tier == "core" and "core performer with a skill deficiency" in r2.categories
    assert "Days to follow up after a meeting" in r2.findings[-1]
    assert r2.percentiles["follow_up_days"] == 100.0
    for plain in ("r5", "r6", "r7"):
        assert profiles[plain].categories == []


def test_training_needs_rank_the_costliest_gap_first() -> None:
    model = deal_model()
    rng = np.random.default_rng(4)
    n = 200
    top = np.arange(n) < 50  # reps t0, t1 engage many contacts; everyone follows up alike
    deals = pd.DataFrame(
        {
            "opportunity_id": [f"o{i}" for i in range(n)],
            "owner_rep_id": np.where(
                top, np.where(np.arange(n) % 2, "t0", "t1"), [f"c{i % 6}" for i in range(n)]
            ),
            "team": "west",
            "amount": 10000.0,
            "contacts_engaged": np.where(top, 6.0, 1.0),
            "follow_up_days": rng.uniform(2, 4, n).round(1),
        }
    )
    deals["won"] = np.where(top, rng.random(n) < 0.8, rng.random(n) < 0.2).astype(float)
    needs = training_needs(model, deals, DEAL_REGISTRY)
    first = needs.iloc[0]
    assert first["feature"] == "contacts_engaged" and first["top_median"] == 6.0
    assert first["expected_revenue_gap"] > 150 * 10000 * 0.2  # >20 pts on each of 150 deals
    other = needs.set_index("feature").loc["follow_up_days", "expected_revenue_gap"]
    assert abs(other) < first["expected_revenue_gap"] / 10
    assert "not causal" in first["caveat"]


def test_bottlenecks_find_the_leaky_stage_and_its_predictor() -> None:
    rng = np.random.default_rng(8)
    n = 300
    contacts = rng.integers(0, 7, n).astype(float)
    follow = rng.uniform(1, 10, n)
    passes_proposal = rng.random(n) < np.where(contacts >= 3, 0.85, 0.15)
    won = passes_proposal & (rng.random(n) < 0.9)
    rows, snaps = [], []
    for i in range(n):
        last = 4 if passes_proposal[i] else 3
        for stage in STAGES[: last + 1]:
            rows.append((f"o{i}", stage))
            snaps.append((f"o{i}", stage, contacts[i], follow[i], pd.Timestamp("2026-01-01")))
    stages = pd.DataFrame(rows, columns=["opportunity_id", "stage"])
    snapshots = pd.DataFrame(
        snaps, columns=["opportunity_id", "stage", "contacts_engaged", "follow_up_days", "cutoff"]
    )
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"o{i}" for i in range(n)],
            "account_id": [f"a{i % 250}" for i in range(n)],
            "outcome": np.where(won, "won", "lost"),
        }
    )
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(400)]})
    report = bottlenecks(accounts, opps, stages, STAGES, snapshots, DEAL_REGISTRY)
    funnel = report.funnel.set_index("step")
    assert funnel.loc["Lead → opportunity", ["entered", "passed"]].tolist() == [400, 250]
    assert funnel.loc["Prospecting", "pass_rate"] == 1.0
    assert funnel.loc["Proposal", "passed"] == passes_proposal.sum()
    assert funnel.loc["Negotiation", "passed"] == won.sum()
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        assert funnel.loc[a, "passed"] == funnel.loc[b, "entered"]
    proposal = report.predictors[report.predictors["stage"] == "Proposal"].iloc[0]
    assert proposal["feature"] == "contacts_engaged" and proposal["direction"] == 1
    assert proposal["auc"] > 0.75
    assert set(report.predictors["feature"]) <= {"contacts_engaged", "follow_up_days"}
    assert report.sentence.startswith("The pipeline leaks most at Proposal")
    assert "more 'Contacts engaged on the deal'" in report.sentence

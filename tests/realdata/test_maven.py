"""Maven CRM deal log, end to end with data/mappings/maven_crm_sales.yaml and the shipped deal-win
config. Outcomes in this data set do not depend on anything known when a deal opens: the run must
show near-chance skill honestly, and register nothing that is no better than a guess."""

from __future__ import annotations

import pytest

from tests.ingest.helpers import assert_accounting, rows
from tests.realdata.conftest import run_pipeline, summary_line
from training.evaluate import MODEL


@pytest.fixture(scope="module")
def maven(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("maven")
    return run_pipeline(root, shared_data, "maven_crm_sales", "deal_win")


def test_maven_rows_and_the_deal_win_outcome(maven) -> None:
    assert_accounting(maven.ingest)
    (deals,) = [r for r in maven.ingest.results if r.table == "opportunities"]
    assert (deals.rows_read, deals.rejected) == (8800, 1588)
    # Win = the deal closed won, lost = closed lost; open deals are scored, never labelled.
    labelled = rows(
        maven.settings,
        "select o.outcome, l.label, count(distinct l.opportunity_id) from labels_deal_win l "
        "join opportunities o using (opportunity_id) group by 1, 2 order by 1, 2",
    )
    assert [(outcome, label) for outcome, label, _ in labelled] == [("lost", 0), ("won", 1)]
    assert sum(n for *_, n in labelled) > 5000


def test_maven_honestly_shows_near_chance_skill(maven, request) -> None:
    """Deal outcomes in this data set do not depend on anything known when the deal opens."""
    summary_line("maven_crm_sales", maven, request)
    train = maven.train
    auc = train.summary["roc_auc_mean"]
    # A deal log: no BG/NBD, and no recency or frequency column for the heuristic.
    assert set(auc.index) == {MODEL, "logistic", "base_rate"}
    assert train.plan.folds >= 1
    low, high = train.ci
    assert low < 0.5 + 0.01 and abs(auc[MODEL] - 0.5) < 0.05
    assert train.version is None and train.winner is None
    assert train.refusals[0].startswith("nothing beats the base rate")
    assert maven.scored is None  # no scores from a model that is no better than a guess

"""The rep-attrition target: departures are counted per rep, and too few get an honest answer
(the training verdict the service shows) instead of a model."""

from __future__ import annotations

import pandas as pd
import pytest

from barometer.model.status import TrainingStatus, read_status, status_path, write_status
from barometer.settings import Settings
from training.guards import TooFewPositives, check_positive_entities
from training.runs import resolve_config


def rep_months(leavers: int, stayers: int, months: int = 12) -> pd.DataFrame:
    """Rep-month rows; each leaver is positive in the three months before leaving."""
    rows = []
    for r in range(leavers + stayers):
        for m in range(months):
            label = int(r < leavers and m >= months - 3)
            rows.append({"rep_id": f"r{r}", "cutoff": pd.Timestamp(2024, m + 1, 1), "label": label})
    return pd.DataFrame(rows)


def test_departures_are_counted_per_rep_not_per_row() -> None:
    guards = resolve_config("rep_attrition", None).guards
    assert guards.min_positive_entities == 20
    frame = rep_months(leavers=19, stayers=40)
    assert int(frame["label"].sum()) == 57 >= guards.min_positives  # rows alone would pass
    with pytest.raises(TooFewPositives) as caught:
        check_positive_entities(frame, guards, "rep_attrition", "rep_id")
    assert "Not enough departures to learn from (19; need 20)" in str(caught.value)
    assert (caught.value.count, caught.value.need) == (19, 20)
    assert check_positive_entities(rep_months(20, 40), guards, "rep_attrition", "rep_id") == 20


def test_the_guard_is_off_for_targets_that_do_not_ask_for_it() -> None:
    churn = resolve_config("churn", None)
    assert churn.guards.min_positive_entities == 0
    assert check_positive_entities(rep_months(1, 5), churn.guards, "churn", "rep_id") == 0


def test_training_verdict_round_trip(tmp_path) -> None:
    settings = Settings(home=tmp_path / "workspace")
    status = TrainingStatus("rep_attrition", False, "Not enough departures (1; need 20).", 1, 20)
    assert read_status(settings, "rep_attrition") is None
    write_status(settings, status)
    got = read_status(settings, "rep_attrition")
    assert got is not None and got.at
    assert (got.reason, got.count, got.need) == (status.reason, 1, 20)
    status_path(settings, "rep_attrition").write_text("{not json")
    assert read_status(settings, "rep_attrition") is None  # unreadable: nothing is claimed

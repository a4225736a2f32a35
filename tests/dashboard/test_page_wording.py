"""What a page says where it has no figure to show, and points written one way: the deal list of
a churn-only export says why there is no deal-win model; a rep with nothing to gain is not said
to be level with the best reps where the table shows them behind; a reason's points read the
same whole or in tenths in its sentence and in the waterfall beside it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from barometer.model.store import NoModelTrained, StaticProvider
from explain.wording import format_points
from serving.app import ServeOptions, create_app
from serving.dashboard import mount, svg
from tests.dashboard.conftest import backtest, reliability, sign_in
from tests.dashboard.test_pages import api

VERDICT = (
    "The data has no opportunities table, so there is no deal win model to train; "
    "ingest an export that includes opportunities."
)


class ChurnOnly(StaticProvider):
    def load(self, target):
        if target == "deal_win":
            raise NoModelTrained(VERDICT)
        return super().load(target)


def test_the_deal_list_of_a_churn_only_export_says_why_it_has_no_deals(workspace, models):
    app = create_app(
        workspace,
        provider=ChurnOnly({"churn": models["churn"]}),
        options=ServeOptions(poll_seconds=3600, dashboard=False),
    )
    with TestClient(mount(app, reliability=reliability, backtest=backtest)) as client:
        sign_in(client, "retention")
        page = client.get("/dashboard/opportunities")
        assert page.status_code == 200
        why = re.search(r'data-testid="no-model">([^<]+)</p>', page.text)
        assert why and why.group(1) == f"No deal win model: {VERDICT}"
        assert "0 open deals" not in page.text and "No open deals match" not in page.text
        assert f"No deal win model: {VERDICT}" in client.get("/dashboard/models").text


def test_a_rep_with_nothing_to_gain_is_not_said_to_be_level_with_the_best(client) -> None:
    sign_in(client, "manager")
    profile = api(client, "manager", "/v1/reps/r2/profile")
    assert all((b["win_gain"] or 0) < 0.005 for b in profile["behaviours"])
    follow_up = next(b for b in profile["behaviours"] if b["behaviour"] == "follow_up_days")
    assert follow_up["value"] > follow_up["benchmark"]  # slower to follow up than the best reps
    page = client.get("/dashboard/reps/r2").text
    assert "At or above the team's best reps" not in page
    said = re.search(r'data-testid="no-gaps">([^<]+)</p>', page).group(1)
    assert said == (
        "Matching the team's best reps on any coachable behaviour would not raise this rep's "
        "win chance by 0.5 pts or more."
    )


@pytest.mark.parametrize(
    ("points", "words"),
    [
        (-0.012, "-1 pts"),
        (-0.0096, "-1 pts"),  # rounds to a whole point: written as one, like -1.2
        (0.0095, "+0.9 pts"),
        (0.11, "+11 pts"),
        (-0.0003, "0.0 pts"),  # rounds to nothing: no sign
        (0.0003, "0.0 pts"),
    ],
)
def test_points_read_whole_from_one_point_after_rounding(points, words) -> None:
    assert format_points(points) == words


def test_a_waterfall_step_too_small_to_show_is_marked_as_the_reasons_list_marks_it() -> None:
    chart = svg.waterfall(0.2, [("a", 0.021), ("b", -0.0003), ("c", -0.003)], "why")
    drawn = re.findall(r'<text class="value"[^>]*>([^<]+)</text>', chart)
    assert drawn == ["20.0%", "▲ +2.1 pts", "■ 0.0 pts", "▼ −0.3 pts", "21.8%"]


def test_the_forecast_chart_writes_its_scale_in_money() -> None:
    """The seeded workspace has no past quarter to backtest: the chart as the page draws it."""
    quarters = [("2023-Q3", 5_077_605.0, 3_753_841.0, 6_401_803.0, 1_538_667.0)]
    quarters.append(("2023-Q4", 6_010_611.0, 4_520_706.0, 7_819_593.0, 3_732_443.0))
    chart = svg.forecast_chart(quarters, "Expected bookings against actual bookings")
    axis = re.findall(r'<text class="axis"[^>]*>([^<]+)</text>', chart)
    assert axis[0] == "$7.8M"
    assert not re.search(r"\de[+-]\d", chart)
    assert [svg.money_tick(v) for v in (950.0, 45_200.0, 1_500.0, 12_500_000.0)] == [
        "$950",
        "$45k",
        "$1.5k",
        "$12M",
    ]

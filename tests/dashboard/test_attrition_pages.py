"""Rep attrition on the dashboard: the rep page and the team view show the API's figures to
managers; retention sessions are refused both pages and never see a risk of leaving."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from serving.dashboard import formatting, svg
from tests.dashboard.conftest import make_app, sign_in
from tests.dashboard.test_pages import api
from tests.serving.test_attrition import attrition_workspace


@pytest.fixture(scope="module")
def client(tmp_path_factory, models):
    settings = attrition_workspace(tmp_path_factory.mktemp("attrition") / "workspace", models)
    with TestClient(make_app(settings, models), follow_redirects=False) as test_client:
        yield test_client


def test_team_view_lists_reps_by_risk_as_the_api_does(client) -> None:
    sign_in(client, "manager")
    body = api(client, "manager", "/v1/teams/sales/attrition")
    page = client.get("/dashboard/teams/sales/attrition")
    assert page.status_code == 200
    shown = re.findall(r'<tr data-rep="([^"]+)">', page.text)
    assert shown == [r["rep_id"] for r in body["reps"]] and shown[0] == "r4"
    for rep in body["reps"]:
        assert f'data-value="{rep["probability"]}"' in page.text
    assert "<svg" in page.text and "risk of leaving within 90 days" in page.text
    assert 'href="/dashboard/teams/sales/attrition"' in client.get("/dashboard/teams/sales").text


def test_rep_page_shows_the_risk_and_its_reasons(client) -> None:
    sign_in(client, "manager")
    body = api(client, "manager", "/v1/reps/r4/attrition")["risk"]
    page = client.get("/dashboard/reps/r4").text
    assert f'data-value="{body["probability"]}"' in page
    for contribution in body["contributions"]:
        assert escape(contribution["sentence"]) in page
    # m1 owns no closed deals: no diagnosis, but the risk of leaving is shown.
    manager = client.get("/dashboard/reps/m1")
    assert manager.status_code == 200 and 'data-testid="attrition-probability"' in manager.text


@pytest.mark.parametrize("path", ["/dashboard/teams/sales/attrition", "/dashboard/reps/r4"])
def test_retention_never_sees_a_risk_of_leaving(client, path) -> None:
    sign_in(client, "retention")
    response = client.get(path)
    assert response.status_code == 403 and "needs the manager role" in response.text
    assert "leaving" not in response.text and "attrition" not in response.text.lower()
    worklist = client.get("/dashboard/worklist").text
    assert "attrition" not in worklist.lower() and "leaving" not in worklist


def team_rows(page: str) -> dict[str, str]:
    """Each rep's table row on the team view."""
    return {
        rep: row.split("</tr>")[0]
        for rep, row in re.findall(r'<tr data-rep="([^"]+)">(.*?</tr>)', page, re.S)
    }


def test_the_team_chart_writes_each_risk_as_the_table_does(client) -> None:
    sign_in(client, "manager")
    body = api(client, "manager", "/v1/teams/sales/attrition")
    page = client.get("/dashboard/teams/sales/attrition").text
    chart = page[page.index("<svg") : page.index("</svg>")]
    drawn = re.findall(r'<text class="value"[^>]*>([^<]+)</text>', chart)
    assert drawn == [formatting.pct(r["probability"]) for r in body["reps"]][: len(drawn)]
    rows = team_rows(page)
    for rep, shown in zip(body["reps"], drawn, strict=False):
        assert f">{shown}</td>" in rows[rep["rep_id"]]
    assert 'class="axis-title"' in chart


def test_bands_read_as_risk_of_leaving_high_is_bad_news(client) -> None:
    """The band is drawn as on every other page (icon, word, colour); a high risk of leaving is
    bad news, like a high churn risk."""
    sign_in(client, "manager")
    body = api(client, "manager", "/v1/teams/sales/attrition")
    rows = team_rows(client.get("/dashboard/teams/sales/attrition").text)
    tone = {"high": "bad", "medium": "medium", "low": "good"}
    for rep in body["reps"]:
        band = rep["band"]
        assert f'class="band band-{tone[band]}" data-band="{band}"' in rows[rep["rep_id"]]
    page = client.get("/dashboard/reps/r4").text
    assert body["reps"][0]["band"] == "high"
    assert 'class="band band-bad" data-band="high"' in page


def test_the_rep_page_names_the_baseline_the_reasons_start_from(client) -> None:
    """The reasons add up from the model's baseline, which is not the average rep's risk."""
    sign_in(client, "manager")
    risk = api(client, "manager", "/v1/reps/r4/attrition")["risk"]
    page = client.get("/dashboard/reps/r4").text
    chart = page[page.index('aria-label="r4: risk of leaving') :]
    first = re.search(r'class="value" data-value="([^"]+)"', chart).group(1)
    assert float(first) == pytest.approx(risk["base_probability"], abs=1e-6)
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    baseline = formatting.pct(risk["base_probability"])
    assert f"from the model's baseline of {baseline} before this rep's behaviours" in words
    assert "average rep" not in words


def test_a_waterfall_that_dips_below_zero_stays_in_its_plot() -> None:
    """A small baseline and a large first reason that lowers the risk: the running level goes
    below zero before the other reasons bring it back, and no bar runs into the labels."""
    chart = svg.waterfall(0.0054, [("lowers", -0.0102), ("raises", 0.004), ("raises", 0.0043)], "t")
    labels = {float(x) for x in re.findall(r'<text class="axis" x="([\d.-]+)"', chart)}
    bars = [
        (float(x), float(w))
        for x, w in re.findall(
            r'<rect class="bar \w+" x="([\d.-]+)" y="[\d.]+" width="([\d.]+)"', chart
        )
    ]
    assert max(labels) < min(x for x, _ in bars)
    zero = re.search(r'<line class="zero" x1="([\d.]+)"', chart)
    assert zero and float(zero.group(1)) > min(x for x, _ in bars)  # zero is drawn, inside

"""Rep attrition on the dashboard: the rep page and the team view show the API's figures to
managers; retention sessions are refused both pages and never see a risk of leaving."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

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

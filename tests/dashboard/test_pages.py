"""Dashboard pages through TestClient: sessions, roles, and numbers equal to the API's."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from markupsafe import escape

from serving.auth import Role
from serving.dashboard import session
from tests.dashboard.conftest import KEYS, post_form, sign_in


def api(client, role: str, path: str, **kwargs):
    method = client.post if "json" in kwargs else client.get
    response = method(path, headers={"X-API-Key": KEYS[role]}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def account_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-account="([^"]+)"', html)


def test_pages_need_a_session_and_send_to_the_form(client) -> None:
    client.cookies.clear()
    response = client.get("/dashboard/accounts/A001?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/accounts/A001%3Fx%3D1"


def test_unknown_key_is_refused_and_no_session_is_started(client) -> None:
    client.cookies.clear()
    fields = {"key": "not-a-key-0123456789"}
    response = post_form(client, "/dashboard/login", fields, token_from="/dashboard/login")
    assert response.status_code == 401
    assert "not known" in response.text and session.COOKIE not in str(response.headers)
    assert client.cookies.get(session.COOKIE) is None


def test_session_cookie_holds_a_signed_id_httponly_strict_never_the_key(client) -> None:
    client.cookies.clear()
    fields = {"key": KEYS["manager"], "next": "//evil.example"}
    response = post_form(client, "/dashboard/login", fields, token_from="/dashboard/login")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/worklist"  # no open redirect
    cookie = next(c for c in response.headers.get_list("set-cookie") if session.COOKIE in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Path=/dashboard" in cookie and "Secure" not in cookie  # TestClient: not HTTPS
    assert KEYS["manager"] not in cookie and "manager" not in cookie
    value = client.cookies.get(session.COOKIE)
    store, keyring = client.app.state.service.dashboard.sessions, client.app.state.service.keyring
    found = store.get(value, keyring)
    assert found.role is Role.manager and found.key == keyring.match(KEYS["manager"])[0]
    assert store.get(value[:-2] + "xx", keyring) is None  # tampered
    assert session.SessionStore(b"another secret").get(value, keyring) is None


def test_forged_cookie_is_sent_to_sign_in(client) -> None:
    client.cookies.clear()
    store = client.app.state.service.dashboard.sessions
    forged = store.signer.sign("a-session-id-the-server-never-started").decode()
    client.cookies.set(session.COOKIE, forged, path="/dashboard")
    assert client.get("/dashboard/worklist").status_code == 303


def test_worklist_shows_the_apis_ranking_probabilities_and_total(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/worklist?sort=arr_at_risk&segment=smb")
    body = api(client, "retention", "/v1/accounts?sort=arr_at_risk&segment=smb&limit=50")
    assert account_ids(page.text) == [i["account_id"] for i in body["items"]]
    assert f"{body['total']} accounts" in page.text
    first = body["items"][0]
    assert f'data-probability="{first["probability"]}"' in page.text
    assert f"{first['probability'] * 100:.1f}%" in page.text
    assert first["top_reason"] in page.text


def test_worklist_pages_follow_the_apis_cursor(client, monkeypatch) -> None:
    from serving.dashboard.pages import worklist

    monkeypatch.setattr(worklist, "PAGE_SIZE", 15)
    sign_in(client, "retention")
    first = client.get("/dashboard/worklist")
    link = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(link)
    api_first = api(client, "retention", "/v1/accounts?limit=15")
    api_second = api(
        client, "retention", f"/v1/accounts?limit=15&cursor={api_first['next_cursor']}"
    )
    assert account_ids(second.text) == [i["account_id"] for i in api_second["items"]]
    assert "<td>16</td>" in second.text  # ranks continue
    assert "First page" in second.text


def test_search_by_id_ranks_like_the_api(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/worklist?q=a01")  # A010..A019, case-insensitive
    every = api(client, "retention", "/v1/accounts?limit=500")["items"]
    expected = [i["account_id"] for i in every if i["account_id"].startswith("A01")]
    assert account_ids(page.text) == expected and len(expected) == 10


def test_csv_export_is_the_whole_filtered_worklist(client) -> None:
    sign_in(client, "retention")
    response = client.get("/dashboard/worklist.csv?band=medium&sort=risk")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    body = api(client, "retention", "/v1/accounts?band=medium&limit=500")
    assert [r["account_id"] for r in rows] == [i["account_id"] for i in body["items"]]
    assert len(rows) == body["total"]
    assert float(rows[0]["probability"]) == pytest.approx(body["items"][0]["probability"])
    risk = api(client, "retention", f"/v1/accounts/{rows[0]['account_id']}/churn-risk")
    assert float(rows[0]["change"]) == pytest.approx(risk["change"]["change"])


@pytest.mark.parametrize("sort", ["risk", "arr_at_risk"])
def test_csv_export_of_the_whole_worklist_follows_the_apis_order(client, sort) -> None:
    sign_in(client, "retention")
    first = client.get(f"/dashboard/worklist.csv?sort={sort}")
    rows = list(csv.DictReader(io.StringIO(first.text)))
    body = api(client, "retention", f"/v1/accounts?sort={sort}&limit=500")
    assert [r["account_id"] for r in rows] == [i["account_id"] for i in body["items"]]
    assert [int(r["rank"]) for r in rows] == list(range(1, body["total"] + 1))
    by_id = {i["account_id"]: i for i in body["items"]}
    for row in rows:
        item = by_id[row["account_id"]]
        assert float(row["arr_at_risk"]) == pytest.approx(item["arr_at_risk"])
        assert row["top_reason"] == item["top_reason"] and row["band"] == item["band"]
    assert client.get(f"/dashboard/worklist.csv?sort={sort}").content == first.content


def test_account_page_shows_the_apis_score_reasons_and_history(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/accounts/A007").text
    risk = api(client, "retention", "/v1/accounts/A007/churn-risk")
    assert f'data-value="{risk["probability"]}"' in page
    for sentence in risk["reasons"]:
        assert escape(sentence) in page
    assert page.count('<circle class="dot"') == 2  # two scoring runs in the history chart
    assert "2026-09-01" in page and "2026-10-01" in page
    assert client.get("/dashboard/accounts/NOPE").status_code == 404


def test_what_if_form_runs_the_apis_what_if(client) -> None:
    sign_in(client, "retention")
    form = {"change:open_cases": "0", "change:days_since_last_touch": ""}
    page = post_form(client, "/dashboard/accounts/A003/what-if", form).text
    body = api(
        client,
        "retention",
        "/v1/what-if",
        json={"target": "churn", "entity_id": "A003", "changes": {"open_cases": 0.0}},
    )
    assert f'data-after="{body["probability_after"]}"' in page
    assert escape(body["caveat"]) in page
    bad = post_form(client, "/dashboard/accounts/A003/what-if", {"change:x": ""})
    assert "at least one new value" in bad.text
    nan = post_form(client, "/dashboard/accounts/A003/what-if", {"change:open_cases": "nan"})
    assert "Not a valid value for: open_cases" in nan.text and "data-after" not in nan.text


def test_opportunity_page_shows_stage_history_against_won_deal_norms(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/opportunities/O004").text
    win = api(client, "retention", "/v1/opportunities/O004/win-probability")
    assert f'data-value="{win["probability"]}"' in page
    assert "Prospecting" in page and "Qualification (current)" in page
    # Seeded won deals enter every stage on the same day: the norm is 0 days, so O004 ran over.
    assert "over by" in page


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/drivers",
        "/dashboard/reps/r1",
        "/dashboard/teams/sales",
        "/dashboard/teams/sales/attrition",
        "/dashboard/contribution",
        "/dashboard/pipeline",
    ],
)
def test_managers_pages_are_refused_to_retention_and_hidden(client, path) -> None:
    sign_in(client, "retention")
    response = client.get(path)
    assert response.status_code == 403 and "needs the manager role" in response.text
    nav = client.get("/dashboard/worklist").text
    assert 'href="/dashboard/drivers"' not in nav and 'href="/dashboard/contribution"' not in nav


def test_manager_pages_show_the_apis_figures(client) -> None:
    sign_in(client, "manager")
    profile = api(client, "manager", "/v1/reps/r2/profile")
    page = client.get("/dashboard/reps/r2").text
    for key in ("win_rate", "expected_win_rate", "effect"):
        assert f'data-value="{profile[key]}"' in page
    for finding in profile["findings"]:
        assert escape(finding["sentence"]) in page
    assert page.count("<tr>") >= len(profile["stages"]) + len(profile["behaviours"])
    needs = api(client, "manager", "/v1/teams/sales/training-needs")
    team = client.get("/dashboard/teams/sales").text
    for need in needs["needs"]:
        assert escape(need["description"]) in team
        assert f'data-value="{need["expected_revenue"]}"' in team
    roster = api(client, "manager", "/v1/teams/sales/reps")
    teams = client.get("/dashboard/teams").text
    shown = re.findall(r'<tr data-rep="([^"]+)">', teams.split('data-testid="roster-sales"')[1])
    assert shown == [r["rep_id"] for r in roster["reps"]]  # highest effect first
    report = api(client, "manager", "/v1/reports/contribution")
    contribution = client.get("/dashboard/contribution").text
    assert escape(report["sentence"]) in contribution
    assert f'data-value="{report["total"]["revenue_per_hour"]}"' in contribution
    assert client.get("/dashboard/reps/nobody").status_code == 404


def test_pipeline_page_shows_the_funnel_and_the_coverage_of_the_target_asked(client) -> None:
    sign_in(client, "manager")
    report = api(client, "manager", "/v1/reports/pipeline?target=150000")
    page = client.get("/dashboard/pipeline?target=150000").text
    assert f'data-testid="coverage" data-value="{report["coverage"]}"' in page
    assert f"{report['coverage']:.2f}×" in page
    for step in report["funnel"]:
        name = escape(step["step"])
        row = f'<tr data-step="{name}"><td>{name}</td><td class="num">{step["entered"]}</td>'
        assert row in page
    assert escape(report["leak"]) in page
    assert page.count("/dashboard/opportunities/O0") >= report["stale_count"] > 0
    assert "set a target" in client.get("/dashboard/pipeline").text
    assert client.get("/dashboard/pipeline?target=-5").status_code == 422


def test_models_page_lists_champions_reliability_with_friendly_metrics(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/models").text
    assert 'data-testid="version-churn">3<' in page and 'data-testid="version-deal_win">5<' in page
    assert "Reliability of churn v3" in page and 'class="ideal"' in page
    assert "No reliability table found" in page  # deal_win has none in this fixture
    # registry metrics, then the loaded model's own, each named as a manager reads it
    assert 'ROC AUC (backtest mean)</td><td class="num">0.812<' in page
    assert '<td>ROC AUC</td><td class="num">0.700<' in page
    assert "backtest_roc_auc_mean</td>" not in page
    assert "Predicted probability" in page and "Observed share" in page  # axes titled
    assert "MLflow UI" not in page and "127.0.0.1:5000" not in page  # nothing serves one


def test_static_css_is_served_locally(client) -> None:
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and ".band-bad" in css.text
    page = sign_in(client, "retention").get("/dashboard/worklist").text
    assert "http://" not in page  # no CDN


def test_sign_out_ends_the_session_on_the_server(client) -> None:
    sign_in(client, "retention")
    cookie = client.cookies.get(session.COOKIE)
    response = post_form(client, "/dashboard/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    assert client.get("/dashboard/worklist").status_code == 303
    client.cookies.set(session.COOKIE, cookie, path="/dashboard")  # the old cookie, sent again
    assert client.get("/dashboard/worklist").status_code == 303


def test_backtest_metrics_are_the_numeric_backtest_tags() -> None:
    from barometer.model.store import backtest_metrics

    tags = {"backtest_roc_auc_mean": "0.81", "backtest_id": "abc", "run_id": "r", "backtest_x": "?"}
    assert backtest_metrics(tags) == {"backtest_roc_auc_mean": 0.81}


def test_pages_need_no_inline_script_or_style(client) -> None:
    """What lets the Content-Security-Policy forbid scripts and inline styles (the browser tests
    check that Chromium logs no violation)."""
    sign_in(client, "admin")
    pages = [
        "/dashboard/worklist",
        "/dashboard/accounts/A003",
        "/dashboard/opportunities/O004",
        "/dashboard/drivers",
        "/dashboard/teams/sales",
        "/dashboard/teams/sales/attrition",
        "/dashboard/reps/r1",
        "/dashboard/contribution",
        "/dashboard/models",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src" not in response.headers["content-security-policy"]
        html = response.text.lower()
        assert "<script" not in html and "<style" not in html, path
        assert not re.search(r"\s(style|on[a-z]+)\s*=", html), path


def monitoring_row(rows, kind: str, subject: str, as_of: str | None = None):
    found = rows[(rows["kind"] == kind) & (rows["subject"] == subject)]
    if as_of is not None:
        found = found[found["as_of"] == as_of]
    assert len(found) == 1, (kind, subject, as_of)
    return found.iloc[0]


def test_models_page_shows_the_drift_realised_performance_and_retrain_signal(client, monitored):
    """The churn champion's monitoring (days since the last touch shifted, the second run churned
    twice as often) as the page shows it, number for number against the `monitoring` table."""
    sign_in(client, "retention")
    page = client.get("/dashboard/models").text
    churn = page[page.index('id="monitoring-churn"') : page.index('id="monitoring-deal_win"')]
    assert 'data-testid="signal-churn" data-status="retrain"' in churn
    signal = monitoring_row(monitored, "signal", "retrain")
    for reason in json.loads(signal["detail"])["reasons"]:
        assert f"<li>{escape(reason)}</li>" in churn
    features = monitored[monitored["kind"] == "feature"]
    shown = re.findall(r'<tr data-feature="([^"]+)">', churn)
    assert shown[0] == "days_since_last_touch" and sorted(shown) == sorted(features["subject"])
    for _, row in features.iterrows():
        cells = re.search(rf'<tr data-feature="{row["subject"]}">(.*?)</tr>', churn).group(1)
        assert f'status-{row["status"]}">{row["status"]}<' in cells
        assert f'<td class="num">{row["value"]:.3f}</td>' in cells
    counts = features["status"].value_counts()
    assert f"0 broken, {counts['alert']} shifted, 0 moved, {counts['ok']} stable" in churn
    score = monitoring_row(monitored, "score", "probability")
    assert f'PSI <span class="num">{score["value"]:.3f}</span> ({score["status"]})' in churn
    assert churn.count("<svg") == 4  # feature drift, band shares, realised AUC, realised rate
    for as_of in ("2026-09-01", "2026-10-01"):
        auc = monitoring_row(monitored, "realised", "roc_auc", as_of)
        rate = monitoring_row(monitored, "realised", "rate", as_of)
        cells = re.search(rf'<tr data-as-of="{as_of}">(.*?)</tr>', churn, re.S).group(1)
        assert f"{auc['value']:.3f} ({auc['low']:.3f}–{auc['high']:.3f})" in cells
        assert f"{rate['value']:.1%} ({rate['reference']:.1%})" in cells
    assert (
        'status-alert">alert<' in re.search(r'data-as-of="2026-10-01">(.*?)</tr>', churn, re.S)[0]
    )
    deal = page[page.index('id="monitoring-deal_win"') :]
    assert 'data-status="unknown"' in deal and "barometer monitor --target deal_win" in deal


GAUGES = (
    "barometer_feature_drift_psi",
    "barometer_features_flagged",
    "barometer_score_drift_psi",
    "barometer_realised_roc_auc",
    "barometer_retrain_needed",
    "barometer_pipeline_broken",
)


def test_models_api_and_metrics_carry_the_retrain_signal(client, monitored) -> None:
    listed = api(client, "retention", "/v1/models")["models"]
    retrain = {m["target"]: m["retrain"] for m in listed}
    signal = monitoring_row(monitored, "signal", "retrain")
    assert retrain["deal_win"] is None  # never monitored
    assert retrain["churn"]["status"] == "retrain" and retrain["churn"]["needs_retraining"]
    assert retrain["churn"]["reasons"] == json.loads(signal["detail"])["reasons"]
    assert (
        retrain["churn"]["model_version"] == "3"
        and retrain["churn"]["as_of"] == "2026-10-01T00:00:00"
    )

    text = client.get("/metrics", headers={"X-API-Key": KEYS["retention"]}).text
    names = "|".join(GAUGES)
    gauges = dict(re.findall(rf"^((?:{names})\{{\S+) (\S+)$", text, re.M))
    drift = monitoring_row(monitored, "feature", "days_since_last_touch")
    key = 'barometer_feature_drift_psi{feature="days_since_last_touch",target="churn"}'
    assert float(gauges[key]) == pytest.approx(drift["value"])
    score = monitoring_row(monitored, "score", "probability")
    assert float(gauges['barometer_score_drift_psi{target="churn"}']) == pytest.approx(
        score["value"]
    )
    auc = monitoring_row(monitored, "realised", "roc_auc", "2026-10-01")
    assert float(gauges['barometer_realised_roc_auc{target="churn"}']) == pytest.approx(
        auc["value"]
    )
    assert float(gauges['barometer_retrain_needed{target="churn"}']) == 1.0
    assert float(gauges['barometer_pipeline_broken{target="churn"}']) == 0.0
    assert not any('target="deal_win"' in name for name in gauges)  # bounded: monitored only


def test_a_new_champion_shows_no_signal_until_it_is_monitored(workspace, models) -> None:
    """Promoting a new version (what `make retrain` ends with) clears the signal everywhere the
    service shows it: the old version's rows stay, the new one has none."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from tests.dashboard.conftest import make_app

    promoted = {**models, "churn": replace(models["churn"], version="4")}
    with TestClient(make_app(workspace, promoted), follow_redirects=False) as fresh:
        listed = api(fresh, "retention", "/v1/models")["models"]
        assert {m["target"]: m["retrain"] for m in listed} == {"churn": None, "deal_win": None}
        text = fresh.get("/metrics", headers={"X-API-Key": KEYS["retention"]}).text
        assert "barometer_retrain_needed{" not in text
        sign_in(fresh, "retention")
        page = fresh.get("/dashboard/models").text
        assert 'data-testid="signal-churn" data-status="unknown"' in page
        assert "v4 has not been monitored since it became champion" in page

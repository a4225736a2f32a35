"""Real journeys in headless Chromium (Debian's package) against the app served by uvicorn.

The numbers the pages show are checked against the API's JSON for the same request. Each page is
saved as a screenshot under test-artifacts/dashboard/.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.dashboard.conftest import ARTIFACTS, KEYS

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run tests/dashboard/ensure_chromium.sh (make test does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page; when the test ends, no Content-Security-Policy violation may have been logged
    (the dashboard's own pages must pass the policy the service sends)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    refused = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else 0
    )
    yield page
    context.close()
    assert not refused, refused


def api(base: str, role: str, path: str, **kwargs) -> dict:
    method = "POST" if "json" in kwargs else "GET"
    response = httpx.request(
        method, base + path, headers={"X-API-Key": KEYS[role]}, timeout=30, **kwargs
    )
    assert response.status_code == 200, response.text
    return response.json()


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, role: str, start: str = "/dashboard/worklist") -> None:
    page.goto(base + start)
    assert "/dashboard/login" in page.url  # not signed in yet: sent to the form
    shot(page, "login")
    page.get_by_label("API key").fill(KEYS[role])
    page.keyboard.press("Enter")  # keyboard only
    # The form's own URL carries `?next=<start>`, so match the path, not a glob over the whole URL
    # (a glob matched the form itself and let the next `goto` race the sign-in redirect).
    page.wait_for_url(lambda url: urlsplit(url).path == start)


def test_retention_journey_worklist_filter_account_reasons_what_if(page, live_server) -> None:
    base = live_server
    sign_in(page, base, "retention")
    expected = api(base, "retention", "/v1/accounts?limit=50")
    first = page.locator("tbody tr").first
    assert first.get_attribute("data-account") == expected["items"][0]["account_id"]
    assert first.locator("td").nth(2).inner_text() == pct(expected["items"][0]["probability"])
    assert f"{expected['total']} accounts" in page.get_by_test_id("total").inner_text()
    shot(page, "worklist")

    page.get_by_label("Band").select_option("high")
    page.get_by_label("Segment").select_option("smb")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**band=high**")
    filtered = api(base, "retention", "/v1/accounts?limit=50&band=high&segment=smb")
    rows = page.locator("tbody tr[data-account]")
    assert rows.count() == len(filtered["items"]) > 0
    shown = [rows.nth(i).get_attribute("data-account") for i in range(rows.count())]
    assert shown == [item["account_id"] for item in filtered["items"]]
    assert {b.get_attribute("data-band") for b in rows.locator(".band").all()} == {"high"}
    shot(page, "worklist-filtered")

    account = shown[0]
    rows.first.get_by_role("link", name=account).click()
    page.wait_for_url(f"**/dashboard/accounts/{account}")
    risk = api(base, "retention", f"/v1/accounts/{account}/churn-risk")
    assert page.get_by_test_id("probability").inner_text() == pct(risk["probability"])
    reasons = page.get_by_test_id("reasons").locator("li").all_inner_texts()
    assert len(reasons) == len(risk["reasons"]) > 0
    for text, sentence in zip(reasons, risk["reasons"], strict=True):
        assert text.endswith(sentence)
    assert page.locator("svg.chart polyline.line").count() == 1  # risk over time
    shot(page, "account")

    page.get_by_label(re.compile("cases still open", re.I)).fill("0")  # the labelled control
    page.get_by_role("button", name="Show the new risk").click()
    result = page.get_by_test_id("whatif-result")
    result.wait_for()
    what_if = api(
        base,
        "retention",
        "/v1/what-if",
        json={"target": "churn", "entity_id": account, "changes": {"open_cases": 0.0}},
    )
    assert float(result.get_attribute("data-after")) == pytest.approx(what_if["probability_after"])
    assert pct(what_if["probability_after"]) in result.inner_text()
    assert page.get_by_test_id("caveat").inner_text() == what_if["caveat"]
    shot(page, "account-what-if")


def test_manager_journey_drivers_then_rep_profile(page, live_server) -> None:
    base = live_server
    sign_in(page, base, "manager", start="/dashboard/drivers")
    drivers = api(base, "manager", "/v1/drivers/churn")
    table = page.get_by_test_id("drivers")
    features = [r.get_attribute("data-feature") for r in table.locator("tbody tr").all()]
    assert features == [d["feature"] for d in drivers["drivers"]][: len(features)]
    assert page.locator("svg.chart").count() >= 1 + len(drivers["dependence"])
    shot(page, "drivers")

    page.get_by_role("link", name="Teams").click()
    page.wait_for_url("**/dashboard/teams")
    roster = api(base, "manager", "/v1/teams/sales/reps")
    rows = page.get_by_test_id("roster-sales").locator("tbody tr")
    assert [r.get_attribute("data-rep") for r in rows.all()] == [
        r["rep_id"] for r in roster["reps"]
    ]
    first = roster["reps"][0]
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[1] == first["tier"] and cells[3] == pct(first["win_rate"])
    assert cells[4] == pct(first["expected_win_rate"])
    assert page.get_by_role("img", name="Team sales: win rate minus the rate expected").count() == 1
    shot(page, "teams")

    page.get_by_role("link", name="r1", exact=True).first.click()
    page.wait_for_url("**/dashboard/reps/r1")
    profile = api(base, "manager", "/v1/reps/r1/profile")
    assert page.get_by_test_id("win-rate").inner_text() == pct(profile["win_rate"])
    assert page.get_by_test_id("expected").inner_text() == pct(profile["expected_win_rate"])
    assert page.get_by_test_id("tier").inner_text() == profile["tier"]
    assert page.get_by_test_id("deals").inner_text() == str(profile["deals"])
    assert float(page.get_by_test_id("effect").get_attribute("data-value")) == pytest.approx(
        profile["effect"]
    )
    assert page.get_by_test_id("findings").locator("li").all_inner_texts() == [
        f["sentence"] for f in profile["findings"]
    ]
    stages = page.get_by_test_id("stages").locator("tbody tr").all()
    assert [s.locator("td").first.inner_text() for s in stages] == [
        s["stage"] for s in profile["stages"]
    ]
    shot(page, "rep")


def test_manager_sets_a_pipeline_target_and_reads_coverage_and_the_backtest(
    page, live_server
) -> None:
    base = live_server
    sign_in(page, base, "manager", start="/dashboard/pipeline")
    page.get_by_label("Target").fill("240000")
    page.get_by_role("button", name="Show coverage").click()
    page.wait_for_url("**/dashboard/pipeline?target=240000")
    report = api(base, "manager", "/v1/reports/pipeline?target=240000")
    assert page.get_by_test_id("coverage").inner_text() == f"{report['coverage']:.2f}×"
    assert report["coverage"] == pytest.approx(report["open_value"] / 240000)
    expected = page.get_by_test_id("expected")
    assert float(expected.get_attribute("data-value")) == pytest.approx(
        report["forecast"]["expected"]
    )
    funnel = page.get_by_test_id("funnel").locator("tbody tr")
    assert funnel.count() == len(report["funnel"])
    entered = [int(r.locator("td").nth(1).inner_text()) for r in funnel.all()]
    assert entered == [s["entered"] for s in report["funnel"]]
    assert page.get_by_test_id("stale").locator("tbody tr").count() == min(
        50, report["stale_count"]
    )
    shot(page, "pipeline")

    page.get_by_role("link", name="Contribution").click()
    page.wait_for_url("**/dashboard/contribution")
    contribution = api(base, "manager", "/v1/reports/contribution")
    assert page.get_by_test_id("sentence").inner_text() == contribution["sentence"]
    ratio = page.get_by_test_id("ratio")
    assert float(ratio.get_attribute("data-value")) == pytest.approx(
        contribution["total"]["revenue_per_hour"]
    )
    shot(page, "contribution")


def test_retention_role_is_refused_the_rep_page(page, live_server) -> None:
    base = live_server
    sign_in(page, base, "retention")
    nav = page.get_by_role("navigation", name="Pages")
    assert nav.get_by_role("link", name="Drivers").count() == 0  # hidden
    assert nav.get_by_role("link", name="Teams").count() == 0
    response = page.goto(base + "/dashboard/reps/r1")
    assert response.status == 403
    assert "needs the manager role" in page.get_by_test_id("error").inner_text()
    shot(page, "refused")


def test_models_page_shows_the_drift_and_the_retrain_signal(page, live_server, monitored) -> None:
    """What a retention lead sees of the churn champion's monitoring, against the `monitoring`
    table: the signal and its reasons, each feature's PSI, the score drift, realised AUC by day."""
    base = live_server
    sign_in(page, base, "retention", start="/dashboard/models")
    signal = page.get_by_test_id("signal-churn")
    assert signal.get_attribute("data-status") == "retrain"
    assert "Needs retraining" in signal.inner_text()
    churn = monitored[monitored["target"] == "churn"]
    reasons = json.loads(churn.loc[churn["kind"] == "signal", "detail"].iloc[0])["reasons"]
    assert signal.locator("ul.reasons li").all_inner_texts()[: len(reasons)] == reasons
    assert api(base, "retention", "/v1/models")["models"][0]["retrain"]["reasons"] == reasons

    table = page.get_by_test_id("drift-churn")
    features = churn[churn["kind"] == "feature"].set_index("subject")
    shown = table.locator("tbody tr").all()
    assert shown[0].get_attribute("data-feature") == "days_since_last_call"  # the one shifted
    for row in shown:
        name = row.get_attribute("data-feature")
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == features.loc[name, "status"]
        assert cells[2] == f"{features.loc[name, 'value']:.3f}"
    score = churn[churn["kind"] == "score"].iloc[0]
    assert f"PSI {score['value']:.3f}" in page.get_by_test_id("score-drift-churn").inner_text()

    realised = churn[(churn["kind"] == "realised") & (churn["subject"] == "roc_auc")]
    runs = page.get_by_test_id("realised-churn")
    assert runs.locator("tbody tr").count() == len(realised)
    for _, row in realised.iterrows():
        cells = runs.locator(f'tr[data-as-of="{row["as_of"]:%Y-%m-%d}"] td').all_inner_texts()
        assert cells[3].startswith(f"{row['value']:.3f} ({row['low']:.3f}")
    section = page.locator("section", has=page.get_by_test_id("signal-churn"))
    assert section.locator("svg.chart").count() >= 4  # reliability, drift, bands, AUC, rate
    assert page.get_by_test_id("signal-deal_win").get_attribute("data-status") == "unknown"
    shot(page, "models-monitoring")

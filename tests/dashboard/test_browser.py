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

from explain.wording import format_money
from tests.dashboard.conftest import ARTIFACTS, KEYS, serve

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

    band = next(  # the highest band with smb accounts in it (bands follow the base rate)
        b
        for b in ("high", "medium", "low")
        if api(base, "retention", f"/v1/accounts?band={b}&segment=smb")["total"]
    )
    page.get_by_label("Band").select_option(band)
    page.get_by_label("Segment").select_option("smb")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**band={band}**")
    filtered = api(base, "retention", f"/v1/accounts?limit=50&band={band}&segment=smb")
    rows = page.locator("tbody tr[data-account]")
    assert rows.count() == len(filtered["items"]) > 0
    shown = [rows.nth(i).get_attribute("data-account") for i in range(rows.count())]
    assert shown == [item["account_id"] for item in filtered["items"]]
    assert {b.get_attribute("data-band") for b in rows.locator(".band").all()} == {band}
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


def rendered_waterfall(page, label: str) -> tuple[list[float], float, str]:
    """The waterfall as the browser drew it: each bar's value, the total bar's value and text."""
    chart = page.locator(f'svg[aria-label^="{label}"]')
    values = [
        float(v)
        for v in chart.locator("text.value").evaluate_all(
            "nodes => nodes.map(n => n.getAttribute('data-value'))"
        )
    ]
    total = chart.get_by_test_id("waterfall-total")
    return values[:-1], float(total.get_attribute("data-value")), total.text_content()


def unclipped(page) -> list[str]:
    """Texts of every chart that spill out of their chart's box (none should)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
            const box = svg.getBoundingClientRect();
            return [...svg.querySelectorAll('text')].filter(t => {
                const r = t.getBoundingClientRect();
                return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 ||
                                       r.top < box.top - 1 || r.bottom > box.bottom + 1);
            }).map(t => t.textContent);
        })"""
    )


@pytest.mark.parametrize(
    ("start", "api_path", "label", "name"),
    [
        ("/dashboard/accounts/A007", "/v1/accounts/A007/churn-risk", "How this score", "account"),
        (
            "/dashboard/opportunities/O004",
            "/v1/opportunities/O004/win-probability",
            "How this win probability",
            "deal",
        ),
    ],
)
def test_the_waterfall_ends_at_the_displayed_score(page, live_server, start, api_path, label, name):
    base = live_server
    sign_in(page, base, "retention", start=start)
    body = api(base, "retention", api_path)
    shown = page.get_by_test_id("probability").inner_text()
    assert shown == pct(body["probability"])
    steps, total, text = rendered_waterfall(page, label)
    assert sum(steps) == pytest.approx(total, abs=2e-6)  # base + every reason = the total bar
    assert total == pytest.approx(body["probability"], abs=1e-6)
    assert text == shown  # the bar ends at the score the page shows, written the same way
    assert len(steps) == len(body["contributions"]) + 1
    assert page.locator("svg.chart .axis-title").count() >= 2  # axes titled
    assert unclipped(page) == []  # no label runs out of its chart
    lines = page.get_by_test_id("reasons").locator("li")
    points = [float(p) for p in lines.evaluate_all("ns => ns.map(n => n.dataset.points)")]
    assert body["base_probability"] + sum(points) == pytest.approx(body["probability"], abs=2e-6)
    as_of = page.get_by_test_id("as-of").inner_text()
    assert "as of 2026-10-01" in as_of and "data through 2026-09-30 21:00" in as_of
    shot(page, f"{name}-waterfall")


def test_deal_colours_follow_the_target(page, live_server) -> None:
    base = live_server
    sign_in(page, base, "retention", start="/dashboard/opportunities/O004")
    red, green = "rgb(179, 38, 30)", "rgb(46, 107, 58)"  # --high, --low
    tones = (
        page.get_by_test_id("stages")
        .locator("span[data-tone]")
        .evaluate_all("ns => ns.map(n => [n.dataset.tone, getComputedStyle(n).color])")
    )
    assert ["bad", red] in tones  # over the norm: bad news, in red
    assert all(colour == (red if tone == "bad" else green) for tone, colour in tones)
    fills = page.locator("svg.chart rect.bar.good, svg.chart rect.bar.bad").evaluate_all(
        "ns => ns.map(n => [n.classList.contains('good'), getComputedStyle(n).fill])"
    )
    assert fills and all((fill == "rgb(106, 158, 118)") == good for good, fill in fills)
    body = api(base, "retention", "/v1/opportunities/O004/win-probability")
    raising = [c for c in body["contributions"] if c["points"] > 0 and c["feature"] != "other"]
    if raising:  # a reason raising the win chance is good news: green
        item = page.get_by_test_id("reasons").locator("li span").first
        assert item.evaluate("n => getComputedStyle(n).color") == green
    page.goto(base + "/dashboard/opportunities")
    high = page.locator('.band[data-band="high"]').first
    if high.count():
        assert high.evaluate("n => getComputedStyle(n).color") == green
    shot(page, "deals")


def test_worklist_lift_page_links_and_deal_what_if(page, live_server) -> None:
    base = live_server
    sign_in(page, base, "retention")
    first = api(base, "retention", "/v1/accounts?limit=50")["items"][0]
    cell = page.locator(f'tr[data-account="{first["account_id"]}"] [data-testid="lift"]')
    assert cell.inner_text() == f"{first['lift']:.1f}× the typical account"
    assert "odds are at least" in page.get_by_test_id("bands").inner_text()
    page.goto(base + "/dashboard/worklist?page=2")  # a page number typed without a cursor
    assert page.locator("tbody tr[data-account]").count() == 0  # 40 accounts: one page
    assert "No accounts match" in page.locator("tbody").inner_text()
    page.goto(base + "/dashboard/opportunities/O004")
    page.get_by_label(re.compile("cases still open", re.I)).fill("0")
    page.get_by_role("button", name="Show the new win probability").click()
    result = page.get_by_test_id("whatif-result")
    result.wait_for()
    expected = api(
        base,
        "retention",
        "/v1/what-if",
        json={"target": "deal_win", "entity_id": "O004", "changes": {"open_cases": 0.0}},
    )
    assert float(result.get_attribute("data-after")) == expected["probability_after"]
    shot(page, "deal-what-if")


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
    assert shown[0].get_attribute("data-feature") == "days_since_last_touch"  # the one shifted
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


@pytest.fixture(scope="module")
def attrition_server(tmp_path_factory, models):
    """The serving company with a rep-attrition scoring run (r4 slumping), served."""
    from tests.serving.test_attrition import attrition_workspace

    settings = attrition_workspace(tmp_path_factory.mktemp("attrition") / "workspace", models)
    yield from serve(settings, models)


def test_manager_reads_the_team_s_risk_of_leaving_then_a_rep_s_reasons(
    page, attrition_server
) -> None:
    """The team view lists reps by risk as the API does, its chart writes the table's figures, a
    high risk of leaving is drawn as bad news, and the rep's waterfall ends at the risk shown."""
    base = attrition_server
    sign_in(page, base, "manager", start="/dashboard/teams/sales/attrition")
    body = api(base, "manager", "/v1/teams/sales/attrition")
    rows = page.get_by_test_id("attrition").locator("tbody tr")
    assert [r.get_attribute("data-rep") for r in rows.all()] == [r["rep_id"] for r in body["reps"]]
    table = [r.locator("td").nth(1).inner_text() for r in rows.all()]
    assert table == [pct(r["probability"]) for r in body["reps"]]
    chart = page.get_by_role("img", name="Team sales: risk of leaving within 90 days")
    assert chart.locator("text.value").all_text_contents() == table[:20]
    top = rows.first.locator(".band")
    assert body["reps"][0]["band"] == "high" and top.inner_text().endswith("High")
    assert top.evaluate("n => getComputedStyle(n).color") == "rgb(179, 38, 30)"  # --high
    assert "as of 2026-10-01" in page.locator("main").inner_text()
    shot(page, "team-attrition")

    rows.first.get_by_role("link", name="r4").click()
    page.wait_for_url("**/dashboard/reps/r4")
    risk = api(base, "manager", "/v1/reps/r4/attrition")["risk"]
    shown = page.get_by_test_id("attrition-probability").inner_text()
    assert shown == pct(risk["probability"])
    steps, total, text = rendered_waterfall(page, "r4: risk of leaving")
    assert steps[0] == pytest.approx(risk["base_probability"], abs=1e-6)
    assert sum(steps) == pytest.approx(total, abs=2e-6) and text == shown
    assert total == pytest.approx(risk["probability"], abs=1e-6)
    lines = page.get_by_test_id("attrition-reasons").locator("li")
    points = [float(p) for p in lines.evaluate_all("ns => ns.map(n => n.dataset.points)")]
    assert risk["base_probability"] + sum(points) == pytest.approx(risk["probability"], abs=2e-6)
    assert unclipped(page) == []
    shot(page, "rep-attrition")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "retention")
    for path in ("/dashboard/teams/sales/attrition", "/dashboard/reps/r4"):
        assert page.goto(base + path).status == 403
        assert "leaving" not in page.content()


# What the charts write beside their marks: the same figures, in the same form, as the tables,
# cards and API around them (money as money, shares to one decimal, effects in points).


def chart_texts(page, name: str, css: str = "text.value") -> list[str]:
    """The texts of class `css` in the chart whose accessible name starts with `name`."""
    chart = page.get_by_role("img", name=name).first
    return [t.strip() for t in chart.locator(css).all_text_contents()]


def test_drivers_charts_write_shares_to_one_decimal_and_effects_in_points(page, live_server):
    base = live_server
    sign_in(page, base, "manager", start="/dashboard/drivers")
    drivers = api(base, "manager", "/v1/drivers/churn")
    shares = [f["share"] for f in drivers["families"] if f.get("group") is None]
    drawn = chart_texts(page, "Share of effect by family (all)")
    assert drawn == [f"{round(100 * s, 1):.1f}%" for s in shares]
    assert drivers["dependence"]
    for curve in drivers["dependence"]:
        axis = chart_texts(page, f"Effect of {curve['feature']}", "text.axis")
        high, low = max(*curve["effect"], 0.0), min(*curve["effect"], 0.0)
        # x low, x high, then the effect axis's top and bottom in points, as its title says
        assert axis[2:4] == [f"{high * 100:+.1f}", f"{low * 100:+.1f}"], axis
        titles = chart_texts(page, f"Effect of {curve['feature']}", "text.axis-title")
        assert titles[-1] == "Effect on churn risk, pts"
    shot(page, "drivers-charts")


def test_money_charts_write_money_as_the_cards_and_tables_do(page, live_server):
    base = live_server
    sign_in(page, base, "manager", start="/dashboard/contribution")
    report = api(base, "manager", "/v1/reports/contribution")
    total = report["total"]
    kept = [format_money(total[k]) for k in ("retention_saved", "retention_low", "retention_high")]
    assert chart_texts(page, "ARR service kept") == [f"{kept[0]} [{kept[1]}, {kept[2]}]"]
    assert chart_texts(page, "Revenue per service hour, per service rep") == [
        format_money(r["revenue_per_hour"] or 0) for r in report["by_rep"][:15]
    ]
    shot(page, "contribution-charts")

    page.goto(base + "/dashboard/teams/sales")
    needs = api(base, "manager", "/v1/teams/sales/training-needs")["needs"]
    assert needs
    assert chart_texts(page, "Expected won revenue the gap to the best reps cost") == [
        format_money(n["expected_revenue"]) for n in needs[:8]
    ]


def test_the_deal_list_says_which_rows_of_its_total_it_shows(page, live_server):
    base = live_server
    sign_in(page, base, "retention", start="/dashboard/opportunities")
    body = api(base, "retention", "/v1/opportunities?limit=50")
    rows = page.locator("tbody tr[data-deal]")
    assert rows.count() == len(body["items"]) > 0
    assert page.get_by_test_id("total").inner_text() == (
        f"{body['total']} open deal{'s' if body['total'] != 1 else ''}, "
        f"showing 1–{len(body['items'])}."
    )

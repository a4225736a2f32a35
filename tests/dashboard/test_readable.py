"""The pages are right and readable: the as-of date and the data's last event on every page, lift
beside the probability, bands explained, waterfalls that end at the score, colours that follow
the target, suggested next steps, what-if on both score pages, values read as typed, numbers a
person reads (no scientific notation, money as money, counts with plurals), friendly names, and
worklist page links that work without a cursor."""

from __future__ import annotations

import html
import re

import pytest

from barometer.scoring.reasons import OTHER
from features.registry import Feature
from serving.dashboard import formatting
from serving.dashboard.pages.score_page import changes_from
from tests.dashboard.conftest import post_form, sign_in
from tests.dashboard.test_pages import account_ids, api

PAGES = (
    "/dashboard/worklist",
    "/dashboard/accounts/A007",
    "/dashboard/opportunities",
    "/dashboard/opportunities/O004",
    "/dashboard/models",
)


def text_of(page: str) -> str:
    """What a person reads: the page without tags, scripts' absence aside."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_states_the_as_of_date_and_the_data_s_last_event(client, path) -> None:
    sign_in(client, "retention")
    page = client.get(path).text
    line = re.search(r'data-testid="as-of">(.*?)</p>', page, re.S).group(1)
    words = re.sub(r"\s+,", ",", " ".join(text_of(line).split()))
    assert "Churn risk as of 2026-10-01, data through 2026-09-30 21:00 UTC" in words
    assert "Win probability as of 2026-10-01, data through 2026-09-30 21:00 UTC" in words


@pytest.mark.parametrize("path", PAGES)
def test_no_scientific_notation_or_float_noise_where_a_person_reads(client, path) -> None:
    sign_in(client, "retention")
    words = text_of(client.get(path).text)
    assert not re.search(r"\d\.?\d*e[+-]?\d", words), re.search(r".{30}\de[+-]?\d.{30}", words)
    assert not re.search(r"\d\.\d{7,}", words)  # no 0.30000000000000004 shown


def test_worklist_shows_lift_bands_and_friendly_names(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/worklist").text
    body = api(client, "retention", "/v1/accounts?limit=50")
    first = body["items"][0]
    row = page[page.index(f'data-account="{first["account_id"]}"') :].split("</tr>")[0]
    assert f"{formatting.lift(first['lift'])} the typical account" in row
    assert first["lift"] == pytest.approx(first["probability"] / body["bands"]["base_rate"], 1e-3)
    assert body["bands"]["explanation"] in " ".join(text_of(page).split())
    assert "the odds are at least 3× the typical account's" in body["bands"]["explanation"]
    assert formatting.friendly(first["team"]) in row and first["team"] not in row
    assert "Mid market" in page and ">mid_market<" not in page  # segment options


def test_a_worklist_page_number_without_a_cursor_is_that_page(client, monkeypatch) -> None:
    from serving.dashboard.pages import worklist

    monkeypatch.setattr(worklist, "PAGE_SIZE", 15)
    sign_in(client, "retention")
    second = client.get("/dashboard/worklist?page=2").text
    first_api = api(client, "retention", "/v1/accounts?limit=15")
    second_api = api(
        client, "retention", f"/v1/accounts?limit=15&cursor={first_api['next_cursor']}"
    )
    assert account_ids(second) == [i["account_id"] for i in second_api["items"]]
    assert "<td>16</td>" in second
    assert "showing 16–30" in second
    third = client.get("/dashboard/worklist?page=3").text
    assert account_ids(third)[0] not in account_ids(second)


def test_counts_have_their_plurals(client) -> None:
    sign_in(client, "retention")
    assert "1 account, showing 1–1" in client.get("/dashboard/worklist?q=A007").text
    assert "40 accounts" in client.get("/dashboard/worklist").text
    assert "30 open deals" in client.get("/dashboard/opportunities").text


def waterfall_values(page: str) -> tuple[list[float], float]:
    """The waterfall's steps (base first) and its total, as drawn."""
    chart = page[page.index('aria-label="How this') :]
    chart = chart[: chart.index("</svg>")]
    values = [float(v) for v in re.findall(r'class="value"[^>]*data-value="([^"]+)"', chart)]
    total = re.search(r'data-testid="waterfall-total" data-value="([^"]+)"', chart).group(1)
    return values[:-1], float(total)


@pytest.mark.parametrize(
    ("path", "api_path"),
    [
        ("/dashboard/accounts/A007", "/v1/accounts/A007/churn-risk"),
        ("/dashboard/opportunities/O004", "/v1/opportunities/O004/win-probability"),
    ],
)
def test_the_waterfall_ends_at_the_score_shown(client, path, api_path) -> None:
    sign_in(client, "retention")
    page = client.get(path).text
    body = api(client, "retention", api_path)
    steps, total = waterfall_values(page)
    assert total == pytest.approx(body["probability"], abs=1e-6)
    assert sum(steps) == pytest.approx(body["probability"], abs=2e-6)  # base + every reason
    assert len(steps) == 1 + len(body["contributions"])
    assert body["contributions"][-1]["feature"] == OTHER
    shown = re.search(r'data-testid="probability"[^>]*>([^<]+)<', page).group(1)
    assert shown == formatting.pct(total)


def test_colours_follow_the_target(client) -> None:
    """Churn up is bad news, a win chance up good news: the reasons, waterfall and bands say so;
    a stage that ran over its norm is bad news for a deal."""
    sign_in(client, "retention")
    account = client.get("/dashboard/accounts/A007").text
    deal = client.get("/dashboard/opportunities/O004").text
    for page, up, down in ((account, "bad", "good"), (deal, "good", "bad")):
        for points, tone in re.findall(r'<li data-points="([^"]+)"><span class="(\w+)"', page):
            if abs(float(points)) >= 0.0005:  # no change reads neutral
                assert tone == (up if float(points) > 0 else down)
        for kind, value in re.findall(
            r'class="bar (good|bad)"[^>]*/><text class="value" '
            r'data-value="([^"]+)"',
            page,
        ):
            assert kind == (up if float(value) >= 0 else down)
    assert 'class="bad" data-tone="bad">▲ over by' in deal
    deals = api(client, "retention", "/v1/opportunities?limit=50")["items"]
    listing = client.get("/dashboard/opportunities").text
    for item in deals:
        row = listing[listing.index(f'data-deal="{item["opportunity_id"]}"') :].split("</tr>")[0]
        tone = {"high": "good", "medium": "medium", "low": "bad"}[item["band"]]
        assert f'class="band band-{tone}"' in row


def test_suggested_next_steps_are_shown_as_associations(client) -> None:
    sign_in(client, "retention")
    risky = api(client, "retention", "/v1/accounts?band=high&limit=1")["items"][0]["account_id"]
    actions = api(client, "retention", f"/v1/accounts/{risky}/actions")
    page = client.get(f"/dashboard/accounts/{risky}").text
    for action in actions["actions"]:
        assert html.escape(action["sentence"], quote=False) in page
    assert "not promises" in page and "not causal" in actions["caveat"]


def test_the_deal_page_has_a_what_if_too(client) -> None:
    sign_in(client, "retention")
    page = client.get("/dashboard/opportunities/O004").text
    assert 'action="/dashboard/opportunities/O004/what-if"' in page
    form = {"change:open_cases": "0"}
    result = post_form(
        client, "/dashboard/opportunities/O004/what-if", form, "/dashboard/opportunities/O004"
    ).text
    body = api(
        client,
        "retention",
        "/v1/what-if",
        json={"target": "deal_win", "entity_id": "O004", "changes": {"open_cases": 0.0}},
    )
    assert f'data-after="{body["probability_after"]}"' in result
    assert "Win probability would go from" in result


def test_what_if_values_are_read_as_a_person_types_them() -> None:
    registry = {
        "dm": Feature("dm", "account", "reach", "Reached the decision maker", 90, kind="bool"),
        "rate": Feature("rate", "account", "reach", "Connect rate", 90, unit="share"),
        "calls": Feature("calls", "account", "cadence", "Calls", 30, unit="calls"),
    }
    form = {
        "change:dm": "yes",
        "change:rate": "35%",
        "change:calls": "1,200",
        "change:other": "",
        "csrf": "x",
    }
    entered, changes = changes_from(form, registry)
    assert changes == {"dm": 1.0, "rate": 0.35, "calls": 1200.0}
    assert entered["rate"] == "35%"
    assert changes_from({"change:dm": "No", "change:rate": "12.5"}, registry)[1] == {
        "dm": 0.0,
        "rate": 0.125,
    }
    assert formatting.form_value(0.35, "numeric", "share") == "35"
    assert formatting.form_value(True, "bool") == "yes"


def test_every_registry_metric_of_a_version_has_a_manager_s_name_and_reads_as_a_count() -> None:
    """The models page lists every `backtest_*` tag a run gives its version (training.pipeline
    `_run_tags`), a holdout-only run's `backtest_folds` of 0 among them."""
    assert formatting.metric("backtest_roc_auc_ci_low") == "ROC AUC, 95% CI low (backtest)"
    assert formatting.metric("backtest_roc_auc_ci_high") == "ROC AUC, 95% CI high (backtest)"
    assert formatting.metric("backtest_folds") == "Time-ordered test folds (backtest)"
    assert formatting.metric_value("backtest_folds", 3.0) == "3"
    assert formatting.metric_value("backtest_folds", 0.0) == "0 (entities held out instead)"
    assert formatting.metric_value("backtest_roc_auc_ci_low", 0.7466) == "0.747"

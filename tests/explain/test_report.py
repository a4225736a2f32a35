"""The HTML report: self-contained, every section present, written atomically, logged to MLflow."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.settings import Settings
from explain.managers import build_views
from explain.report import ReportInputs, build_report, log_report, write_report
from tests.serving.helpers import contract_tables


def manager_views(tmp_path):
    """The manager views of the serving tests' hand-made company (no churn model)."""
    tables = contract_tables() | {"account_features": None, "deal_scores": None}
    return build_views(tables, Settings(home=tmp_path / "views"), None)


def test_report_has_every_plot_inline_and_no_cdn(
    churn_model, accounts, registry, settings, tmp_path
):
    views = manager_views(tmp_path)
    assert views.errors == {}
    example = {
        "entity_id": "A007",
        "as_of": "2026-10-01",
        "probability": 0.641,
        "base_probability": 0.2,
        "reasons": [
            {"feature": "silence", "points": 0.35, "sentence": "Days silent: 60 days: +35 pts"},
            {"feature": "other", "points": 0.091, "sentence": "All 7 other behaviours: +9.1 pts"},
        ],
    }
    inputs = ReportInputs(model_label="barometer-churn/3", views=views, examples=[example])
    html = build_report(churn_model, accounts.head(200), registry, inputs, top_curves=2)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4  # beeswarm, families, dependence, rep effects
    assert all(len(i) > 1000 for i in images)
    assert "http://" not in html and "https://" not in html  # no CDN, nothing fetched
    assert "barometer-churn/3" in html and "not causal effects" in html
    assert "Days since the last connected call" in html
    for sentence in views.diagnosis.findings["sentence"]:  # the same findings as the API
        assert sentence.replace("'", "&#39;") in html
    assert "Training needs" in html and "leaks most at" in html
    assert "No churn model is loaded" in html  # contribution without retention, said so
    assert "<script" not in html
    section = html[html.index("How the highest scores add up") :]
    assert "Account A007: 64.1% as of 2026-10-01" in section
    cells = re.findall(r"<td>([+-]?[\d.]+)(?: pts|%)</td>", section.split("</table>")[0])
    assert float(cells[0]) + sum(float(c) for c in cells[1:]) == 64.1  # base + lines = score

    path = write_report(html, settings.artifacts_dir / "explain_churn.html")
    assert path.read_text() == html
    assert [p.name for p in path.parent.iterdir()] == ["explain_churn.html"]  # no temp left

    run_id = log_report(path, settings, "churn")
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
    assert [a.path for a in client.list_artifacts(run_id, "explain")] == [
        "explain/explain_churn.html"
    ]
    # In the workspace, not in `mlruns` under the folder the test (or a command) ran in.
    logged = list((settings.home / "mlartifacts").rglob("explain_churn.html"))
    assert len(logged) == 1 and logged[0].read_text() == html


def test_explain_command_without_a_workspace_is_a_clear_error(tmp_path, monkeypatch):
    from barometer.cli import app
    from barometer.settings import get_settings

    monkeypatch.setenv("BAROMETER_HOME", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["explain", "--target", "churn", "--no-log"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "No champion" in result.output or "run `barometer" in result.output
    bad = CliRunner().invoke(app, ["explain", "--target", "revenue"])
    assert bad.exit_code != 0 and "churn or deal_win" in bad.output


def test_the_churn_report_explains_the_accounts_the_model_scores(tmp_path):
    """`features_account` has a row for every account at a cutoff, churned ones too; the churn
    model scores only `churn_population` (customers at the cutoff), so its report explains those:
    RavenStack's latest cutoff had 483 feature rows and 457 customers."""
    import pandas as pd

    from explain.build_reports import latest_rows, read_tables
    from features.warehouse import connect

    settings = Settings(home=tmp_path)
    settings.ensure_home()
    cutoffs = pd.to_datetime(["2024-11-01", "2024-12-01"])
    features = pd.DataFrame(
        {
            "account_id": ["A", "B", "C"] * 2,
            "cutoff": cutoffs.repeat(3),
            "tenure_days": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        }
    )
    population = pd.DataFrame({"account_id": ["A", "B", "C", "A", "C"]})
    population["cutoff"] = cutoffs[[0, 0, 0, 1, 1]]
    with connect(settings.warehouse_path) as con:
        for name, frame in (("features_account", features), ("churn_population", population)):
            con.register("frame", frame)
            con.execute(f"create table {name} as select * from frame")
            con.unregister("frame")
    table, _ = read_tables(settings, "churn")
    latest = latest_rows(table, 100)
    assert sorted(latest["account_id"]) == ["A", "C"]  # B churned before 2024-12-01
    assert len(table) == 5 and list(table.columns) == list(features.columns)


def test_the_report_tables_read_in_words_and_match_the_drivers(
    churn_model, accounts, registry, tmp_path
):
    """A reader sees behaviours, family names, effects in points and which way a higher value
    pushes, the same figures as `explain.drivers`, and the day the rows are from."""
    from explain.drivers import drivers
    from explain.report import CATEGORY_WORDS, DIRECTION_WORDS, readable_drivers
    from explain.wording import family_label

    rows = accounts.head(200)
    html = build_report(churn_model, rows, registry, ReportInputs(), top_curves=1)
    for raw in ("mean_abs_points", "mean_points", "<th>direction</th>", "<th>family</th>"):
        assert raw not in html
    top = drivers(churn_model, rows, registry).iloc[0]
    first_row = html.split("<h2>Top behaviours</h2>")[1].split("<tbody>")[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", first_row)
    assert cells == [
        top["description"].replace("'", "&#39;"),
        top["feature"],
        family_label(top["family"]),
        f"{top['mean_abs_points'] * 100:.1f} pts",
        CATEGORY_WORDS
        if top["feature"] in churn_model.categories
        else DIRECTION_WORDS[int(top["direction"])],
        f"{top['share'] * 100:.1f}%",
    ]
    table = drivers(churn_model, rows, registry)
    shown = readable_drivers(table, churn_model.categories).set_index("Feature")["A higher value"]
    assert shown["segment"] == CATEGORY_WORDS  # a category has no "higher"
    assert "200 accounts explained ·" in html  # no cutoff column: no day claimed
    dated = rows.assign(cutoff=pd.Timestamp("2026-11-01"))
    html = build_report(churn_model, dated, registry, ReportInputs(), top_curves=1)
    assert "200 accounts explained as of 2026-11-01 ·" in html


@pytest.mark.parametrize(
    ("number", "shown"),
    [(12400.0, "12,400"), (164.4, "164"), (47.11, "47.1"), (40.0, "40"), (2.345, "2.35"),
     (0.0123, "0.0123"), (1.2e-05, "0")],
)  # fmt: skip
def test_numbers_carry_at_most_three_significant_digits_below_a_hundred(number, shown):
    from explain.wording import format_number

    assert format_number(number) == shown

"""The HTML report: self-contained, every section present, written atomically, logged to MLflow."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from explain.report import ReportInputs, build_report, log_report, write_report
from explain.reps import RepProfile


def test_report_has_every_plot_inline_and_no_cdn(churn_model, accounts, registry, settings):
    profiles = [
        RepProfile(
            "r1",
            "east",
            "top",
            0.6,
            0.4,
            ["top performer stumbling at a stage"],
            ["Top performer who stumbles at Proposal (40% pass vs 70% expected)"],
        ),
        RepProfile("r2", "east", "core", 0.3, 0.3, [], []),
    ]
    contribution = pd.DataFrame(
        {
            "team": ["service", "sales"],
            "service_value": [1200.0, 300.0],
            "sales_value": [800.0, 2500.0],
            "ratio": [1.5, 0.12],
        }
    )
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
    inputs = ReportInputs(
        profiles=profiles,
        contribution=contribution,
        contribution_sentence="Service behaviours are credited with 1,200.",
        model_label="barometer-churn/3",
        examples=[example],
    )
    html = build_report(churn_model, accounts.head(200), registry, inputs, top_curves=2)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4  # beeswarm, families, dependence, reps
    assert all(len(i) > 1000 for i in images)
    assert "http://" not in html and "https://" not in html  # no CDN, nothing fetched
    assert "stumbles at Proposal" in html and "barometer-churn/3" in html
    assert "not causal effects" in html
    assert "Days since the last connected call" in html and "1,200" in html
    assert "<script" not in html
    section = html[html.index("How the highest scores add up") :]
    assert "Account A007: 64.1% as of 2026-10-01" in section
    cells = re.findall(r"<td>([+-]?[\d.]+)(?: pts|%)</td>", section.split("</table>")[0])
    assert float(cells[0]) + sum(float(c) for c in cells[1:]) == 64.1  # base + lines = score

    path = write_report(html, settings.artifacts_dir / "explain_churn.html")
    assert path.read_text() == html
    assert [p.name for p in path.parent.iterdir()] == ["explain_churn.html"]  # no temp left

    run_id = log_report(path, settings.tracking_uri, "churn")
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
    assert [a.path for a in client.list_artifacts(run_id, "explain")] == [
        "explain/explain_churn.html"
    ]


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

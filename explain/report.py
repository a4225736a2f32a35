"""The HTML explanation report: plots (matplotlib Agg, inline PNG) in a jinja2 template.

`build_report` is pure (frames and models in, HTML out); `write_report` writes it atomically and
`log_report` attaches it to an MLflow run. No CDN: the file is self-contained.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.model.artefact import Explanation, ScoringModel
from barometer.settings import Settings
from explain.drivers import DependenceCurve, dependence, drivers, family_attribution
from explain.wording import (
    CAVEAT,
    Registry,
    family_label,
    format_points,
    format_share,
    format_size,
    lookup,
    target_phrase,
)

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ReportInputs:
    """Everything the report shows beyond the model's own drivers: the manager views
    (`explain.managers.ManagerViews`, each part optional)."""

    model_label: str = ""
    views: object | None = None
    # The highest stored scores, as `barometer score` wrote them: `entity_id`, `as_of`,
    # `probability`, `base_probability` and `reasons` (every line, the "all other" one included).
    examples: list[dict] = field(default_factory=list)


def _figure(figsize: tuple[float, float], rows: int = 1, cols: int = 1, squeeze: bool = True):
    """A figure and its axes from matplotlib's object API: no pyplot, no global figure state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def beeswarm_plot(
    model: ScoringModel, frame: pd.DataFrame, explanation: Explanation, max_display: int = 15
) -> str:
    """The SHAP summary ("beeswarm") of the TreeSHAP log-odds, as base64 PNG: one row per
    feature, the `max_display` with the largest mean |contribution| on top; one dot per entity
    at its contribution, coloured by its value's rank within the feature (blue low, red high,
    grey missing), jittered vertically so dense regions show as width."""
    log_odds = explanation.log_odds
    values = pd.DataFrame(model.matrix(frame), columns=model.feature_names, index=log_odds.index)
    order = log_odds.abs().mean().sort_values().tail(max_display).index
    fig, ax = _figure((7, 0.4 * len(order) + 1.2))
    jitter = np.random.default_rng(0)
    points = None
    for row, feature in enumerate(order):
        x = log_odds[feature].to_numpy()
        y = row + jitter.uniform(-0.3, 0.3, len(x))
        rank = values[feature].rank(pct=True).to_numpy()
        missing = np.isnan(rank)
        ax.scatter(x[missing], y[missing], color="#999", s=5, lw=0)
        points = ax.scatter(
            x[~missing], y[~missing], c=rank[~missing], cmap="coolwarm", vmin=0, vmax=1, s=5, lw=0
        )
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_yticks(range(len(order)), list(order), fontsize=7)
    ax.set_xlabel("contribution to the score (SHAP value, log-odds)")
    if points is not None:
        bar = fig.colorbar(points, ax=ax, ticks=[0, 1], aspect=40)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    return _png(fig)


def family_plot(families: pd.DataFrame, target: str) -> str:
    """Horizontal bars of mean |points| per family."""
    table = families.sort_values("mean_abs_points")
    fig, ax = _figure((7, 0.35 * len(table) + 1))
    labels = [family_label(f) for f in table["family"]]
    ax.barh(labels, table["mean_abs_points"] * 100, color="#4472c4")
    ax.set_xlabel(f"mean |contribution| to {target_phrase(target)}, pts")
    return _png(fig)


def dependence_plot(curves: list[DependenceCurve], descriptions: dict[str, str]) -> str:
    """One small panel per curve: mean points along the feature, with its turning points."""
    n = max(len(curves), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = _figure((4.2 * cols, 3 * rows), rows, cols, squeeze=False)
    for ax, curve in zip(axes.flat, curves, strict=False):
        ax.plot(curve.x, np.asarray(curve.effect) * 100, marker="o", color="#c00000")
        ax.axhline(0, color="#999", lw=0.8)
        for value, style in ((curve.crossing, ":"), (curve.saturation, "--")):
            if value is not None:
                ax.axvline(value, color="#555", ls=style, lw=1)
        ax.set_title(descriptions.get(curve.feature, curve.feature)[:55], fontsize=8)
        ax.set_ylabel("pts", fontsize=8)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def reps_plot(reps: pd.DataFrame) -> str:
    """Each rep's win effect against the deal mix with its 90% interval, by team, best first."""
    table = reps.sort_values(["team", "effect"])
    fig, ax = _figure((7, 0.22 * len(table) + 1))
    colours = {"top": "#2e7d32", "core": "#1565c0", "low": "#c62828"}
    y = np.arange(len(table))
    for tier, colour in colours.items():
        mine = (table["tier"] == tier).to_numpy()
        ax.errorbar(
            table["effect"][mine] * 100,
            y[mine],
            xerr=[
                (table["effect"] - table["low"])[mine] * 100,
                (table["high"] - table["effect"])[mine] * 100,
            ],
            fmt="o",
            color=colour,
            label=tier,
            ms=3,
        )
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_yticks(y, [f"{t} · {r}" for t, r in zip(table["team"], table["rep_id"], strict=True)])
    ax.tick_params(axis="y", labelsize=6)
    ax.set_xlabel("win rate − expected for the deal mix, pts (90% interval)")
    ax.legend(title="tier")
    return _png(fig)


def backtest_plot(table: pd.DataFrame) -> str:
    """Forecast bookings with their interval against actual bookings, per quarter."""
    fig, ax = _figure((7, 3))
    x = np.arange(len(table))
    ax.errorbar(
        x,
        table["forecast"],
        yerr=[table["forecast"] - table["low"], table["high"] - table["forecast"]],
        fmt="o",
        color="#1565c0",
        label="forecast (90% interval)",
    )
    ax.plot(x, table["actual"], "s", color="#c62828", label="actual")
    ax.set_xticks(x, table["quarter"], rotation=45, fontsize=7)
    ax.set_ylabel("bookings")
    ax.legend()
    return _png(fig)


def _number(value: float) -> str:
    """12,345 for large values, 3 significant digits for small ones, never an exponent."""
    if pd.isna(value):
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != round(value) else f"{value:.0f}"


def _html_table(frame: pd.DataFrame | None, max_rows: int = 25) -> str:
    if frame is None or frame.empty:
        return ""
    shown = frame.head(max_rows).copy()
    for col in shown.select_dtypes("number").columns:
        shown[col] = shown[col].map(_number)
    return shown.to_html(index=False, border=0, escape=True)


DIRECTION_WORDS = {1: "raises it", -1: "lowers it", 0: "either way"}
CATEGORY_WORDS = "no order (a category)"


def readable_drivers(table: pd.DataFrame, categories: Iterable[str] = ()) -> pd.DataFrame:
    """The top-behaviours table in a reader's words: behaviour, family, average effect in points,
    which way a higher value pushes the prediction (a category has no higher), and its share of
    all the effect."""
    categorical = table["feature"].isin(set(categories))
    direction = table["direction"].map(DIRECTION_WORDS).fillna(DIRECTION_WORDS[0])
    return pd.DataFrame(
        {
            "Behaviour": table["description"],
            "Feature": table["feature"],
            "Family": table["family"].map(family_label),
            "Average effect": table["mean_abs_points"].map(format_size),
            "A higher value": direction.where(~categorical, CATEGORY_WORDS),
            "Share of effect": table["share"].map(format_share),
        }
    )


def readable_families(families: pd.DataFrame) -> pd.DataFrame:
    """The behaviour families' table in a reader's words (average effect and share)."""
    return pd.DataFrame(
        {
            "Family": families["family"].map(family_label),
            "Average effect": families["mean_abs_points"].map(format_size),
            "Average push": families["mean_points"].map(format_points),
            "Share of effect": families["share"].map(format_share),
        }
    )


def build_report(
    model: ScoringModel,
    frame: pd.DataFrame,
    registry: Registry,
    inputs: ReportInputs | None = None,
    *,
    top_curves: int = 6,
) -> str:
    """The self-contained HTML report for one target."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    inputs = inputs or ReportInputs()
    features = lookup(registry)
    explanation = model.explain(frame)
    table = drivers(model, frame, registry, explanation=explanation)
    families = family_attribution(model, frame, registry, explanation=explanation)
    numeric = [f for f in table["feature"] if f not in model.categories][:top_curves]
    curves = [dependence(model, frame, f, registry, explanation=explanation) for f in numeric]
    descriptions = {n: f.description for n, f in features.items()}
    views = inputs.views
    diagnosis = getattr(views, "diagnosis", None)
    pipeline = getattr(views, "pipeline", None)
    contribution = getattr(views, "contribution", None)
    plots = {
        "beeswarm": beeswarm_plot(model, frame, explanation),
        "families": family_plot(families, model.target),
        "dependence": dependence_plot(curves, descriptions),
        "reps": reps_plot(diagnosis.reps) if diagnosis is not None else "",
        "backtest": (
            backtest_plot(pipeline.backtest)
            if pipeline is not None and len(pipeline.backtest)
            else ""
        ),
    }
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    from markupsafe import Markup

    as_of = f"{pd.Timestamp(frame['cutoff'].max()):%Y-%m-%d}" if "cutoff" in frame.columns else None
    return env.get_template("report.html.j2").render(
        title=f"What drives {target_phrase(model.target)}",
        phrase=target_phrase(model.target),
        entity="deal" if model.target == "deal_win" else "account",
        model_label=inputs.model_label or model.target,
        rows=len(frame),
        as_of=as_of,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        caveat=CAVEAT,
        plots=plots,
        curves=curves,
        drivers_table=Markup(_html_table(readable_drivers(table, model.categories), 20)),
        families_table=Markup(_html_table(readable_families(families))),
        errors=getattr(views, "errors", {}) if views is not None else {},
        diagnosis=diagnosis,
        findings=_findings(diagnosis),
        training_table=Markup(_needs_table(diagnosis)),
        pipeline=pipeline,
        funnel_table=Markup(_html_table(pipeline.funnel)) if pipeline is not None else "",
        backtest_table=Markup(
            _html_table(pipeline.backtest.drop(columns=["start"]), 20) if pipeline else ""
        ),
        contribution=contribution,
        contribution_table=Markup(_html_table(contribution.by_team)) if contribution else "",
        service_reps_table=Markup(_html_table(contribution.by_rep, 40)) if contribution else "",
        examples=inputs.examples,
        percent=format_share,
        signed=lambda v: f"{v * 100:+.1f} pts",
    )


def _findings(diagnosis) -> list[tuple[str, str, str, list[str]]]:
    """(rep_id, team, tier, sentences) per rep, best effect first within each team."""
    if diagnosis is None:
        return []
    said = diagnosis.findings.groupby("rep_id")["sentence"].apply(list)
    return [(r.rep_id, r.team, r.tier, said.get(r.rep_id, [])) for r in diagnosis.reps.itertuples()]


def _needs_table(diagnosis) -> str:
    if diagnosis is None or diagnosis.needs.empty:
        return ""
    return _html_table(diagnosis.needs[["team", "description", "reps", "expected_revenue"]], 20)


def write_report(html: str, path: Path) -> Path:
    """Write `html` to `path` atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def log_report(path: Path, settings: Settings, target: str, run_id: str | None = None) -> str:
    """Log the report to MLflow: onto `run_id` (e.g. the champion's run) or a new run of the
    `barometer-<target>-explain` experiment, whose artefacts stay in the workspace."""
    import mlflow

    from barometer.model.store import experiment_id

    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = None if run_id else experiment_id(settings, f"barometer-{target}-explain")
    run_name = None if run_id else f"explain-{target}"
    with mlflow.start_run(run_id=run_id, experiment_id=experiment, run_name=run_name) as run:
        mlflow.log_artifact(str(path), artifact_path="explain")
        return run.info.run_id

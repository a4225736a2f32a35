"""Pure shaping of API bodies into what the pages show: percentages, money, counts with their
plurals, lift, friendly names, arrows and colours that follow the target, band labels, CSV, and
the what-if form's fields (values read as a person types them: yes/no, percentages)."""

from __future__ import annotations

import csv
import io
from itertools import chain

import numpy as np

from barometer.scoring.bands import format_lift
from barometer.scoring.exports import LINE_END, safe_cell
from explain.wording import HIGHER_IS_BETTER, family_label, format_money, format_number

BAND_ICON = {"high": "▲", "medium": "◆", "low": "▽"}
BAND_TEXT = {"high": "High", "medium": "Medium", "low": "Low"}
CSV_COLUMNS = (
    "rank",
    "account_id",
    "probability",
    "lift",
    "band",
    "change",
    "arr",
    "arr_at_risk",
    "segment",
    "owner_rep_id",
    "team",
    "top_reason",
    "actions",
    "as_of",
    "data_through",
    "model_version",
)
METRICS = {  # a metric's name as a manager reads it, and whether it is a share (shown as %)
    "roc_auc": ("ROC AUC", False),
    "roc_auc_ci_low": ("ROC AUC, 95% CI low", False),
    "roc_auc_ci_high": ("ROC AUC, 95% CI high", False),
    "pr_auc": ("Precision-recall AUC", False),
    "log_loss": ("Log loss", False),
    "brier": ("Brier score", False),
    "ece": ("Calibration error (ECE)", True),
    "lift_top10": ("Lift in the top 10%", False),
    "capture_top10": ("Share of outcomes in the top 10%", True),
    "base_rate": ("Base rate", True),
    "rows": ("Rows", False),
    "value_capture_top10": ("Share of value in the top 10%", True),
    "folds": ("Time-ordered test folds", False),
}


def pct(value: float | None, digits: int = 1) -> str:
    """0.4231 → '42.3%'; None → '—'."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def points(value: float | None) -> str:
    """A change in probability as signed points with an arrow: +0.052 → '▲ +5.2 pts'."""
    if value is None:
        return "—"
    if abs(value) < 0.0005:
        return "■ 0.0 pts"
    arrow = "▲" if value > 0 else "▼"
    return f"{arrow} {value * 100:+.1f} pts"


def arrow(value: float | None) -> str:
    """▲ for a rise, ▼ for a fall, ■ for none (the sentence beside it gives the points)."""
    if value is None or abs(value) < 0.0005:
        return "■"
    return "▲" if value > 0 else "▼"


def money(value: float | None) -> str:
    return "—" if value is None else format_money(value)


def number(value: float | None, digits: int | None = None) -> str:
    """A number without scientific notation: whole numbers as integers, others with up to two
    decimals (`digits` fixes them)."""
    if value is None:
        return "—"
    return format_number(value) if digits is None else f"{value:,.{digits}f}"


def count(value: int | None, noun: str, plural: str | None = None) -> str:
    """3, 'account' -> '3 accounts'; 1 -> '1 account'."""
    n = int(value or 0)
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def lift(value: float | None) -> str:
    """6.2 -> '6.2×'."""
    return format_lift(value)


ACRONYMS = {"smb": "SMB", "emea": "EMEA", "apac": "APAC", "na": "NA", "latam": "LATAM"}


def friendly(text: str | None) -> str:
    """An identifier as words: 'mid_market' -> 'Mid market', 'sales' -> 'Sales', 'smb' -> 'SMB'."""
    if not text:
        return "—"
    if str(text).lower() in ACRONYMS:
        return ACRONYMS[str(text).lower()]
    words = str(text).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def family(name: str | None) -> str:
    """A behaviour family's label ('service_quality' -> 'Service quality')."""
    return "—" if not name else family_label(name)


def metric(name: str) -> str:
    """'backtest_roc_auc_mean' -> 'ROC AUC (backtest mean)'."""
    core, how = name.removeprefix("backtest_"), ""
    for suffix, words in (("_mean", "mean"), ("_std", "spread")):
        if core.endswith(suffix):
            core, how = core.removesuffix(suffix), words
    label = METRICS.get(core, (friendly(core), False))[0]
    where = "backtest" if name.startswith("backtest_") else ""
    detail = " ".join(w for w in (where, how) if w)
    return f"{label} ({detail})" if detail else label


def metric_value(name: str, value: float) -> str:
    """A metric's value: shares as percentages, counts as integers, the rest with 3 decimals."""
    core = name.removeprefix("backtest_").removesuffix("_mean").removesuffix("_std")
    if METRICS.get(core, ("", False))[1]:
        return pct(value)
    if core == "folds" and value == 0:  # a history too short for a forward test
        return "0 (entities held out instead)"
    if core in ("rows", "folds"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def tone(points: float, target: str) -> str:
    """'good' or 'bad' news for the business: more churn risk is bad, more win chance good;
    'neutral' for no change (under 0.05 pts)."""
    if abs(points) < 0.0005:
        return "neutral"
    return "good" if (points >= 0) == HIGHER_IS_BETTER.get(target, False) else "bad"


def band_tone(band: str, target: str) -> str:
    """The band's colour: for churn high is bad, for deals high is good."""
    if band == "medium":
        return "medium"
    return "good" if (band == "high") == HIGHER_IS_BETTER.get(target, False) else "bad"


def worklist_row(item: dict, change: float | None, rank: int) -> dict:
    """A worklist item (the API's `AccountItem`) with its change since the last scoring."""
    return {**item, "rank": rank, "change": change}


def csv_line(row: dict) -> str:
    """One worklist row as a CSV line without its rank (raw numbers, not the formatted text; text a
    spreadsheet would run as a formula is neutralised by `barometer.scoring.exports.safe_cell`)."""
    out = io.StringIO()
    columns = CSV_COLUMNS[1:]
    writer = csv.writer(out, lineterminator=LINE_END)
    stamps = {k: row.get(k) for k in ("as_of", "data_through")}
    cells = {**row, **{k: v.isoformat() if v is not None else "" for k, v in stamps.items()}}
    cells["actions"] = " | ".join(a["sentence"] for a in row.get("actions") or [])
    writer.writerow([safe_cell(cells.get(column, "")) for column in columns])
    return out.getvalue()


def csv_join(lines: np.ndarray, prefixes: list[str], positions: np.ndarray) -> str:
    """The header, then the line at each position in turn behind its rank prefix ('1,', '2,' …
    from `rank_prefixes`): one gather and one join, no per-row formatting."""
    chosen = lines[positions].tolist()
    rows = chain.from_iterable(zip(prefixes[: len(chosen)], chosen, strict=True))
    return ",".join(CSV_COLUMNS) + LINE_END + "".join(rows)


def rank_prefixes(n: int) -> list[str]:
    """['1,', '2,', …] for up to `n` rows."""
    return [f"{rank}," for rank in range(1, n + 1)]


def waterfall_steps(contributions: list[dict]) -> list[tuple[str, float]]:
    """(sentence, points) per reason, largest effect first, the "all other behaviours" line last:
    every line, so the bars end at the score."""
    shown = [c for c in contributions if c["feature"] != "other"]
    ordered = sorted(shown, key=lambda c: -abs(c["points"]))
    ordered += [c for c in contributions if c["feature"] == "other"]
    return [(c["sentence"], float(c["points"])) for c in ordered]


def direction_word(direction: int, target: str) -> str:
    """What more of a behaviour does to the outcome, in words."""
    outcome = "churn risk" if target == "churn" else "win probability"
    return f"▲ raises {outcome}" if direction > 0 else f"▼ lowers {outcome}"


def family_items(families: list[dict], group: str | None) -> list[tuple[str, float]]:
    """(family label, share %) for one group (None = overall)."""
    return [
        (family_label(f["family"]), round(100 * float(f["share"]), 1))
        for f in families
        if f.get("group") == group
    ]


def groups_of(rows: list[dict]) -> list[str | None]:
    seen: list[str | None] = []
    for row in rows:
        if row.get("group") not in seen:
            seen.append(row.get("group"))
    return seen


def parse_change(text: str, kind: str = "numeric", unit: str = "") -> float | str | None:
    """A what-if form value as a person types it: blank → None (unchanged); for a yes/no feature
    yes/no (true/false, 1/0) → 1.0/0.0; for a share '35' or '35%' → 0.35; a number (with
    thousands separators or a currency sign) → float; else the text (the API names it)."""
    text = text.strip()
    if not text:
        return None
    if kind == "bool":
        word = text.lower()
        if word in {"yes", "y", "true", "1"}:
            return 1.0
        if word in {"no", "n", "false", "0"}:
            return 0.0
        return text
    if kind == "categorical":
        return text
    cleaned = text.replace(",", "").replace("$", "").removesuffix("%").strip()
    try:
        number = float(cleaned)
    except ValueError:
        return text
    return number / 100 if unit == "share" else number


def form_value(value, kind: str = "numeric", unit: str = "") -> str:
    """A feature's current value as the what-if form shows it (and reads it back)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if kind == "bool":
        return "yes" if bool(value) else "no"
    if kind == "categorical":
        return str(value)
    if unit == "share":
        return format_number(round(float(value) * 100, 1))
    return format_number(float(value))


def interval(low: float | None, high: float | None) -> str:
    """A probability interval as points: (-0.03, 0.08) → '[−3, +8] pts'."""
    if low is None or high is None:
        return "—"
    return f"[{low * 100:+.0f}, {high * 100:+.0f}] pts"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} d"

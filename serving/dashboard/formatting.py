"""Pure shaping of API bodies into what the pages show: percentages, arrows, band labels, CSV."""

from __future__ import annotations

import csv
import io
from itertools import chain

import numpy as np

from barometer.scoring.exports import LINE_END, safe_cell

BAND_ICON = {"high": "▲", "medium": "◆", "low": "▽"}
BAND_TEXT = {"high": "High", "medium": "Medium", "low": "Low"}
CSV_COLUMNS = (
    "rank",
    "account_id",
    "probability",
    "band",
    "change",
    "arr",
    "arr_at_risk",
    "segment",
    "owner_rep_id",
    "team",
    "top_reason",
    "as_of",
    "model_version",
)


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


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def worklist_row(item: dict, change: float | None, rank: int) -> dict:
    """A worklist item (the API's `AccountItem`) with its change since the last scoring."""
    return {**item, "rank": rank, "change": change}


def csv_line(row: dict) -> str:
    """One worklist row as a CSV line without its rank (raw numbers, not the formatted text; text a
    spreadsheet would run as a formula is neutralised by `barometer.scoring.exports.safe_cell`)."""
    out = io.StringIO()
    columns = CSV_COLUMNS[1:]
    writer = csv.writer(out, lineterminator=LINE_END)
    as_of = row.get("as_of")
    cells = {**row, "as_of": as_of.isoformat() if as_of is not None else ""}
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
    """(sentence, points) per reason, largest effect first."""
    ordered = sorted(contributions, key=lambda c: -abs(c["points"]))
    return [(c["sentence"], float(c["points"])) for c in ordered]


def direction_word(direction: int, target: str) -> str:
    """What more of a behaviour does to the outcome, in words."""
    outcome = "churn risk" if target == "churn" else "win probability"
    return f"▲ raises {outcome}" if direction > 0 else f"▼ lowers {outcome}"


def family_items(families: list[dict], group: str | None) -> list[tuple[str, float]]:
    """(family, share %) for one group (None = overall)."""
    return [
        (f["family"], round(100 * float(f["share"]), 1))
        for f in families
        if f.get("group") == group
    ]


def groups_of(rows: list[dict]) -> list[str | None]:
    seen: list[str | None] = []
    for row in rows:
        if row.get("group") not in seen:
            seen.append(row.get("group"))
    return seen


def parse_change(text: str) -> float | str | None:
    """A what-if form value: blank → None (unchanged), a number → float, else the text."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text

"""Charts drawn on the server as inline SVG (no JavaScript, no CDN): pure functions, text out.

Every chart carries a `<title>` and `role="img"` with an `aria-label`, titles its axes, and labels
its values in text (never in scientific notation), so nothing depends on colour alone. Long labels
wrap onto several lines instead of being cut.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from datetime import date, datetime
from html import escape

from explain.wording import format_money, format_number

WIDTH, HEIGHT = 640, 220
PAD = 40
LABEL_CHARS = 44  # characters per line of a bar's label
LINE_HEIGHT = 14


def frame_svg(label: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """An accessible SVG element around `body`."""
    text = escape(label, quote=True)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{text}" xmlns="http://www.w3.org/2000/svg"><title>{text}</title>{body}</svg>'
    )


def scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """Map `value` from [low, high] onto [start, end] (the middle when the range is empty)."""
    if high == low:
        return (start + end) / 2
    return start + (value - low) / (high - low) * (end - start)


def percent(value: float) -> str:
    """0.423 -> '42.3%' (as the pages write a probability)."""
    return f"{value * 100:.1f}%"


def tick(value: float) -> str:
    """An axis tick as a percentage: 0.5 -> '50%'."""
    return f"{value * 100:.0f}%" if value * 100 == round(value * 100) else percent(value)


def fmt(value: float, as_percent: bool) -> str:
    """A monitoring chart's value: a share as a whole percentage, anything else (a PSI, an AUC)
    to three decimals (never in scientific notation)."""
    return f"{value * 100:.0f}%" if as_percent else f"{value:,.3f}"


def money(value: float) -> str:
    return format_money(value)


def number(value: float) -> str:
    return format_number(value)


def money_tick(value: float) -> str:
    """Money on a narrow axis: 7819593 -> '$7.8M', 45200 -> '$45k', 950 -> '$950'."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.{0 if abs(value) >= 10 * size else 1}f}{suffix}"
    return format_money(value)


def axis_titles(x_title: str, y_title: str, width: int, height: int) -> str:
    """An x-axis title under the chart and a y-axis title up its left side."""
    parts = []
    if x_title:
        parts.append(
            f'<text class="axis-title" x="{width / 2:.0f}" y="{height - 6}" '
            f'text-anchor="middle">{escape(x_title)}</text>'
        )
    if y_title:
        parts.append(
            f'<text class="axis-title" x="14" y="{height / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {height / 2:.0f})">{escape(y_title)}</text>'
        )
    return "".join(parts)


def wrapped(text: str, x: float, y: float, anchor: str = "end", chars: int = LABEL_CHARS) -> str:
    """`text` as a <text> of whole lines of at most `chars` characters (nothing cut off)."""
    lines = textwrap.wrap(text, chars) or [""]
    spans = "".join(
        f'<tspan x="{x:.0f}" dy="{0 if i == 0 else LINE_HEIGHT}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text class="axis" x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}">{spans}</text>'


def line_count(text: str, chars: int = LABEL_CHARS) -> int:
    return max(1, len(textwrap.wrap(text, chars)))


def as_day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)[:10]).date()


def line_chart(
    labels: Sequence,
    values: Sequence[float],
    label: str,
    percent_axis: bool = True,
    *,
    y_title: str = "",
    x_title: str = "Scored as of",
) -> str:
    """A line over time with a dot per point (e.g. risk over time): points are placed by their
    date (`labels`: dates or 'YYYY-MM-DD'), so daily and monthly scores keep their true spacing;
    the y axis runs 0-100% when `percent_axis`. The last value is written beside its dot."""
    if not values:
        return frame_svg(label, '<text x="20" y="40">No history yet.</text>')
    days = [as_day(d) for d in labels]
    low, high = (0.0, 1.0) if percent_axis else (min(values), max(values))
    show = percent if percent_axis else number
    left, right, top, bottom = PAD + 26, WIDTH - PAD - 20, 20, HEIGHT - PAD - 10
    first, last = days[0].toordinal(), days[-1].toordinal()
    xs = [scale(d.toordinal(), first, last, left, right) for d in days]
    ys = [scale(v, low, high, bottom, top) for v in values]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    grid = "".join(
        f'<line class="grid" x1="{left}" x2="{right}" y1="{scale(t, low, high, bottom, top):.1f}" '
        f'y2="{scale(t, low, high, bottom, top):.1f}"/>'
        f'<text class="axis" x="{left - 6}" y="{scale(t, low, high, bottom, top) + 4:.1f}" '
        f'text-anchor="end">{(tick if percent_axis else number)(t)}</text>'
        for t in (low, (low + high) / 2, high)
    )
    ticks = sorted({0, len(days) - 1, *range(0, len(days), max(1, len(days) // 4))})
    x_labels = "".join(
        f'<text class="axis" x="{xs[i]:.1f}" y="{bottom + 16}" text-anchor="middle">'
        f"{days[i]:%Y-%m-%d}</text>"
        for i in ticks
        if i == ticks[-1] or xs[ticks[-1]] - xs[i] > 80
    )
    dots = "".join(
        f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="{4 if len(xs) < 40 else 2.5}">'
        f"<title>{days[i]:%Y-%m-%d}: {show(values[i])}</title></circle>"
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    )
    value = (
        f'<text class="value" x="{xs[-1]:.1f}" y="{ys[-1] - 9:.1f}" text-anchor="end">'
        f"{show(values[-1])}</text>"
    )
    titles = axis_titles(x_title, y_title, WIDTH, HEIGHT)
    body = f'{grid}<polyline class="line" points="{path}"/>{dots}{value}{x_labels}{titles}'
    return frame_svg(label, body)


def waterfall(
    base: float,
    steps: Sequence[tuple[str, float]],
    label: str,
    total: float | None = None,
    *,
    higher_is_better: bool = False,
    base_label: str = "Baseline before behaviours",
    total_label: str = "This score",
) -> str:
    """The base probability, then each reason's points (+ raises, − lowers), ending at `total`
    (the score shown; by default the base plus every step). Give every reason, the "all other
    behaviours" line included, and the bars end where the score is. A step is `good` or `bad`
    for the business (`higher_is_better`: deals), and coloured and marked so."""
    level = base
    rows = [(base_label, base, 0.0)]
    for name, points in steps:
        rows.append((name, points, level))
        level += points
    rows.append((total_label, level if total is None else total, 0.0))
    heights = [max(1, line_count(name)) * LINE_HEIGHT + 14 for name, *_ in rows]
    height = sum(heights) + 40
    left, right = 330, WIDTH + 60 - 90
    ends = [end for _, v, start in rows for end in (start, start + v)]
    # Reasons in order of size can take the running level below zero on the way to the score.
    low, high = min(0.0, *ends), max(1e-9, *ends)
    body, y = [], 10
    for i, (name, value, start) in enumerate(rows):
        is_total = i in (0, len(rows) - 1)
        a, b = sorted((0.0, value) if is_total else (start, start + value))
        x0, x1 = scale(a, low, high, left, right), scale(b, low, high, left, right)
        good = (value >= 0) == higher_is_better
        kind = "total" if is_total else ("good" if good else "bad")
        # A step too small to show a tenth of a point is marked ■, as the reasons' list beside it.
        flat = not is_total and abs(value) < 0.0005
        mark = "" if is_total else "■ " if flat else ("▲ +" if value >= 0 else "▼ −")
        shown = f"{value * 100:.1f}%" if is_total else f"{0 if flat else abs(value) * 100:.1f} pts"
        testid = ' data-testid="waterfall-total"' if i == len(rows) - 1 else ""
        bar_y = y + (heights[i] - 22) / 2
        body.append(
            wrapped(name, left - 8, y + 14)
            + f'<rect class="bar {kind}" x="{x0:.1f}" y="{bar_y:.1f}" '
            f'width="{max(x1 - x0, 1.5):.1f}" height="22"/>'
            f'<text class="value"{testid} data-value="{value:.6f}" x="{x1 + 5:.1f}" '
            f'y="{bar_y + 16:.1f}">{mark}{shown}</text>'
        )
        y += heights[i]
    if low < 0:
        zero = scale(0.0, low, high, left, right)
        body.append(f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="6" y2="{y:.0f}"/>')
    body.append(
        f'<text class="axis-title" x="{(left + right) / 2:.0f}" y="{height - 8}" '
        'text-anchor="middle">Probability, in percentage points</text>'
    )
    return frame_svg(label, "".join(body), width=WIDTH + 60, height=height)


def short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars(
    items: Sequence[tuple[str, float]],
    label: str,
    unit: str = "",
    signed: bool = False,
    *,
    value_format: Callable[[float], str] | None = None,
    x_title: str = "",
) -> str:
    """Horizontal bars with the value written beside each (▲/▼ marks the sign when `signed`).
    `value_format` writes the values (money, percent; default: a plain number and `unit`)."""
    if not items:
        return frame_svg(label, '<text x="20" y="40">Nothing to show.</text>')
    show = value_format or (lambda v: f"{number(v)}{unit}")
    heights = [line_count(name) * LINE_HEIGHT + 12 for name, _ in items]
    height = sum(heights) + (40 if x_title else 20)
    left, right = 330, WIDTH + 60 - 110
    high = max(abs(v) for _, v in items) or 1.0
    body, y = [], 10
    for (name, value), row_height in zip(items, heights, strict=True):
        x1 = scale(abs(value), 0, high, left, right)
        kind = ("up" if value >= 0 else "down") if signed else "total"
        mark = ("▲ " if value >= 0 else "▼ ") if signed else ""
        bar_y = y + (row_height - 18) / 2
        body.append(
            wrapped(name, left - 8, y + 13)
            + f'<rect class="bar {kind}" x="{left}" y="{bar_y:.1f}" '
            f'width="{max(x1 - left, 1.5):.1f}" height="18"/>'
            f'<text class="value" x="{x1 + 5:.1f}" y="{bar_y + 14:.1f}">{mark}{show(value)}</text>'
        )
        y += row_height
    if x_title:
        body.append(
            f'<text class="axis-title" x="{(left + right) / 2:.0f}" y="{height - 8}" '
            f'text-anchor="middle">{escape(x_title)}</text>'
        )
    return frame_svg(label, "".join(body), width=WIDTH + 60, height=height)


def curve(
    xs: Sequence[float],
    ys: Sequence[float],
    label: str,
    marker: float | None = None,
    diagonal: bool = False,
    *,
    x_title: str = "",
    y_title: str = "",
    y_format: Callable[[float], str] | None = None,
) -> str:
    """A curve on numeric axes; `marker` draws a labelled vertical line (where an effect turns),
    `diagonal` the perfect-calibration line (reliability, both axes 0-100%). `y_format` writes the
    vertical axis's values (e.g. a probability effect in points, as the page's tables do)."""
    if not xs:
        return frame_svg(label, '<text x="20" y="40">No points.</text>')
    x_low, x_high = (0.0, 1.0) if diagonal else (min(xs), max(xs))
    y_low, y_high = (0.0, 1.0) if diagonal else (min(*ys, 0.0), max(*ys, 0.0))
    show_x = tick if diagonal else number
    show_y = tick if diagonal else (y_format or number)
    left, right, top, bottom = PAD + 30, WIDTH - PAD, 20, HEIGHT - PAD - 10

    def point(x: float, y: float) -> str:
        px = scale(x, x_low, x_high, left, right)
        return f"{px:.1f},{scale(y, y_low, y_high, bottom, top):.1f}"

    path = " ".join(point(x, y) for x, y in zip(xs, ys, strict=True))
    parts = [
        f'<line class="grid" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>',
        f'<text class="axis" x="{left}" y="{bottom + 16}">{show_x(x_low)}</text>',
        f'<text class="axis" x="{right}" y="{bottom + 16}" text-anchor="end">'
        f"{show_x(x_high)}</text>",
        f'<text class="axis" x="{left - 6}" y="{top + 8}" text-anchor="end">'
        f"{show_y(y_high)}</text>",
        f'<text class="axis" x="{left - 6}" y="{bottom}" text-anchor="end">{show_y(y_low)}</text>',
        axis_titles(x_title, y_title, WIDTH, HEIGHT),
    ]
    if not diagonal and y_low < 0 < y_high:
        zero = scale(0, y_low, y_high, bottom, top)
        parts.append(
            f'<line class="zero" x1="{left}" x2="{right}" y1="{zero:.1f}" y2="{zero:.1f}"/>'
        )
    if diagonal:
        parts.append(f'<polyline class="ideal" points="{point(0, 0)} {point(1, 1)}"/>')
    parts.append(f'<polyline class="line" points="{path}"/>')
    parts += [
        f'<circle class="dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3"/>'
        for p in path.split()
    ]
    if marker is not None and x_low <= marker <= x_high:
        mx = scale(marker, x_low, x_high, left, right)
        parts.append(
            f'<line class="marker" x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{bottom}"/>'
            f'<text class="value" x="{mx + 4:.1f}" y="{top + 12}">turns at {number(marker)}</text>'
        )
    return frame_svg(label, "".join(parts))


# ------------------------------------------------------------------------------ monitoring charts


def threshold_bars(
    items: Sequence[tuple[str, float, str]],
    label: str,
    thresholds: Sequence[tuple[float, str]] = (),
    axis: str = "",
) -> str:
    """Horizontal bars on a square-root scale (one large value does not flatten the rest), each
    with its value and status written beside it, and labelled vertical lines at `thresholds`
    (e.g. PSI 0.1 "moved", 0.25 "shifted"). `items`: (name, value, status)."""
    if not items:
        return frame_svg(label, '<text x="20" y="40">Nothing to show.</text>')
    top_pad = 22 + 14 * len(thresholds)  # each threshold's label on a line of its own
    height = 26 * len(items) + top_pad + 26
    left, right = 250, WIDTH - 110
    high = max([v for _, v, _ in items] + [t for t, _ in thresholds] + [1e-9])

    def x(value: float) -> float:
        return scale(max(value, 0.0) ** 0.5, 0, high**0.5, left, right)

    body = []
    for i, (value, name) in enumerate(thresholds):
        at = x(value)
        body.append(
            f'<line class="marker" x1="{at:.1f}" x2="{at:.1f}" y1="{14 * i + 18}" '
            f'y2="{height - 26}"/><text class="axis" x="{at + 4:.1f}" y="{14 * i + 16}">'
            f"{escape(name)} from {value:g}</text>"
        )
    for i, (name, value, status) in enumerate(items):
        y = top_pad + 26 * i
        end = x(value)
        body.append(
            f'<text class="axis" x="{left - 8}" y="{y + 14}" text-anchor="end">'
            f"{escape(short(name))}</text>"
            f'<rect class="bar {escape(status, quote=True)}" x="{left}" y="{y}" '
            f'width="{max(end - left, 1.5):.1f}" height="17"/>'
            f'<text class="value" x="{end + 5:.1f}" y="{y + 13}">{value:,.3g} {escape(status)}'
            "</text>"
        )
    if axis:
        body.append(
            f'<text class="axis" x="{(left + right) / 2:.0f}" y="{height - 6}" '
            f'text-anchor="middle">{escape(axis)}</text>'
        )
    return frame_svg(label, "".join(body), height=height)


def paired_bars(
    items: Sequence[tuple[str, float | None, float]],
    label: str,
    names: tuple[str, str] = ("then", "now"),
) -> str:
    """Two bars per item (e.g. a band's share in the test period and now), shares 0-1, each
    labelled with its series and value."""
    if not items:
        return frame_svg(label, '<text x="20" y="40">Nothing to show.</text>')
    height = 50 * len(items) + 20
    left, right = 170, WIDTH - 130
    high = max([v or 0.0 for _, a, b in items for v in (a, b)] + [1e-9])
    body = []
    for i, (name, before, now) in enumerate(items):
        y = 10 + 50 * i
        body.append(
            f'<text class="axis" x="{left - 8}" y="{y + 24}" text-anchor="end">'
            f"{escape(short(name, 22))}</text>"
        )
        for j, (kind, value) in enumerate((("then", before), ("now", now))):
            top = y + 20 * j
            if value is None:
                body.append(
                    f'<text class="axis" x="{left + 4}" y="{top + 13}">{names[j]}: —</text>'
                )
                continue
            end = scale(value, 0, high, left, right)
            body.append(
                f'<rect class="bar {kind}" x="{left}" y="{top}" '
                f'width="{max(end - left, 1.5):.1f}" height="16"/>'
                f'<text class="value" x="{end + 5:.1f}" y="{top + 12}">{names[j]} '
                f"{value * 100:.1f}%</text>"
            )
    return frame_svg(label, "".join(body), height=height)


def interval_line(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    label: str,
    band: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
    band_name: str = "",
    percent: bool = False,
) -> str:
    """Lines over dates (`series`: name, values, CSS class; None leaves a gap), with a shaded
    tolerance `band` (lows, highs) behind them; every point carries its value, the legend names
    every line and the band."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    if band is not None:
        values += [v for vs in band for v in vs if v is not None]
    if not labels or not values:
        return frame_svg(label, '<text x="20" y="40">Nothing measured yet.</text>')
    low, high = min(values), max(values)
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 0.05
    low, high = low - margin, high + margin
    left, right, top, bottom = PAD + 24, WIDTH - PAD - 10, 40, HEIGHT - PAD
    xs = [scale(i, 0, max(len(labels) - 1, 1), left, right) for i in range(len(labels))]
    if len(labels) == 1:
        xs = [(left + right) / 2]

    def y(value: float) -> float:
        return scale(value, low, high, bottom, top)

    parts = [
        f'<line class="grid" x1="{left}" x2="{right}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text class="axis" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">'
        f"{fmt(t, percent)}</text>"
        for t in (low + margin, (low + high) / 2, high - margin)
    ]
    parts += [
        f'<text class="axis" x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">'
        f"{escape(text)}</text>"
        for x, text in zip(xs, labels, strict=True)
    ]
    legend = []
    if band is not None:
        edge = [(x, lo, hi) for x, lo, hi in zip(xs, *band, strict=True) if None not in (lo, hi)]
        if edge:
            if len(edge) == 1:
                x0, lo, hi = edge[0]
                edge = [(x0 - 12, lo, hi), (x0 + 12, lo, hi)]
            upper = " ".join(f"{x:.1f},{y(hi):.1f}" for x, _, hi in edge)
            lower = " ".join(f"{x:.1f},{y(lo):.1f}" for x, lo, _ in reversed(edge))
            parts.insert(0, f'<polygon class="tolerance" points="{upper} {lower}"/>')
            legend.append(("tolerance", band_name or "tolerance"))
    for k, (name, vs, css) in enumerate(series):
        points = [(x, v) for x, v in zip(xs, vs, strict=True) if v is not None]
        path = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in points)
        parts.append(f'<polyline class="series {css}" points="{path}"/>')
        shift = -8 if k == 0 else 16  # the first line's values above its dots, others below
        parts += [
            f'<circle class="dot {css}" cx="{x:.1f}" cy="{y(v):.1f}" r="3.5"/>'
            f'<text class="value" x="{x:.1f}" y="{y(v) + shift:.1f}" text-anchor="middle">'
            f"{fmt(v, percent) if percent else f'{v:.3f}'}</text>"
            for x, v in points
        ]
        legend.append((css, name))
    at = left
    for css, name in legend:
        parts.append(
            f'<rect class="key {css}" x="{at}" y="8" width="14" height="10"/>'
            f'<text class="axis" x="{at + 18}" y="17">{escape(name)}</text>'
        )
        at += 18 + 7 * len(name) + 16  # about 7 px a character at the axis font size
    return frame_svg(label, "".join(parts))


def intervals(
    items: Sequence[tuple[str, float, float, float]],
    label: str,
    unit: str = " pts",
    scale_by: float = 100.0,
    value_format: Callable[[float], str] | None = None,
) -> str:
    """One row per item: a dot at the estimate and a line over its interval, around a zero line
    (e.g. each rep's effect against their deal mix). Values are written beside each row, by
    `value_format` when given (money as the page writes it), else as signed whole `unit`s."""
    show = value_format or (lambda v: f"{v * scale_by:+.0f}")
    if not items:
        return frame_svg(label, '<text x="20" y="40">Nothing to show.</text>')
    height = 26 * len(items) + 40
    left, right = 200, WIDTH - 190
    values = [v for _, est, low, high in items for v in (est, low, high)]
    low_all, high_all = min(*values, 0.0), max(*values, 0.0)
    pad = 0.05 * (high_all - low_all or 1.0)
    lo, hi = low_all - pad, high_all + pad
    zero = scale(0.0, lo, hi, left, right)
    body = [
        f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="5" y2="{height - 25}"/>',
        f'<text class="axis" x="{zero:.1f}" y="{height - 8}" text-anchor="middle">0</text>',
    ]
    for i, (name, est, low, high) in enumerate(items):
        y = 18 + 26 * i
        x, x0, x1 = (scale(v, lo, hi, left, right) for v in (est, low, high))
        kind = "up" if low > 0 else "down" if high < 0 else "total"
        body.append(
            f'<text class="axis" x="{left - 8}" y="{y + 4}" text-anchor="end">'
            f"{escape(short(name))}</text>"
            f'<line class="whisker {kind}" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y}" y2="{y}"/>'
            f'<circle class="dot {kind}" cx="{x:.1f}" cy="{y}" r="5"/>'
            f'<text class="value" x="{right + 8}" y="{y + 4}">{show(est)}{unit} '
            f"[{show(low)}, {show(high)}]</text>"
        )
    return frame_svg(label, "".join(body), height=height)


def forecast_chart(items: Sequence[tuple[str, float, float, float, float]], label: str) -> str:
    """Per period: the forecast (dot) with its interval (line) and the actual (square)."""
    if not items:
        return frame_svg(label, '<text x="20" y="40">No past quarter to check yet.</text>')
    left, right, top, bottom = PAD + 30, WIDTH - PAD, 20, HEIGHT - PAD
    high = max(max(f, h, a) for _, f, _, h, a in items) or 1.0
    step = (right - left) / max(len(items), 1)
    body = [f'<line class="grid" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>']
    body.append(
        f'<text class="axis" x="{left - 6}" y="{top + 8}" text-anchor="end">'
        f"{money_tick(high)}</text>"
    )
    for i, (name, forecast, low, hi, actual) in enumerate(items):
        x = left + step * (i + 0.5)
        y = [scale(v, 0, high, bottom, top) for v in (forecast, low, hi, actual)]
        inside = low <= actual <= hi
        body.append(
            f'<line class="whisker" x1="{x:.1f}" x2="{x:.1f}" y1="{y[1]:.1f}" y2="{y[2]:.1f}"/>'
            f'<circle class="dot" cx="{x:.1f}" cy="{y[0]:.1f}" r="5"/>'
            f'<rect class="bar {"total" if inside else "down"}" x="{x + 6:.1f}" '
            f'y="{y[3] - 4:.1f}" width="8" height="8"/>'
            f'<text class="axis" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(name)}</text>"
            f'<text class="value" x="{x:.1f}" y="{bottom + 30}" text-anchor="middle">'
            f"{'✓' if inside else '✗'}</text>"
        )
    return frame_svg(label, "".join(body))

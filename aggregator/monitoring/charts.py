"""Charts drawn on the server as SVG: no script, no CDN, the same on screen and paper.

Each function returns one `<svg>` element (well-formed XML, so it can be inlined in
HTML or saved alone) with a `<title>` and `<desc>` for screen readers. Styling is by
presentation attributes only (a Content-Security-Policy without inline styles allows
them), and series differ by dash pattern as well as colour, so a black-and-white
printout still tells them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1f5fa8", "#d9730d", "#2e8540", "#b3261e", "#6b4fa0", "#00838f", "#8d6e63",
           "#5f6368")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "3 6")
FONT = "font-family=\"Helvetica, Arial, sans-serif\""
_ids = iter(range(1, 1 << 62))


def _x(text: object) -> str:
    return escape(str(text), quote=True)


def nice_max(value: float) -> float:
    """The axis top: the next 1, 2, 2.5 or 5 times a power of ten at or above value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def ticks(value: float, most: int = 5) -> list[float]:
    """Round tick values from 0 to at or above `value`, at most `most` steps apart:
    0, 1, 2 ... for small counts, 0, 20, 40 ... for larger ones."""
    if value <= 0:
        return [0.0, 1.0]
    raw = value / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    if value >= 1:
        step = max(step, 1.0)  # counts: whole numbers
    count = math.ceil(value / step - 1e-9)
    return [round(step * i, 10) for i in range(count + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _open(kind: str, title: str, desc: str, width: int, height: int) -> tuple[str, str]:
    uid = f"{kind}{next(_ids)}"
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-labelledby="{uid}t {uid}d">'
            f'<title id="{uid}t">{_x(title)}</title><desc id="{uid}d">{_x(desc)}</desc>')
    return uid, head


def line_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
               *, width: int = 720, height: int = 260, y_label: str = "") -> str:
    """Time series: one line per named series over the x labels (dates)."""
    left, right, top, bottom = 48, 12, 28, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    grid = ticks(max((max(v, default=0) for _, v in series), default=0))
    peak = grid[-1]
    n = max(len(labels), 1)
    desc = "; ".join(f"{name}: {_fmt(sum(v))} in total" for name, v in series) or "no data"
    _, svg = _open("line", title, desc, width, height)
    parts = [svg, f'<text x="{left}" y="16" font-size="13" font-weight="bold" {FONT}>'
                  f'{_x(title)}</text>']
    for value in grid:  # horizontal grid and y ticks
        y = top + plot_h - plot_h * value / peak
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     f'stroke="#d0d0d0" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end" {FONT}>{_fmt(value)}</text>')
    if y_label:
        parts.append(f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="10" {FONT} '
                     f'transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
                     f'text-anchor="middle">{_x(y_label)}</text>')

    def px(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle" {FONT}>{_x(labels[i])}</text>')
    for k, (name, values) in enumerate(series):
        color, dash = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)]
        points = " ".join(f"{px(i):.1f},{top + plot_h - plot_h * v / peak:.1f}"
                          for i, v in enumerate(values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline class="series" data-name="{_x(name)}" points="{points}" '
                     f'fill="none" stroke="{color}" stroke-width="2"{dash_attr}>'
                     f'<title>{_x(name)}</title></polyline>')
        lx = left + (k % 4) * (plot_w / 4)
        ly = height - 26 + (k // 4) * 14
        parts.append(f'<line x1="{lx:.0f}" y1="{ly}" x2="{lx + 22:.0f}" y2="{ly}" '
                     f'stroke="{color}" stroke-width="2"{dash_attr}/>')
        parts.append(f'<text x="{lx + 26:.0f}" y="{ly + 4}" font-size="11" {FONT}>'
                     f'{_x(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, width: int = 720,
              unit: str = "", top_value: float | None = None,
              marks: Sequence[tuple[float, str]] = ()) -> str:
    """Horizontal bars, one per labelled value; `marks` draws reference lines (a
    target, grade boundaries) across the bars."""
    label_w, right, top, row = 230, 70, 28, 22
    height = top + row * max(len(items), 1) + 20
    plot_w = width - label_w - right
    peak = top_value or nice_max(max((v for _, v in items), default=0))
    desc = "; ".join(f"{label}: {_fmt(v)}{unit}" for label, v in items) or "no data"
    _, svg = _open("bar", title, desc, width, height)
    parts = [svg, f'<text x="4" y="16" font-size="13" font-weight="bold" {FONT}>'
                  f'{_x(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(0.0, plot_w * min(value, peak) / peak)
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="11" text-anchor="end" '
                     f'{FONT}>{_x(label[:40])}</text>')
        parts.append(f'<rect class="bar" data-label="{_x(label)}" data-value="{value:g}" '
                     f'x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" '
                     f'fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="11" {FONT}>'
                     f'{_fmt(value)}{_x(unit)}</text>')
    bottom = top + row * max(len(items), 1)
    for value, name in marks:
        x = label_w + plot_w * min(value, peak) / peak
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     f'stroke="#b3261e" stroke-width="1" stroke-dasharray="3 3"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 12}" font-size="9" '
                     f'text-anchor="middle" {FONT}>{_x(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_chart(title: str, rows: Sequence[tuple[str, Sequence[float]]],
                  parts_names: Sequence[str], *, width: int = 720) -> str:
    """Horizontal bars split into parts (met / late / not yet due), each bar 100 %."""
    label_w, right, top, row = 230, 20, 28, 22
    height = top + row * max(len(rows), 1) + 30
    plot_w = width - label_w - right
    desc = "; ".join(f"{label}: " + ", ".join(f"{n} {_fmt(v)}" for n, v in
                                              zip(parts_names, values, strict=True))
                     for label, values in rows) or "no data"
    _, svg = _open("stack", title, desc, width, height)
    out = [svg, f'<text x="4" y="16" font-size="13" font-weight="bold" {FONT}>'
                f'{_x(title)}</text>']
    colors = ("#2e8540", "#b3261e", "#9e9e9e")
    for i, (label, values) in enumerate(rows):
        y = top + i * row
        total = sum(values) or 1
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="11" text-anchor="end" '
                   f'{FONT}>{_x(label[:40])}</text>')
        x = float(label_w)
        for k, value in enumerate(values):
            w = plot_w * value / total
            out.append(f'<rect class="part" data-label="{_x(label)}" '
                       f'data-part="{_x(parts_names[k])}" data-value="{value:g}" '
                       f'x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" '
                       f'fill="{colors[k % len(colors)]}"/>')
            x += w
    ly = top + row * max(len(rows), 1) + 14
    for k, name in enumerate(parts_names):
        lx = label_w + k * 150
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                   f'fill="{colors[k % len(colors)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="11" {FONT}>{_x(name)}</text>')
    out.append("</svg>")
    return "".join(out)

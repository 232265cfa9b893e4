"""Charts as SVG markup, drawn on the server: no JavaScript, nothing fetched by the browser.

Every function returns one <svg> element (a markupsafe.Markup) sized by its viewBox, so it scales
with the page. Text is escaped; numbers are formatted by the caller's `fmt`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")
Fmt = Callable[[float], str]


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="{escape(label)}" preserveAspectRatio="xMinYMin meet">'
                  f'<title>{escape(label)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{klass}>'
            f'{escape(text)}</text>')


def _legend(names: Sequence[str], y: float) -> list[str]:
    out, x = [], 0.0
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(_text(x + 16, y, name, size=12))
        x += 28 + 7 * len(name)
    return out


def empty(label: str, message: str, width: int = 560) -> Markup:
    """A chart with nothing to draw says why, in the chart's place."""
    return _svg(width, 60, label, ['<rect x="0" y="0" width="100%" height="60" fill="#f7fafc"/>',
                                   _text(width / 2, 35, message, anchor="middle", size=13, cls="empty")])


def funnel(label: str, stages: Sequence[dict], width: int = 560) -> Markup:
    """Stages as centred bars, widest first, each with its count and the conversion to the next."""
    top = max((s["entered"] for s in stages), default=0)
    if not top:
        return empty(label, "no contacts entered any stage in this period")
    row, body = 46, []
    for i, s in enumerate(stages):
        w = max(2.0, (width - 160) * s["entered"] / top)
        y = i * row
        body.append(f'<rect class="bar" x="{(width - 40 - w) / 2 + 40:.1f}" y="{y + 4}" width="{w:.1f}" height="26" '
                    f'rx="3" fill="{PALETTE[0]}" opacity="{1 - i * 0.12:.2f}"><title>{escape(s["label"])}: '
                    f'{s["entered"]:,}</title></rect>')
        body.append(_text(0, y + 22, s["label"], size=13))
        body.append(_text(width / 2 + 20, y + 22, f"{s['entered']:,}", anchor="middle", size=13, cls="on-bar"))
        if "next" in s and s["rate"] is not None:
            days = f", {s['median_days']:g} d median" if s["median_days"] is not None else ""
            body.append(_text(width / 2 + 20, y + 43, f"↓ {s['rate']:.1%} to {s['next']}{days}", anchor="middle",
                              size=11, cls="muted"))
    return _svg(width, row * len(stages), label, body)


def vbars(label: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], fmt: Fmt, *,
          stacked: bool = False, width: int = 560, height: int = 240) -> Markup:
    """Vertical bars: one group (or stack) per category, one colour per series."""
    values = [v or 0.0 for _, vs in series for v in vs]
    if not categories or not any(values):
        return empty(label, "nothing to show for this period")
    sums = [sum((vs[i] or 0.0) for _, vs in series) for i in range(len(categories))]
    top = max(sums) if stacked else max(values)
    left, bottom, legend = 46, 34, 22 if len(series) > 1 else 0
    plot_h = height - bottom - legend - 8
    slot = (width - left) / len(categories)
    bar_w = slot * 0.7 / (1 if stacked else len(series))
    body = [f'<line x1="{left}" y1="{legend + 8 + plot_h}" x2="{width}" y2="{legend + 8 + plot_h}" stroke="#a0aec0"/>',
            _text(left - 6, legend + 18, fmt(top), anchor="end", size=10, cls="muted"),
            _text(left - 6, legend + 8 + plot_h, fmt(0), anchor="end", size=10, cls="muted")]
    if len(series) > 1:
        body += _legend([name for name, _ in series], 14)
    longest = max(len(c) for c in categories)
    # Labels never overlap: every `step`-th one, each given up to its share of the axis.
    step = max(1, math.ceil(len(categories) * min(longest, 14) * 6.2 / (width - left)))
    room = max(4, int(slot * step / 6.2))
    for i, cat in enumerate(categories):
        x0 = left + i * slot + slot * 0.15
        base: float = legend + 8 + plot_h
        for j, (name, vs) in enumerate(series):
            v = vs[i] or 0.0
            h = plot_h * v / top if top else 0
            x = x0 if stacked else x0 + j * bar_w
            y = base - h
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(cat)} {escape(name)}: '
                        f'{escape(fmt(v))}</title></rect>')
            if stacked:
                base = y
        if i % step == 0:
            body.append(_text(left + i * slot + slot / 2, height - bottom + 16, _short(cat, room), anchor="middle",
                              size=10))
    return _svg(width, height, label, body)


def hbars(label: str, rows: Sequence[tuple[str, Sequence[float | None]]], names: Sequence[str], fmt: Fmt, *,
          width: int = 560) -> Markup:
    """Horizontal bars: one row per item (long labels fit), one bar per series in the row."""
    values = [v for _, vs in rows for v in vs if v is not None]
    if not rows or not any(values):
        return empty(label, "nothing to show for this period")
    top = max(values)
    label_w, per = 150, 18
    legend = 22 if len(names) > 1 else 0
    row_h = per * len(names) + 10
    body = _legend(names, 14) if len(names) > 1 else []
    for i, (item, vs) in enumerate(rows):
        y = legend + i * row_h
        body.append(_text(0, y + row_h / 2 + 4, _short(item, 22), size=12))
        for j, v in enumerate(vs):
            w = (width - label_w - 90) * (v or 0) / top if top else 0
            body.append(f'<rect class="bar" x="{label_w}" y="{y + j * per + 3}" width="{max(w, 1):.1f}" '
                        f'height="{per - 4}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(item)} '
                        f'{escape(names[j])}: {escape(fmt(v) if v is not None else "-")}</title></rect>')
            body.append(_text(label_w + max(w, 1) + 6, y + j * per + 15, fmt(v) if v is not None else "-", size=11))
    return _svg(width, legend + row_h * len(rows), label, body)


def calibration(label: str, deciles: Sequence[dict], width: int = 360) -> Markup:
    """Predicted (x) against actual (y) conversion per decile, with the diagonal a perfectly
    calibrated score would follow."""
    points = [d for d in deciles if d["predicted"] is not None]
    if not points:
        return empty(label, "no prediction for this period", width)
    top = max(max(d["predicted"] for d in points), max(d["actual"] for d in points)) * 1.1 or 1.0
    pad, size = 40, width - 50
    def px(v: float) -> float:
        return pad + size * v / top
    def py(v: float) -> float:
        return 10 + size - size * v / top
    body = [f'<rect x="{pad}" y="10" width="{size}" height="{size}" fill="#f7fafc" stroke="#cbd5e0"/>',
            f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(top):.1f}" y2="{py(top):.1f}" stroke="#a0aec0" '
            'stroke-dasharray="4 3"/>',
            _text(pad + size / 2, size + 40, "predicted conversion", anchor="middle", size=11, cls="muted"),
            _text(pad - 6, 20, f"{top:.0%}", anchor="end", size=10, cls="muted"),
            _text(pad - 6, size + 10, "0%", anchor="end", size=10, cls="muted"),
            f'<text x="12" y="{10 + size / 2:.1f}" font-size="11" class="muted" text-anchor="middle" '
            f'transform="rotate(-90 12 {10 + size / 2:.1f})">actual conversion</text>']
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(d['predicted']):.1f},{py(d['actual']):.1f}"
                    for i, d in enumerate(points))
    body.append(f'<path d="{path}" fill="none" stroke="{PALETTE[1]}" stroke-width="2"/>')
    for d in points:
        body.append(f'<circle class="point" cx="{px(d["predicted"]):.1f}" cy="{py(d["actual"]):.1f}" r="4" '
                    f'fill="{PALETTE[1]}"><title>decile {d["decile"]} (score {d["min_score"]}-{d["max_score"]}, '
                    f'{d["contacts"]:,} contacts): predicted {d["predicted"]:.1%}, actual {d["actual"]:.1%}'
                    '</title></circle>')
    return _svg(width, size + 50, label, body)


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

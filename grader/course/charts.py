"""The overview page's two charts as inline SVG, written directly: bars, axes, ticks and labels.

Two bar charts do not need a plotting library: matplotlib cost a batch about a second of CPU (its
import and font loading in the background while the workers graded, then half a second drawing after
them), a quarter of grading 100 submissions on 2 cores; these take a millisecond. Text is SVG
`<text>` in the page's own sans-serif font. Only numbers and the spec's check names (escaped) reach a
chart, and the same data always gives the same bytes.
"""

from __future__ import annotations

import math
from html import escape

BAR, PASS, AXIS, INK = "#4c72b0", "#55a868", "#444", "#222"
FONT = 'font-family="sans-serif" font-size="11"'


def _ticks(top: float, most: int = 6) -> list[float]:
    """Round tick values from 0 to at least `top`: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(k * power for k in (1, 2, 5, 10) if k * power >= raw)
    return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _number(value: float) -> str:
    return f"{value:g}"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def histogram(scores: list[float], max_score: float) -> str:
    """Students per score: one bar per point (or per 1/20 of the maximum when it is large)."""
    top = max([max_score, *scores, 1.0])
    width = 1.0 if top <= 40 else top / 20
    bins = int(top / width) + 1  # bin k holds the scores within width/2 of k*width
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(math.floor(score / width + 0.5))))] += 1
    left, right, top_pad, bottom = 44, 12, 10, 36
    plot_w, plot_h = 440, 170
    y_ticks = [t for t in _ticks(max(counts + [1])) if t == int(t)] or [0.0, 1.0]
    y_top = max(y_ticks[-1], 1.0)

    def x_at(value: float) -> float:
        return left + (value / width + 0.5) / bins * plot_w

    def y_at(count: float) -> float:
        return top_pad + plot_h - count / y_top * plot_h

    body = []
    bar_w = plot_w / bins
    for k, count in enumerate(counts):
        if count:
            body.append(f'<rect x="{left + k * bar_w + 1:.1f}" y="{y_at(count):.1f}" width="{bar_w - 2:.1f}" '
                        f'height="{plot_h - (y_at(count) - top_pad):.1f}" fill="{BAR}">'
                        f"<title>{count} at {_number(k * width)}</title></rect>")
    base = top_pad + plot_h
    body.append(f'<path d="M{left} {top_pad}V{base}H{left + plot_w}" fill="none" stroke="{AXIS}"/>')
    for tick in y_ticks:
        y = y_at(tick)
        body.append(f'<path d="M{left - 4} {y:.1f}H{left}" stroke="{AXIS}"/>'
                    f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" {FONT} fill="{INK}">{int(tick)}</text>')
    for tick in _ticks(top, 10):
        if tick <= top + 1e-9:
            x = x_at(tick)
            body.append(f'<path d="M{x:.1f} {base}V{base + 4}" stroke="{AXIS}"/>'
                        f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" {FONT} fill="{INK}">'
                        f"{_number(tick)}</text>")
    body.append(f'<text x="{left + plot_w / 2}" y="{base + 31}" text-anchor="middle" {FONT} fill="{INK}">score</text>'
                f'<text transform="translate(12 {top_pad + plot_h / 2}) rotate(-90)" text-anchor="middle" '
                f'{FONT} fill="{INK}">students</text>')
    return _svg(left + plot_w + right, top_pad + plot_h + bottom, "score histogram", body)


def pass_rates(rates: dict[str, float]) -> str:
    """The share of the class passing each check, one horizontal bar per check, in the spec's order."""
    names = list(rates)
    label_w = max([len(n) for n in names] + [4]) * 6.5 + 12
    left, right, top_pad, row, bottom = int(label_w), 16, 6, 20, 36
    plot_w = 360
    plot_h = row * max(len(names), 1)
    body = []
    for i, name in enumerate(names):
        share = min(max(float(rates[name]), 0.0), 1.0)
        y = top_pad + i * row
        body.append(f'<text x="{left - 7}" y="{y + row / 2 + 4:.1f}" text-anchor="end" {FONT} fill="{INK}">'
                    f"{escape(name)}</text>")
        if share:
            body.append(f'<rect x="{left}" y="{y + 3}" width="{share * plot_w:.1f}" height="{row - 6}" '
                        f'fill="{PASS}"><title>{escape(name)}: {100 * share:.0f}%</title></rect>')
    base = top_pad + plot_h
    body.append(f'<path d="M{left} {top_pad}V{base}H{left + plot_w}" fill="none" stroke="{AXIS}"/>')
    for tick in range(0, 101, 20):
        x = left + tick / 100 * plot_w
        body.append(f'<path d="M{x:.1f} {base}V{base + 4}" stroke="{AXIS}"/>'
                    f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" {FONT} fill="{INK}">{tick}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{base + 31}" text-anchor="middle" {FONT} fill="{INK}">'
                "% of students passing</text>")
    return _svg(left + plot_w + right, base + bottom, "pass rate per check", body)

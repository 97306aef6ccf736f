"""Tiny inline-SVG line/step/band plots for the static site (no JavaScript, no external assets).

Every text that reaches the SVG goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")


@dataclass
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    low: Sequence[float] | None = None  # band
    high: Sequence[float] | None = None
    step: bool = False  # draw as a staircase (fronts)
    markers: bool = False
    dashed: bool = False


@dataclass
class Plot:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    logx: bool = False
    logy: bool = False  # values <= 0 are drawn on the axis floor (half the smallest positive value)
    width: int = 640
    height: int = 360


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step) * step
    out: list[float] = []
    v = start
    while v <= hi + 1e-12 * abs(hi) and len(out) < 20:
        out.append(round(v, 12))
        v += step
    return out


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis spanning 10**lo .. 10**hi: decades, with 2 and 5 when it spans under two."""
    mults = (1, 2, 5) if hi - lo < 2 else (1,)
    out = [m * 10.0**k for k in range(math.floor(lo), math.ceil(hi) + 1) for m in mults
           if lo <= math.log10(m * 10.0**k) <= hi]
    return out or [10.0**lo]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        m, e = f"{v:.1e}".split("e")
        return f"{m.rstrip('0').rstrip('.')}e{int(e)}"
    return f"{v:.4g}"


def render(plot: Plot) -> str:
    """The plot as an ``<svg>`` element (a string of escaped markup)."""
    W, H0 = plot.width, plot.height
    legend_h = 16 * ((len(plot.series) + 1) // 2)
    H = H0 + legend_h + 8  # the legend goes under the axes, two entries per line
    L, R, T, B = 70, 16, 30, 56 + legend_h
    xs = [float(x) for s in plot.series for x in s.x if math.isfinite(float(x))]
    ys = [float(y) for s in plot.series for y in (*s.y, *(s.low or ()), *(s.high or ())) if y is not None
          and math.isfinite(float(y))]
    if plot.logx:
        xs = [x for x in xs if x > 0]
    floor = 0.0
    if plot.logy:
        pos = [y for y in ys if y > 0]
        if pos:
            floor = min(pos) / 2 if min(ys) <= 0 else min(pos)
            ys = [max(y, floor) for y in ys]
        else:  # nothing positive: a log axis cannot show it
            plot = Plot(plot.title, plot.xlabel, plot.ylabel, plot.series, plot.logx, False, plot.width, plot.height)
    title = escape(plot.title)
    if not xs or not ys:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="60" role="img" aria-label="{title}">'
                f'<text x="10" y="30">{title}: no data</text></svg>')
    fx = (lambda v: math.log10(v)) if plot.logx else (lambda v: v)
    x0, x1 = fx(min(xs)), fx(max(xs))
    fy = (lambda v: math.log10(max(v, floor))) if plot.logy else (lambda v: v)
    y0, y1 = fy(min(ys)), fy(max(ys))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad

    def px(v: float) -> float:
        return L + (fx(v) - x0) / (x1 - x0) * (W - L - R)

    def py(v: float) -> float:
        return T + (y1 - fy(v)) / (y1 - y0) * (H - T - B)

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" role="img" aria-label="{title}">'),
           f"<title>{title}</title>",
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="#fff" stroke="#999"/>',
           f'<text x="{W / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{title}</text>']
    # axes
    if plot.logx:
        xt = [10.0**k for k in range(math.floor(x0), math.ceil(x1) + 1) if x0 <= k <= x1] or [10**x0]
    else:
        xt = _nice_ticks(x0, x1)
    for v in xt:
        X = px(v)
        out.append(f'<line x1="{X:.1f}" y1="{T}" x2="{X:.1f}" y2="{H - B}" stroke="#eee"/>'
                   f'<text x="{X:.1f}" y="{H - B + 16}" text-anchor="middle" font-size="11">{escape(_fmt(v))}</text>')
    if plot.logy:
        yt = _log_ticks(y0, y1)
    else:
        yt = _nice_ticks(y0, y1)
    for v in yt:
        Y = py(v)
        out.append(f'<line x1="{L}" y1="{Y:.1f}" x2="{W - R}" y2="{Y:.1f}" stroke="#eee"/>'
                   f'<text x="{L - 6}" y="{Y + 4:.1f}" text-anchor="end" font-size="11">{escape(_fmt(v))}</text>')
    out.append(f'<text x="{(L + W - R) / 2:.1f}" y="{H - B + 34}" text-anchor="middle" font-size="12">'
               f'{escape(plot.xlabel)}</text>')
    ylabel = plot.ylabel + (" (log scale)" if plot.logy else "")
    # a label longer than the axis (~6.5 px per character at 12 px) is squeezed to the axis height
    # instead of running off the image
    fit = f' textLength="{H - T - B}" lengthAdjust="spacingAndGlyphs"' if 6.5 * len(ylabel) > H - T - B else ""
    out.append(f'<text transform="translate(16 {(T + H - B) / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'font-size="12"{fit}>{escape(ylabel)}</text>')
    # series
    for k, s in enumerate(plot.series):
        pts = [(float(x), float(y)) for x, y in zip(s.x, s.y)
               if y is not None and math.isfinite(float(y)) and (not plot.logx or float(x) > 0)]
        if not pts:
            continue
        color = escape(s.color)
        cls = f'series s{k}'
        if s.low is not None and s.high is not None:
            band = [(float(x), float(lo), float(hi)) for x, lo, hi in zip(s.x, s.low, s.high)
                    if lo is not None and hi is not None]
            if band:
                poly = [f"{px(x):.1f},{py(hi):.1f}" for x, _, hi in band]
                poly += [f"{px(x):.1f},{py(lo):.1f}" for x, lo, _ in reversed(band)]
                out.append(f'<polygon class="band" points="{" ".join(poly)}" fill="{color}" fill-opacity="0.15" '
                           f'stroke="none"/>')
        if s.step:
            line: list[tuple[float, float]] = []
            for i, (x, y) in enumerate(pts):
                if i:
                    line.append((x, pts[i - 1][1]))
                line.append((x, y))
        else:
            line = pts
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line)
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        out.append(f'<polyline class="{cls}" points="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}>'
                   f"<title>{escape(s.label)}</title></polyline>")
        if s.markers:
            for x, y in pts:
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
    # legend
    for i, s in enumerate(plot.series):
        lx = L + (i % 2) * (W - L - R) / 2
        ly = H - legend_h + 16 * (i // 2) + 2
        out.append(f'<g class="legend"><rect x="{lx:.1f}" y="{ly - 4}" width="14" height="3" fill="{escape(s.color)}"/>'
                   f'<text x="{lx + 18:.1f}" y="{ly}" font-size="11">{escape(_clip(s.label, 42))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"

"""Figures from results files: anytime curves and Pareto fronts, as PNG (matplotlib) or as a
self-contained interactive HTML page (inline SVG + a few lines of vanilla JS, no external assets).

Everything drawn is re-computed from the table (each trajectory is replayed and scored as by
``hwbench score``), never read from the scores stored in the results file.

* **Anytime**: per results file, the mean regret (Pareto: 1 - HV/HV_true) over seeds against
  simulated time (evaluations or seconds), with the 95 % bootstrap band over seeds.
* **Pareto** (Pareto tasks): per results file, the front reported by its median seed (by final
  hypervolume; scored accuracy vs cost), and the table's true front.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.search.problem import Problem, pareto_mask


@dataclass(frozen=True)
class Curve:
    """One line of a figure: ``x``/``y`` with an optional band and per-point hover texts."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    step: bool = False
    markers: bool = False
    dashed: bool = False
    hover: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A figure: title, axis labels, curves; ``name`` is its file stem."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    curves: tuple[Curve, ...] = field(default_factory=tuple)
    #: draw y on a log scale, values below ``floor`` (e.g. a regret of 0) clamped to it
    logy: bool = False
    floor: float = 1e-4


def _labels(results: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """Series labels: the algorithm name, with the file stem added where names repeat."""
    names = [str(d["algorithm"]["name"]) for _, d in results]
    return [n if names.count(n) == 1 else f"{n} ({Path(p).stem})" for n, (p, _) in zip(names, results)]


def figures_for_task(problem: Problem, results: Sequence[tuple[str, dict[str, Any]]]) -> list[Figure]:
    """The anytime figure (and for Pareto tasks the front figure) of results files on one task.

    ``results``: (path, loaded results dict) pairs, all for ``problem.task``.
    """
    from hwbench.search.runner import replay
    from hwbench.search.scoring import score_results

    task = problem.task
    pareto = task.kind == "pareto"
    labels = _labels(results)
    xlabel = "evaluations" if problem.max_evaluations is not None else "simulated time (s)"
    ylabel = "1 - HV / HV_true" if pareto else ("regret (reward)" if task.kind == "scalarized" else "regret (accuracy points)")
    curves: list[Curve] = []
    fronts: list[Curve] = []
    for label, (_, data) in zip(labels, results):
        scores, summary = score_results(problem, data)
        x = tuple(float(v) for v in summary.curve_x)
        mean, lo, hi = (tuple(float(v) for v in a) for a in (summary.curve_mean, summary.curve_low, summary.curve_high))
        hover = tuple(f"{label}<br>{xlabel} {xv:g}<br>mean {m:.4g} [{a:.4g}, {b:.4g}] over {summary.n} seeds"
                      for xv, m, a, b in zip(x, mean, lo, hi))
        curves.append(Curve(label, x, mean, lo, hi, hover=hover))
        if pareto:
            order = np.argsort([s.regret for s in scores], kind="stable")
            med = int(order[(len(order) - 1) // 2])
            run = data["runs"][med]
            session = replay(problem, run["archs"], None, run.get("epochs"))
            rows = [t.index for t in session.trials if t.epochs is None]
            fronts.append(_front_curve(problem, np.asarray(rows, dtype=np.int64),
                                       f"{label} (seed {scores[med].seed}, HV {1 - scores[med].regret:.3f})",
                                       selected_on_search=True))
    figs = [Figure(f"{task.name}-anytime", f"{task.name}: anytime", xlabel, ylabel, tuple(curves),
                   logy=True, floor=_floor(curves))]
    if pareto:
        true = _front_curve(problem, problem.true_front, "true front (table)", selected_on_search=False, dashed=True)
        cost = problem.cost_names[0]
        figs.append(Figure(f"{task.name}-pareto", f"{task.name}: Pareto fronts", cost,
                           f"{problem.objective.score_column} (scored)", (true, *fronts)))
    return figs


def _floor(curves: Sequence[Curve]) -> float:
    """A log-axis floor: the power of ten at or below the smallest positive value (regret 0 =
    the oracle found is drawn at the floor), at least 1e-4 of the largest value."""
    ys = np.array([v for c in curves for v in (*c.y, *(c.low or ()), *(c.high or ())) if math.isfinite(v)])
    pos = ys[ys > 0]
    if pos.size == 0:
        return 1e-4
    return float(max(10.0 ** math.floor(math.log10(pos.min())), pos.max() * 1e-4))


def _front_curve(problem: Problem, rows: np.ndarray, label: str, selected_on_search: bool,
                 dashed: bool = False) -> Curve:
    from hwbench.spaces import get_space

    space = get_space(problem.task.space)
    cost_col = problem.costs[problem.cost_names[0]]
    rows = np.unique(rows[problem.feasible[rows]]) if rows.size else rows
    if rows.size and selected_on_search:  # the front the run reports: chosen on the searched accuracy
        rows = rows[pareto_mask(problem.search_acc[rows], cost_col[rows])]
    rows = rows[np.argsort(cost_col[rows], kind="stable")]
    x = tuple(float(cost_col[i]) for i in rows)
    y = tuple(float(problem.score_acc[i]) for i in rows)
    hover = tuple(f"{label}<br>{space.arch_str(int(i))}<br>cost {cx:.6g}<br>accuracy {ay:.4g}"
                  for i, cx, ay in zip(rows, x, y))
    return Curve(label, x, y, step=True, markers=not dashed, dashed=dashed, hover=hover)


# -- PNG -----------------------------------------------------------------------------------------
def write_png(fig: Figure, path: str | Path) -> Path:
    """Render with matplotlib (extra ``plot``; Agg backend, no display needed)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        from hwbench.errors import MissingDependencyError

        raise MissingDependencyError("matplotlib", "plot", "PNG plots (or use --format html)") from None
    from hwbench.leaderboard.svg import PALETTE

    mfig = MplFigure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    ax = mfig.add_subplot()
    for k, c in enumerate(fig.curves):
        color = "black" if c.dashed else PALETTE[k % len(PALETTE)]
        style = "--" if c.dashed else "-"
        if c.step:
            ax.step(c.x, c.y, where="post", color=color, linestyle=style, label=c.label,
                    marker="o" if c.markers else None, markersize=3)
        else:
            ax.plot(c.x, c.y, color=color, linestyle=style, label=c.label)
        if c.low is not None and c.high is not None:
            ax.fill_between(c.x, c.low, c.high, color=color, alpha=0.2, linewidth=0)
    if fig.logy:
        ax.set_yscale("symlog", linthresh=fig.floor)
        ax.set_ylim(bottom=0)
    ax.set_title(fig.title, fontsize=11)
    ax.set_xlabel(fig.xlabel)
    ax.set_ylabel(fig.ylabel)
    ax.grid(True, alpha=0.3)
    if fig.curves:
        ax.legend(fontsize=8)
    out = Path(path)
    mfig.savefig(out, format="png")
    return out


# -- HTML ----------------------------------------------------------------------------------------
_JS = """
(function () {
  var tip = document.getElementById("tip");
  document.querySelectorAll("figure[data-series]").forEach(function (fig) {
    var svg = fig.querySelector("svg"), data = JSON.parse(fig.getAttribute("data-series"));
    var pts = [];
    svg.querySelectorAll("polyline.series").forEach(function (pl) {
      var k = +pl.getAttribute("class").match(/\\bs(\\d+)/)[1];
      var v = pl.getAttribute("points").trim().split(/\\s+/), s = data[k], step = s.step ? 2 : 1;
      for (var i = 0; i < s.hover.length; i++) {
        var xy = v[i * step].split(",");
        pts.push([+xy[0], +xy[1], s.hover[i]]);
      }
    });
    svg.addEventListener("mousemove", function (ev) {
      var p = svg.createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
      p = p.matrixTransform(svg.getScreenCTM().inverse());
      var best = null, bd = 400;
      pts.forEach(function (q) { var d = (q[0] - p.x) * (q[0] - p.x) + (q[1] - p.y) * (q[1] - p.y); if (d < bd) { bd = d; best = q; } });
      if (!best) { tip.style.display = "none"; return; }
      tip.innerHTML = best[2]; tip.style.display = "block";
      tip.style.left = (ev.pageX + 12) + "px"; tip.style.top = (ev.pageY + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });
})();
"""


def figure_svg(fig: Figure) -> str:
    """The figure as inline SVG (hwbench.leaderboard.svg) wrapped in a ``<figure>`` carrying the
    hover texts as a data attribute."""
    from hwbench.leaderboard.svg import PALETTE, Plot, Series, render

    def ty(v: float) -> float:  # log axis: the SVG plotter is linear in y, so plot log10 values
        return math.log10(max(v, fig.floor)) if fig.logy else v

    ylabel = f"log10 {fig.ylabel} (floor {fig.floor:g})" if fig.logy else fig.ylabel
    plot = Plot(fig.title, fig.xlabel, ylabel, width=760, height=400)
    meta = []
    for k, c in enumerate(fig.curves):
        keep = [i for i, yv in enumerate(c.y) if math.isfinite(yv)]  # render() drops non-finite points
        plot.series.append(Series(
            c.label, [c.x[i] for i in keep], [ty(c.y[i]) for i in keep],
            "#000000" if c.dashed else PALETTE[k % len(PALETTE)],
            low=[ty(v) for v in c.low] if c.low is not None else None,
            high=[ty(v) for v in c.high] if c.high is not None else None,
            step=c.step, markers=c.markers, dashed=c.dashed,
        ))
        # hover texts are inserted with innerHTML: escape everything but our own <br> separators
        meta.append({"step": c.step, "hover": [escape(c.hover[i]).replace("&lt;br&gt;", "<br>") if c.hover
                                               else escape(f"{c.label}: {c.x[i]:g}, {c.y[i]:g}") for i in keep]})
    attr = escape(json.dumps(meta, allow_nan=False), quote=True)
    return f'<figure data-series="{attr}">{render(plot)}</figure>'


def write_html(figs: Sequence[Figure], path: str | Path, title: str) -> Path:
    """One self-contained page (no external URLs) with every figure and hover tooltips."""
    body = "\n".join(figure_svg(f) for f in figs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
figure {{ margin: 0 0 2em 0; }}
#tip {{ position: absolute; display: none; background: #fff; border: 1px solid #888; padding: 4px 6px;
        font-size: 12px; pointer-events: none; box-shadow: 1px 1px 3px #aaa; }}
</style></head>
<body><h1>{escape(title)}</h1>
<p>Re-computed from the table by <code>hwbench plot</code>: mean over seeds with the 95 % bootstrap band;
hover for values.</p>
{body}
<div id="tip"></div>
<script>{_JS}</script>
</body></html>
"""
    out = Path(path)
    out.write_text(page)
    return out

"""Figures of the report, one function per figure (matplotlib, Agg backend, PNG).

Each function takes plain data (no run-directory reading) and a path, writes the PNG and
returns the path. matplotlib is imported inside ``_pyplot`` (no import-time side effects).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from azr.analysis.rundir import ROLES, TASKS

Curve = tuple  # (steps, values) or (steps, values, lows, highs): a rate with its interval per point
TASK_STYLES = {"deduction": "-", "abduction": "--", "induction": ":"}
DPI = 110


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8,
                         "axes.spines.top": False, "axes.spines.right": False,
                         "axes.formatter.useoffset": False})
    return plt


def _colors(n: int) -> list:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def _integer_steps(ax) -> None:
    """Ticks of a step axis at whole steps only (no 1.2, 1.4, ...)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _line(ax, curve: Curve, **kw) -> None:
    """One curve; a 4-tuple curve also gets its interval as a shaded band."""
    steps, vals = curve[0], curve[1]
    marker = "o" if len(steps) <= 12 else None
    (line,) = ax.plot(steps, vals, marker=marker, markersize=3, linewidth=1.4, **kw)
    if len(curve) == 4:
        ax.fill_between(steps, curve[2], curve[3], color=line.get_color(), alpha=0.15, linewidth=0)


def plot_passk(curves_by_bench: dict[str, list], path: Path) -> Path:
    """pass@k (%) against k (log2 axis), one panel per benchmark, one line per model, CI bands.
    ``curves_by_bench``: {benchmark: [PasskCurve, ...]}."""
    plt = _pyplot()
    n = len(curves_by_bench)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.8), squeeze=False, layout="constrained")
    for ax, (bench, curves) in zip(axes[0], curves_by_bench.items()):
        for color, c in zip(_colors(len(curves)), curves):
            ys = [100 * v for v in c.values]
            ax.plot(c.ks, ys, marker="o", markersize=3, color=color, label=c.label)
            if all(ci is not None for ci in c.ci):
                ax.fill_between(c.ks, [100 * ci[0] for ci in c.ci], [100 * ci[1] for ci in c.ci],
                                color=color, alpha=0.18, linewidth=0)
        ks = sorted({k for c in curves for k in c.ks})
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("pass@k (%)")
        ax.set_title(bench)
        ax.legend(loc="lower right")
    return _save(fig, path)


def plot_difficulty(stats: Sequence[dict], every: int, path: Path) -> Path:
    """Solve rate (± s.e.) and mean response length of each model by the step bucket that
    proposed the questions. ``stats``: ``BucketStat`` dicts."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    models = list(dict.fromkeys(s["model"] for s in stats))
    for color, m in zip(_colors(len(models)), models):
        rows = sorted((s for s in stats if s["model"] == m), key=lambda s: s["bucket"])
        xs = [s["bucket"] for s in rows]
        ax1.errorbar(xs, [s["solve_rate"] for s in rows], yerr=[s["solve_rate_se"] for s in rows],
                     marker="o", markersize=4, capsize=3, color=color, label=m)
        ax2.plot(xs, [s["response_length"] for s in rows], marker="o", markersize=4, color=color, label=m)
    for ax in (ax1, ax2):
        ax.set_xlabel(f"step that proposed the question (buckets of {every})")
        _integer_steps(ax)
        ax.legend()
    ax1.set_ylabel("mean solve rate")
    ax1.set_ylim(-0.02, 1.02)
    ax1.set_title("Solve rate by question step")
    ax2.set_ylabel("mean response length (tokens)")
    ax2.set_title("Response length by question step")
    return _save(fig, path)


def plot_proposal_solve_rate(rates_by_run: dict[str, list[tuple[int, float, int]]], every: int, path: Path) -> Path:
    """Solve rate estimated at proposal time (learnability samples) of the buffer's valid
    proposals, by proposing-step bucket. ``rates_by_run``: {run: [(bucket, mean rate, n), ...]}."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    for color, (label, rows) in zip(_colors(len(rates_by_run)), rates_by_run.items()):
        ax.plot([b for b, _, _ in rows], [r for _, r, _ in rows], marker="o", markersize=4, color=color, label=label)
        if len(rows) <= 16:  # each point says how many proposals it averages
            for b, r, n in rows:
                ax.annotate(f"n={n}", (b, r), textcoords="offset points", xytext=(0, 5), ha="center",
                            fontsize=6, color=color)
    ax.set_xlabel(f"proposing step (buckets of {every})")
    _integer_steps(ax)
    ax.set_ylabel("estimated solve rate at proposal")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Difficulty of proposed tasks (all task types)")
    ax.legend()
    return _save(fig, path)


def plot_entropy(curves_by_run: dict[str, dict[str, Curve]], path: Path) -> Path:
    """Three panels: ``entropy/overall``; proposer entropy per task; solver entropy per task.
    Colour = run (legend in the first panel), line style = task type (legend in the others)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9), sharey=True, layout="constrained")
    colors = _colors(len(curves_by_run))
    for color, (label, curves) in zip(colors, curves_by_run.items()):
        if "entropy/overall" in curves:
            _line(axes[0], curves["entropy/overall"], color=color, label=label)
        for ax, role in zip(axes[1:], ROLES):
            for task in TASKS:
                key = f"entropy/{role}/{task}"
                if key in curves:
                    _line(ax, curves[key], color=color, linestyle=TASK_STYLES[task])
    styles = [Line2D([], [], color="0.3", linestyle=TASK_STYLES[t], label=t) for t in TASKS]
    for ax, title in zip(axes, ["overall", "proposer (per task)", "solver (per task)"]):
        ax.set_title(f"Policy entropy, {title}")
        ax.set_xlabel("training step")
        _integer_steps(ax)
    axes[0].legend(loc="best")
    for ax in axes[1:]:
        ax.legend(handles=styles, loc="best", title="task (colour = run)", title_fontsize=8)
    axes[0].set_ylabel("mean token entropy (nats)")
    return _save(fig, path)


def plot_sparsity(rows: Sequence[tuple[str, dict]], path: Path) -> Path:
    """Update sparsity (%) per module type and in total, one bar group per category, one bar
    per run. ``rows``: [(label, SparsityResult.to_json(with_tensors=False)), ...]."""
    plt = _pyplot()
    cats = ["total"] + [m for m in ("attention", "mlp", "embeddings", "norms", "lm_head", "other")
                        if any(m in r["by_module"] for _, r in rows)]
    width_in = min(12.0, max(6.5, 0.6 * len(cats) * max(1, len(rows)) + 3))
    fig, ax = plt.subplots(figsize=(width_in, 4.2), layout="constrained")
    width = 0.8 / max(1, len(rows))
    for i, (color, (label, r)) in enumerate(zip(_colors(len(rows)), rows)):
        vals = [100 * (r["total"] if c == "total" else r["by_module"].get(c, {"sparsity": float("nan")}))["sparsity"]
                for c in cats]
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(cats))]
        bars = ax.bar(xs, vals, width=width * 0.95, color=color, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(len(cats)), cats)
    ax.set_ylabel("update sparsity (% of elements unchanged)")
    ax.set_ylim(0, 105)
    ax.set_title("Update sparsity by module type")
    fig.legend(loc="outside lower center", ncol=min(3, len(rows)), fontsize=8)
    return _save(fig, path)


def plot_metric_panels(panels: Sequence[tuple], path: Path, ncols: int = 3) -> Path:
    """A grid of line charts over whole training steps. ``panels``: [(title, y label, {run label:
    curve}[, (ymin, ymax)]), ...]; the same run has the same colour in every panel; a curve with
    (lows, highs) is drawn with its interval band."""
    plt = _pyplot()
    n = len(panels)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.3 * nrows), squeeze=False,
                             layout="constrained")
    labels = list(dict.fromkeys(lbl for panel in panels for lbl in panel[2]))
    color_of = dict(zip(labels, _colors(len(labels))))
    for ax, (title, ylabel, curves, *ylim) in zip(axes.flat, panels):
        for label, curve in curves.items():
            _line(ax, curve, color=color_of[label], label=label)
        if ylim:
            ax.set_ylim(*ylim[0])
        ax.set_title(title)
        ax.set_xlabel("training step")
        _integer_steps(ax)
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, names = [], []
    for ax in axes.flat:
        for h, lbl in zip(*ax.get_legend_handles_labels()):
            if lbl not in names:
                handles.append(h)
                names.append(lbl)
    if names:
        fig.legend(handles, names, loc="outside lower center", ncol=min(4, len(names)), fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path

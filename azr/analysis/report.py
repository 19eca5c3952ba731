"""``azr report``: one self-contained HTML page with the study's figures, PNGs beside it.

Every figure is built from run directories (and ``azr eval`` summaries); a figure whose data
is missing is listed under "Figures that need more data" with what would produce it, never
an error. Nothing is fetched: the page uses only relative PNG links and inline CSS.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from azr.analysis import plots
from azr.rl.rundir import find_model_folder
from azr.analysis.entropy import entropy_curves
from azr.analysis.rundir import (
    ROLES,
    TASKS,
    check_run_dir,
    frozen_proposer,
    has_weights,
    list_checkpoints,
    load_buffer_entries,
    load_config,
    load_metrics,
    metric_keys,
    proposer_reward,
    run_label,
    series,
)

DIFFICULTY_FILE = Path("analysis") / "difficulty.json"
UNIT = (-0.03, 1.03)  # y range of rate/accuracy panels
#: Figures of the report, in page order.
FIGURE_KEYS: tuple[str, ...] = ("passk", "difficulty", "proposal_difficulty", "entropy", "sparsity", "rewards",
                                "response_length", "training")


@dataclass
class Figure:
    key: str
    title: str
    caption: str = ""
    file: str | None = None  # PNG name beside index.html, None when missing
    missing: str = ""  # what data would produce it
    extra_html: str = ""  # a table under the figure


@dataclass
class RunInfo:
    path: Path
    label: str
    config: dict
    rows: list[dict]
    baseline: bool = False
    checkpoints: list = field(default_factory=list)


def _load_run(path: str | Path, baseline: bool) -> RunInfo:
    p = check_run_dir(path)
    cfg = load_config(p)
    return RunInfo(p, run_label(p, cfg), cfg, load_metrics(p), baseline, list_checkpoints(p))


def run_kind(config: dict) -> str:
    """"self-play", "rlvr" or "sft", from the run's own config.yaml (``baseline``, written by
    ``azr rlvr`` / ``azr sft``)."""
    kind = config.get("baseline") if isinstance(config, dict) else None
    return kind if kind in ("rlvr", "sft") else "self-play"


def _proposes(r: RunInfo) -> bool:
    """Does the run have a proposer (and so a proposer reward)? Only self-play runs do."""
    return not r.baseline and run_kind(r.config) == "self-play"


def wilson_interval(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a rate observed on ``n`` samples."""
    if n <= 0:
        return (0.0, 1.0)
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_curve(rows: list[dict], key: str, n_key: str | None = None, n_fixed: int | None = None):
    """``(steps, rates, lows, highs, ns)`` of the rate ``key``: each point's n is the row's
    ``n_key`` (e.g. ``solve/deduction/count``) or ``n_fixed``; points without a known n are
    dropped; lows/highs: the Wilson 95% interval."""
    steps, vals, lows, highs, ns = [], [], [], [], []
    for row in rows:
        v, step = row.get(key), row.get("step")
        n = row.get(n_key) if n_key else n_fixed
        if not isinstance(v, (int, float)) or not isinstance(step, int) or not isinstance(n, int) or n <= 0:
            continue
        lo, hi = wilson_interval(float(v), n)
        steps.append(step)
        vals.append(float(v))
        lows.append(lo)
        highs.append(hi)
        ns.append(n)
    return steps, vals, lows, highs, ns


def _n_text(ns_by_run: dict[str, list[int]]) -> str:
    """"n = 4 (run a), 2-8 (run b)": the samples behind each point, per run."""
    parts = []
    for label, ns in ns_by_run.items():
        if ns:
            lo, hi = min(ns), max(ns)
            parts.append(f"{lo if lo == hi else f'{lo}-{hi}'} ({label})")
    return "n per point = " + ", ".join(parts) if parts else ""


def _group_counts(runs: list[RunInfo], count_keys: list[str]) -> dict[str, list[int]]:
    """{run label: the per-step values of ``count_keys`` (responses behind each point)}."""
    out: dict[str, list[int]] = {}
    for r in runs:
        ns = [row[k] for row in r.rows for k in count_keys if isinstance(row.get(k), int)]
        if ns:
            out[r.label] = ns
    return out


def _unique_labels(runs: list[RunInfo]) -> None:
    seen: dict[str, int] = {}
    for r in runs:
        if r.label in seen:
            seen[r.label] += 1
            r.label = f"{r.label} #{seen[r.label]}"
        else:
            seen[r.label] = 1


# --- figures -------------------------------------------------------------------------------

def fig_passk(evals: list, out: Path) -> Figure:
    from azr.analysis.passk import by_benchmark, comparisons

    f = Figure("passk", "pass@k curves")
    if not evals:
        f.missing = "`azr eval` results: pass `--eval RESULTS...` (summary.json files or eval output folders)"
        return f
    groups = by_benchmark(evals)
    f.file = plots.plot_passk(groups, out / "passk.png").name
    parts = []
    for bench, cs in groups.items():
        desc = ", ".join(f"{c.label} (n={max((n for n, _ in c.per_problem.values()), default=max(c.ks))}, "
                         f"{len(c.per_problem) or '?'} problems)" for c in cs)
        parts.append(f"{bench}: {desc}")
    f.caption = ("Unbiased pass@k (mean over problems of 1 - C(n-c,k)/C(n,k)) against k; shaded bands are the "
                 "bootstrap confidence intervals over problems from the eval summaries. " + "; ".join(parts) + ".")
    rows = []
    for bench, by_label in comparisons(evals).items():
        base = groups[bench][0].label
        for label, cmp_rows in by_label.items():
            for r in cmp_rows:
                rows.append(f"<tr><td>{html.escape(bench)}</td><td>{html.escape(label)} vs {html.escape(base)}</td>"
                            f"<td>{r['k']}</td><td>{100 * r['base']:.1f}</td><td>{100 * r['other']:.1f}</td>"
                            f"<td>{100 * r['diff']:+.1f} [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}]</td>"
                            f"<td>{r['p_value']:.3g}</td><td>{r['wins']}/{r['losses']}/{r['ties']}</td></tr>")
    if rows:
        f.extra_html = ("<table><tr><th>benchmark</th><th>comparison</th><th>k</th><th>base %</th><th>other %</th>"
                        "<th>diff (pts) [95% CI]</th><th>p (paired sign-flip)</th><th>better/worse/tied</th></tr>"
                        + "".join(rows) + "</table>")
    return f


def fig_difficulty(runs: list[RunInfo], out: Path) -> Figure:
    from azr.analysis.difficulty import bucket_label

    f = Figure("difficulty", "Response length and solve rate by question step")
    problems = []
    for r in runs:
        path = r.path / DIFFICULTY_FILE
        if not path.exists():
            continue
        try:
            d = json.loads(path.read_text())
            if not isinstance(d, dict) or not isinstance(d.get("stats"), list) or not d["stats"]:
                raise ValueError("no 'stats' list")
        except (ValueError, OSError) as e:
            problems.append(f"{path} is unusable ({e})")
            continue
        every = int(d.get("bucket_every", 25))
        f.file = plots.plot_difficulty(d["stats"], every, out / "difficulty.png").name
        s = d.get("settings", {})
        nq = d.get("questions_per_bucket", {})
        f.caption = (f"Deduction questions drawn from the buffers of {r.label}, grouped by the step that proposed "
                     f"them (buckets of {every} steps; questions per bucket: "
                     f"{', '.join(f'{bucket_label(int(b), every)}: {n}' for b, n in nq.items())}); "
                     f"{s.get('samples', '?')} responses per "
                     f"question from each model at temperature {s.get('temperature', '?')} (max "
                     f"{s.get('max_new_tokens', '?')} new tokens). Left: mean solve rate ± standard error over "
                     "questions; right: mean response length in tokens. Source: " + str(path))
        return f
    f.missing = ("solve rates of models on buffer questions: run `azr analyze difficulty RUN --models A B` "
                 f"(writes RUN/{DIFFICULTY_FILE})" + "".join(f"; {p}" for p in problems))
    return f


def fig_proposal_difficulty(runs: list[RunInfo], out: Path, every: int | None = None) -> Figure:
    """``every``: bucket width in steps; default 25, narrower for runs under 250 steps
    (about 10 buckets)."""
    f = Figure("proposal_difficulty", "Estimated solve rate of proposed tasks by proposing step")
    data: dict[str, list[tuple[int, float, int]]] = {}
    rated: dict[str, list[tuple[int, float]]] = {}
    for r in runs:
        if not _proposes(r):
            continue
        for task in TASKS:
            for e in load_buffer_entries(r.path, task):
                rate = e.get("solve_rate")
                if isinstance(rate, (int, float)) and math.isfinite(rate) and e["step"] > 0:
                    rated.setdefault(r.label, []).append((e["step"], float(rate)))
    if every is None:
        last = max((s for v in rated.values() for s, _ in v), default=0)
        every = 25 if last >= 250 else max(1, math.ceil(last / 10))
    total = 0
    for label, items in rated.items():
        buckets: dict[int, list[float]] = {}
        for step, rate in items:
            buckets.setdefault(step // every * every, []).append(rate)
        if buckets:
            data[label] = [(b, sum(v) / len(v), len(v)) for b, v in sorted(buckets.items())]
            total += sum(len(v) for v in buckets.values())
    if not data:
        f.missing = "buffer entries with a `solve_rate` (written by `azr train` at proposal time)"
        return f
    f.file = plots.plot_proposal_solve_rate(data, every, out / "proposal_difficulty.png").name
    f.caption = (f"Mean solve rate estimated at proposal time (the learnability samples) of the {total} valid "
                 f"proposals kept in the buffers (current and checkpoint snapshots, step 0 seeds excluded), "
                 f"by proposing step in buckets of {every}; all three task types pooled; each point is labelled "
                 f"with its number of proposals n.")
    return f


def fig_entropy(runs: list[RunInfo], out: Path) -> Figure:
    f = Figure("entropy", "Policy entropy, overall and per role")
    curves = {r.label: c for r in runs if (c := entropy_curves(r.path))}
    if not curves:
        f.missing = "`entropy/overall` and `entropy/{role}/{task}` in metrics.jsonl"
        return f
    f.file = plots.plot_entropy(curves, out / "entropy.png").name
    f.caption = ("Mean token entropy of the policy (nats; mean over responses of the mean over response tokens "
                 "of the full next-token distribution) at each training step, as logged by the trainer. Left: "
                 "all groups; middle: proposer; right: solver (line style = task type); each point of a "
                 "(role, task) curve averages that group's responses of the step ("
                 + (_n_text(_group_counts(runs, [f"{ro}/{t}/count" for ro in ROLES for t in TASKS]))
                    or "n per point not logged") + "). Runs: " + ", ".join(curves) + ".")
    return f


def _sparsity_pairs(r: RunInfo) -> list[tuple[Path, Path, str]]:
    """Candidate (A, B, description) pairs for a run, best first: the base model (``RUN/base_model``
    as ``azr train`` writes it, or the config's ``model.path`` when it is a local folder) -> last
    checkpoint, then first -> last checkpoint."""
    ckpts = r.checkpoints
    if not ckpts:
        return []
    model = r.config.get("model")
    base = model.get("path") if isinstance(model, dict) else None
    out = []
    for cand in (r.path / "base_model", find_model_folder(base) if isinstance(base, str) and base else None):
        if cand is not None and cand.is_dir() and has_weights(cand):
            out.append((cand, ckpts[-1].path, f"base model -> step {ckpts[-1].step}"))
            break
    if len(ckpts) >= 2:
        out.append((ckpts[0].path, ckpts[-1].path, f"step {ckpts[0].step} -> step {ckpts[-1].step}"))
    return out


def fig_sparsity(runs: list[RunInfo], out: Path, atol: float | None = None) -> Figure:
    from azr.analysis.safetensors_io import CheckpointError
    from azr.analysis.sparsity import compute_sparsity

    f = Figure("sparsity", "Update sparsity against baselines")
    rows, descs, problems = [], [], []
    for r in runs:
        pairs = _sparsity_pairs(r)
        if not pairs:
            problems.append(f"{r.label}: needs two checkpoints (or one and a local base model)")
        errors = []
        for a, b, desc in pairs:
            try:
                res = compute_sparsity(a, b, atol=atol).to_json(with_tensors=False)
            except (CheckpointError, OSError) as e:
                errors.append(f"{desc}: {e}")
                continue
            rows.append((f"{r.label}{' [baseline]' if r.baseline else ''}", res))
            casts = [n for n in res["notes"] if "cast from" in n]
            descs.append(f"{r.label}: {desc} ({res['total']['numel']:,} parameters, "
                         f"{res['total']['changed']:,} changed"
                         + (f"; {'; '.join(casts)}" if casts else "") + ")"
                         + (f" instead of the preferred pair, which failed ({'; '.join(errors)})" if errors else ""))
            break
        else:
            problems += [f"{r.label}: {e}" for e in errors]
    if not rows:
        f.missing = "checkpoints in RUN/checkpoints/ (at least two per run): " + "; ".join(problems)
        return f
    (out / "sparsity.json").write_text(json.dumps(dict(rows), indent=1))
    f.file = plots.plot_sparsity(rows, out / "sparsity.png").name
    crit = "stored bits identical" if atol is None else f"|delta| < {atol:g}"
    f.caption = (f"Share of parameters left unchanged ({crit}) by training, per module type and in total "
                 f"(tied weights counted once). " + "; ".join(descs) + "."
                 + (f" Not shown: {'; '.join(problems)}." if problems else "") + " Numbers: sparsity.json.")
    return f


def fig_rewards(runs: list[RunInfo], out: Path) -> Figure:
    f = Figure("rewards", "Validation accuracy and entropy for different proposer rewards")
    selfplay = [r for r in runs if _proposes(r)]  # RLVR / SFT runs have no proposer reward
    val_keys = sorted({k for r in selfplay for k in metric_keys(r.rows)
                       if k.startswith("val/") and k.endswith("/accuracy")})
    if not val_keys:
        f.missing = ("validation metrics `val/{set}/accuracy` of self-play runs in metrics.jsonl "
                     "(selfplay.val_every > 0)")
        return f
    label = {r.label: f"{proposer_reward(r.config) or 'reward ?'}{', frozen' if frozen_proposer(r.config) else ''}"
             f" ({r.path.name})" for r in selfplay}
    panels, ns_by_run = [], {}
    for key in val_keys:
        curves = {}
        for r in selfplay:
            size = (r.config.get("selfplay") or {}).get("val_size") if isinstance(r.config, dict) else None
            steps, vals, lows, highs, ns = rate_curve(r.rows, key, n_fixed=size if isinstance(size, int) else None)
            if steps:
                curves[label[r.label]] = (steps, vals, lows, highs)
                ns_by_run.setdefault(label[r.label], []).extend(ns)
        panels.append((f"Validation accuracy: {key.split('/')[1]}", "accuracy", curves, UNIT))
    panels.append(("Policy entropy, overall", "entropy (nats)",
                   {label[r.label]: c for r in selfplay if (c := series(r.rows, "entropy/overall"))[0]}))
    f.file = plots.plot_metric_panels(panels, out / "rewards.png").name
    rewards = sorted({proposer_reward(r.config) or "?" for r in selfplay})
    f.caption = ("Accuracy on each validation set (greedy answers to selfplay.val_size held-out tasks; "
                 f"{_n_text(ns_by_run)}; shaded: Wilson 95% interval) and overall policy entropy during "
                 "training; each self-play run is "
                 "labelled by the proposer reward in its config.yaml (`reward.proposer`). Rewards present: "
                 + ", ".join(rewards) + (". Only one reward: add runs with other rewards to compare."
                                          if len(rewards) == 1 else "."))
    return f


def fig_response_length(runs: list[RunInfo], out: Path) -> Figure:
    f = Figure("response_length", "Response length per step for each (task, role)")
    panels = []
    for role in ROLES:
        for task in TASKS:
            key = f"{role}/{task}/response_length_mean"
            curves = {r.label: c for r in runs if (c := series(r.rows, key))[0]}
            if curves:
                panels.append((f"{role} / {task}", "mean response length (tokens)", curves))
    if not panels:
        f.missing = "`{role}/{task}/response_length_mean` in metrics.jsonl"
        return f
    f.file = plots.plot_metric_panels(panels, out / "response_length.png").name
    f.caption = ("Mean length in tokens of the sampled responses of each (role, task) group at each training "
                 "step (metric `{role}/{task}/response_length_mean`), runs overlaid; "
                 + (_n_text(_group_counts(runs, [f"{ro}/{t}/count" for ro in ROLES for t in TASKS]))
                    or "n per point not logged") + " responses (`{role}/{task}/count`).")
    return f


def fig_training(runs: list[RunInfo], out: Path) -> Figure:
    f = Figure("training", "Solver accuracy and proposal validity")
    panels, ns_by_run = [], {}
    for key, title, ylabel in ([(f"solve/{t}/accuracy", f"solver accuracy: {t}", "accuracy") for t in TASKS]
                               + [(f"propose/{t}/valid_rate", f"valid proposals: {t}", "valid rate") for t in TASKS]):
        count_key = key.rsplit("/", 1)[0] + "/count"
        curves = {}
        for r in runs:
            if key.startswith("propose/") and not _proposes(r):
                continue
            steps, vals, lows, highs, ns = rate_curve(r.rows, key, count_key)
            if not steps:  # rows without counts: the rate alone
                steps, vals = series(r.rows, key)
                if steps:
                    curves[r.label] = (steps, vals)
                continue
            curves[r.label] = (steps, vals, lows, highs)
            ns_by_run.setdefault(r.label, []).extend(ns)
        if curves:
            panels.append((title, ylabel, curves, UNIT))
    if not panels:
        f.missing = "`solve/{task}/accuracy` or `propose/{task}/valid_rate` in metrics.jsonl"
        return f
    f.file = plots.plot_metric_panels(panels, out / "training.png").name
    f.caption = ("Per training step: share of solver responses judged correct by the executor on the batch's "
                 "tasks (top) and share of proposals that passed validation (bottom, self-play runs only), per "
                 f"task type; {_n_text(ns_by_run) or 'n per point unknown (no count in metrics.jsonl)'} "
                 "responses of the task type (`{role}/{task}/count`); shaded: Wilson 95% interval.")
    return f


# --- the page ------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
figure{margin:2em 0;border-top:1px solid #ddd;padding-top:1em}img{max-width:100%}
figcaption{color:#444;font-size:.92em;margin-top:.4em}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}code{background:#f3f3f3}"""


def _runs_table(runs: list[RunInfo]) -> str:
    rows = []
    for r in runs:
        steps = [row.get("step") for row in r.rows if isinstance(row.get("step"), int)]
        kind = run_kind(r.config) + (" (baseline)" if r.baseline else "")
        proposes = _proposes(r)
        rows.append(f"<tr><td>{html.escape(r.label)}</td><td>{html.escape(kind)}</td>"
                    f"<td><code>{html.escape(str(r.path))}</code></td>"
                    f"<td>{(max(steps) if steps else '-')}</td><td>{len(r.checkpoints)}</td>"
                    f"<td>{html.escape(str(proposer_reward(r.config) or '-') if proposes else '-')}</td>"
                    f"<td>{('yes' if frozen_proposer(r.config) else 'no') if proposes else '-'}</td></tr>")
    return ("<table><tr><th>run</th><th>kind</th><th>path</th><th>last step</th><th>checkpoints</th>"
            "<th>proposer reward</th><th>frozen proposer</th></tr>" + "".join(rows) + "</table>")


def render_html(title: str, runs: list[RunInfo], figures: list[Figure]) -> str:
    made = [f for f in figures if f.file]
    missing = [f for f in figures if not f.file]
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p>Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} by <code>azr report</code>.</p>",
            "<h2>Runs</h2>", _runs_table(runs), "<h2>Figures</h2>"]
    for f in made:
        body.append(f"<figure id='{f.key}'><h3>{html.escape(f.title)}</h3><img src='{html.escape(f.file)}' "
                    f"alt='{html.escape(f.title)}'><figcaption>{html.escape(f.caption)}</figcaption>"
                    f"{f.extra_html}</figure>")
    if missing:
        body.append("<h2>Figures that need more data</h2><ul>")
        body += [f"<li><b>{html.escape(f.title)}</b>: needs {html.escape(f.missing)}</li>" for f in missing]
        body.append("</ul>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def build_report(runs: list[str | Path], evals: list[str | Path] = (), baselines: list[str | Path] = (),
                 output: str | Path | None = None, atol: float | None = None,
                 title: str = "azr report", only: list[str] | None = None) -> tuple[Path, list[Figure]]:
    """Write ``index.html`` and its PNGs; return (path of index.html, figures).
    ``only``: build just these figure keys (``FIGURE_KEYS``); default all."""
    from azr.analysis.passk import load_curves

    if not runs:
        raise ValueError("azr report needs at least one run directory")
    infos = [_load_run(p, False) for p in runs] + [_load_run(p, True) for p in baselines]
    _unique_labels(infos)
    out = Path(output) if output else infos[0].path / "report"
    out.mkdir(parents=True, exist_ok=True)
    for key in FIGURE_KEYS:  # stale figures of an earlier report (never other files of the folder)
        (out / f"{key}.png").unlink(missing_ok=True)
    unknown = set(only or ()) - set(FIGURE_KEYS)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}; known: {', '.join(FIGURE_KEYS)}")
    curves = load_curves(list(evals)) if evals else []
    makers = {"passk": lambda: fig_passk(curves, out), "difficulty": lambda: fig_difficulty(infos, out),
              "proposal_difficulty": lambda: fig_proposal_difficulty(infos, out),
              "entropy": lambda: fig_entropy(infos, out), "sparsity": lambda: fig_sparsity(infos, out, atol),
              "rewards": lambda: fig_rewards(infos, out), "response_length": lambda: fig_response_length(infos, out),
              "training": lambda: fig_training(infos, out)}
    figures = [makers[k]() for k in FIGURE_KEYS if only is None or k in only]
    index = out / "index.html"
    index.write_text(render_html(title, infos, figures))
    return index, figures

"""The study's report page: ``OUT/report.md`` (and ``OUT/report/index.html`` from ``azr report``).

Every number comes with its n and a 95% interval; every takeaway of the study gets a verdict
by one stated rule (``azr.study.stats.verdict``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from azr.study import stats
from azr.study.config import ARMS, SELFPLAY_ARMS, StudyConfig

RULE = ("Verdict rule: a claimed difference is *reproduced* when its 95% interval excludes 0 on the "
        "claimed side, *contradicted* when the interval excludes 0 on the other side or lies within "
        "±2 points (no effect that matters), else *inconclusive*. pass@k intervals are paired "
        "bootstrap intervals over problems (arm minus base on the same problems); metric trends "
        "compare the first and last quarter of steps (normal interval, steps as draws). \"No effect\" "
        "needs at least 30 problems and a score above 0.")


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _ci(lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.1f}" if signed else "{:.1f}"
    return f"[{f.format(100 * lo)}, {f.format(100 * hi)}]"


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def passk_section(cfg: StudyConfig, summaries: dict[str, dict[str, dict]]) -> tuple[list[str], dict]:
    """Rows per (arm, benchmark): pass@1 and pass@n with Wilson/bootstrap CIs, and the paired
    difference vs the base at k = 1 and k = n. Also returns the pooled comparisons."""
    n = cfg.eval_n
    lines = [f"| model | benchmark | problems | pass@1 (95% CI) | pass@{n} (95% CI) | Δ pass@1 vs base (95% CI) | Δ pass@{n} vs base (95% CI) |",
             "|---|---|---|---|---|---|---|"]
    base = summaries.get("base", {})
    pooled: dict = {}
    for name in ("base", *cfg.arms):
        for bench in cfg.benchmarks:
            s = summaries.get(name, {}).get(bench)
            if s is None:
                continue
            p1, pn = s["pass@k"].get("1"), s["pass@k"].get(str(n))
            c1, cn = s["ci"].get("1", [math.nan] * 2), s["ci"].get(str(n), [math.nan] * 2)
            d1 = dn = "—"
            if name != "base" and bench in base:
                pv = stats.paired_vs(stats.counts(base[bench]), stats.counts(s), [1, n])
                if 1 in pv:
                    d1 = f"{100 * pv[1]['diff']:+.1f} {_ci(pv[1]['ci_low'], pv[1]['ci_high'], True)}"
                if n in pv:
                    dn = f"{100 * pv[n]['diff']:+.1f} {_ci(pv[n]['ci_low'], pv[n]['ci_high'], True)}"
            lines.append(f"| {name} | {bench} | {s['num_problems']} | {_pct(p1)} {_ci(*c1)} | {_pct(pn)} {_ci(*cn)} | {d1} | {dn} |")
    gen = [b for b in cfg.benchmarks if b.startswith("gen-")]
    base_pool = stats.pooled({b: base[b] for b in gen if b in base})
    for name in cfg.arms:
        arm_pool = stats.pooled({b: summaries[name][b] for b in gen if b in summaries.get(name, {})})
        pooled[name] = stats.paired_vs(base_pool, arm_pool, [1, n])
    for a, b in (("frozen", "selfplay"), ("selfplay", "eq3"), ("rlvr", "selfplay"), ("sft", "selfplay")):
        if a in cfg.arms and b in cfg.arms:
            pa = stats.pooled({x: summaries[a][x] for x in gen if x in summaries.get(a, {})})
            pb = stats.pooled({x: summaries[b][x] for x in gen if x in summaries.get(b, {})})
            pooled[f"{b}-{a}"] = stats.paired_vs(pa, pb, [1, n])
    return lines, pooled


def _cmp(pooled: dict, key: str, k: int) -> dict | None:
    return pooled.get(key, {}).get(k)


def rq_rows(cfg: StudyConfig, pooled: dict, trends: dict, sparsity: dict, difficulty: dict) -> list[str]:
    """The takeaway table: claim (own words), toy result with n and interval, verdict."""
    n = cfg.eval_n
    rows = ["| # | the study's takeaway (paraphrased) | toy result (n, 95% CI) | verdict |", "|---|---|---|---|"]

    def diff_row(tag: str, claim: str, key: str, k: int, direction: int) -> None:
        r = _cmp(pooled, key, k)
        if r is None:
            rows.append(f"| {tag} | {claim} | not measured (arm missing) | inconclusive |")
            return
        res = (f"{key} at k={k}: {100 * r['diff']:+.1f} pts {_ci(r['ci_low'], r['ci_high'], True)}, "
               f"{r['problems']} problems x {n} samples, p={r['p_value']:.3f}")
        v = stats.verdict(r["ci_low"], r["ci_high"], direction)
        if v == "contradicted" and (r["a"] == r["b"] == 0.0 or (r["problems"] < 30 and r["ci_low"] <= 0 <= r["ci_high"])):
            v = "inconclusive"  # a floor (both 0) or too few problems to call it no effect
        rows.append(f"| {tag} | {claim} | {res} | {v} |")

    diff_row("RQ1a", "Self-play raises pass@k over the base at small k", "selfplay", 1, +1)
    r1, rn = _cmp(pooled, "selfplay", 1), _cmp(pooled, "selfplay", n)
    if r1 is not None and rn is not None:
        v1 = stats.verdict(r1["ci_low"], r1["ci_high"], +1)
        if v1 != "reproduced":
            v = "inconclusive"
        elif rn["ci_low"] <= 0:
            v = "reproduced"
        else:
            v = "contradicted"
        rows.append(f"| RQ1b | At large k self-play stays within the base's reach (the gain at small k "
                    f"vanishes at k = n) | selfplay at k={n}: {100 * rn['diff']:+.1f} pts "
                    f"{_ci(rn['ci_low'], rn['ci_high'], True)}; rule: reproduced when RQ1a is and this interval "
                    f"reaches 0, contradicted when RQ1a is and it does not | {v} |")
    # RQ2: difficulty evolution of the proposed questions
    for arm in SELFPLAY_ARMS:
        d = difficulty.get(arm)
        if arm != "selfplay":
            continue
        if not d:
            rows.append("| RQ2 | The proposer builds a curriculum: questions proposed later are harder (a fixed "
                        "model solves them less often) | not measured | inconclusive |")
            continue
        base_stats = sorted((s for s in d["stats"] if s["model"] == "base" and s["bucket"] >= 0),
                            key=lambda s: s["bucket"])
        if len(base_stats) < 2:
            rows.append("| RQ2 | The proposer builds a curriculum: questions proposed later are harder | "
                        "fewer than 2 step buckets | inconclusive |")
            continue
        a, b = base_stats[0], base_stats[-1]
        diff = b["solve_rate"] - a["solve_rate"]
        se = math.sqrt(a["solve_rate_se"] ** 2 + b["solve_rate_se"] ** 2)
        lo, hi = diff - stats.Z95 * se, diff + stats.Z95 * se
        rows.append(f"| RQ2 | The proposer builds a curriculum: questions proposed later are harder (a fixed "
                    f"model, the base, solves them less often) | base solve rate, bucket {b['bucket']} minus bucket "
                    f"{a['bucket']}: {100 * diff:+.1f} pts {_ci(lo, hi, True)} ({a['questions']} and "
                    f"{b['questions']} questions x {d['settings'].get('samples')} samples) | "
                    f"{stats.verdict(lo, hi, -1)} |")
    # RQ3: entropy collapse, per role
    t = trends.get("selfplay")
    if t:
        for role in ("propose", "solve"):
            parts, verdicts = [], []
            for task in ("deduction", "abduction", "induction"):
                e = t["entropy"].get(f"{role}/{task}")
                if e:
                    parts.append(f"{task[:3]} {e['first']:.2f}→{e['last']:.2f} ({e['diff']:+.2f} [{e['ci'][0]:+.2f}, {e['ci'][1]:+.2f}])")
                    verdicts.append(stats.verdict(e["ci"][0], e["ci"][1], -1, margin=0.0))
            v = ("reproduced" if verdicts and all(x == "reproduced" for x in verdicts) else
                 "contradicted" if verdicts and all(x == "contradicted" for x in verdicts) else "inconclusive")
            rows.append(f"| RQ3 ({role}) | Entropy collapses during self-play ({role}r role) | selfplay, nats, first→last quarter "
                        f"of {t['steps']} steps: {'; '.join(parts) or 'no data'}; verdict per type, all must agree | {v} |")
    # RQ4: update sparsity between RLVR (sparse) and SFT (dense); the study counted bf16 values
    for label, key in (("bf16, as the study", "sparsity_bf16"), ("the model's fp32", "sparsity")):
        s = {a: ((sparsity.get(a) or {}).get(key) or {}).get("total", {}).get("sparsity")
             for a in ("selfplay", "rlvr", "sft")}
        if s["selfplay"] is None:
            continue
        got = ", ".join(f"{a} {100 * v:.2f}%" for a, v in s.items() if v is not None)
        if max(v for v in s.values() if v is not None) < 0.01:
            v = "inconclusive (every weight moved: see note)"
        elif s["rlvr"] is not None and s["sft"] is not None:
            lo, hi = sorted((s["rlvr"], s["sft"]))
            v = "reproduced" if lo <= s["selfplay"] <= hi else "contradicted"
        else:
            v = "inconclusive"
        rows.append(f"| RQ4 ({label}) | Self-play's updates are of intermediate sparsity (between RLVR's and SFT's) | "
                    f"weights unchanged vs the base, compared in {label.split(',')[0]}: {got} (one checkpoint each, all "
                    f"{((sparsity.get('selfplay') or {}).get(key) or {}).get('total', {}).get('numel', 0):,} weights; "
                    f"no interval: a census, not a sample) | {v} |")
    diff_row("RQ5a", "The proposer matters: training it (self-play) beats freezing it", "selfplay-frozen", 1, +1)
    diff_row("RQ5b", "The proposer reward matters: learnability (Eq. 4) and the study's Eq. 3 give different "
             "solvers (claimed direction: learnability ahead)", "eq3-selfplay", 1, -1)
    diff_row("Fig. 7 (a)", "Self-play vs RLVR on the same task distribution: self-play at least as good "
             "(claimed direction: self-play ahead)", "selfplay-rlvr", 1, +1)
    diff_row("Fig. 7 (b)", "Self-play vs SFT (claimed direction: self-play ahead)", "selfplay-sft", 1, +1)
    return rows


def trend_table(trends: dict, what: str, digits: int) -> list[str]:
    cols = [f"{r}/{t}" for r, t in stats.GROUP_KEYS]
    lines = ["| arm | steps | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for arm, t in trends.items():
        cells = []
        for c in cols:
            e = t[what].get(c)
            cells.append("n/a" if not e else
                         f"{e['first']:.{digits}f}→{e['last']:.{digits}f}" + ("" if math.isnan(e["ci"][0]) else
                                                                                f" [{e['ci'][0]:+.{digits}f}, {e['ci'][1]:+.{digits}f}]"))
        lines.append(f"| {arm} | {t['steps']} | " + " | ".join(cells) + " |")
    return lines


def signal_table(signals: dict) -> list[str]:
    lines = ["| arm | proposals with a solve rate | s = 0 | s = 1 | 0 < s < 1 | solver tasks fresh / backfilled | "
             "groups with equal rewards (zero advantage) | mean |r - group mean| per group |",
             "|---|---|---|---|---|---|---|---|"]
    for arm, g in signals.items():
        n = g["proposals_with_solve_rate"]

        def share(key):
            x = g[key]
            if x is None:
                return "n/a"
            lo, hi = stats.wilson(round(x * n), n)
            return f"{100 * x:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"

        zero = g.get("zero_spread_steps_per_group", {})
        mad = ", ".join(f"{k} {v:.2f} (equal rewards at {zero.get(k, 0)} steps)" for k, v in g["reward_mad_per_group"].items())
        lines.append(f"| {arm} | {n} | {share('solve_rate_zero')} | {share('solve_rate_one')} | "
                     f"{share('solve_rate_between')} | {g['solver_tasks_fresh']} / {g['solver_tasks_backfilled']} | "
                     f"{g['groups_zero_spread']} of {g['groups']} | {mad} |")
    return lines


def learned_lines(cfg: StudyConfig, summaries: dict) -> list[str]:
    """One line per arm: the benchmarks where pass@1 moved beyond its interval, or none."""
    out = []
    base = summaries.get("base", {})
    for arm in cfg.arms:
        moved = []
        for bench in cfg.benchmarks:
            if bench in base and bench in summaries.get(arm, {}):
                pv = stats.paired_vs(stats.counts(base[bench]), stats.counts(summaries[arm][bench]), [1])
                r = pv.get(1)
                if r and (r["ci_low"] > 0 or r["ci_high"] < 0):
                    moved.append(f"{bench} {100 * r['diff']:+.1f} pts {_ci(r['ci_low'], r['ci_high'], True)}")
        out.append(f"- {arm}: " + ("; ".join(moved) if moved else
                                   "no benchmark's pass@1 moved beyond its 95% interval (no measurable change)"))
    tests = len(cfg.arms) * len(cfg.benchmarks)
    out.append(f"- {tests} comparisons at 95%: about {0.05 * tests:.1f} would cross their interval by chance "
               "alone, so a single crossing is weak evidence; a change that holds across arms, benchmarks or "
               "seeds is not.")
    return out


def build(cfg: StudyConfig, result: dict, command: str) -> str:
    """The markdown page."""
    summaries = {name: stats.load_summaries(d, cfg.benchmarks) for name, d in result["evals"].items()}
    trends = {a: stats.metric_trends(Path(cfg.out) / a) for a in cfg.arms}
    signals = {a: stats.signal(Path(cfg.out) / a) for a in cfg.arms if a in SELFPLAY_ARMS}
    sparsity = {a: {"sparsity": result["analyses"][a]["sparsity"],
                    "sparsity_bf16": result["analyses"][a].get("sparsity_bf16")} for a in cfg.arms}
    difficulty = {a: result["analyses"][a]["difficulty"] for a in cfg.arms}
    passk_lines, pooled = passk_section(cfg, summaries)
    wall = result["wall_s"]
    md = [f"# azr study: {cfg.preset}", "",
          f"Command: `{command}`", "",
          f"Base model `{result['base_model']}`; arms trained {cfg.steps} steps each with run.seed = {cfg.seed}; "
          f"evaluation: {cfg.eval_limit} problems per benchmark x {cfg.eval_n} samples at T = {cfg.eval_temperature}, "
          f"sampling seed {cfg.seed}, template {result['template']}, {result['max_new_tokens']} new tokens. "
          f"Settings for every arm: {', '.join(cfg.sets) or 'the preset'}"
          + "".join(f"; {a}: {', '.join(v)}" for a, v in cfg.arm_sets.items() if a in cfg.arms) + ".", "",
          (f"Wall time: {wall['since_first_start']:.0f} s from the study's first start to this report" if "since_first_start" in wall else "Wall time:")
          + f" (this invocation {wall['total']:.0f} s, of which training and evaluation {wall['train_and_eval']:.0f} s, {cfg.jobs} arms at a time; "
          "training per arm, last start: "
          + ", ".join(f"{a} {v:.0f} s" if v else f"{a} n/a" for a, v in wall["arms"].items()) + ").", "",
          "| arm | what |", "|---|---|", *[f"| {a} | {ARMS[a].what} |" for a in cfg.arms], "",
          "## Takeaways of the study beside the toy result", "",
          "Takeaways paraphrased from the study's abstract and summary (Chae et al. 2025, arXiv 2510.27072: "
          "gains at small k bounded by the base at large k; a proposer-driven curriculum of harder questions; "
          "entropy collapse; intermediate update sparsity) and from the questions this project's design "
          "asks (proposer reward alternatives, frozen proposer). The Fig. 7 rows are unchecked against the "
          "figure itself: only the paper's abstract and opening could be read when this report was written, "
          "so their claimed direction is this project's reading of the abstract, not of the figure.", "",
          *rq_rows(cfg, pooled, trends, sparsity, difficulty), "", RULE, "",
          "## Did the solver learn?", "", *learned_lines(cfg, summaries), "",
          f"## pass@k (%) on held-out generated tasks", "", *passk_lines, "",
          "pass@k: unbiased estimator; CI of a pass@k: bootstrap over problems; Δ: paired over problems.", "",
          "## Entropy per (role, task), nats: first → last quarter of steps [95% CI of the change]", "",
          *trend_table(trends, "entropy", 2), "",
          "## Response length per (role, task), tokens: first → last quarter [95% CI of the change]", "",
          *trend_table(trends, "length", 0), "",
          "## Update sparsity vs the base (share of weights bit-identical)", "",
          "| arm | compared in | total | attention | mlp | embeddings | norms |", "|---|---|---|---|---|---|---|"]
    for a in cfg.arms:
        for label, key in (("bf16 (checkpoint rounded)", "sparsity_bf16"), ("fp32 (stored dtype)", "sparsity")):
            sp = sparsity[a].get(key) or {}
            mods = sp.get("by_module", {})
            md.append(f"| {a} | {label} | {_pct(sp.get('total', {}).get('sparsity'))}% | "
                      + " | ".join(f"{_pct(mods.get(m, {}).get('sparsity'))}%" for m in ("attention", "mlp", "embeddings", "norms"))
                      + " |")
    md += ["", "Note: azr-tiny is stored in float32 and trained with AdamW, so every step moves almost every "
           "weight in fp32; the study counted unchanged bf16 values of 3B/7B bf16 checkpoints, where small updates "
           "round away. The bf16 row compares a bf16 copy of the base with the checkpoint rounded to bf16.", ""]
    md += ["## Difficulty evolution (deduction questions from the buffers by proposing step)", ""]
    for a in cfg.arms:
        d = difficulty.get(a)
        if not d:
            continue
        md += [f"{a}: buckets of {d['bucket_every']} steps (bucket -1: the base model's seed proposals), "
               f"{d['settings'].get('samples')} responses per question", "",
               "| model | bucket | questions | solve rate (± s.e.) | response tokens |", "|---|---|---|---|---|"]
        for s in d["stats"]:
            md.append(f"| {s['model']} | {s['bucket']} | {s['questions']} | {100 * s['solve_rate']:.1f} ± "
                      f"{100 * s['solve_rate_se']:.1f} | {s['response_length']:.0f} |")
        md.append("")
    if signals:
        md += ["## The solver's signal in self-play (every logged rollout; Wilson 95% CIs)", "",
               *signal_table(signals), "",
               "s: the learnability estimate of a valid proposal (share of the solver's samples that solve it); "
               "s in {0, 1} gives the proposer no reward. Fresh: a solver task proposed at this or the previous "
               "step; backfilled: older buffer entries (and the seed tasks). A group whose rewards are all equal "
               "has zero advantage under group normalisation.", ""]
    return "\n".join(md)


def write(cfg: StudyConfig, result: dict, command: str) -> Path:
    path = Path(cfg.out) / "report.md"
    path.write_text(build(cfg, result, command) + "\n")
    data = {"summaries": {n: {b: {"pass@k": s["pass@k"], "ci": s["ci"], "num_problems": s["num_problems"]}
                              for b, s in stats.load_summaries(d, cfg.benchmarks).items()}
                          for n, d in result["evals"].items()}}
    (Path(cfg.out) / "report.json").write_text(json.dumps(data, indent=1) + "\n")
    return path


def run_summary(run_dir: str | Path) -> str:
    """What a single run shows, change against noise: for the solver accuracy, proposal validity,
    entropy per (role, task) and held-out accuracy, the mean over the first and the last quarter of
    steps, the change with its 95% interval (steps as draws), and whether the interval excludes 0."""
    from azr.rl.rundir import read_metrics

    path = Path(run_dir) / "metrics.jsonl"
    rows = read_metrics(path) if path.is_file() else []
    keys = [f"solve/{t}/accuracy" for t in ("deduction", "abduction", "induction")]
    keys += [f"propose/{t}/valid_rate" for t in ("deduction", "abduction", "induction")]
    keys += [f"entropy/{r}/{t}" for r, t in stats.GROUP_KEYS]
    keys += sorted({k for r in rows for k in r if k.startswith("val/") and k.endswith("/accuracy")})
    lines = [f"# What {run_dir} shows: change vs noise", "",
             f"{len(rows)} steps; each line: mean of the first quarter of steps -> mean of the last quarter, "
             "the change and its 95% interval (steps as independent draws). 'beyond noise' means the "
             "interval excludes 0; otherwise the run shows no change at this length.", ""]
    for key in keys:
        t = stats.trend(rows, key)
        if t is None:
            continue
        if math.isnan(t["ci"][0]):
            lines.append(f"- {key}: {t['first']:.3f} -> {t['last']:.3f} ({t['steps']} points: too few for an interval)")
            continue
        moved = t["ci"][0] > 0 or t["ci"][1] < 0
        lines.append(f"- {key}: {t['first']:.3f} -> {t['last']:.3f}, change {t['diff']:+.3f} "
                     f"[{t['ci'][0]:+.3f}, {t['ci'][1]:+.3f}], {t['window']} + {t['window']} of {t['steps']} steps: "
                     + ("**beyond noise**" if moved else "within noise"))
    if len(lines) == 5:
        lines.append("- fewer than 2 steps logged: nothing to compare")
    return "\n".join(lines)

"""Sample a model on a benchmark (rollout engine), score the samples, write the outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from azr.eval.benchmarks import BENCHMARKS, Problem, load_benchmark
from azr.eval.code_scoring import CODE_SCORERS
from azr.eval.generated import GEN_TASK, score_generated
from azr.eval.math_scoring import score_math
from azr.eval.results import read_samples, samples_records, summarize, write_outputs
from azr.eval.templates import TEMPLATES
from azr.eval.types import EvalSettings, Sample, SampleResult, ScoringContext, progress_bar

SCORERS: dict[str, Callable] = {**CODE_SCORERS, "math": score_math,
                                 **{k: score_generated(k) for k in GEN_TASK}}


@dataclass(frozen=True)
class SamplingSpec:
    """How completions are sampled for ``azr eval --model``."""

    n: int = 1  # samples per problem
    temperature: float = 0.8  # sampling temperature (0 = greedy)
    top_p: float = 0.95  # nucleus mass
    max_new_tokens: int = 512  # response budget
    template: str = "plain"  # key of azr.eval.templates.TEMPLATES
    seed: int = 0  # sampling seed (one per prompt batch, derived from it)
    batch_prompts: int = 16  # prompts per generate() call
    chat_template: bool = False  # wrap prompts with the tokenizer's chat template

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not self.temperature >= 0:  # 0 = greedy; also refuses NaN
            raise ValueError(f"--temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1 or self.batch_prompts < 1:
            raise ValueError(f"--max-new-tokens and --batch-prompts must be >= 1, got {self.max_new_tokens} "
                             f"and {self.batch_prompts}")
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown template {self.template!r}; known: {sorted(TEMPLATES)}")


def score(benchmark: str, problems: Sequence[Problem], samples: Sequence[Sample],
          ctx: ScoringContext) -> list[SampleResult]:
    """Score samples of ``benchmark`` (results in the order of ``samples``)."""
    kind = BENCHMARKS[benchmark].kind
    by_id = {p.task_id: p for p in problems}
    missing = sorted({s.task_id for s in samples} - set(by_id))
    if missing:
        raise ValueError(f"samples name tasks that are not in {benchmark}: {missing[:5]}")
    return SCORERS[kind](by_id, list(samples), ctx)


def generate(engine, benchmark: str, problems: Sequence[Problem], spec: SamplingSpec,
             progress: bool = True) -> tuple[list[Sample], dict]:
    """``spec.n`` samples per problem from a ``RolloutEngine``.

    Returns the samples and per-sample extras (raw text, finish reason) for samples.jsonl.
    """
    from azr.rollout.types import SamplingParams

    kind = BENCHMARKS[benchmark].kind
    build, extract = TEMPLATES[spec.template]
    samples: list[Sample] = []
    extra: dict[tuple[str, int], dict] = {}
    bar = progress_bar(len(problems) * spec.n, f"sampling {benchmark}", progress)
    for start in range(0, len(problems), spec.batch_prompts):
        chunk = problems[start : start + spec.batch_prompts]
        built = [build(kind, p) for p in chunk]
        stops = built[0][1]
        params = SamplingParams(temperature=spec.temperature, top_p=spec.top_p,
                                max_new_tokens=spec.max_new_tokens, n=spec.n, stop=stops,
                                seed=spec.seed + start)
        outs = engine.generate([b[0] for b in built], params)
        for p, completions in zip(chunk, outs):
            for i, c in enumerate(completions):
                completion, solution = extract(kind, p, c.text)
                samples.append(Sample(p.task_id, i, completion, solution))
                extra[(p.task_id, i)] = {"raw": c.text, "finish_reason": c.finish_reason,
                                         "num_tokens": len(c.token_ids)}
        bar.update(len(chunk) * spec.n)
    bar.close()
    return samples, extra


def load_engine(model_path: str, device: str = "auto", chat_template: bool = False):
    """An HF rollout engine for a local model folder."""
    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_policy

    model, tokenizer = load_policy(ModelConfig(path=model_path, device=device))
    return HFEngine(model, tokenizer, RolloutConfig(chat_template=chat_template))


def evaluate(
    benchmark: str,
    out_dir: str | Path,
    *,
    engine=None,
    samples_path: str | Path | None = None,
    spec: SamplingSpec | None = None,
    settings: EvalSettings | None = None,
    data_dir: str | None = None,
    limit: int | None = None,
    ks: Sequence[int] | None = None,
    ctx: ScoringContext | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate one benchmark from an engine or an existing samples file; write
    ``samples.jsonl``, ``results.jsonl`` and ``summary.json`` to ``out_dir``; return the summary."""
    if (engine is None) == (samples_path is None):
        raise ValueError("give exactly one of engine (sample a model) or samples_path")
    settings = settings or EvalSettings()
    problems = load_benchmark(benchmark, data_dir, limit)
    info: dict[str, Any] = dict(meta or {})
    if engine is not None:
        spec = spec or SamplingSpec()
        samples, extra = generate(engine, benchmark, problems, spec, settings.progress)
        info["sampling"] = asdict(spec)
    else:
        by_id = {p.task_id: p for p in problems}
        samples = read_samples(samples_path, by_id)
        extra = None
        info["samples"] = str(samples_path)
        if limit is not None:
            samples = [s for s in samples if s.task_id in by_id]
    own = ctx is None
    ctx = ctx or ScoringContext(settings)
    try:
        results = score(benchmark, problems, samples, ctx)
    finally:
        if own:
            ctx.close()
    summary = summarize(benchmark, results, ks=ks, label=BENCHMARKS[benchmark].label, meta=info)
    write_outputs(Path(out_dir), samples_records(samples, extra), results, summary)
    return summary


def load_summary(path: str | Path) -> dict[str, Any]:
    """A summary.json (or the summary.json inside a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"no summary at {path}")
    data = json.loads(path.read_text())
    for key in ("benchmark", "n", "pass@k", "per_problem"):
        if key not in data:
            raise ValueError(f"{path} is not an azr eval summary (missing {key!r})")
    return data

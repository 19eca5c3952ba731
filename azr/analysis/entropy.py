"""Policy entropy: curves from a run's metrics, and offline token entropy of a checkpoint.

From metrics: ``entropy/overall`` and ``entropy/{role}/{task}`` per step, as logged by the
trainer (the study's Figures: entropy overall and per role, several runs overlaid).

Offline (``measure_checkpoint_entropy``): sample responses to a prompt set with the rollout
engine, re-score them with the chunked log-prob/entropy head of ``azr.rl.logprobs`` (never
materialising all logits), and report H = mean over responses of the mean over response
tokens of the full-distribution entropy, overall and per (role, task) when prompts carry
those tags. torch is imported only inside that function.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from azr.analysis.rundir import ROLES, TASKS, load_metrics, series

GROUP_NAMES: tuple[str, ...] = tuple(f"{r}/{t}" for r in ROLES for t in TASKS)
ENTROPY_KEYS: tuple[str, ...] = ("entropy/overall",) + tuple(f"entropy/{g}" for g in GROUP_NAMES)


def entropy_curves(run: str | Path) -> dict[str, tuple[list[int], list[float]]]:
    """{metric key: (steps, values)} of every entropy key the run logged."""
    rows = load_metrics(run)
    out = {}
    for key in ENTROPY_KEYS:
        steps, vals = series(rows, key)
        if steps:
            out[key] = (steps, vals)
    return out


def format_curves_table(curves_by_run: dict[str, dict[str, tuple[list[int], list[float]]]]) -> str:
    """Per run and key: steps covered, first, last and mean value."""
    lines = [f"{'run':<28} {'key':<28} {'steps':>11} {'first':>7} {'last':>7} {'mean':>7}"]
    for label, curves in curves_by_run.items():
        if not curves:
            lines.append(f"{label[:28]:<28} (no entropy metrics)")
        for key, (steps, vals) in curves.items():
            lines.append(f"{label[:28]:<28} {key:<28} {f'{steps[0]}-{steps[-1]}':>11} "
                         f"{vals[0]:>7.3f} {vals[-1]:>7.3f} {sum(vals) / len(vals):>7.3f}")
    return "\n".join(lines)


# --- offline measurement on a checkpoint ------------------------------------------------------

@dataclass(frozen=True)
class PromptItem:
    prompt: str
    group: str | None = None  # "solve/deduction" style tag, when known


def load_prompts(path: str | Path, limit: int | None = None) -> list[PromptItem]:
    """Prompts from a JSONL file (objects with ``prompt`` and optional ``group`` ("solve/deduction")
    or ``role``/``task``, e.g. a
    run's ``samples/step_*.jsonl``), a JSON list of strings, or a run directory (its newest
    samples file). Duplicates are dropped, order kept."""
    p = Path(path)
    if p.is_dir():
        files = sorted((p / "samples").glob("step_*.jsonl"))
        if not files:
            raise ValueError(f"{p}: no samples/step_*.jsonl to take prompts from")
        p = files[-1]
    if not p.is_file():
        raise ValueError(f"{p}: no such prompt file")
    text = p.read_text()
    items: list[PromptItem] = []
    if p.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ValueError(f"{p}: expected a JSON list of prompt strings")
        items = [PromptItem(x) for x in data]
    else:
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}:{i + 1}: not JSON ({e})") from e
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str):
                raise ValueError(f"{p}:{i + 1}: expected an object with a 'prompt' string")
            group = rec.get("group") if rec.get("group") in GROUP_NAMES else None
            if rec.get("role") in ROLES and rec.get("task") in TASKS:
                group = f"{rec['role']}/{rec['task']}"
            items.append(PromptItem(rec["prompt"], group))
    seen, out = set(), []
    for it in items:
        if it.prompt.strip() and (it.prompt, it.group) not in seen:
            seen.add((it.prompt, it.group))
            out.append(it)
    if not out:
        raise ValueError(f"{p}: no prompts")
    return out[:limit] if limit else out


def mean_token_entropy(entropy, mask) -> list[float]:
    """Per-sequence mean entropy over masked tokens. entropy, mask: [B, T] -> B floats
    (NaN for a sequence with no scored token)."""
    counts = mask.sum(-1)
    sums = (entropy * mask).sum(-1)
    return [float(s / c) if c > 0 else math.nan for s, c in zip(sums.tolist(), counts.tolist())]


def response_entropies(model, seqs: list[tuple[list[int], list[int]]], *, pad_id: int, temperature: float = 1.0,
                       batch_size: int = 16, chunk_tokens: int = 1024) -> list[float]:
    """Mean token entropy of each response under ``model``, in order.

    ``seqs``: [(prompt token ids, response token ids)], each non-empty. Sequences are right
    padded in batches; the entropy at each response token is that of the (temperature-scaled)
    distribution that predicted it, from ``azr.rl.logprobs.policy_logprobs`` (chunked head)."""
    import torch

    from azr.rl.logprobs import policy_logprobs

    dev = next(model.parameters()).device
    out: list[float] = []
    for s in range(0, len(seqs), batch_size):
        batch = seqs[s:s + batch_size]
        T = max(len(p) + len(r) for p, r in batch)
        ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
        attn = torch.zeros((len(batch), T), dtype=torch.long)
        score = torch.zeros((len(batch), T), dtype=torch.long)
        for i, (p, r) in enumerate(batch):
            if not p or not r:
                raise ValueError("each sequence needs a non-empty prompt and response")
            ids[i, :len(p) + len(r)] = torch.tensor(list(p) + list(r))
            attn[i, :len(p) + len(r)] = 1
            score[i, len(p):len(p) + len(r)] = 1
        with torch.no_grad():
            _, ent = policy_logprobs(model, ids.to(dev), attn.to(dev), score.to(dev),
                                     temperature=temperature, chunk_tokens=chunk_tokens)
        out += mean_token_entropy(ent.float().cpu(), score.float())
    return out


def measure_checkpoint_entropy(checkpoint: str | Path, prompts: list[PromptItem], *, samples: int = 4,
                               max_new_tokens: int = 8096, temperature: float = 1.0, seed: int = 0,
                               batch_size: int = 16, chunk_tokens: int = 1024, device: str = "auto") -> dict:
    """Token entropy of a model's own sampled responses (see module docstring).

    Returns {"checkpoint", "overall", "by_group": {group: H}, "responses", "tokens",
    "temperature", "samples", "max_new_tokens"}; responses without tokens are skipped.
    """
    import torch

    from azr.rollout.config import ModelConfig, RolloutConfig
    from azr.rollout.hf import HFEngine
    from azr.rollout.models import load_model, load_tokenizer
    from azr.rollout.types import SamplingParams

    if temperature <= 0:
        raise ValueError("entropy is measured on sampled responses: temperature must be > 0")
    model = load_model(ModelConfig(path=str(checkpoint), dtype="auto", device=device))
    model.eval()
    tok = load_tokenizer(str(checkpoint))
    engine = HFEngine(model, tok, RolloutConfig(max_batch_size=batch_size))
    params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, n=samples, seed=seed)
    with torch.no_grad():
        completions = engine.generate([p.prompt for p in prompts], params)
    kept = [(item.group, list(c.prompt_token_ids), list(c.token_ids))
            for item, cs in zip(prompts, completions) for c in cs if c.token_ids and c.prompt_token_ids]
    if not kept:
        raise ValueError("no response had any token: nothing to measure")
    ents = response_entropies(model, [(p, r) for _, p, r in kept], pad_id=tok.pad_token_id,
                              temperature=temperature, batch_size=batch_size, chunk_tokens=chunk_tokens)
    by_group: dict[str, list[float]] = {}
    for (g, _, _), h in zip(kept, ents):
        if g is not None:
            by_group.setdefault(g, []).append(h)
    return {
        "checkpoint": str(checkpoint),
        "overall": sum(ents) / len(ents),
        "by_group": {g: sum(v) / len(v) for g, v in sorted(by_group.items())},
        "responses": len(ents),
        "tokens": sum(len(r) for _, _, r in kept),
        "temperature": temperature, "samples": samples, "max_new_tokens": max_new_tokens,
    }

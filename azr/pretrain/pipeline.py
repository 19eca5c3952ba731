"""The ``azr pretrain`` pipeline: corpus -> decontamination -> tokenizer -> training -> measurement.

Intermediate files go to a work directory (``corpus.jsonl``, ``corpus_stats.json``,
``tokens.npy``) and are reused when the corpus settings match; the model folder receives the
weights, the tokenizer, ``pretrain.json`` (config, corpus statistics, decontamination report,
training summary) and ``measurements.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from azr.pretrain.config import CorpusConfig, PretrainConfig


def _corpus_key(cfg: CorpusConfig, decontam: bool) -> dict:
    """The settings a cached corpus must match, as they read back from JSON (tuples -> lists)."""
    return json.loads(json.dumps({"corpus": asdict(cfg), "decontaminated": decontam}))


def load_or_build_corpus(
    cfg: CorpusConfig, work_dir: Path, data_dir: str | None, workers: int, log: Callable[[str], None]
) -> tuple[list[str], dict]:
    """Corpus documents and statistics, rebuilt unless ``work_dir`` holds one with equal settings."""
    from azr.executor import ExecutorConfig, Sandbox
    from azr.pretrain.corpus import build_corpus
    from azr.pretrain.decontam import BenchmarkIndex

    work_dir.mkdir(parents=True, exist_ok=True)
    corpus_path, stats_path = work_dir / "corpus.jsonl", work_dir / "corpus_stats.json"
    key = _corpus_key(cfg, data_dir is not None)
    if corpus_path.exists() and stats_path.exists():
        stats = json.loads(stats_path.read_text())
        if stats.get("key") == key:
            docs = [json.loads(line)["text"] for line in corpus_path.open(encoding="utf-8")]
            log(f"corpus: reusing {corpus_path} ({len(docs)} documents)")
            return docs, stats
    index = None
    if data_dir is not None:
        t = time.perf_counter()
        index = BenchmarkIndex.from_data_dir(data_dir, n=cfg.ngram)
        log(f"decontamination index: {len(index.hashes)} {cfg.ngram}-grams from {len(index.files)} files "
            f"in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    with Sandbox(ExecutorConfig(workers=workers)) as sandbox:
        docs, stats = build_corpus(cfg, sandbox, index)
    stats["build_seconds"] = round(time.perf_counter() - t, 1)
    stats["key"] = key
    with corpus_path.open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"text": d}) + "\n")
    stats_path.write_text(json.dumps(stats, indent=1))
    log(f"corpus: {stats['documents']} documents, {stats['chars']} characters in {stats['build_seconds']}s")
    return docs, stats


def run_pipeline(
    cfg: PretrainConfig,
    out_dir: str | Path,
    work_dir: str | Path,
    data_dir: str | None,
    workers: int = 2,
    measure_n: int = 64,
    log: Callable[[str], None] = print,
    init_from: str | None = None,
    measure_batch: int | None = None,
) -> dict:
    """Build (or reuse) the corpus, train tokenizer and model, save to ``out_dir``, measure it.

    ``init_from``: continue training a saved model (it must use this corpus' tokenizer)
    instead of a random initialisation. ``measure_batch``: prompts per ``generate`` call when
    measuring (default ``MeasureConfig.batch_size``).
    """
    import numpy as np

    from azr.pretrain.train import build_model, save_model, split_tokens, tokenize_documents, train
    from azr.rollout.tiny import train_tokenizer

    from azr.rollout.models import load_tokenizer

    out_dir, work_dir = Path(out_dir), Path(work_dir)
    docs, stats = load_or_build_corpus(cfg.corpus, work_dir, data_dir, workers, log)
    t = time.perf_counter()
    tok_dir, tok_key = work_dir / "tokenizer", work_dir / "tokenizer_key.json"
    key = json.dumps({"corpus": stats["key"], "vocab": cfg.model.vocab_size}, sort_keys=True)
    if tok_key.exists() and tok_key.read_text() == key and (work_dir / "tokens.npy").exists():
        tokenizer = load_tokenizer(str(tok_dir))
        tokens = np.load(work_dir / "tokens.npy")
        log(f"tokenizer: reusing {tok_dir}")
    else:
        sample, total = [], 0
        for d in docs:
            if total >= cfg.corpus.tokenizer_chars:
                break
            sample.append(d)
            total += len(d)
        tokenizer = train_tokenizer(corpus=sample, vocab_size=cfg.model.vocab_size)
        tokens = tokenize_documents(docs, tokenizer)
        tokenizer.save_pretrained(str(tok_dir))
        np.save(work_dir / "tokens.npy", tokens)
        tok_key.write_text(key)
    log(f"tokenizer: vocab {len(tokenizer)}, corpus {len(tokens)} tokens ({time.perf_counter() - t:.0f}s)")
    import torch

    torch.manual_seed(cfg.train.seed)
    if init_from:
        from transformers import AutoModelForCausalLM

        if load_tokenizer(init_from).get_vocab() != tokenizer.get_vocab():
            raise ValueError(f"{init_from} uses another tokenizer than this corpus")
        model = AutoModelForCausalLM.from_pretrained(init_from, dtype=torch.float32)
        log(f"model: continuing from {init_from}")
    else:
        model = build_model(cfg.model, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters")
    train_tokens, val_tokens = split_tokens(tokens, cfg.train.val_fraction)
    summary = train(model, train_tokens, val_tokens, cfg.train, tokenizer.eos_token_id, log=log)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, tokenizer, str(out_dir))
    report = {
        "config": asdict(cfg),
        "parameters": n_params,
        "corpus_tokens": int(len(tokens)),
        "corpus": {k: v for k, v in stats.items() if k != "key"},
        "training": summary,
        "init_from": init_from,
    }
    (out_dir / "pretrain.json").write_text(json.dumps(report, indent=1))
    log(f"saved to {out_dir}; training: {summary['steps']} steps, {summary['minutes']} min, "
        f"val loss {summary['final_val_loss']}")
    if measure_n > 0:
        report["measurements"] = measure_model(out_dir, cfg, workers, measure_n, log, measure_batch)
    return report


def measure_model(model_dir: str | Path, cfg: PretrainConfig, workers: int, n: int,
                  log: Callable[[str], None] = print, batch_size: int | None = None) -> dict:
    """Measure a saved model (see ``azr.pretrain.measure``); writes ``measurements.json`` next to it."""
    import torch
    from transformers import AutoModelForCausalLM

    from azr.executor import ExecutorConfig, Sandbox
    from azr.pretrain.measure import MeasureConfig, measure
    from azr.rollout.models import load_tokenizer
    from azr.tasks.generator import generate_programs

    torch.set_num_threads(cfg.train.threads)
    model_dir = Path(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).to(cfg.train.device)
    tokenizer = load_tokenizer(str(model_dir))
    training_programs = frozenset(
        p.program for p in generate_programs(cfg.corpus.n_programs, cfg.corpus.seed, n_inputs=1)
    )
    mcfg = MeasureConfig(n_per_group=n, batch_size=batch_size or MeasureConfig.batch_size)
    t = time.perf_counter()
    with Sandbox(ExecutorConfig(workers=workers)) as sandbox:
        metrics, examples = measure(model, tokenizer, sandbox, mcfg, training_programs)
    out = {"config": asdict(mcfg), "seconds": round(time.perf_counter() - t, 1), "metrics": metrics,
           "examples": examples}
    (model_dir / "measurements.json").write_text(json.dumps(out, indent=1))
    for k, v in metrics.items():
        log(f"  {k}: {v}")
    return out

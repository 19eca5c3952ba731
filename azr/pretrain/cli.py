"""``azr pretrain``: build the bundled tiny model (corpus, tokenizer, training, measurement).

    azr pretrain --out models/azr-tiny --work-dir /tmp/azr-pretrain --max-steps 800 --max-minutes 40
    azr pretrain --measure-only --out models/azr-tiny      # re-measure a saved model
    azr pretrain --config pretrain.yaml --set train.lr=2e-3 --set corpus.n_programs=8000

Settings: the ``PretrainConfig`` defaults (sections ``corpus``, ``model``, ``train``) <- the
shortcut flags below <- ``--config FILE.yaml`` <- ``--set key=value``, read and checked by the
same loader as ``azr train`` (``azr.config``: unknown keys and wrong types fail with the key).

Benchmark files under ``--data-dir`` (default ``$AZR_DATA_DIR``) are used only to
decontaminate the corpus; without them the command refuses to run unless
``--no-decontam`` is given. Torch is imported only inside the handler.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace


def register(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="pretrain the bundled tiny model (azr-tiny) from scratch")
    p.add_argument("--out", default="models/azr-tiny", help="model folder to write")
    p.add_argument("--work-dir", default="/tmp/azr-pretrain", help="corpus and token cache")
    p.add_argument("--data-dir", default=None, help="benchmark data for decontamination (default: $AZR_DATA_DIR)")
    p.add_argument("--no-decontam", action="store_true", help="skip decontamination (not for shipped models)")
    p.add_argument("--seed", type=int, default=0, help="seed of corpus, initialisation and batch order")
    p.add_argument("--train-seed", type=int, default=None, help="seed of initialisation and batch order (default: --seed)")
    p.add_argument("--n-programs", type=int, default=None, help="generator programs in the corpus")
    p.add_argument("--stdlib-fraction", type=float, default=None, help="share of stdlib source in the corpus")
    p.add_argument("--solve-episodes", default=None, metavar="D,A,I",
                   help="solver episodes per program for deduction, abduction, induction (default 4,1,4)")
    p.add_argument("--induction-answers", choices=("canonical", "generated"), default=None,
                   help="program an induction solver episode answers with (default canonical)")
    p.add_argument("--max-steps", type=int, default=None, help="optimiser steps (defines the LR schedule)")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock cap on training (0: none)")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per step")
    p.add_argument("--seq-len", type=int, default=None, help="tokens per sequence")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--hidden-size", type=int, default=None, help="model width")
    p.add_argument("--layers", type=int, default=None, help="decoder blocks")
    p.add_argument("--intermediate-size", type=int, default=None, help="MLP width")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a busy machine)")
    p.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps")
    p.add_argument("--eval-every", type=int, default=None, help="steps between validation-loss log lines")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (default: fp32, ~10x faster on the build CPU)")
    p.add_argument("--fp32", action="store_true", help="train in fp32 (the default; kept for old command lines)")
    p.add_argument("--workers", type=int, default=2, help="sandbox workers")
    p.add_argument("--measure-n", type=int, default=64, help="samples per (task, role) group when measuring; 0: skip")
    p.add_argument("--measure-batch", type=int, default=None,
                   help="prompts per generate call when measuring (default 16; samples depend on it)")
    p.add_argument("--device", default=None, help="torch device for training and measuring (default cpu; e.g. cuda)")
    p.add_argument("--measure-only", action="store_true", help="only measure the model in --out")
    p.add_argument("--init-from", default=None, help="continue training this saved model (same corpus/tokenizer)")
    p.add_argument("--config", default=None, help="YAML file with corpus/model/train sections (after the flags)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.lr=2e-3 (repeatable; applied last)")
    p.set_defaults(func=_cmd_pretrain)


def _build_config(args: argparse.Namespace):
    from azr.pretrain.config import PretrainConfig

    cfg = PretrainConfig()
    corpus = replace(cfg.corpus, seed=args.seed)
    if args.n_programs is not None:
        corpus = replace(corpus, n_programs=args.n_programs)
    if args.stdlib_fraction is not None:
        corpus = replace(corpus, stdlib_fraction=args.stdlib_fraction)
    if args.solve_episodes is not None:
        try:
            counts = tuple(int(x) for x in args.solve_episodes.split(","))
        except ValueError:
            raise ValueError(f"--solve-episodes takes three integers like 2,1,2, got {args.solve_episodes!r}") from None
        corpus = replace(corpus, solve_episodes=counts)
    if args.induction_answers is not None:
        corpus = replace(corpus, canonical_solutions=args.induction_answers == "canonical")
    model = cfg.model
    if args.hidden_size is not None:
        model = replace(model, hidden_size=args.hidden_size)
    if args.layers is not None:
        model = replace(model, num_hidden_layers=args.layers)
    if args.intermediate_size is not None:
        model = replace(model, intermediate_size=args.intermediate_size)
    train_seed = args.seed if args.train_seed is None else args.train_seed
    train = replace(cfg.train, seed=train_seed, compile=args.compile,
                    bf16=args.bf16 and not args.fp32)
    for name, field in (("max_steps", "max_steps"), ("max_minutes", "max_minutes"), ("batch_size", "batch_size"),
                        ("seq_len", "seq_len"), ("lr", "lr"), ("threads", "threads"),
                        ("warmup_steps", "warmup_steps"), ("eval_every", "eval_every"),
                        ("device", "device")):
        if getattr(args, name) is not None:
            train = replace(train, **{field: getattr(args, name)})
    cfg = PretrainConfig(corpus=corpus, model=model, train=train)
    if getattr(args, "config", None) or getattr(args, "overrides", None):
        from azr.config import apply_overrides, from_dict, load_yaml, merge, to_dict

        data = to_dict(cfg)
        if args.config:
            data = merge(data, load_yaml(args.config))
        cfg = from_dict(PretrainConfig, apply_overrides(data, list(args.overrides), PretrainConfig))
    return cfg


def _cmd_pretrain(args: argparse.Namespace) -> int:
    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        cfg = _build_config(args)
    except (TypeError, ValueError) as exc:
        log(f"azr pretrain: bad setting: {exc}")
        return 2
    from azr.pretrain.pipeline import measure_model, run_pipeline

    if args.measure_only:
        if not os.path.isdir(args.out):
            log(f"azr pretrain: no model folder at {args.out}")
            return 2
        measure_model(args.out, cfg, args.workers, args.measure_n or 64, log, args.measure_batch)
        return 0
    data_dir = None
    if not args.no_decontam:
        data_dir = args.data_dir or os.environ.get("AZR_DATA_DIR")
        if not data_dir or not os.path.isdir(data_dir):
            log("azr pretrain: no benchmark data directory for decontamination "
                "(give --data-dir or set AZR_DATA_DIR; --no-decontam to skip)")
            return 2
    run_pipeline(cfg, args.out, args.work_dir, data_dir, workers=args.workers, measure_n=args.measure_n, log=log,
                 init_from=args.init_from, measure_batch=args.measure_batch)
    return 0

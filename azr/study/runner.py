"""Run the study: train every arm, evaluate base and arms, analyse; resumable, arms in parallel.

Everything is done by the existing commands, run as subprocesses of this interpreter
(``python -m azr ...``), so the study holds no copy of their logic:

- train: ``azr train|rlvr|sft --preset P --steps N --run-dir OUT/<arm> --set run.seed=S ...``;
  an arm with a complete checkpoint but no ``study_done.json`` continues with
  ``--resume OUT/<arm> --steps N`` (the run loop's exact resume); an arm folder without any
  checkpoint is started again;
- evaluate: ``azr eval gen-o gen-i gen-f --model CKPT --template azr-tiny|azr ...`` into
  ``OUT/<arm>/eval`` (``OUT/base/eval`` for the base model); a benchmark folder with a
  ``summary.json`` is not evaluated again;
- analyse: ``azr analyze sparsity BASE CKPT --json`` (the model's dtype on disk), and
  ``azr analyze difficulty`` for the self-play arms.

Progress goes to stderr, one line per arm event, and to ``OUT/study.log``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azr.rl.rundir import CHECKPOINTS, list_checkpoints
from azr.study.config import ARMS, SELFPLAY_ARMS, SELFPLAY_SETS, StudyConfig

DONE_FILE = "study_done.json"
BASE = "base"


class StudyError(RuntimeError):
    """A step of the study failed (the message names the command and its log)."""


def _log(out: Path, line: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    msg = f"[{stamp}] {line}"
    print(msg, file=sys.stderr, flush=True)
    with open(out / "study.log", "a", encoding="utf-8") as f:
        f.write(msg + "\n")


def _azr(args: Sequence[str], log_path: Path, env_threads: int = 1) -> int:
    """``python -m azr ARGS`` with stdout+stderr appended to ``log_path``; its exit status."""
    import os

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(env_threads))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(f"$ azr {' '.join(args)}\n")
        f.flush()
        return subprocess.run([sys.executable, "-m", "azr", *args], stdout=f, stderr=subprocess.STDOUT,
                              env=env, check=False).returncode


def final_checkpoint(run_dir: Path) -> tuple[int, Path] | None:
    """``(step, folder)`` of the newest complete checkpoint of a run, or None."""
    ckpts = list_checkpoints(run_dir / CHECKPOINTS)
    return ckpts[-1] if ckpts else None


def arm_argv(cfg: StudyConfig, arm: str, run_dir: Path, resume: bool) -> list[str]:
    """The command line of one arm (fresh start or resume)."""
    spec = ARMS[arm]
    sets = [*cfg.sets, *cfg.arm_sets.get(arm, ()), *spec.sets, *(SELFPLAY_SETS if arm in SELFPLAY_ARMS else ())]
    argv = [spec.command]
    argv += ["--resume", str(run_dir)] if resume else ["--preset", cfg.preset, "--run-dir", str(run_dir)]
    argv += ["--steps", str(cfg.steps), "--set", f"run.seed={cfg.seed}"]
    for s in sets:
        argv += ["--set", s]
    return argv


def train_arm(cfg: StudyConfig, arm: str) -> Path:
    """Train one arm to ``cfg.steps`` (skipped when done; resumed when partial); its final checkpoint."""
    out = Path(cfg.out)
    run_dir = out / arm
    done = run_dir / DONE_FILE
    if done.is_file():
        info = json.loads(done.read_text())
        if info.get("steps") == cfg.steps and Path(info.get("checkpoint", "")).is_dir():
            _log(out, f"{arm}: trained ({cfg.steps} steps), skipped")
            return Path(info["checkpoint"])
        done.unlink()  # a different step budget: continue the run to the new one
    last = final_checkpoint(run_dir) if run_dir.is_dir() else None
    if run_dir.is_dir() and last is None:
        _log(out, f"{arm}: {run_dir} has no checkpoint, starting it again")
        shutil.rmtree(run_dir)
    resume = last is not None
    _log(out, f"{arm}: {'resuming from step ' + str(last[0]) if resume else 'training'} to step {cfg.steps}")
    start = time.monotonic()
    out.joinpath("logs").mkdir(exist_ok=True)
    log_path = out / "logs" / f"{arm}.train.log"
    rc = _azr(arm_argv(cfg, arm, run_dir, resume), log_path)
    last = final_checkpoint(run_dir)
    if rc != 0 or last is None or last[0] < cfg.steps:
        raise StudyError(f"{arm}: training failed (exit {rc}; see {log_path})")
    done.write_text(json.dumps({"steps": cfg.steps, "checkpoint": str(last[1]),
                                "wall_s": round(time.monotonic() - start, 1)}) + "\n")
    _log(out, f"{arm}: trained to step {last[0]} in {time.monotonic() - start:.0f} s")
    return last[1]


def evaluate_model(cfg: StudyConfig, name: str, model: str, template: str, max_new_tokens: int) -> Path:
    """``azr eval`` of the study's benchmarks for one model into ``OUT/<name>/eval``."""
    out = Path(cfg.out)
    eval_dir = out / name / "eval"
    # a benchmark is evaluated again when its summary is missing or came from another model
    # (a retrained arm) or other sampling settings
    want = (model, cfg.eval_n, cfg.eval_limit, cfg.eval_temperature, cfg.seed)
    todo = [b for b in cfg.benchmarks if _summary_key(eval_dir / b) != want]
    if not todo:
        _log(out, f"{name}: evaluated, skipped")
        return eval_dir
    _log(out, f"{name}: evaluating {' '.join(todo)} ({cfg.eval_limit} problems x {cfg.eval_n} samples)")
    start = time.monotonic()
    out.joinpath("logs").mkdir(exist_ok=True)
    log_path = out / "logs" / f"{name}.eval.log"
    # one call for the missing benchmarks (one model load); a single benchmark writes into -o itself
    target = eval_dir / todo[0] if len(todo) == 1 else eval_dir
    rc = _azr(["eval", *todo, "--model", model, "--template", template, "--n", str(cfg.eval_n),
               "--limit", str(cfg.eval_limit), "--temperature", str(cfg.eval_temperature), "--top-p", "1.0",
               "--max-new-tokens", str(max_new_tokens), "--seed", str(cfg.seed), "--batch-prompts", "32",
               "--no-progress", "--k", *[str(k) for k in range(1, cfg.eval_n + 1)], "-o", str(target)], log_path)
    missing = [b for b in todo if not (eval_dir / b / "summary.json").is_file()]
    if rc != 0 or missing:
        raise StudyError(f"{name}: azr eval {' '.join(missing or todo)} failed (exit {rc}; see {log_path})")
    _log(out, f"{name}: evaluated in {time.monotonic() - start:.0f} s")
    return eval_dir


def _summary_key(folder: Path) -> tuple | None:
    """(model, n, problems, temperature, seed) of the ``azr eval`` summary in ``folder`` (None: none)."""
    path = folder / "summary.json"
    try:
        s = json.loads(path.read_text()) if path.is_file() else None
    except ValueError:
        return None
    if not isinstance(s, dict):
        return None
    sampling = s.get("sampling", {})
    return (s.get("model"), sampling.get("n"), s.get("limit", s.get("num_problems")), sampling.get("temperature"),
            sampling.get("seed"))


def bf16_copy(base: str, folder: Path) -> Path:
    """A bfloat16 copy of the base model's weights (``model.safetensors`` + ``config.json``) in
    ``folder``: the study counted unchanged bf16 values; ``azr analyze sparsity`` compares an fp32
    checkpoint with it after rounding the checkpoint to bf16."""
    target = folder / "model.safetensors"
    if target.is_file():
        return folder
    import torch
    from safetensors.torch import load_file, save_file

    src = Path(base)
    if not (src / "model.safetensors").is_file():
        raise StudyError(f"{base}: no single model.safetensors to copy to bf16")
    tensors = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v)
               for k, v in load_file(str(src / "model.safetensors")).items()}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "model.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(target)
    if (src / "config.json").is_file():
        shutil.copy(src / "config.json", folder / "config.json")
    return folder


def sparsity(cfg: StudyConfig, arm: str, base: str, ckpt: Path, name: str = "sparsity_vs_base") -> dict:
    """``azr analyze sparsity BASE CKPT --json`` (cached in ``OUT/<arm>/analysis/<name>.json``)."""
    path = Path(cfg.out) / arm / "analysis" / f"{name}.json"
    if path.is_file():
        data = json.loads(path.read_text())
        if data.get("b") == str(ckpt):
            return data
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "azr", "analyze", "sparsity", base, str(ckpt), "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StudyError(f"{arm}: azr analyze sparsity failed: {proc.stderr.strip()[-300:]}")
    data = json.loads(proc.stdout)
    data.pop("tensors", None)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def difficulty(cfg: StudyConfig, arm: str, base: str, ckpt: Path) -> dict | None:
    """``azr analyze difficulty`` of a self-play arm, trained vs base (None when skipped/failed)."""
    out = Path(cfg.out)
    path = out / arm / "analysis" / "difficulty.json"
    every = cfg.difficulty_every
    if path.is_file():
        data = json.loads(path.read_text())
        settings = data.get("settings", {})
        if (str(ckpt) in settings.get("models", {}).values() and data.get("bucket_every") == every
                and settings.get("samples") == cfg.difficulty_samples):
            return data
        path.unlink()  # made from an older checkpoint of the arm or with other settings
    if cfg.difficulty_questions == 0 or arm not in SELFPLAY_ARMS:
        return None
    rc = _azr(["analyze", "difficulty", str(out / arm), "--models", str(ckpt), base, "--labels", arm, "base",
               "--questions", str(cfg.difficulty_questions), "--samples", str(cfg.difficulty_samples),
               "--every", str(every), "--seed", str(cfg.seed), "--output", str(path)],
              out / "logs" / f"{arm}.difficulty.log")
    if rc != 0 or not path.is_file():
        _log(out, f"{arm}: difficulty analysis failed (exit {rc}; see logs/{arm}.difficulty.log), left out")
        return None
    return json.loads(path.read_text())


def model_settings(cfg: StudyConfig) -> tuple[str, str, int]:
    """``(base model path, eval template, response budget)`` from the preset (+ --set)."""
    from azr.config import load_config
    from azr.rl.rundir import resolve_model_path

    resolved = load_config(cfg.preset, None, [s for s in cfg.sets])
    template = "azr-tiny" if resolved.selfplay.template_set == "tiny" else "azr"
    return resolve_model_path(resolved.model.path), template, resolved.rollout.max_new_tokens


def run_study(cfg: StudyConfig, on_arm: Callable[[str], None] | None = None) -> dict:
    """Train, evaluate and analyse every arm; returns what the report needs (also written to
    ``OUT/study.json``)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    started = out / "study_started.json"  # the first invocation's clock: a resumed study's elapsed time
    if not started.is_file():
        started.write_text(json.dumps({"time": time.time()}) + "\n")
    base, template, max_new = model_settings(cfg)
    _log(out, f"study: arms {', '.join(cfg.arms)}; {cfg.steps} steps each; base {base}; jobs {cfg.jobs}")

    def arm_job(arm: str) -> tuple[Path, str]:  # train, then evaluate, one arm
        ckpt = train_arm(cfg, arm)
        return ckpt, str(evaluate_model(cfg, arm, str(ckpt), template, max_new))

    with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
        base_eval = pool.submit(evaluate_model, cfg, BASE, base, template, max_new)
        done = dict(zip(cfg.arms, pool.map(arm_job, cfg.arms)))
        evals = {BASE: str(base_eval.result())}
    train_s = time.monotonic() - t0
    ckpts = {a: done[a][0] for a in cfg.arms}
    evals.update({a: done[a][1] for a in cfg.arms})
    analyses = {}
    for arm in cfg.arms:
        analyses[arm] = {"sparsity": sparsity(cfg, arm, base, ckpts[arm]),
                         "sparsity_bf16": sparsity(cfg, arm, str(bf16_copy(base, out / BASE / "bf16")), ckpts[arm],
                                                   "sparsity_vs_base_bf16"),
                         "difficulty": difficulty(cfg, arm, base, ckpts[arm])}
        if on_arm:
            on_arm(arm)
    result = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
              "base_model": base, "template": template, "max_new_tokens": max_new,
              "checkpoints": {a: str(p) for a, p in ckpts.items()}, "evals": evals, "analyses": analyses,
              "wall_s": {"train_and_eval": round(train_s, 1), "total": round(time.monotonic() - t0, 1),
                         "since_first_start": round(time.time() - json.loads(started.read_text())["time"], 1),
                         "arms": {a: _arm_wall(out / a) for a in cfg.arms}}}
    (out / "study.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _arm_wall(run_dir: Path) -> float | None:
    path = run_dir / DONE_FILE
    return json.loads(path.read_text()).get("wall_s") if path.is_file() else None

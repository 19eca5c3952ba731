"""Validated programs per second: the warm sandbox pool vs a naive ``python3 -c`` per run.

Both sides do the same work on the same programs in the same process run: full proposal
validation (static checks, two runs per program in two different processes with different
hash seeds, determinism and literal round-trip checks) through ``azr.executor.validate``,
with the same concurrency (``--workers``). Only the way each program run is executed
differs:

- pool: ``Sandbox`` (warm workers, one fork per run, every protection the machine allows);
- naive: a fresh ``python3 -c`` interpreter (this venv's python) per run with rlimits (CPU, memory, file size,
  open files), its own session, and a kill on timeout; it loads the same safe value parser
  (``azr/executor/literals.py``) that the pool's workers give the validation probe. Chunks of programs alternate
  between the two so that both see the same load on shared cores. ``--naive-isolated``
  also measures ``python3 -I -S -c`` (no site import), a stronger baseline.

    .venv/bin/python benchmarks/executor.py --n 300 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azr.executor import ExecResult, ExecutorConfig, Job, Proposal, Sandbox, validate  # noqa: E402
from azr.tasks.generator import generate_programs  # noqa: E402

_RUNNER = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("literals", sys.argv[1])
literals = importlib.util.module_from_spec(spec)
spec.loader.exec_module(literals)
job = json.loads(sys.stdin.read())
g = {"__name__": "__main__", "__azr_output_problem__": literals.output_problem}
try:
    exec(compile(job["code"], "<program>", "exec"), g)
    v = None if job["expr"] is None else repr(eval(compile(job["expr"], "<expr>", "eval"), g))
    out = {"status": "ok", "value": v}
except MemoryError:
    out = {"status": "memory"}
except BaseException as e:
    out = {"status": "error", "error_type": type(e).__name__, "error_message": str(e)[:1000]}
sys.stdout.write(json.dumps(out))
"""


_LITERALS = str(Path(__file__).resolve().parents[1] / "azr" / "executor" / "literals.py")


class NaiveRunner:
    """Duck-typed stand-in for ``Sandbox``: one new interpreter per job."""

    def __init__(self, config: ExecutorConfig, python: list[str]):
        self.config = config
        self.python = python
        self.pool = ThreadPoolExecutor(config.workers)

    def _limits(self) -> None:
        c, mb = self.config, 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (int(c.timeout_s) + 1, int(c.timeout_s) + 2))
        resource.setrlimit(resource.RLIMIT_AS, (c.memory_mb * mb, c.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (c.max_file_mb * mb, c.max_file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (c.max_open_files, c.max_open_files))
        os.setsid()

    def _one(self, job: Job) -> ExecResult:
        t0 = time.monotonic()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": str(1 + (job.replica or 0))}
        try:
            proc = subprocess.run(self.python + ["-c", _RUNNER, _LITERALS], input=json.dumps({"code": job.code, "expr": job.expr}),
                                  capture_output=True, text=True, timeout=job.timeout_s or self.config.timeout_s,
                                  preexec_fn=self._limits, env=env)
        except subprocess.TimeoutExpired:
            return ExecResult("timeout", None, "Timeout", "", time.monotonic() - t0)
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            return ExecResult("killed", None, "Exit", proc.stderr[-200:], time.monotonic() - t0)
        return ExecResult(out["status"], out.get("value"), out.get("error_type"), out.get("error_message"),
                          time.monotonic() - t0)

    def run(self, jobs):
        return list(self.pool.map(self._one, jobs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="programs to validate")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=25, help="programs per interleaved chunk")
    ap.add_argument("--naive-isolated", action="store_true", help="also time python3 -I -S -c")
    args = ap.parse_args()
    config = ExecutorConfig(workers=args.workers, timeout_s=5.0)
    progs = generate_programs(args.n, seed=0)
    proposals = [Proposal(p.program, (p.inputs[0],)) for p in progs]

    t0 = time.perf_counter()
    sandbox = Sandbox(config)
    startup = time.perf_counter() - t0
    validate(sandbox, proposals[:10])  # warm-up
    protections = sandbox.protections
    runners = {"python3 -c": NaiveRunner(config, [sys.executable])}
    if args.naive_isolated:
        runners["python3 -I -S -c"] = NaiveRunner(config, [os.path.realpath(sys.executable), "-I", "-S"])

    # Interleave chunks so that both sides see the same machine load (the cores are shared).
    pool_s, pool_res = 0.0, []
    naive = {name: [0.0, []] for name in runners}
    for start in range(0, len(proposals), args.chunk):
        chunk = proposals[start : start + args.chunk]
        t0 = time.perf_counter()
        pool_res += validate(sandbox, chunk)
        pool_s += time.perf_counter() - t0
        for name, runner in runners.items():
            t0 = time.perf_counter()
            naive[name][1] += validate(runner, chunk)  # type: ignore[arg-type]
            naive[name][0] += time.perf_counter() - t0
    sandbox.close()

    valid = sum(v.valid for v in pool_res)
    agree = all(a.valid == b.valid and a.output == b.output for a, b in zip(pool_res, naive["python3 -c"][1]))
    load = os.getloadavg()[0]
    out = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "load_avg_1min_at_end": round(load, 2),
        "date": time.strftime("%Y-%m-%d"),
        "programs": args.n,
        "valid": valid,
        "workers": args.workers,
        "pool_startup_s": round(startup, 3),
        "pool_programs_per_s": round(args.n / pool_s, 1),
        "protections": {k: v for k, v in protections.items() if v},
        "pool_and_naive_agree": agree,
    }
    for name, (secs, _) in naive.items():
        out[f"naive[{name}]_programs_per_s"] = round(args.n / secs, 1)
        out[f"ratio_vs[{name}]"] = round(secs / pool_s, 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

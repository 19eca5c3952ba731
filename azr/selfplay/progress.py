"""A one-line-per-event progress display for ``azr train`` / ``rlvr`` / ``sft`` (stderr).

Each step's summary line is also logged (logger ``azr.progress``), so ``train.log`` holds
every step line even when the display is off; ``azr.rl.rundir.setup_logging`` keeps those
records off stderr, where the display already printed them.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("azr.progress")


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _rates(metrics: dict, key: str) -> str | None:
    """"0.50/-/1.00" over deduction/abduction/induction; None when no task type has the key."""
    vals = [metrics.get(key.format(t=t)) for t in ("deduction", "abduction", "induction")]
    if all(v is None for v in vals):
        return None
    return "/".join("-" if v is None else f"{v:.2f}" for v in vals)


def step_line(step: int, total: int, metrics: dict, eta: str) -> str:
    """The summary line of a step: time, tokens/s, then what the run's kind reports
    (self-play: valid and solve rates; RLVR: solve rates; SFT: its loss)."""
    parts = [f"[step {step}/{total}] {metrics.get('time/step', 0.0):.1f}s",
             f"{metrics.get('tokens_per_s', 0.0):.0f} tok/s"]
    if metrics.get("loss/nll") is not None:
        parts.append(f"loss {metrics['loss/nll']:.4f}")
    elif metrics.get("loss/skipped"):
        parts.append("loss - (nothing to train on)")
    valid = _rates(metrics, "propose/{t}/valid_rate")
    if valid is not None:
        parts.append(f"valid d/a/i {valid}")
    acc = _rates(metrics, "solve/{t}/accuracy")
    if acc is not None:
        parts.append(f"acc d/a/i {acc}")
    val = " ".join(f"{k[4:]}={v:.2f}" for k, v in metrics.items()
                   if k.startswith("val/") and k.endswith("accuracy") and v is not None)
    if val:
        parts.append(val)
    parts.append(f"ETA {eta}")
    return " | ".join(parts)


class Progress:
    """Prints the phase of each step and a summary line with tokens/s, rates and the ETA."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True, stream=None):
        self.total, self.start, self.enabled = total, start, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def _print(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def phase(self, step: int, name: str) -> None:
        self._print(f"[step {step}/{self.total}] {name}...")

    def eta(self, step: int) -> float:
        done = step - self.start
        if done <= 0:
            return float("nan")
        return (time.perf_counter() - self.t0) / done * (self.total - step)

    def done(self, step: int, metrics: dict) -> None:
        line = step_line(step, self.total, metrics, _fmt_duration(self.eta(step)) if step > self.start else "?")
        self._print(line)
        log.info("%s", line)

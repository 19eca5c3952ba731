"""A one-line-per-event progress display for ``azr train`` (stderr)."""

from __future__ import annotations

import sys
import time


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _rates(metrics: dict, key: str) -> str:
    vals = []
    for t in ("deduction", "abduction", "induction"):
        v = metrics.get(key.format(t=t))
        vals.append("-" if v is None else f"{v:.2f}")
    return "/".join(vals)


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
        val = " ".join(f"{k[4:]}={v:.2f}" for k, v in metrics.items() if k.startswith("val/") and k.endswith("accuracy"))
        self._print(
            f"[step {step}/{self.total}] {metrics.get('time/step', 0.0):.1f}s "
            f"| {metrics.get('tokens_per_s', 0.0):.0f} tok/s "
            f"| valid d/a/i {_rates(metrics, 'propose/{t}/valid_rate')} "
            f"| acc d/a/i {_rates(metrics, 'solve/{t}/accuracy')}"
            + (f" | {val}" if val else "")
            + f" | ETA {_fmt_duration(self.eta(step)) if step > self.start else '?'}"
        )

"""Math scoring with ``math-verify``, with timeouts that actually work.

math-verify bounds its parse/verify calls with ``signal.alarm``, which only works in the
main thread of a process; called from a worker thread it errors, and the error is turned
into a silent "wrong" (a known source of all-zero math scores elsewhere). Here every call
runs in the *main thread* of a process: of worker processes (``spawn``, default), or of
this process when ``math_workers == 0`` and we are the main thread. From any other thread
a worker process is always used.

No model output is executed: math-verify parses text (LaTeX / expressions) with sympy.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from azr.eval.types import SampleResult, ScoringContext

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def prediction_text(completion: str) -> str:
    """What math-verify should read: the ``<answer>`` block if any, else the whole text
    (math-verify itself prefers the last ``\\boxed{}``, then the last expression)."""
    tags = _ANSWER_TAG.findall(completion)
    return tags[-1] if tags else completion


def verify_answer(prediction: str, gold: str, timeout_s: int = 5) -> tuple[bool, str]:
    """(correct, reason) for one prediction. Must run in a process's main thread."""
    from math_verify import parse, verify

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("verify_answer must run in the main thread (math-verify uses signal.alarm)")
    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=timeout_s)
    if not gold_parsed:
        return False, "gold answer not parseable by math-verify"
    text = prediction_text(prediction)
    pred_parsed = parse(text, parsing_timeout=timeout_s)
    if not pred_parsed:
        return False, "no answer found"
    ok = bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout_s))
    return ok, "" if ok else f"answer {pred_parsed[-1]!s:.80} != gold {gold:.80}"


def _verify_star(args: tuple[str, str, int]) -> tuple[bool, str]:
    try:
        return verify_answer(*args)
    except Exception as exc:  # a parse bug in one answer must not sink the batch
        return False, f"math-verify error: {type(exc).__name__}: {exc}"[:300]


def score_math(problems, samples, ctx: ScoringContext) -> list[SampleResult]:
    """Correct iff math-verify finds the sample's answer equivalent to the gold answer."""
    st = ctx.settings
    items = [
        (s.solution if s.solution is not None else s.completion, problems[s.task_id].reference,
         st.math_timeout_s)
        for s in samples
    ]
    in_main = threading.current_thread() is threading.main_thread()
    if st.math_workers == 0 and in_main:
        verdicts = [_verify_star(it) for it in items]
    else:
        workers = max(1, st.math_workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            verdicts = list(pool.map(_verify_star, items, chunksize=max(1, len(items) // (4 * workers) or 1)))
    return [
        SampleResult(s.task_id, s.index, ok, "pass" if ok else "fail", reason)
        for s, (ok, reason) in zip(samples, verdicts)
    ]

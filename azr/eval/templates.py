"""Prompt templates for sampling benchmark answers, and extraction of the answer.

A template is a pair of pure functions registered in ``TEMPLATES``:
``build(kind, problem) -> (prompt, stop_strings)`` and
``extract(kind, problem, text) -> (completion, solution | None)``.

- ``plain``: completion style for base models (HumanEval-style: the model continues the
  function; CRUXEval: the model completes the ``assert`` line; math: "put the final answer
  within \\boxed{}").
- ``azr`` / ``azr-tiny``: the self-play format of the "reference" / "tiny" prompt set
  (``selfplay.template_set``; reason in ``<think>``, answer in ``<answer>``). CRUXEval-O/-I
  use the trainer's solver prompts and its answer parser, so a model is scored the same way
  by ``azr eval`` as by in-training validation (``azr.selfplay.validation``); for code
  benchmarks the code is taken from the answer (``` fences removed).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from azr.eval.benchmarks import Problem
from azr.eval.generated import GEN_TASK, task_of
from azr.tasks.parsing import parse_solution
from azr.tasks.prompts import frame, solver_prompt
from azr.tasks.types import TaskType, Triplet

# Codex-paper stop sequences for function completion.
CODE_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")
_FENCE = re.compile(r"```(?:python|py)?\n(.*?)(?:```|$)", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)


def _cut(text: str, stops: tuple[str, ...]) -> str:
    idx = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:idx]


def _lcb_instruction(p: Problem) -> str:
    starter = p.meta.get("starter_code") or ""
    how = (f"Complete this starter code:\n```python\n{starter}\n```" if starter
           else "Read the input from stdin and write the answer to stdout.")
    return f"{p.prompt}\n\n{how}"


def plain_build(kind: str, p: Problem) -> tuple[str, tuple[str, ...]]:
    if kind in ("humaneval", "evalplus"):
        return p.prompt, CODE_STOPS
    if kind == "cruxeval-o":
        return f"{p.meta['code']}\nassert f({p.meta['input']}) == ", ("\n",)
    if kind == "cruxeval-i":
        return f"{p.meta['code']}\nassert {p.meta['output']} == f(", ("\n",)
    if kind == "livecodebench":
        return f"{_lcb_instruction(p)}\n\n```python\n", ("```",)
    return f"{p.prompt}\nPlease reason step by step, and put your final answer within \\boxed{{}}.\n", ()


def plain_extract(kind: str, p: Problem, text: str) -> tuple[str, str | None]:
    if kind in ("humaneval", "evalplus"):
        return _cut(text, CODE_STOPS), None
    if kind == "cruxeval-o":
        return text, text.split("\n", 1)[0].strip()
    if kind == "cruxeval-i":
        line = text.split("\n", 1)[0].rstrip()
        return text, line[:-1] if line.endswith(")") else line
    if kind == "livecodebench":
        return text, text.split("```", 1)[0]
    return text, None


#: Marker stored as the solution of a CRUXEval completion that does not parse: it is neither
#: a literal nor an argument list, so it is graded wrong without running anything, exactly as
#: the trainer grades a format error (``azr.selfplay.solve.grade``).
FORMAT_ERROR = "<format error: {reason}>"

_CRUX_TASK = {"cruxeval-o": TaskType.DEDUCTION, "cruxeval-i": TaskType.ABDUCTION}


def _azr_build(template_set: str) -> Callable:
    def build(kind: str, p: Problem) -> tuple[str, tuple[str, ...]]:
        """CRUXEval: the self-play solver prompt itself (deduction for -O, abduction for -I,
        built by ``azr.tasks.prompts.solver_prompt``); other benchmarks: the task in the same
        conversation frame."""
        if kind in _CRUX_TASK:
            t = Triplet(p.meta["code"], p.meta["input"], p.meta["output"])
            return solver_prompt(_CRUX_TASK[kind], t, template_set=template_set), ("</answer>",)
        if kind in GEN_TASK:  # generator benchmarks: the solver prompt of their task
            return solver_prompt(GEN_TASK[kind], task_of(kind, p.meta), template_set=template_set), ("</answer>",)
        if kind in ("humaneval", "evalplus"):
            task = f"Complete this Python function. Answer with the whole function.\n```python\n{p.prompt}```"
        elif kind == "livecodebench":
            task = _lcb_instruction(p) + "\nAnswer with the whole program in a ```python block."
        else:
            task = p.prompt + "\nPut your final answer within \\boxed{}."
        return frame(task, template_set), ("</answer>",)

    return build


def azr_extract(kind: str, p: Problem, text: str) -> tuple[str, str | None]:
    """CRUXEval: the trainer's own parser (``azr.tasks.parsing.parse_solution``); a completion
    it rejects gets the ``FORMAT_ERROR`` marker. Code benchmarks: the last fenced block of
    the last ``<answer>``."""
    if kind in _CRUX_TASK or kind in GEN_TASK:
        parsed = parse_solution({**_CRUX_TASK, **GEN_TASK}[kind], text)
        return text, parsed.answer if parsed.ok else FORMAT_ERROR.format(reason=parsed.reason)
    m = _ANSWER.findall(text)
    answer = m[-1].strip() if m else ""
    if kind in ("humaneval", "evalplus", "livecodebench"):
        fenced = _FENCE.findall(m[-1] if m else "")
        code = fenced[-1] if fenced else (m[-1].strip("\n") if m else "")
        if kind != "livecodebench" and f"def {p.meta['entry_point']}" not in code:
            if code and not code[0].isspace():
                code = textwrap.indent(code, "    ")
            return text, p.prompt + code + "\n"  # a body only: prepend the header
        return text, code
    return text, answer or text


TEMPLATES: dict[str, tuple[Callable, Callable]] = {
    "plain": (plain_build, plain_extract),
    "azr": (_azr_build("reference"), azr_extract),
    "azr-tiny": (_azr_build("tiny"), azr_extract),
}

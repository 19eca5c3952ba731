"""Prompt templates for sampling benchmark answers, and extraction of the answer.

A template is a pair of pure functions registered in ``TEMPLATES``:
``build(kind, problem) -> (prompt, stop_strings)`` and
``extract(kind, problem, text) -> (completion, solution | None)``.

- ``plain``: completion style for base models (HumanEval-style: the model continues the
  function; CRUXEval: the model completes the ``assert`` line; math: "put the final answer
  within \\boxed{}").
- ``azr``: the Absolute Zero format (reason in ``<think>``, answer in ``<answer>``); code is
  taken from the answer (``` fences removed).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from azr.eval.benchmarks import Problem

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


AZR_PREAMBLE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process "
    "here </think> <answer> answer here </answer>.\nUser: "
)


def azr_build(kind: str, p: Problem) -> tuple[str, tuple[str, ...]]:
    if kind in ("humaneval", "evalplus"):
        task = f"Complete this Python function. Answer with the whole function.\n```python\n{p.prompt}```"
    elif kind == "cruxeval-o":
        task = f"What does f return?\n```python\n{p.meta['code']}\n```\nInput: f({p.meta['input']})\nAnswer with the output value only."
    elif kind == "cruxeval-i":
        task = f"Find an input such that f(input) == {p.meta['output']}.\n```python\n{p.meta['code']}\n```\nAnswer with the arguments of f only."
    elif kind == "livecodebench":
        task = _lcb_instruction(p) + "\nAnswer with the whole program in a ```python block."
    else:
        task = p.prompt + "\nPut your final answer within \\boxed{}."
    return f"{AZR_PREAMBLE}{task}\nAssistant: <think>", ("</answer>",)


def azr_extract(kind: str, p: Problem, text: str) -> tuple[str, str | None]:
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
    if kind in ("cruxeval-o", "cruxeval-i"):
        return text, answer
    return text, answer or text


TEMPLATES: dict[str, tuple[Callable, Callable]] = {
    "plain": (plain_build, plain_extract),
    "azr": (azr_build, azr_extract),
}

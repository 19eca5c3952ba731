"""Prompt templates for the six (task, role) combinations, and the canonical completions.

Every prompt is framed the same way: a one-line system description, ``User: <body>``, then
``Assistant: <think>`` so that the completion starts inside the reasoning block and must
close it before giving the answer::

    ...reasoning...</think>
    <answer>
    ...
    </answer>

Answer bodies use fenced blocks with a role-specific tag (```` ```python ````, ```` ```input ````,
```` ```output ````, ```` ```message ````); ``azr.tasks.parsing`` reads exactly these.
``render_proposal`` / ``render_solution`` write canonical completions in that format (the
pretraining corpus of the bundled model uses them, so templates live in one place only).

Values are the strings stored in triplets: programs are source code, inputs are argument
lists (``f(<input>)``), outputs are ``repr`` strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from azr.tasks.types import InductionTask, TaskType, Triplet

SYSTEM = (
    "A conversation between User and Assistant. The Assistant first reasons step by step "
    "inside <think> </think>, then gives the final answer inside <answer> </answer>."
)
ASSISTANT_PREFIX = "Assistant: <think>"


def frame(body: str) -> str:
    """Wrap a user message in the conversation frame; the completion continues the thinking."""
    return f"{SYSTEM}\nUser: {body.strip()}\n{ASSISTANT_PREFIX}"


def fence(tag: str, content: str) -> str:
    """A fenced block: ```tag / content / ```."""
    return f"```{tag}\n{content.strip()}\n```"


def format_triplet(t: Triplet, index: int | None = None) -> str:
    """A reference triplet as shown to proposers: program, input and output blocks."""
    head = f"# Example {index}\n" if index is not None else ""
    return head + "\n".join((fence("python", t.program), fence("input", t.input), fence("output", t.output)))


def format_pairs(pairs: Sequence[tuple[str, str]]) -> str:
    """(input, output) pairs as ``f(<input>) == <output>`` lines, one per pair."""
    return "\n".join(f"f({i}) == {o}" for i, o in pairs)


_PROPOSE_GOAL = {
    TaskType.DEDUCTION: (
        "Write a NEW Python function `f` and one input for it, such that predicting the output "
        "from the code and the input takes careful reasoning."
    ),
    TaskType.ABDUCTION: (
        "Write a NEW Python function `f` and one input for it, such that recovering an input "
        "from the code and the output takes careful reasoning."
    ),
}

_PROPOSE_RULES = (
    "Rules: `f` must be deterministic and self-contained (helper functions are allowed; no "
    "randomness, time, files, network or printing); the input is the argument list of one call "
    "`f(<input>)` written as Python literals; the output must be a Python literal."
)


def proposer_prompt(task_type: TaskType | str, references: Sequence[Triplet], *, n_inputs: int = 10) -> str:
    """The proposer's prompt for ``task_type``.

    Deduction/abduction: ``references`` are K reference triplets from that type's buffer; the
    proposer answers with a new program and one input. Induction: ``references[0].program`` is
    the program to describe (the other fields are ignored); the proposer answers with
    ``n_inputs`` inputs and a message describing the function.
    """
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION:
        if not references:
            raise ValueError("the induction proposer needs one program (references[0])")
        body = (
            f"Here is a Python function `f`.\n{fence('python', references[0].program)}\n"
            f"Write {n_inputs} different inputs for `f` (each the argument list of one call, as "
            "Python literals) that together reveal what `f` does, and a short message that would "
            "help someone who only sees some of the input/output pairs write `f` themselves.\n"
            "Answer format:\n<answer>\n"
            + "\n".join(fence("input", f"<input {k + 1}>") for k in range(min(n_inputs, 2)))
            + ("\n...\n" if n_inputs > 2 else "\n")
            + fence("message", "<message>")
            + "\n</answer>"
        )
        return frame(body)
    refs = "\n".join(format_triplet(t, k + 1) for k, t in enumerate(references))
    body = (
        f"{_PROPOSE_GOAL[task_type]} It must differ from the reference examples below.\n"
        f"{_PROPOSE_RULES}\n"
        f"## Reference examples\n{refs}\n"
        "Answer format:\n<answer>\n"
        f"{fence('python', 'def f(...):')}\n{fence('input', '<input>')}\n</answer>"
    )
    return frame(body)


def solver_prompt(task_type: TaskType | str, task: Triplet | InductionTask) -> str:
    """The solver's prompt: deduction shows program + input, abduction program + output,
    induction the message and the visible pairs of an ``InductionTask``."""
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION:
        if not isinstance(task, InductionTask):
            raise TypeError("the induction solver prompt needs an InductionTask")
        body = (
            "Write a Python function `f` that satisfies all of these examples (and others like them).\n"
            f"Hint from the author: {task.message.strip()}\n"
            f"{format_pairs(task.visible)}\n"
            f"Answer format:\n<answer>\n{fence('python', 'def f(...):')}\n</answer>"
        )
        return frame(body)
    if not isinstance(task, Triplet):
        raise TypeError(f"the {task_type} solver prompt needs a Triplet")
    if task_type is TaskType.DEDUCTION:
        body = (
            "Predict the output of this Python function for the given input.\n"
            f"{fence('python', task.program)}\n{fence('input', task.input)}\n"
            f"Answer format (the output as a Python literal):\n<answer>\n{fence('output', '<output>')}\n</answer>"
        )
    else:
        body = (
            "Find an input for which this Python function returns the given output.\n"
            f"{fence('python', task.program)}\n{fence('output', task.output)}\n"
            "Answer format (the argument list of one call f(<input>), as Python literals):\n"
            f"<answer>\n{fence('input', '<input>')}\n</answer>"
        )
    return frame(body)


def _complete(think: str, answer_body: str) -> str:
    return f"{think.strip()}\n</think>\n<answer>\n{answer_body}\n</answer>"


def render_proposal(
    task_type: TaskType | str,
    *,
    program: str = "",
    input: str = "",
    inputs: Sequence[str] = (),
    message: str = "",
    think: str = "",
) -> str:
    """A canonical proposer completion (what follows the prompt's ``<think>``)."""
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION:
        body = "\n".join([*(fence("input", i) for i in inputs), fence("message", message)])
    else:
        body = f"{fence('python', program)}\n{fence('input', input)}"
    return _complete(think, body)


_SOLUTION_TAG = {TaskType.DEDUCTION: "output", TaskType.ABDUCTION: "input", TaskType.INDUCTION: "python"}


def render_solution(task_type: TaskType | str, answer: str, *, think: str = "") -> str:
    """A canonical solver completion: output (deduction), input (abduction) or program (induction)."""
    return _complete(think, fence(_SOLUTION_TAG[TaskType(task_type)], answer))

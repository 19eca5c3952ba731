"""Prompt templates for the six (task, role) combinations, and the canonical completions.

Two named template sets (``TEMPLATE_SETS``), chosen with ``template_set=``:

- ``"reference"`` (the default): the content and layout of the Absolute Zero reference's
  prompts (``absolute_zero_reasoner/data_construction/prompts.py``, branch ``paper``),
  written in our own words: for proposers a task heading, the goal (a snippet that takes
  long, multi-step reasoning to predict), code requirements, input requirements, the answer
  layout with an example, evaluation criteria (executability, difficulty, creativity, the
  banned keyword list), "plan first", and the reference examples as numbered tagged blocks;
  for the induction proposer N ```` ```input ```` blocks and a ```` ```message ````; for solvers
  the task, "reason step by step", the code/input/output blocks, and the answer layout; the
  induction solver sees the visible pairs as numbered ```` ```input_i ```` / ```` ```output_i ````
  blocks, the message, and the code requirements.
- ``"tiny"``: the short prompts the bundled azr-tiny model was pretrained on
  (``azr.pretrain.corpus`` pins this set).

Every prompt is framed the same way: a system description, ``User: <body>``, then
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

from azr.tasks.types import REFERENCE_BANNED_KEYWORDS, InductionTask, TaskType, Triplet

#: Names of the template sets.
TEMPLATE_SETS: tuple[str, ...] = ("reference", "tiny")
DEFAULT_TEMPLATE_SET = "reference"

SYSTEM = (
    "A conversation between User and Assistant. The Assistant first reasons step by step "
    "inside <think> </think>, then gives the final answer inside <answer> </answer>."
)
ASSISTANT_PREFIX = "Assistant: <think>"


#: The reference set's conversation frame (same content as the reference's
#: ``instruction_following``, in our words).
REFERENCE_SYSTEM = (
    "This is a conversation between a User and an Assistant. The User poses a problem and the "
    "Assistant solves it: it first reasons the problem through privately, then gives the User "
    "its answer. The reasoning goes inside <think> </think> tags and the answer inside "
    "<answer> </answer> tags, like this: <think> the reasoning </think> <answer> the answer "
    "</answer>."
)


def frame(body: str, template_set: str = "tiny") -> str:
    """Wrap a user message in the conversation frame; the completion continues the thinking."""
    system = REFERENCE_SYSTEM if _set(template_set) == "reference" else SYSTEM
    return f"{system}\nUser: {body.strip()}\n{ASSISTANT_PREFIX}"


def _set(template_set: str) -> str:
    if template_set not in TEMPLATE_SETS:
        raise ValueError(f"unknown template set {template_set!r}; known: {TEMPLATE_SETS}")
    return template_set


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


def proposer_prompt(task_type: TaskType | str, references: Sequence[Triplet], *, n_inputs: int = 10,
                    template_set: str = DEFAULT_TEMPLATE_SET) -> str:
    """The proposer's prompt for ``task_type`` in ``template_set`` ("reference" or "tiny").

    Deduction/abduction: ``references`` are K reference triplets from that type's buffer; the
    proposer answers with a new program and one input. Induction: ``references[0].program`` is
    the program to describe (the other fields are ignored); the proposer answers with
    ``n_inputs`` inputs and a message describing the function.
    """
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION and not references:
        raise ValueError("the induction proposer needs one program (references[0])")
    if _set(template_set) == "reference":
        return frame(_reference_proposer_body(task_type, references, n_inputs), "reference")
    if task_type is TaskType.INDUCTION:
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


def solver_prompt(task_type: TaskType | str, task: Triplet | InductionTask, *,
                  template_set: str = DEFAULT_TEMPLATE_SET) -> str:
    """The solver's prompt: deduction shows program + input, abduction program + output,
    induction the message and the visible pairs of an ``InductionTask``."""
    task_type = TaskType(task_type)
    if task_type is TaskType.INDUCTION and not isinstance(task, InductionTask):
        raise TypeError("the induction solver prompt needs an InductionTask")
    if task_type is not TaskType.INDUCTION and not isinstance(task, Triplet):
        raise TypeError(f"the {task_type} solver prompt needs a Triplet")
    if _set(template_set) == "reference":
        return frame(_reference_solver_body(task_type, task), "reference")
    if task_type is TaskType.INDUCTION:
        body = (
            "Write a Python function `f` that satisfies all of these examples (and others like them).\n"
            f"Hint from the author: {task.message.strip()}\n"
            f"{format_pairs(task.visible)}\n"
            f"Answer format:\n<answer>\n{fence('python', 'def f(...):')}\n</answer>"
        )
        return frame(body)
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


# ----------------------------------------------------------------------------- reference set
# Same sections, order and answer layout as the reference's six prompts, in our own words.

_REF_CODE_RULES = (
    "- Call the entry function `f` (as in `def f(...): ...`); helper functions may be nested "
    "inside `f`\n"
    "- `f` must return a value\n"
    "- `f` takes at least one parameter\n"
    "- `f` must be deterministic: the same input always gives the same result\n"
    "{multi_step}"
    "- Do NOT use any of these:\n"
    "  * random numbers or random choices\n"
    "  * dates or clocks\n"
    "  * input/output (files, network)\n"
    "  * printing or logging\n"
    "  * any state outside the snippet\n"
    "- A run must finish within 10 seconds on an ordinary modern CPU\n"
    "- Put every import and every class definition at the very top of the snippet\n"
    "- End the snippet with the `return` of the entry function `f`; whatever follows it is "
    "dropped\n"
)

_REF_MULTI_STEP = (
    "- The snippet should keep track of state through several successive transformations of the "
    "data, so that working it out takes many steps of reasoning\n"
)

_REF_EXAMPLE_CODE = "def f(words: list, options: dict):\n    # the computation goes here\n    return joined"
_REF_EXAMPLE_INPUT = "['red', 'green'], {'sep': '-', 'upper': True}"

_REF_PROPOSE_GOAL = {
    TaskType.DEDUCTION: (
        "Taking the reference snippets below as examples, write a new Python code snippet, unlike "
        "any of them, such that working out its output from a given input calls for deep "
        "algorithmic reasoning. Answer with a snippet and one test input: the input is fed to the "
        "snippet, and the input alone (with the code) is then shown to someone who must work out "
        "the output. Think of it as an intelligence test."
    ),
    TaskType.ABDUCTION: (
        "Taking the reference snippets below as examples, write a new Python code snippet, unlike "
        "any of them, such that finding an input that yields a given output calls for deep "
        "algorithmic reasoning. Answer with a snippet and one test input: the input is fed to the "
        "snippet, and the output it yields (with the code) is then shown to someone who must come "
        "up with any input that produces that same output. Think of it as an intelligence test."
    ),
}

_REF_DIFFICULTY = {
    TaskType.DEDUCTION: "how hard it is to predict the output from your input and your code",
    TaskType.ABDUCTION: (
        "how hard it is to recover your ```input``` from (1) your ```python``` code and (2) the "
        "deterministic ```output``` that your input produces"
    ),
}


def banned_keywords_text(words: Sequence[str] = REFERENCE_BANNED_KEYWORDS) -> str:
    """The banned keyword list as shown in the reference-set proposer prompts."""
    return ", ".join(words)


def _ref_reference_blocks(references: Sequence[Triplet]) -> str:
    return "".join(
        f"<reference_{k}>\n{fence('python', t.program)}\n{fence('input', t.input)}\n"
        f"{fence('output', t.output)}\n</reference_{k}>\n"
        for k, t in enumerate(references)
    )


def _reference_proposer_body(task_type: TaskType, references: Sequence[Triplet], n_inputs: int) -> str:
    if task_type is TaskType.INDUCTION:
        return _reference_induction_proposer_body(references[0].program, n_inputs)
    return (
        "## Task: write a new Python code snippet (custom classes are allowed; define them at the "
        "top of the snippet) together with one input for it\n\n"
        f"{_REF_PROPOSE_GOAL[task_type]}\n\n"
        "### Requirements for the code:\n"
        + _REF_CODE_RULES.format(multi_step=_REF_MULTI_STEP)
        + "\n### Requirements for the input:\n"
        "- Give exactly one test input for the function\n"
        "- Separate several arguments with commas\n"
        "- Put quotes around string arguments\n\n"
        "### Answer layout:\n"
        f"- The code goes in a block like\n{fence('python', 'def f(...):' + chr(10) + '    # the code' + chr(10) + '    return ...')}\n"
        f"- The input goes in a block like\n{fence('input', 'arg1, arg2, ...')}\n\n"
        "### Example of the layout:\n"
        f"{fence('python', _REF_EXAMPLE_CODE)}\n\n{fence('input', _REF_EXAMPLE_INPUT)}\n\n"
        "### How your answer is judged:\n"
        "- It runs: the code must execute on your input\n"
        f"- Difficulty: {_REF_DIFFICULTY[task_type]}. Aim for algorithmic reasoning or intricate "
        "logic: for instance, build data structures such as trees, heaps, stacks, queues or graphs "
        "and operate on them, or use involved control flow, dynamic programming, recursion, divide "
        "and conquer, greedy search or backtracking\n"
        "- Creativity: the code must be clearly different from the reference snippets\n"
        "- Forbidden words and packages: none of the following may appear anywhere, in any form, "
        f"comments included: {banned_keywords_text()}\n\n"
        "Start by making a careful plan: decide what will make your snippet hard, how it departs "
        "from the reference snippets and what is inventive about it. Only then write the final "
        "snippet and its input.\n\n"
        "### Reference snippets:\n"
        + _ref_reference_blocks(references)
    )


def _reference_induction_proposer_body(program: str, n: int) -> str:
    example = "\n".join(fence("input", i) for i in (_REF_EXAMPLE_INPUT, "['blue'], {'sep': '+', 'upper': False}"))
    return (
        f"## Task: write {n} inputs for the code snippet below that make it produce varied outputs, "
        "and a message about the snippet\n\n"
        f"Using the code snippet below, come up with {n} inputs that, fed to the snippet, give a "
        "varied set of outputs. Part of your inputs, each with the output it deterministically "
        "produces, will be shown to someone who must work out the function from them: think of it "
        "as an intelligence test. You may also leave that person a message to help them find the "
        "snippet.\n\n"
        "### Requirements for the inputs:\n"
        f"- Give {n} valid inputs for the snippet\n"
        "- In each input, separate several arguments with commas\n"
        "- Put quotes around string arguments\n"
        "- Wrap each input in its own ```input``` block\n\n"
        "### Requirements for the message:\n"
        "- Write a message that helps the test taker work out the snippet\n"
        "- Wrap it in a ```message``` block\n"
        "- It may take any form: a coding question, or a plain description of what the snippet "
        "does\n"
        "- It must not contain the code of the snippet\n\n"
        "### Answer layout:\n"
        f"- Each input goes in a block like\n{fence('input', 'arg1, arg2, ...')}\n\n"
        f"### Example of the layout:\n{example}\n\n"
        "### How your answer is judged:\n"
        "- It runs: the snippet must execute on every one of your inputs\n"
        "- Coverage: together, the inputs and outputs should span the snippet's input space well "
        "enough to recover the snippet from them\n"
        "- Creativity: the inputs should differ clearly from one another\n"
        "- Overall, the inputs and the message should make a task that is hard for the test taker "
        "but not impossible\n"
        "Start by making a careful plan: understand the snippet, then decide how your inputs will "
        "cover it well and why they will be challenging and inventive. Only then write the inputs "
        "and the message. Remember: every input in its own ```input``` block, the message in a "
        "```message``` block.\n\n"
        "### Code snippet:\n"
        + fence("python", program.rstrip() + "\nf(<< your input is inserted here >>)")
    )


def _reference_solver_body(task_type: TaskType, task: Triplet | InductionTask) -> str:
    if task_type is TaskType.DEDUCTION:
        return (
            "# Task: work out what a Python code snippet returns, given its code and an input\n"
            "Read the code snippet and the input below, reason step by step, and then give the "
            "output the snippet produces when the input is fed to it. Put the output in an "
            "```output``` block. If the output is a string, write it with quotes; if the function "
            "returns several values, write them as a tuple.\n\n"
            f"# Code snippet:\n{fence('python', task.program)}\n\n"
            f"# Input:\n{fence('input', task.input)}\n\n"
            f"# Example answer:\n{fence('output', '(3, [1, 2])')}"
        )
    if task_type is TaskType.ABDUCTION:
        return (
            "# Task: find an input of a Python code snippet, given its code and the output\n"
            "Read the code snippet and the output below, reason step by step, and then give one "
            "input that makes the snippet produce that output. Put the input in an ```input``` "
            "block. Write string arguments with quotes; if the function takes several arguments, "
            "separate them with commas.\n\n"
            f"# Code snippet:\n{fence('python', task.program)}\n\n"
            f"# Output:\n{fence('output', task.output)}\n\n"
            f"# Answer layout:\n{fence('input', 'arg1, arg2, ...')}\n"
            f"# Example answer:\n{fence('input', _REF_EXAMPLE_INPUT)}"
        )
    pairs = "".join(
        f"{fence(f'input_{k}', i)}\n{fence(f'output_{k}', o)}\n" for k, (i, o) in enumerate(task.visible)
    )
    return (
        "# Task: work out the function that turned the inputs into the outputs\n"
        "You are given input/output pairs and a message describing the function. Reason step by "
        "step to write a general code snippet that produces the hidden outputs from the hidden "
        "inputs, i.e. one that matches the original code that made these pairs. Your final answer "
        "goes in a ```python``` block. Checking your function against each pair in turn helps; if "
        "it does not behave as expected, fix it until it does. Your answer is judged by running "
        "the code in that ```python``` block.\n\n"
        "# Requirements for the code:\n"
        + _REF_CODE_RULES.format(multi_step="")
        + f"\n# Input/output pairs:\n{pairs}\n"
        f"# Message:\n{fence('message', task.message)}\n\n"
        f"# Example answer:\n{fence('python', 'def f(a):' + chr(10) + '    return a')}\n\n"
        "Remember: the entry function must be called `f`."
    )


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

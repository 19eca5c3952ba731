"""Core data of the code-reasoning environment: task types, roles and triplets.

A *triplet* is (program, input, output) with ``output == repr(f(<input>))``:

- ``program`` is Python source that defines a function ``f`` (helpers allowed);
- ``input`` is an argument-list expression, so that ``f(<input>)`` is a call
  (``"1, 2"``, ``"'abc'"``, ``"[1, 2], k=3"``);
- ``output`` is the ``repr`` of the returned value, a Python literal.

An induction task holds one program, several (input, output) pairs and a message; the
solver sees the message and the visible half of the pairs and must write a program that
reproduces every hidden pair.

Everything here is frozen, hashable and torch-free. ``content_hash`` identifies a task by
its content only (not by where or when it was produced) and is used for de-duplication.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum


class TaskType(str, Enum):
    DEDUCTION = "deduction"  # see (program, input) -> answer output
    ABDUCTION = "abduction"  # see (program, output) -> answer an input
    INDUCTION = "induction"  # see message + visible pairs -> answer a program

    def __str__(self) -> str:  # "deduction", not "TaskType.DEDUCTION"
        return self.value


class Role(str, Enum):
    PROPOSE = "propose"
    SOLVE = "solve"

    def __str__(self) -> str:
        return self.value


TASK_TYPES: tuple[TaskType, ...] = (TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION)
ROLES: tuple[Role, ...] = (Role.PROPOSE, Role.SOLVE)
#: The six (task, role) groups, in a fixed order used for metrics and advantages.
GROUPS: tuple[tuple[TaskType, Role], ...] = tuple((t, r) for t in TASK_TYPES for r in ROLES)


def group_name(task: TaskType | str, role: Role | str) -> str:
    """``"propose/deduction"``-style key of a (task, role) group."""
    return f"{Role(role).value}/{TaskType(task).value}"


def _hash(kind: str, payload: object) -> str:
    blob = json.dumps([kind, payload], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Triplet:
    """(program, input, output): ``output == repr(f(<input>))`` when valid."""

    program: str
    input: str
    output: str

    @property
    def content_hash(self) -> str:
        return _hash("triplet", [self.program, self.input, self.output])

    def to_dict(self) -> dict:
        return {"program": self.program, "input": self.input, "output": self.output}

    @classmethod
    def from_dict(cls, d: dict) -> "Triplet":
        return cls(program=str(d["program"]), input=str(d["input"]), output=str(d["output"]))


@dataclass(frozen=True)
class InductionTask:
    """One program, its (input, output) pairs and a message describing it.

    ``pairs[:n_visible]`` are shown to the solver, ``pairs[n_visible:]`` are hidden and
    used to check the solver's program. ``n_visible`` defaults to half (rounded up).
    """

    program: str
    pairs: tuple[tuple[str, str], ...]
    message: str
    n_visible: int = -1

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", tuple((str(i), str(o)) for i, o in self.pairs))
        if self.n_visible < 0:
            object.__setattr__(self, "n_visible", (len(self.pairs) + 1) // 2)

    @property
    def visible(self) -> tuple[tuple[str, str], ...]:
        return self.pairs[: self.n_visible]

    @property
    def hidden(self) -> tuple[tuple[str, str], ...]:
        return self.pairs[self.n_visible :]

    @property
    def content_hash(self) -> str:
        return _hash("induction", [self.program, [list(p) for p in self.pairs], self.message])

    def to_dict(self) -> dict:
        return {
            "program": self.program,
            "inputs": [i for i, _ in self.pairs],
            "outputs": [o for _, o in self.pairs],
            "message": self.message,
            "n_visible": self.n_visible,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "InductionTask":
        inputs, outputs = list(d["inputs"]), list(d["outputs"])
        if len(inputs) != len(outputs):
            raise ValueError(f"induction task has {len(inputs)} inputs but {len(outputs)} outputs")
        return cls(
            program=str(d["program"]),
            pairs=tuple(zip(inputs, outputs)),
            message=str(d.get("message", "")),
            n_visible=int(d.get("n_visible", -1)),
        )


#: The reference's ``banned_words`` (``azr_ppo_trainer.yaml``, branch ``paper``), in its order,
#: without its repeated ``datetime``: named in the proposer prompts, and the module part of the
#: "reference" static rules (``azr.executor.checks``).
REFERENCE_BANNED_KEYWORDS: tuple[str, ...] = (
    "logging", "random", "multiprocessing", "pebble", "subprocess", "threading", "datetime", "time",
    "hashlib", "hmac", "bcrypt", "os.sys", "os.path", "sys.exit", "os.environ", "calendar",
)

#: The identity "zero triplet" that seeds every buffer (Absolute Zero paper).
ZERO_TRIPLET = Triplet(program="def f(a):\n    return a", input="'Hello World'", output="'Hello World'")

"""The study's arms and settings (one source of truth; torch-free)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class Arm:
    """One trained model of the study."""

    name: str
    command: str  # azr sub-command: train | rlvr | sft
    sets: tuple[str, ...]  # extra --set KEY=VALUE of this arm
    what: str  # one line for the report


ARMS: dict[str, Arm] = {a.name: a for a in (
    Arm("selfplay", "train", (), "self-play, learnability reward (Eq. 4: 1 - s)"),
    Arm("eq3", "train", ("reward.proposer=eq3",), "self-play, the study's Eq. 3 proposer reward"),
    Arm("frozen", "train", ("selfplay.train_propose=false",), "self-play, frozen proposer (solver trained only)"),
    Arm("rlvr", "rlvr", (), "RLVR on generator tasks (same task distribution, no proposer)"),
    Arm("sft", "sft", (), "SFT on generator tasks (sft.source of the preset: reference answers by default)"),
)}
SELFPLAY_ARMS = ("selfplay", "eq3", "frozen")

#: Settings every self-play arm gets: log every rollout of a step (the solve-rate distribution,
#: fresh vs backfilled solver tasks and the reward spread per group are read from samples/).
SELFPLAY_SETS = ("selfplay.samples_per_group=64",)

GEN_BENCHMARKS = ("gen-o", "gen-i", "gen-f")
TASK_OF_BENCH = {"gen-o": "deduction", "gen-i": "abduction", "gen-f": "induction"}


@dataclass(frozen=True)
class StudyConfig:
    """What ``azr study`` runs (``azr study --help`` names each flag)."""

    out: str  # study folder: one run directory per arm, base/ for the base model's evaluation
    preset: str = "tiny"
    steps: int = 20  # steps of every arm (equal budgets in steps)
    arms: tuple[str, ...] = tuple(ARMS)
    seed: int = 0  # run.seed of every arm and the sampling seed of every evaluation
    eval_n: int = 8  # samples per benchmark problem (pass@k for k = 1..eval_n)
    eval_limit: int = 48  # problems per generator benchmark
    eval_temperature: float = 1.0  # the preset's training temperature
    cruxeval: bool = False  # also evaluate CRUXEval-O/-I (needs the data directory)
    difficulty_questions: int = 24  # azr analyze difficulty --questions (0: skip)
    difficulty_samples: int = 2
    difficulty_buckets: int = 2  # step buckets of the proposing step (2: first half vs second half)
    jobs: int = 1  # arms trained at the same time
    sets: tuple[str, ...] = field(default_factory=tuple)  # --set KEY=VALUE for every arm
    arm_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # --set of one arm (rlvr.*, sft.*)
    html: bool = True  # also build azr report's HTML page

    def __post_init__(self) -> None:
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; known: {', '.join(ARMS)}")
        if not self.arms:
            raise ValueError("give at least one arm")
        for name in ("steps", "eval_n", "eval_limit", "jobs", "difficulty_samples", "difficulty_buckets"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.difficulty_questions < 0:
            raise ValueError(f"--difficulty-questions must be >= 0, got {self.difficulty_questions}")
        if not self.eval_temperature > 0:
            raise ValueError(f"--eval-temperature must be > 0 (pass@k needs sampling), got {self.eval_temperature}")
        for s in (*self.sets, *(x for v in self.arm_sets.values() for x in v)):
            if "=" not in s:
                raise ValueError(f"--set expects KEY=VALUE, got {s!r}")

    @property
    def difficulty_every(self) -> int:
        """Bucket width in steps: about ``difficulty_buckets`` equal buckets over steps 1..steps
        (``azr analyze difficulty`` buckets a step s as ``s // every * every``; fewer buckets
        when they would be narrower than about a step each)."""
        return max(1, -(-(self.steps + 1) // self.difficulty_buckets))

    @property
    def benchmarks(self) -> tuple[str, ...]:
        return GEN_BENCHMARKS + (("cruxeval-o", "cruxeval-i") if self.cruxeval else ())


PRESETS = Path(__file__).resolve().parent.parent / "presets"


def study_preset(name: str) -> dict:
    """The ``study:`` settings of ``azr/presets/<name>.study.yaml`` ({} when there is none):
    keys of ``StudyConfig`` (``sets`` a list, ``arm_sets`` a mapping arm -> list)."""
    import yaml

    path = PRESETS / f"{name}.study.yaml"
    if not path.is_file():
        return {}
    data = (yaml.safe_load(path.read_text()) or {}).get("study", {}) or {}
    known = {f.name for f in fields(StudyConfig)} - {"out"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown study key(s) {unknown}; known: {sorted(known)}")
    out = dict(data)
    if "sets" in out:
        out["sets"] = tuple(str(x) for x in out["sets"])
    if "arms" in out:
        out["arms"] = tuple(out["arms"])
    if "arm_sets" in out:
        out["arm_sets"] = {str(k): tuple(str(x) for x in v) for k, v in out["arm_sets"].items()}
    return out

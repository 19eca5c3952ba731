"""The self-play step with the real sandbox and a scripted engine standing in for the model
(a random tiny model never writes a valid or a hostile program, so the step's handling of
them is pinned with scripted completions). No model output is evaluated in this process."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from azr.config import Config, apply_overrides, from_dict
from azr.executor import ExecutorConfig, Sandbox
from azr.rollout.types import Completion
from azr.selfplay.buffer import Buffers
from azr.selfplay.env import CodeEnv
from azr.selfplay.step import collect
from azr.tasks.prompts import render_proposal, render_solution
from azr.tasks.types import GROUPS, Role, TaskType, Triplet

HOSTILE = [
    "def f(a):\n    while True:\n        pass",  # timeout
    "def f(a):\n    return [0] * 10 ** 10",  # memory
    "import subprocess\ndef f(a):\n    return subprocess.call(['touch', '/tmp/azr_pwned'])",  # forbidden import
    "def f(a):\n    return 'x' * 10 ** 7",  # output too large
    "def f(a):\n    raise SystemExit(3)",  # exits
    "def f(a):\n    return object()",  # not a literal
]


class ScriptedEngine:
    """A RolloutEngine returning fixed texts per kind of prompt; records every call."""

    def __init__(self, proposals: dict[TaskType, list[str]], solutions: dict[TaskType, str]):
        self.proposals = {t: itertools.cycle(v) for t, v in proposals.items()}
        self.solutions = {t: itertools.cycle(v if isinstance(v, list) else [v]) for t, v in solutions.items()}
        self.calls = []

    @staticmethod
    def kind(prompt: str) -> tuple[Role, TaskType]:
        if "different inputs for `f`" in prompt:
            return Role.PROPOSE, TaskType.INDUCTION
        if "Write a NEW Python function" in prompt:
            return Role.PROPOSE, (TaskType.DEDUCTION if "predicting the output" in prompt else TaskType.ABDUCTION)
        if "Predict the output" in prompt:
            return Role.SOLVE, TaskType.DEDUCTION
        if "Find an input" in prompt:
            return Role.SOLVE, TaskType.ABDUCTION
        return Role.SOLVE, TaskType.INDUCTION

    def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        out = []
        for p in prompts:
            role, t = self.kind(p)
            texts = [next(self.proposals[t] if role is Role.PROPOSE else self.solutions[t]) for _ in range(params.n)]
            out.append([Completion(tuple(range(1, 1 + len(x) // 8)), x, tuple([-0.5] * (len(x) // 8)), "eos", (1, 2, 3))
                        for x in texts])
        return out


def cfg_with(*overrides) -> Config:
    base = ["selfplay.template_set=tiny", "selfplay.entry_rule=lenient", "selfplay.induction_rule=lenient",
            "selfplay.propose_batch=4", "selfplay.solve_batch=5", "selfplay.learnability_samples=3",
            "selfplay.n_references=2", "selfplay.n_induction_inputs=4", "executor.timeout_s=1.0"]
    return from_dict(Config, apply_overrides({}, [*base, *overrides], Config))


@pytest.fixture(scope="module")
def env():
    with Sandbox(ExecutorConfig(timeout_s=1.0)) as sb:
        yield CodeEnv(sb)


def scripted(hostile: bool = True):
    good = render_proposal("deduction", program="def f(a):\n    return a * 2", input="21")
    good2 = render_proposal("deduction", program="def f(s):\n    return s[::-1]", input="'abc'")
    return ScriptedEngine(
        proposals={
            TaskType.DEDUCTION: [good, "no answer block at all", good2, good],
            TaskType.ABDUCTION: [render_proposal("abduction", program=p, input="1")
                                 for p in (HOSTILE if hostile else ["def f(a):\n    return a - 1"])],
            TaskType.INDUCTION: [render_proposal("induction", inputs=["'a'", "'b'", "1/0", "'a'"], message="echo")],
        },
        solutions={
            TaskType.DEDUCTION: render_solution("deduction", "42"),
            TaskType.ABDUCTION: render_solution("abduction", "__import__('os').getcwd()"),
            TaskType.INDUCTION: render_solution("induction", "def f(a):\n    return a"),
        },
    )


@pytest.fixture(scope="module")
def step7(env):
    """One step (step 7) with hostile abduction proposals: (engine, experience, buffers); the
    solver answers this step's new tasks (``selfplay.solver_source=current``)."""
    buffers = Buffers()
    buffers.seed_zero()
    engine = scripted()
    return engine, collect(cfg_with("selfplay.solver_source=current"), engine, env, buffers, step=7), buffers


def test_default_solver_batch_is_the_previous_steps_proposals(env):
    """The reference's mix: step t's solver gets step t - 1's tasks (never step t's own
    proposals), the rest drawn without replacement from the earlier buffer."""
    buffers = Buffers()
    buffers.seed_zero()
    ded = buffers[TaskType.DEDUCTION]
    for k in range(3):
        ded.add(Triplet(f"def f(a):\n    return a + {k}", "1", str(1 + k)), 6)
    engine = scripted(hostile=False)
    collect(cfg_with(), engine, env, buffers, step=7)
    ded_prompts = [p for p in engine.calls[2][0] if "Predict the output" in p]
    assert len(ded_prompts) == 5
    assert all(f"return a + {k}" in "".join(ded_prompts[:3]) for k in range(3))  # step 6's tasks first
    assert not any("return a * 2" in p or "s[::-1]" in p for p in ded_prompts)  # not step 7's


def test_step_survives_hostile_proposals_and_rewards_them(step7):
    engine, exp, buffers = step7
    assert Path("/tmp/azr_pwned").exists() is False
    by_group = {g: [r for r in exp.rollouts if r.group == g] for g in GROUPS}
    assert [len(by_group[(t, Role.PROPOSE)]) for t in TaskType] == [4, 4, 4]
    assert [len(by_group[(t, Role.SOLVE)]) for t in TaskType] == [5, 5, 5]
    # every hostile abduction proposal is invalid (reward.invalid_proposal: -1), none crashed the step
    abd = by_group[(TaskType.ABDUCTION, Role.PROPOSE)]
    assert all(r.outcome == "wrong" and r.reward == -1.0 for r in abd)
    assert {r.reason.split(":")[0] for r in abd} >= {"timeout", "forbidden_import"}
    ded = by_group[(TaskType.DEDUCTION, Role.PROPOSE)]
    assert [r.outcome for r in ded] == ["passable", "format_error", "passable", "passable"]
    assert ded[1].reward == -1.0
    # valid proposals: solved by "42" always (a*2 on 21) -> s = 1 -> reward.degenerate_reward -0.5; "cba" never -> s = 0
    assert ded[0].solve_rate == 1.0 and ded[0].reward == -0.5
    assert ded[2].solve_rate == 0.0
    # induction: the failing input 1/0 and the duplicate are dropped, 2 pairs remain
    ind = by_group[(TaskType.INDUCTION, Role.PROPOSE)]
    assert all(r.outcome == "passable" for r in ind)
    assert len(ind[0].task["inputs"]) == 2
    # the hostile abduction answer is rejected by the sandbox checks, not run here
    assert all(not r.correct for r in by_group[(TaskType.ABDUCTION, Role.SOLVE)])
    assert all(r.correct for r in by_group[(TaskType.INDUCTION, Role.SOLVE)])


def test_learnability_samples_use_the_rollout_temperature(env):
    # The reference code drew them greedily on one branch.
    for temp in (1.0, 0.7):
        engine = scripted(hostile=False)
        buffers = Buffers()
        buffers.seed_zero()
        collect(cfg_with(f"rollout.temperature={temp}"), engine, env, buffers, step=1)
        assert len(engine.calls) == 3  # propose, solve-rate, solve
        for _, params in engine.calls:
            assert params.temperature == temp and params.top_p == 1.0
        assert engine.calls[1][1].n == 3


def test_new_tasks_are_buffered_step_tagged_and_solved_first(step7):
    engine, exp, buffers = step7
    ded = buffers[TaskType.DEDUCTION]
    new = ded.from_step(7)
    assert len(new) == 2  # two distinct valid programs (the third is a duplicate)
    assert {e.solve_rate for e in new} == {0.0, 1.0}
    solve_prompts = engine.calls[2][0]
    ded_prompts = [p for p in solve_prompts if "Predict the output" in p]
    assert len(ded_prompts) == 5
    # this step's valid proposals first, in order (0, 2, 3), then 2 backfilled from the buffer
    assert "return a * 2" in ded_prompts[0] and "s[::-1]" in ded_prompts[1] and "return a * 2" in ded_prompts[2]
    assert [t for t, _ in exp.new_tasks[TaskType.DEDUCTION]][0].program == "def f(a):\n    return a * 2"
    assert len(buffers[TaskType.ABDUCTION].from_step(7)) == 0


def test_step_is_deterministic_given_the_seed(env):
    def once(seed):
        buffers = Buffers()
        buffers.seed_zero()
        for k in range(6):
            buffers[TaskType.DEDUCTION].add(
                __import__("azr.tasks.types", fromlist=["Triplet"]).Triplet(f"def f(a):\n    return a + {k}", "1", str(1 + k)), 0)
        engine = scripted(hostile=False)
        collect(cfg_with(f"run.seed={seed}"), engine, env, buffers, step=2)
        return [c[0] for c in engine.calls], [p.seed for _, p in engine.calls]

    assert once(0) == once(0)
    assert once(0)[1] != once(1)[1]


def test_frozen_proposer_gets_no_gradient_but_is_rewarded(step7):
    import torch

    from azr.selfplay.update import build_batch

    _, exp, _ = step7
    for train_propose, expect in ((True, 1.0), (False, 0.0)):
        batch, seq_adv, _ = build_batch(exp.rollouts, cfg_with(f"selfplay.train_propose={str(train_propose).lower()}"), 0)
        roles = [r.role for r in exp.rollouts]
        assert all(float(w) == (expect if role is Role.PROPOSE else 1.0) for w, role in zip(batch.sample_mask, roles))
    # task-relative advantages: zero mean over the response tokens of each (task, role) group
    # (TRR++ whitens each group over its tokens, advantage.weighting = token)
    gids = torch.tensor([r.group_id for r in exp.rollouts])
    ntok = batch.response_mask.sum(-1)
    for g in range(6):
        sel = gids == g
        assert abs(float((seq_adv[sel] * ntok[sel]).sum() / ntok[sel].sum())) < 1e-5


def test_selfplay_never_evaluates_model_output_in_process():
    # The reference trainer eval-ed model output; here only the sandbox runs it.
    root = Path(__file__).resolve().parents[1] / "azr" / "selfplay"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", None) == "re":
                    continue  # re.compile builds a regular expression, it runs nothing
                if isinstance(node.func, ast.Attribute) and node.func.attr == "eval" and not node.args:
                    continue  # torch's module.eval() (inference mode), not the builtin
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                assert name not in {"eval", "exec", "compile", "literal_eval", "__import__"}, f"{path.name}: {name}"


def test_a_broken_sandbox_becomes_rewards_not_exceptions():
    sb = Sandbox(ExecutorConfig(timeout_s=1.0))
    sb.close()  # every run now fails inside the executor
    broken = CodeEnv(sb)
    buffers = Buffers()
    buffers.seed_zero()
    exp = collect(cfg_with(), scripted(hostile=False), broken, buffers, step=1)
    props = [r for r in exp.rollouts if r.role is Role.PROPOSE and r.outcome != "format_error"]
    assert props and all(r.outcome == "wrong" and r.reason == "sandbox_error" for r in props)
    solves = [r for r in exp.rollouts if r.role is Role.SOLVE and r.task_type is not TaskType.DEDUCTION]
    assert solves and not any(r.correct for r in solves)


def test_seeding_from_base_model_proposals(env, caplog):
    from azr.selfplay.bootstrap import seed_buffers

    buffers = Buffers()
    buffers.seed_zero()
    cfg = cfg_with("selfplay.seed_buffer_size=3", "selfplay.max_seed_rounds=2")
    rounds = seed_buffers(cfg, scripted(hostile=False), env, buffers)
    assert len(buffers[TaskType.DEDUCTION]) == 3  # zero triplet + two distinct valid programs
    assert all(e.step in (-1, 0) for t in TaskType for e in buffers[t].entries)
    assert len(buffers[TaskType.ABDUCTION]) == 2 and rounds == 2
    assert "below seed_buffer_size" in caplog.text


def test_exploration_controls_proposer_temperature_and_diversity_penalty(env):
    buffers = Buffers()
    buffers.seed_zero()
    engine = scripted(hostile=False)
    right, wrong = render_solution("deduction", "42"), render_solution("deduction", "0")
    engine.solutions[TaskType.DEDUCTION] = itertools.cycle([right, wrong])  # 0 < s < 1: positive rewards
    cfg = cfg_with("controls.propose_temperature=0.5", "controls.diversity_weight=0.5")
    exp = collect(cfg, engine, env, buffers, step=1)
    assert [p.temperature for _, p in engine.calls] == [0.5, 1.0, 1.0]  # solvers keep the rollout temperature
    ded = [r for r in exp.rollouts if r.group == (TaskType.DEDUCTION, Role.PROPOSE)]
    # proposals 0 and 3 are the same program and input: both are penalised, the unique one is not
    assert ded[0].reward < ded[0].reward_before_diversity
    assert ded[2].reward == ded[2].reward_before_diversity
    assert any(k.startswith("diversity/deduction/") for k in exp.metrics)


def test_exploration_mixing_draws_the_last_share_of_each_group_from_the_explorer(env):
    buffers = Buffers()
    buffers.seed_zero()
    engine, explorer = scripted(hostile=False), scripted(hostile=False)
    cfg = cfg_with("controls.explore_fraction=0.5", "controls.explore_temperature=1.7")
    exp = collect(cfg, engine, env, buffers, step=1, explorer=explorer)
    # explorer: 2 of 4 proposer prompts per type, then 2 of 5 solver prompts per type, at 1.7
    assert [len(p) for p, _ in explorer.calls] == [6, 6] and {p.temperature for _, p in explorer.calls} == {1.7}
    assert all(p.temperature == 1.0 for _, p in engine.calls)  # proposer, solve-rate, solver
    for group in GROUPS:
        rows = [r for r in exp.rollouts if r.group == group]
        flags = [r.explore for r in rows]
        k = 2
        assert flags == [False] * (len(rows) - k) + [True] * k, group
        assert [r.off_policy for r in rows] == flags
    # without an explorer the policy engine samples the explored share itself (at 1.7)
    engine2 = scripted(hostile=False)
    buffers2 = Buffers()
    buffers2.seed_zero()
    collect(cfg, engine2, env, buffers2, step=1)
    assert 1.7 in [p.temperature for _, p in engine2.calls]


def test_proposer_rows_at_another_temperature_are_off_policy(env):
    buffers = Buffers()
    buffers.seed_zero()
    exp = collect(cfg_with("controls.propose_temperature=1.3"), scripted(hostile=False), env, buffers, step=1)
    for r in exp.rollouts:
        assert r.off_policy is (r.role is Role.PROPOSE) and r.explore is False


def test_answer_format_setting_reaches_the_solver_grades(env):
    """``selfplay.answer_format``: text between </think> and <answer> is a format error under
    the reference check (-1) and a graded answer under the lenient one."""
    chatty = "the output is 42</think>\nso:\n<answer>\n```output\n42\n```\n</answer>"
    results = {}
    for fmt in ("reference", "lenient"):
        buffers = Buffers()
        buffers.seed_zero()
        buffers[TaskType.DEDUCTION].add(Triplet("def f(a):\n    return a * 2", "21", "42"), 6)
        engine = scripted(hostile=False)
        engine.solutions[TaskType.DEDUCTION] = itertools.cycle([chatty])
        exp = collect(cfg_with(f"selfplay.answer_format={fmt}"), engine, env, buffers, step=7)
        results[fmt] = [r for r in exp.rollouts if r.group == (TaskType.DEDUCTION, Role.SOLVE)]
    assert {r.outcome for r in results["reference"]} == {"format_error"}
    assert all(r.reward == -1.0 for r in results["reference"])
    assert any(r.correct for r in results["lenient"])

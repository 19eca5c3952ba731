"""Self-play pieces that need no model: seeds, per-group statistics, metrics files, progress."""

import io
import json

import pytest

from azr.rollout.types import Completion
from azr.rl.rundir import MetricsWriter, read_metrics, truncate_metrics
from azr.selfplay.progress import Progress
from azr.selfplay.rollouts import Rollout
from azr.selfplay.seeds import derive_seed, rng_for
from azr.selfplay.metrics import entropy_metrics, group_metrics
from azr.tasks.types import GROUPS, Role


def comp(n_tokens: int, text: str = "x") -> Completion:
    return Completion(tuple(range(n_tokens)), text, tuple([-1.0] * n_tokens), "eos", (1, 2))


def test_derived_seeds_are_pure_and_distinct():
    assert derive_seed(0, 3, "propose") == derive_seed(0, 3, "propose")
    assert len({derive_seed(0, s, t) for s in range(5) for t in ("propose", "solve")}) == 10
    assert derive_seed(1, 3, "propose") != derive_seed(0, 3, "propose")
    assert rng_for(0, 1, "a").random() == rng_for(0, 1, "a").random()


def _rollouts():
    out = []
    for k, (task, role) in enumerate(GROUPS):
        facts = (dict(outcome="passable", correct=k % 2 == 1) if role is Role.SOLVE
                 else dict(outcome="passable" if k == 0 else "format_error", solve_rate=0.5 if k == 0 else None))
        out.append(Rollout(task, role, "p", comp(k + 1), reward=float(k), **facts))
    return out


def test_entropy_is_logged_per_group_never_overwritten():
    # The reference code kept only the last sub-batch's entropy for every role.
    rollouts = _rollouts()
    ents = [0.1 * (k + 1) for k in range(6)]
    m = entropy_metrics(rollouts, ents, [len(r.completion.token_ids) for r in rollouts])
    for k, (task, role) in enumerate(GROUPS):
        assert m[f"entropy/{role.value}/{task.value}"] == pytest.approx(ents[k])
    assert m["entropy/overall"] == pytest.approx(sum(ents) / 6)


def test_group_metrics_keys_and_values():
    m = group_metrics(_rollouts())
    for task, role in GROUPS:
        g = f"{role.value}/{task.value}"
        for key in ("reward_mean", "reward_std", "response_length_mean", "response_length_max", "format_error_rate"):
            assert f"{g}/{key}" in m
    assert m["propose/deduction/valid_rate"] == 1.0
    assert m["propose/deduction/solve_rate"] == 0.5
    assert m["propose/abduction/solve_rate"] is None  # no valid proposal: no difficulty
    assert m["solve/deduction/accuracy"] == 1.0
    assert m["propose/abduction/format_error_rate"] == 1.0


def test_metrics_writer_and_truncation(tmp_path):
    w = MetricsWriter(tmp_path, ("jsonl",))
    for step in range(1, 5):
        w.write(step, {"a/b": step * 0.5, "nan": float("nan"), "none": None})
    w.close()
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 5, "a/b"')  # a line torn by SIGKILL
    truncate_metrics(tmp_path / "metrics.jsonl", 2)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[1] == {"step": 2, "a/b": 1.0, "nan": None, "none": None}


def test_missing_optional_sink_is_an_error(tmp_path, monkeypatch):
    """A requested sink whose package is absent stops the run before anything is written (issue 18)."""
    import importlib.util

    from azr.rl.rundir import RunError

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real_find_spec(name, *a))
    with pytest.raises(RunError, match="run.sinks: the 'wandb' sink needs the 'wandb' package"):
        MetricsWriter(tmp_path, ("jsonl", "wandb"))
    assert not (tmp_path / "metrics.jsonl").exists()


def test_progress_line():
    buf = io.StringIO()
    p = Progress(10, 0, stream=buf)
    p.phase(1, "rollout")
    p.done(1, {"time/step": 2.0, "tokens_per_s": 100.0, "propose/deduction/valid_rate": 0.5,
               "solve/abduction/accuracy": 0.25, "val/gen_o/accuracy": 0.1})
    out = buf.getvalue()
    assert "[step 1/10] rollout" in out and "valid d/a/i 0.50/-/-" in out and "gen_o/accuracy=0.10" in out
    assert "ETA" in out


def test_model_path_resolution(tmp_path, tiny_model_dir, caplog):
    from pathlib import Path

    from azr.rl.rundir import BUNDLED_TINY, RunError, resolve_model_path

    def cfg(path):
        return str(path)

    assert resolve_model_path(cfg(tiny_model_dir), tmp_path) == str(tiny_model_dir)
    assert resolve_model_path(cfg("Qwen/Qwen2.5-Coder-3B"), tmp_path) == "Qwen/Qwen2.5-Coder-3B"
    with pytest.raises(RunError, match="model.path is empty"):
        resolve_model_path(cfg(""), tmp_path)
    with pytest.raises(RunError, match="no model folder"):
        resolve_model_path(cfg(tmp_path / "nope"), tmp_path)
    bundled = Path(__file__).resolve().parents[1] / BUNDLED_TINY
    if (bundled / "config.json").is_file():
        assert resolve_model_path(cfg(BUNDLED_TINY), tmp_path) == str(bundled)
    else:  # the fallback: a random tiny model built once in the run dir, with a clear warning
        path = resolve_model_path(cfg(BUNDLED_TINY), tmp_path)
        assert path == str(tmp_path / "base_model") and (tmp_path / "base_model" / "config.json").is_file()
        assert "RANDOM-INITIALISED" in caplog.text
        assert resolve_model_path(cfg(BUNDLED_TINY), tmp_path) == path

"""Issue 18: a user's mistake fails early, in one line, with exit 2, and loses nothing.

One test (or a small group) per finding of the issue's first list. Each asserts the message,
the exit code, and that the run directory is as it was (not created; or its files
byte-identical, ``train.log`` aside where a run was opened). One module-scoped run (2 tiny
self-play steps, a checkpoint after each) is copied for the tests that need a run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azr.cli import EXIT_BROKEN_PIPE, main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "models" / "azr-tiny"
SMALL = ["--set", "selfplay.propose_batch=2", "--set", "selfplay.solve_batch=2",
         "--set", "selfplay.learnability_samples=2", "--set", "rollout.max_new_tokens=16",
         "--set", "selfplay.val_every=0", "--set", "checkpoint.every=1", "--set", "run.data_dir="]


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (``skip``: names left out, e.g. train.log)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in skip}


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch):
    monkeypatch.delenv("AZR_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def model_path(tiny_model_dir) -> str:
    """The bundled model by its relative name when present (what the presets use), else a tiny one."""
    return "models/azr-tiny" if (BUNDLED / "config.json").is_file() else str(tiny_model_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, model_path) -> Path:
    run = tmp_path_factory.mktemp("trained") / "run"
    old = os.environ.pop("AZR_DATA_DIR", None)
    try:
        assert main(["train", "--preset", "tiny", "--steps", "2", "--run-dir", str(run),
                     "--set", f"model.path={model_path}", *SMALL]) == 0
    finally:
        if old is not None:
            os.environ["AZR_DATA_DIR"] = old
    return run


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(trained, dst)
    return dst


# 1. impossible values pass the checker ------------------------------------------------------

@pytest.mark.parametrize("setting, key", [("rollout.temperature=-1", "rollout.temperature"),
                                          ("rollout.top_p=2", "rollout.top_p"),
                                          ("loss.clip_low=1.5", "loss.clip_low"),
                                          ("rollout.temperature=0", "rollout.temperature"),
                                          ("selfplay.propose_batch=0", "selfplay.propose_batch")])
def test_impossible_values_refused_before_anything_exists(tmp_path, capsys, setting, key):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", setting]) == 2
    line = one_line(capsys.readouterr().err)
    assert key in line
    assert not run.exists()


@pytest.mark.parametrize("option, value, text", [("--temperature", "-1", "--temperature"), ("--top-p", "2", "--top-p"),
                                                 ("--limit", "0", "--limit"), ("--n", "0", "n must be >= 1")])
def test_eval_impossible_values_refused_before_anything_exists(tmp_path, capsys, option, value, text):
    out = tmp_path / "out"
    assert main(["eval", "humaneval", "--model", str(BUNDLED), "--output", str(out), option, value]) == 2
    assert text in one_line(capsys.readouterr().err)
    assert not out.exists()


# 2. a missing model --------------------------------------------------------------------------

def test_missing_model_train_and_eval(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", "model.path=/does/not/exist"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "model.path" in line and "/does/not/exist" in line
    assert not run.exists()

    folder = tmp_path / "not_a_model"
    folder.mkdir()
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", f"model.path={folder}"]) == 2
    assert "config.json" in one_line(capsys.readouterr().err)
    assert not run.exists()

    out = tmp_path / "eval_out"
    assert main(["eval", "humaneval", "--model", "/nope", "--output", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "--model" in line and "/nope" in line
    assert not out.exists()


# 3. a typo in run.data_dir -------------------------------------------------------------------

def test_data_dir_typo_is_an_error(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", f"run.data_dir={tmp_path / 'dta'}"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "run.data_dir" in line and "dta" in line
    assert not run.exists()
    monkeypatch.setenv("AZR_DATA_DIR", str(tmp_path / "dta"))  # the same typo in the environment
    assert main(["train", "--preset", "tiny", "--run-dir", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "AZR_DATA_DIR" in line and "dta" in line
    assert not run.exists()


# 4. disk full at a checkpoint ----------------------------------------------------------------

def test_disk_full_at_checkpoint_says_so_and_keeps_the_run(run_copy, capsys, monkeypatch):
    import torch

    import azr.rl.checkpoint as ckpt_module

    before = snapshot(run_copy / "checkpoints")
    rows_before = (run_copy / "metrics.jsonl").read_text().splitlines()
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):  # the checkpoint's writes fail as on a full file system
        if "checkpoints" in str(f):
            Path(f).write_bytes(b"partial")  # a torn file, as a real short write leaves
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(ckpt_module.torch, "save", full_disk)
    assert main(["train", "--resume", str(run_copy), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("azr train: disk full while writing checkpoint")
    assert "step_000003" in last and "free there" in last and "--resume" in last
    assert "Traceback" not in err
    assert not [p for p in run_copy.rglob("*") if p.name.startswith((".tmp", ".old", ".LATEST"))]
    assert snapshot(run_copy / "checkpoints") == before  # earlier checkpoints and LATEST intact
    assert (run_copy / "metrics.jsonl").read_text().splitlines()[:2] == rows_before


@pytest.fixture
def small_disk(tmp_path):
    """Mount a tmpfs (root only; skipped elsewhere) and unmount it afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()

    def mount(size_bytes: int) -> Path:
        size = f"{max(1, size_bytes >> 20)}m"
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        return mnt

    yield mount
    if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)  # busy (exiting workers): detach


def test_disk_full_on_a_real_small_file_system(trained, small_disk, capsys):
    """The same run on a tmpfs with room for the run and half a checkpoint: the real writers fail."""
    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())

    need = size(trained) + size(trained / "checkpoints" / "step_000002") // 2
    run = small_disk(need) / "run"
    shutil.copytree(trained, run)
    before = snapshot(run / "checkpoints")
    assert main(["train", "--resume", str(run), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("disk full") == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("azr train: disk full while writing checkpoint") and "MiB free there" in last
    assert not [p for p in run.rglob("*") if p.name.startswith((".tmp", ".old", ".LATEST"))]
    assert snapshot(run / "checkpoints") == before
    assert "disk full" in (run / "train.log").read_text()


def test_disk_full_on_a_metrics_row_keeps_the_file_whole(tmp_path, monkeypatch):
    from azr.rl.rundir import JsonlSink, RunError

    sink = JsonlSink(tmp_path / "metrics.jsonl")
    sink.write(1, {"a": 1.0})

    class FullFile:
        def __init__(self, fh):
            self.fh = fh

        def tell(self):
            return self.fh.tell()

        def write(self, text):
            self.fh.write(text[:5])  # part of the row reaches the disk
            self.fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def truncate(self, size):
            return self.fh.truncate(size)

    monkeypatch.setattr(sink, "_fh", FullFile(sink._fh))
    with pytest.raises(RunError, match=r"disk full while writing the metrics row of step 2 .* free there"):
        sink.write(2, {"a": 2.0})
    sink._fh.fh.close()
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1]


# 5. a truncated newest checkpoint ------------------------------------------------------------

def test_resume_uses_the_newest_checkpoint_that_loads(run_copy, capsys):
    weights = run_copy / "checkpoints" / "step_000002" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert main(["train", "--resume", str(run_copy), "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert "skipping checkpoint" in err and "step_000002" in err and "SafetensorError" in err
    assert "resuming from step_000001" in err
    log = (run_copy / "train.log").read_text()
    assert "skipping checkpoint" in log and "resumed from" in log
    rows = [json.loads(x)["step"] for x in (run_copy / "metrics.jsonl").read_text().splitlines()]
    assert rows == [1, 2]
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as fh:  # step 2 was written again, whole
        assert len(list(fh.keys())) > 0


def test_resume_with_no_loadable_checkpoint_changes_nothing(run_copy, capsys):
    for step in ("step_000001", "step_000002"):
        w = run_copy / "checkpoints" / step / "model.safetensors"
        w.write_bytes(w.read_bytes()[:100])
    before = snapshot(run_copy, skip=("train.log",))
    assert main(["train", "--resume", str(run_copy)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("azr train: --resume: no checkpoint in") and "step_000001" in last and "step_000002" in last
    assert snapshot(run_copy, skip=("train.log",)) == before


# 6. a resume with a changed setting ----------------------------------------------------------

def test_resume_records_config_history_and_changed_keys(run_copy, capsys):
    first = (run_copy / "config_history" / "000_step000000.yaml").read_bytes()
    assert main(["train", "--resume", str(run_copy), "--steps", "3", "--set", "selfplay.propose_batch=3"]) == 0
    import yaml

    hist = sorted((run_copy / "config_history").iterdir())
    assert [p.name for p in hist] == ["000_step000000.yaml", "001_step000002.yaml"]
    assert hist[0].read_bytes() == first  # the record of steps 1-2 is untouched
    entry = yaml.safe_load(hist[1].read_text())
    assert entry["resumed"] is True and entry["step"] == 2
    entry["changed"].pop("run.run_dir")  # the run was copied to another folder
    assert entry["changed"] == {"selfplay.propose_batch": [2, 3], "selfplay.steps": [2, 3]}
    assert yaml.safe_load(first)["config"]["selfplay"]["propose_batch"] == 2
    assert "selfplay.propose_batch: 2 -> 3" in (run_copy / "train.log").read_text()


@pytest.mark.parametrize("command, recorded", [("rlvr", None), ("sft", "rlvr"), ("train", "sft")])
def test_resume_by_the_wrong_command_is_refused(trained, tmp_path, capsys, command, recorded):
    import yaml

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    if recorded is not None:  # the config.yaml of an RLVR / SFT run
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        cfg.update({"baseline": recorded, "rlvr": {}, "sft": {}})
        (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    before = snapshot(run)
    assert main([command, "--resume", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    expected = {None: "azr train", "rlvr": "azr rlvr", "sft": "azr sft"}[recorded]
    assert f"use `{expected} --resume {run}`" in line
    assert snapshot(run) == before


# 7. a run directory with metric rows but no checkpoint ---------------------------------------

def test_fresh_run_refuses_to_replace_metrics_without_checkpoint(trained, tmp_path, capsys, model_path):
    run = tmp_path / "half"
    run.mkdir()
    shutil.copy(trained / "config.yaml", run / "config.yaml")
    shutil.copy(trained / "metrics.jsonl", run / "metrics.jsonl")
    before = snapshot(run)
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", f"model.path={model_path}"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "2 metric rows but no checkpoint" in line and "run.overwrite=true" in line
    assert snapshot(run) == before


# 8. train.log, wandb run id, missing sinks ---------------------------------------------------

def test_train_log_has_every_step_line(trained):
    log = (trained / "train.log").read_text()
    assert "[step 1/2]" in log and "[step 2/2]" in log


def test_requested_sink_that_is_missing_is_an_error(tmp_path, capsys, model_path):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--run-dir", str(run), "--set", f"model.path={model_path}",
                 "--set", "run.sinks=[jsonl, wandb]"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "run.sinks" in line and "wandb" in line and "not installed" in line
    assert not run.exists()


def test_wandb_run_id_is_kept_across_resumes(tmp_path, monkeypatch):
    """The W&B service is replaced by a recorder (no network here); the sink's own logic is real."""
    import types

    from azr.rl.rundir import WANDB_ID_FILE, WandbSink

    calls = []
    fake = types.ModuleType("wandb")
    fake.util = types.SimpleNamespace(generate_id=lambda: f"id{len(calls)}")
    fake.init = lambda **kw: calls.append(kw) or types.SimpleNamespace(log=lambda *a, **k: None, finish=lambda: None)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    WandbSink(tmp_path, "proj", {}).close()
    WandbSink(tmp_path, "proj", {}).close()  # the resume
    assert calls[0]["id"] == calls[1]["id"] == (tmp_path / WANDB_ID_FILE).read_text().strip()
    assert calls[1]["resume"] == "allow"


# 9. report from another directory; figures ---------------------------------------------------

def test_report_from_another_directory_finds_the_bundled_model(trained, tmp_path, monkeypatch):
    if not (BUNDLED / "config.json").is_file():
        pytest.skip("models/azr-tiny is absent")
    from azr.analysis.report import build_report

    monkeypatch.chdir(tmp_path)
    _, figures = build_report([trained], output=tmp_path / "rep", only=["sparsity"])
    (fig,) = figures
    assert fig.file == "sparsity.png", fig.missing
    assert "base model -> step 2" in fig.caption


def test_step_axes_are_whole_numbers():
    from azr.analysis import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots()
    plots._line(ax, ([1, 2], [0.25, 0.5], [0.0, 0.1], [0.7, 0.9]))
    plots._integer_steps(ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    plt.close(fig)
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_rates_carry_n_and_interval_and_sft_has_no_proposer(trained, tmp_path):
    import yaml

    from azr.analysis.report import build_report, rate_curve, wilson_interval

    lo, hi = wilson_interval(0.25, 4)
    assert 0.0 < lo < 0.25 < hi < 1.0
    steps, vals, lows, highs, ns = rate_curve([{"step": 1, "a": 0.5, "n": 4}, {"step": 2, "a": 0.5}], "a", "n")
    assert steps == [1] and ns == [4] and lows[0] < 0.5 < highs[0]

    sft = tmp_path / "sft-run"
    shutil.copytree(trained, sft)
    cfg = yaml.safe_load((sft / "config.yaml").read_text())
    cfg["baseline"] = "sft"
    (sft / "config.yaml").write_text(yaml.safe_dump(cfg))
    index, figures = build_report([trained, sft], output=tmp_path / "rep", only=["training", "rewards"])
    training = next(f for f in figures if f.key == "training")
    assert "n per point = 2" in training.caption and "Wilson 95% interval" in training.caption
    page = index.read_text()
    row = next(r.split("</tr>")[0] for r in page.split("<tr>") if "sft-run" in r)
    assert "<td>sft</td>" in row and "learnability" not in row


# 10. eval compare labels, broken pipes, eval data errors, SFT progress ------------------------

def test_eval_compare_labels_columns_by_run(tmp_path, capsys):
    for name, c in (("runA", 1), ("runB", 3)):
        d = tmp_path / name / "eval"
        d.mkdir(parents=True)
        per = [{"task_id": f"t{i}", "n": 4, "c": c} for i in range(3)]
        (d / "summary.json").write_text(json.dumps({"benchmark": "humaneval", "n": 4, "pass@k": {"1": c / 4},
                                                    "per_problem": per}))
    assert main(["eval", "compare", str(tmp_path / "runA/eval/summary.json"),
                 str(tmp_path / "runB/eval/summary.json")]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1]
    assert "runA/eval" in header and "runB/eval" in header and "summary" not in header


def test_eval_data_error_exits_2(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main(["eval", "humaneval", "--samples", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path / "data")]) == 2
    assert "samples file not found" in one_line(capsys.readouterr().err)


def test_broken_pipe_exits_quietly(trained):
    """`azr analyze sparsity A B --json | head` with the reader already gone."""
    ckpts = trained / "checkpoints"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "azr", "analyze", "sparsity", str(ckpts / "step_000001"),
                             str(ckpts / "step_000002"), "--json"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader exits before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_sft_progress_shows_loss_and_tokens_per_second():
    from azr.selfplay.progress import step_line

    line = step_line(3, 10, {"time/step": 0.5, "tokens_per_s": 1234.0, "loss/nll": 2.5, "sft/kept": 4}, "4s")
    assert "1234 tok/s" in line and "loss 2.5000" in line and "valid" not in line

"""Triplet datasets for the RLVR/SFT baselines: loading, de-duplication, benchmark refusal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from azr.baselines.dataset import (
    BenchmarkRefused,
    DatasetError,
    load_dataset,
    parse_record,
    write_dataset,
)
from azr.tasks import ZERO_TRIPLET, InductionTask, TaskType, Triplet, parse_solution

BENCH = Path("/work/shared/data/benchmarks")

DED = {"type": "deduction", "program": "def f(a):\n    return a * 2", "input": "3", "output": "6"}
ABD = {"type": "abduction", "program": "def f(s):\n    return s[::-1]", "input": "'ab'", "output": "'ba'"}
IND = {"type": "induction", "program": "def f(n):\n    return n + 1", "inputs": ["1", "2", "3", "4"],
       "outputs": ["2", "3", "4", "5"], "message": "adds one", "hash": "x", "step": 4}


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_parse_records_of_each_type_and_reference_answers():
    ded, abd, ind = parse_record(DED), parse_record(ABD), parse_record(IND)
    assert ded.task == Triplet("def f(a):\n    return a * 2", "3", "6")
    assert isinstance(ind.task, InductionTask) and ind.step == 4 and len(ind.task.hidden) == 2
    assert [p.reference_answer() for p in (ded, abd, ind)] == ["6", "'ab'", IND["program"]]
    for p in (ded, abd, ind):
        # The SFT target parses back to the reference answer with the self-play parser.
        parsed = parse_solution(p.task_type, p.reference_completion())
        assert parsed.ok and parsed.answer == p.reference_answer().strip()
        assert "User:" in p.prompt()


@pytest.mark.parametrize(
    "rec, msg",
    [
        ({"type": "proposal", "program": "x"}, "'type' must be one of"),
        ({"type": "deduction", "program": "def f(a): return a", "input": "1"}, "lacks output"),
        ({"type": "deduction", "program": "def f(a): return a", "input": 1, "output": "1"}, "must be a string"),
        ({**IND, "outputs": ["2"]}, "inputs but 1 outputs"),
        ({**IND, "inputs": ["1"], "outputs": ["2"]}, "at least 2 pairs"),
        ({**DED, "program": "   "}, "empty program"),
        ({**DED, "step": "3"}, "'step' must be an integer"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_malformed_records_are_rejected_with_reason(rec, msg):
    with pytest.raises(DatasetError, match=msg):
        parse_record(rec, "f.jsonl:7")


def test_load_dedups_filters_and_round_trips(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [DED, ABD, DED, IND, {**DED, "type": "abduction"}])
    probs = load_dataset(f)
    assert [p.task_type.value for p in probs] == ["deduction", "abduction", "induction", "abduction"]
    assert [p.task_type for p in load_dataset(f, task_types=["induction"])] == [TaskType.INDUCTION]
    out = write_dataset(probs, tmp_path / "out" / "copy.jsonl")
    assert load_dataset(out) == probs


def test_run_directory_buffers_are_a_dataset(tmp_path):
    buffers = tmp_path / "run" / "buffers"
    buffers.mkdir(parents=True)
    zero = {"hash": ZERO_TRIPLET.content_hash, "step": 0, "type": "deduction", **ZERO_TRIPLET.to_dict()}
    write_jsonl(buffers / "deduction.jsonl", [zero, DED])
    write_jsonl(buffers / "induction.jsonl", [IND])
    probs = load_dataset(tmp_path / "run")
    assert {p.task_type for p in probs} == {TaskType.DEDUCTION, TaskType.INDUCTION} and len(probs) == 3


def test_bad_files_give_line_numbers(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(DED) + "\n\n{not json\n")
    with pytest.raises(DatasetError, match=r"bad.jsonl:3: malformed JSON"):
        load_dataset(f)
    with pytest.raises(DatasetError, match="no such dataset"):
        load_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(DatasetError, match="no problems of type"):
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [DED]), task_types=["induction"])


@pytest.mark.skipif(not (BENCH / "cruxeval" / "cruxeval.jsonl").is_file(), reason="benchmark data absent")
def test_benchmark_files_are_refused_unless_forced(tmp_path):
    # 1) a byte-identical copy of a benchmark file, outside the data directory: sha256 match.
    copy = tmp_path / "renamed.jsonl"
    shutil.copy(BENCH / "cruxeval" / "cruxeval.jsonl", copy)
    with pytest.raises(BenchmarkRefused, match="sha256 match"):
        load_dataset(copy, data_dir=BENCH)
    # 2) CRUXEval programs converted to our triplet format (different bytes): content match.
    recs = [json.loads(l) for l in (BENCH / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()[:5]]
    converted = write_jsonl(tmp_path / "conv.jsonl", [
        {"type": "deduction", "program": "  " + r["code"].replace("\n", "\n\n"), "input": r["input"],
         "output": r["output"]} for r in recs] + [DED])
    with pytest.raises(BenchmarkRefused, match="5 of 6 problems use CRUXEval programs"):
        load_dataset(converted, data_dir=BENCH)
    assert len(load_dataset(converted, data_dir=BENCH, force=True)) == 6
    # 3) a file inside the data directory itself.
    with pytest.raises(BenchmarkRefused):
        load_dataset(BENCH / "cruxeval" / "cruxeval.jsonl", data_dir=BENCH)
    # Our own data passes.
    assert len(load_dataset(write_jsonl(tmp_path / "ok.jsonl", [DED]), data_dir=BENCH)) == 1


def test_refusal_by_hash_works_without_a_data_directory(tmp_path):
    gz = BENCH / "humaneval" / "HumanEval.jsonl.gz"
    if not gz.is_file():
        pytest.skip("benchmark data absent")
    copy = tmp_path / "he.jsonl"
    shutil.copy(gz, copy)
    with pytest.raises(BenchmarkRefused, match="humaneval/HumanEval.jsonl.gz"):
        load_dataset(copy, data_dir=tmp_path / "nowhere")


def test_baseline_prompts_follow_the_selfplay_template_set():
    """RLVR/SFT prompt with ``selfplay.template_set`` (azr-tiny was pretrained on the tiny set)."""
    from azr.baselines.dataset import Problem
    from azr.tasks.prompts import solver_prompt
    from azr.tasks.types import TaskType, Triplet

    p = Problem(TaskType.DEDUCTION, Triplet("def f(a):\n    return a + 1", "1", "2"))
    assert p.prompt("tiny") == solver_prompt(TaskType.DEDUCTION, p.task, template_set="tiny")
    assert p.prompt("tiny") != p.prompt("reference")


def test_generated_dataset_output_check_never_raises_on_odd_reports():
    """An output whose repr has an unhashable key is rejected, not a TypeError."""
    from azr.baselines.generated import _literal_ok

    assert _literal_ok("{[1]: 2}", 100) is False
    assert _literal_ok("[1, 2]", 100) is True
    assert _literal_ok("[1, 2]", 3) is False

"""Corpus building and decontamination of the azr-tiny pretraining pipeline (torch-free)."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from azr.executor import ExecutorConfig, Sandbox
from azr.pretrain.config import CorpusConfig
from azr.pretrain.corpus import build_corpus, build_episodes, execute_programs, program_episodes, stdlib_documents
from azr.pretrain.decontam import BenchmarkIndex, decontaminate, ngram_hashes, words
from azr.tasks.generator import generate_programs
from azr.tasks.parsing import parse_proposal, parse_solution
from azr.tasks.prompts import ASSISTANT_PREFIX
from azr.tasks.types import Triplet


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(ExecutorConfig(workers=2)) as sb:
        yield sb


def test_generated_programs_are_valid_in_the_sandbox(sandbox):
    progs = generate_programs(60, seed=11, n_inputs=3)
    executed = execute_programs(progs, sandbox)
    ran = [pairs for pairs in executed if len(pairs) == len(progs[0].inputs)]
    assert len(ran) >= 0.9 * len(progs)  # validation: static checks, timeout, determinism across processes
    for pairs in ran[:5]:
        for _, out in pairs:
            assert out and len(out) <= 160


def test_broken_program_yields_no_pairs(sandbox):
    from azr.tasks.generator import GeneratedProgram

    bad = [GeneratedProgram("def f(x):\n    return 1 // 0", ("1",), "f: fails."),
           GeneratedProgram("import random\ndef f(x):\n    return random.random()", ("1",), "f: random."),
           GeneratedProgram("def f(x):\n    return x + 1", ("1", "2"), "f: add one.")]
    out = execute_programs(bad, sandbox)
    assert out[0] == [] and out[1] == []
    assert out[2] == [("1", "2"), ("2", "3")]


def _completion(text: str) -> str:
    return text.split(ASSISTANT_PREFIX, 1)[1]


def test_induction_answers_can_be_the_generated_program():
    prog = generate_programs(1, seed=5)[0]
    pairs = [("1", "2"), ("2", "3")]
    cfg = CorpusConfig(induction_n_inputs=(2,), canonical_solutions=False)
    episodes = dict(program_episodes(prog, pairs, [], random.Random(0), cfg))
    assert parse_solution("induction", _completion(episodes["solve/induction"])).answer == prog.program


def test_episodes_use_the_selfplay_formats_and_round_trip():
    prog = generate_programs(1, seed=5)[0]
    pairs = [("1", "2"), ("2", "3"), ("5", "6")]
    pool = [Triplet("def f(a):\n    return a", "'x'", "'x'"), Triplet("def f(b):\n    return b * 2", "3", "6")]
    rng = random.Random(0)
    episodes = dict(program_episodes(prog, pairs, pool, rng, CorpusConfig(k_references=(2,), induction_n_inputs=(3,))))
    assert set(episodes) >= {"propose/induction", "solve/deduction", "solve/abduction", "solve/induction"}
    assert {"propose/deduction", "propose/abduction"} & set(episodes)
    for group, text in episodes.items():
        role, task = group.split("/")
        assert text.count(ASSISTANT_PREFIX) == 1
        completion = _completion(text)
        if role == "propose":
            parsed = parse_proposal(task, completion, entry_rule="lenient")  # azr-tiny programs have helpers
            assert parsed.ok, (group, parsed.reason)
            if task == "induction":
                assert parsed.inputs == ("1", "2", "5") and parsed.message == prog.message
            else:
                assert parsed.program == prog.program and parsed.input in {"1", "2", "5"}
                assert "# Example 2" in text  # K = 2 references in the prompt
        else:
            parsed = parse_solution(task, completion)
            assert parsed.ok, (group, parsed.reason)
            if task == "induction":  # the canonical spelling, not the generated text
                assert parsed.answer == prog.solution != prog.program
            elif task == "deduction":
                assert parsed.answer in {"2", "3", "6"}
            else:
                assert parsed.answer in {"1", "2", "5"}
    assert program_episodes(prog, pairs[:1], pool, rng, CorpusConfig()) == []  # too few pairs


def test_extra_solver_episodes_come_last_on_other_pairs():
    prog = generate_programs(1, seed=5)[0]
    pairs = [("1", "2"), ("2", "3"), ("5", "6"), ("7", "8")]
    pool = [Triplet("def f(b):\n    return b * 2", "3", "6")]
    base = program_episodes(prog, pairs, pool, random.Random(3), CorpusConfig(solve_episodes=(1, 1, 1)))
    more = program_episodes(prog, pairs, pool, random.Random(3), CorpusConfig(solve_episodes=(3, 2, 2)))
    assert more[:len(base)] == base  # the default draws are unchanged: old corpora stay reproducible
    extra = more[len(base):]
    assert [g for g, _ in extra] == ["solve/deduction"] * 2 + ["solve/abduction"] + ["solve/induction"]
    answers = [parse_solution("deduction", _completion(t)).answer for g, t in more if g == "solve/deduction"]
    assert len(set(answers)) == 3 and set(answers) <= {"2", "3", "6", "8"}  # three different pairs
    assert parse_solution("induction", _completion(extra[-1][1])).answer == prog.solution
    with pytest.raises(ValueError, match="solve_episodes"):
        CorpusConfig(solve_episodes=(1, 0, 1))


def test_build_episodes_skips_duplicates_and_failures():
    progs = generate_programs(3, seed=1)
    progs = [progs[0], progs[0], progs[1], progs[2]]
    executed = [[("1", "1"), ("2", "2")], [("1", "1"), ("2", "2")], [], [("3", "3"), ("4", "4")]]
    texts, counts = build_episodes(progs, executed, CorpusConfig())
    assert counts["skipped_programs"] == 2
    assert counts["solve/deduction"] == 4 and counts["solve/induction"] == 8  # (4, 1, 4) with 2 pairs each
    assert len(texts) == sum(v for k, v in counts.items() if k != "skipped_programs")
    assert texts == build_episodes(progs, executed, CorpusConfig())[0]  # deterministic


def test_stdlib_documents_are_capped_and_seeded():
    a = stdlib_documents(20_000, seed=0)
    assert a and sum(map(len, a)) < 20_000 + 10_000
    assert a == stdlib_documents(20_000, seed=0)
    assert a != stdlib_documents(20_000, seed=1)


def test_ngrams_and_decontamination():
    assert words("def f(x): return x+1") == ["def", "f", "(", "x", ")", ":", "return", "x", "+", "1"]
    assert ngram_hashes("a b c", 13) == set()
    bench = "def secret_function(values): return [v * 17 for v in values if v % 3 == 1]"
    index = BenchmarkIndex.from_texts([bench], n=13)
    clean = "def f(x):\n    return x + 1\n"
    dirty = "# copied\n" + bench.replace(" ", "  ")  # whitespace changes do not hide an overlap
    partial = "def secret_function(values): return [v * 17"  # fewer than 13 shared words
    kept, report = decontaminate([clean, dirty, partial], index)
    assert kept == [clean, partial]
    assert report.documents_dropped == 1 and report.chars_dropped == len(dirty) and report.documents_in == 3


def test_benchmark_index_reads_json_jsonl_and_gz(tmp_path):
    text = "for i in range ( 10 ) : total = total + i * i - 1 # a long enough line"
    (tmp_path / "a").mkdir()
    with gzip.open(tmp_path / "a" / "x.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"prompt": text, "n": 3}) + "\n")
    (tmp_path / "b.json").write_text(json.dumps([{"code": ["nested", "other words here that are many enough to count ok yes"]}]))
    (tmp_path / "LICENSE").write_text(text)
    index = BenchmarkIndex.from_data_dir(tmp_path, n=13)
    assert index.files == ["a/x.jsonl.gz", "b.json"]
    assert index.overlaps("prefix " + text)
    assert not index.overlaps("for i in range(10): pass")
    with pytest.raises(FileNotFoundError):
        BenchmarkIndex.from_data_dir(tmp_path / "missing")


def test_build_corpus_small(sandbox):
    cfg = CorpusConfig(n_programs=12, n_inputs=3, stdlib_fraction=0.2)
    bench = BenchmarkIndex.from_texts(["unrelated benchmark text " * 10], n=13)
    docs, stats = build_corpus(cfg, sandbox, bench)
    assert stats["programs"] == 12 and stats["programs_ran"] >= 10
    assert stats["decontamination"]["documents_in"] == len(docs) + stats["decontamination"]["documents_dropped"]
    assert stats["stdlib_documents"] >= 1
    assert sum(v for k, v in stats["episodes"].items() if k.startswith("solve/")) >= 30
    assert any(d.startswith("A conversation") for d in docs)

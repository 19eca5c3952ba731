"""The run config: presets, YAML files, --set overrides, clear errors, round trip."""

import pytest

from azr.config import (
    Config,
    ConfigError,
    apply_overrides,
    from_dict,
    preset_data,
    preset_names,
    read_config,
    save_config,
    to_dict,
)


def build(overrides, data=None):
    return from_dict(Config, apply_overrides(data or {}, overrides, Config))


def test_presets_exist_and_parse():
    assert {"tiny", "coder3b", "coder7b"} <= set(preset_names())
    for name in preset_names():
        cfg = from_dict(Config, preset_data(name))
        assert cfg.rollout.temperature == 1.0
    paper = from_dict(Config, preset_data("coder7b"))
    assert paper.selfplay.propose_batch == 64 and paper.selfplay.n_references == 6
    assert paper.selfplay.learnability_samples == 8 and paper.optim.lr == 1e-6
    assert paper.advantage.estimator == "trr++" and paper.selfplay.val_every == 10


def test_overrides_are_typed():
    cfg = build(["optim.lr=1e-5", "selfplay.steps=3", "model.path=007", "rollout.stop=[</answer>]",
                 "selfplay.train_propose=false", "loss.dual_clip=null"])
    assert cfg.optim.lr == 1e-5 and cfg.selfplay.steps == 3
    assert cfg.model.path == "007"  # a string field keeps the raw text
    assert cfg.rollout.stop == ("</answer>",)
    assert cfg.selfplay.train_propose is False and cfg.loss.dual_clip is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "no key 'lrr'"),
        ("nosuch.x=1", "no key 'nosuch'"),
        ("selfplay.steps=abc", "expected an integer"),
        ("selfplay.steps=1.5", "expected an integer"),
        ("selfplay.train_propose=3", "expected true/false"),
        ("selfplay.steps=0", "must be >= 1"),
        ("selfplay.cap_policy=lifo", "not one of"),
        ("model.dtype=float8", "dtype must be one of"),
        ("reward.target_rate=1.5", "target_rate"),
        ("selfplay.min_induction_pairs=20", "min_induction_pairs"),
        ("optim.lr", "expected key=value"),
        ("run.sinks=foo", "expected a list"),
    ],
)
def test_bad_configs_rejected_with_clear_messages(override, message):
    with pytest.raises(ConfigError, match=message):
        build([override])


def test_unknown_yaml_key_rejected():
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(Config, {"selfplay": {"stepz": 3}})
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_dict(Config, {"selfplay": 3})


def test_impossible_sizes_rejected():
    with pytest.raises(ConfigError, match="buffer_cap"):
        build(["selfplay.buffer_cap=4", "selfplay.seed_buffer_size=10"])


def test_roundtrip_through_yaml(tmp_path):
    cfg = build(["optim.lr=3e-6", "selfplay.val_sets=[cruxeval_o]"], preset_data("tiny"))
    save_config(cfg, tmp_path / "config.yaml")
    assert read_config(tmp_path / "config.yaml") == cfg
    assert to_dict(cfg)["optim"]["betas"] == [0.9, 0.999]


def test_config_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, azr.config, azr.selfplay.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pretrain_reads_config_files_and_set_overrides_with_the_same_loader(tmp_path, capsys):
    import argparse

    from azr.cli import main
    from azr.pretrain.cli import _build_config, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    f = tmp_path / "p.yaml"
    f.write_text("train:\n  batch_size: 3\ncorpus:\n  solve_episodes: [2, 1, 2]\n")
    cfg = _build_config(parser.parse_args(["pretrain", "--threads", "1", "--config", str(f),
                                           "--set", "train.lr=2e-3", "--set", "model.num_hidden_layers=2"]))
    assert cfg.train.threads == 1 and cfg.train.batch_size == 3 and cfg.train.lr == 2e-3
    assert cfg.corpus.solve_episodes == (2, 1, 2) and cfg.model.num_hidden_layers == 2
    assert main(["pretrain", "--set", "train.nope=1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "known keys" in err and not (tmp_path / "m").exists()

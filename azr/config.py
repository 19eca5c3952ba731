"""The run configuration: one typed, frozen tree composed of every subsystem's section.

``Config`` holds the sections (each defined once, by the subsystem that owns it); presets
(``azr/presets/*.yaml``), a YAML file and ``--set key=value`` overrides are merged in that
order and checked before anything runs (``load_config``). The resolved config is written to
the run directory as ``config.yaml`` and read back by ``--resume`` and the analysis tools.

The construction is generic and torch-free: ``from_dict(cls, data)`` builds any (nested) frozen dataclass,
checking every key and every value's type against the annotations, and raises
``ConfigError`` with the dotted path of the offending field. Supported field types: ``int``,
``float`` (ints accepted), ``bool``, ``str``, ``X | None``, ``Literal[...]``, ``Enum``,
``tuple[T, ...]``, and nested dataclasses. Each dataclass's own ``__post_init__`` checks its
value ranges; its ``ValueError`` is re-raised as a ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from azr.distributed.config import DistributedConfig
from azr.executor.config import ExecutorConfig
from azr.rl.config import AdvantageConfig, CheckpointConfig, LossConfig, OptimConfig
from azr.rollout.config import ModelConfig, RolloutConfig
from azr.selfplay.config import ControlsConfig, RewardConfig, RunConfig, SelfPlayConfig


class ConfigError(ValueError):
    """A config that cannot run: unknown key, wrong type, impossible value."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked (and minimally converted) to type ``tp``; ConfigError otherwise."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{path}: null is not allowed (expected {_type_name(tp)})")
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(opt, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} matches none of {_type_name(tp)}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: {value!r} is not one of {list(allowed)}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{k}]") for k, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{k}]") for k, (a, v) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping for section {tp.__name__}, got {value!r}")
        return from_dict(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"{path}: {value!r} is not one of {[m.value for m in tp]}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-6" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    raise ConfigError(f"{path}: unsupported field type {_type_name(tp)}")


def from_dict(cls: type, data: dict, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; missing keys keep their defaults."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = path or "config"
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; known keys: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{path}.{name}" if path else name)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path or cls.__name__}: {e}") from None


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) of a dataclass tree, ready for YAML/JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value); the value is read as YAML ("3", "true", "[1, 2]")."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set {item!r}: empty key component")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return keys, value


def apply_overrides(data: dict, overrides: list[str], cls: type) -> dict:
    """A copy of ``data`` with each ``key=value`` set at its dotted path.

    Keys are checked against the dataclass tree of ``cls`` so that a typo fails here with
    the list of known keys. String fields receive the raw text (``model.path=007`` stays a
    string). Types are checked later, by ``from_dict``.
    """
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node, tp = out, cls
        for depth, k in enumerate(keys):
            fields = {f.name: f for f in dataclasses.fields(tp)} if dataclasses.is_dataclass(tp) else {}
            where = ".".join(keys[:depth]) or "config"
            if k not in fields:
                raise ConfigError(f"--set {item}: {where} has no key {k!r}; known keys: {sorted(fields)}")
            ftype = typing.get_type_hints(tp)[k]
            if depth == len(keys) - 1:
                if ftype is str or (get_origin(ftype) in (Union, types.UnionType) and str in get_args(ftype)
                                    and value is not None):
                    value = item.split("=", 1)[1]
                node[k] = value
            else:
                node = node.setdefault(k, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"--set {item}: {'.'.join(keys[:depth + 1])} is not a section")
                tp = ftype
    return out


def load_yaml(path: str) -> dict:
    """A YAML mapping from ``path`` (an empty file is an empty mapping)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def merge(base: dict, update: dict) -> dict:
    """Recursive merge of two section mappings (``update`` wins)."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


# ----------------------------------------------------------------------------- the tree

PRESET_DIR = Path(__file__).resolve().parent / "presets"


@dataclass(frozen=True)
class Config:
    """Everything a self-play run needs; each section is owned by one subsystem."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The policy model (``azr.rollout``)."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling settings (``azr.rollout``)."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    """The sandbox (``azr.executor``)."""
    advantage: AdvantageConfig = field(default_factory=AdvantageConfig)
    """Advantage estimator (``azr.rl``; AZR: TRR++)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Policy loss (``azr.rl``)."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimiser and micro-batching (``azr.rl``)."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Checkpoint cadence and history (``azr.rl``)."""
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    """The self-play loop."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Proposer and solver rewards."""
    run: RunConfig = field(default_factory=RunConfig)
    """Run directory, seed, metric sinks."""
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    """Exploration controls of the study (proposer temperature, diversity penalty; off by
    default); self-play uses ``propose_temperature`` and ``diversity_*``."""
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    """Data-parallel strategy of the update under ``--nproc`` (``azr.distributed``: ddp | fsdp)."""



def check_registries(cfg: Config) -> None:
    """Names that select an algorithm must exist in its registry (imports torch)."""
    from azr.rl.advantages import ADVANTAGE_ESTIMATORS
    from azr.rl.losses import POLICY_LOSSES
    from azr.selfplay.rewards import PROPOSER_REWARDS

    for what, name, registry in (
        ("advantage.estimator", cfg.advantage.estimator, ADVANTAGE_ESTIMATORS),
        ("loss.policy_loss", cfg.loss.policy_loss, POLICY_LOSSES),
        ("reward.proposer", cfg.reward.proposer, PROPOSER_REWARDS),
    ):
        if name not in registry:
            raise ConfigError(f"{what}: unknown {name!r}; known: {sorted(registry)}")


def check_values(cfg: Config, need_model: bool = True) -> None:
    """Ranges that span sections or that the training code needs beyond a section's own checks,
    and the paths that must exist (the model folder with its ``config.json``, an explicit data
    directory, a behaviour model); each error names its key. Torch-free, creates nothing.
    ``need_model=False`` (a resume that has checkpoints) skips the base model's path."""
    from azr.rl.rundir import DATA_DIR_ENV, model_path_problem

    if not cfg.rollout.temperature > 0:
        raise ConfigError(f"rollout.temperature: must be > 0 for training (the update divides the logits by it; "
                          f"greedy decoding, 0, is for evaluation only), got {cfg.rollout.temperature}")
    if cfg.controls.propose_temperature is not None and not cfg.controls.propose_temperature > 0:
        raise ConfigError(f"controls.propose_temperature: must be > 0 (or null), got {cfg.controls.propose_temperature}")
    loss = cfg.loss
    if not 0.0 <= loss.clip_low < 1.0:
        raise ConfigError(f"loss.clip_low: must be in [0, 1) (the ratio is clipped below at 1 - clip_low), "
                          f"got {loss.clip_low}")
    if not loss.clip_high >= 0:
        raise ConfigError(f"loss.clip_high: must be >= 0, got {loss.clip_high}")
    if cfg.optim.grad_clip is not None and not cfg.optim.grad_clip > 0:
        raise ConfigError(f"optim.grad_clip: must be > 0 (or null to disable), got {cfg.optim.grad_clip}")
    if not cfg.optim.lr > 0:
        raise ConfigError(f"optim.lr: must be > 0, got {cfg.optim.lr}")
    if not cfg.run.run_dir.strip():
        raise ConfigError("run.run_dir: is empty")
    problem = model_path_problem(cfg.model.path, "model.path") if need_model else None
    if problem is not None:
        raise ConfigError(problem)
    if cfg.controls.explore_model:
        problem = model_path_problem(cfg.controls.explore_model, "controls.explore_model")
        if problem is not None:
            raise ConfigError(problem)
    if cfg.run.data_dir and not Path(cfg.run.data_dir).expanduser().is_dir():
        raise ConfigError(f"run.data_dir: no such directory {cfg.run.data_dir} (leave it empty to use "
                          f"{DATA_DIR_ENV} or the default data directory)")
    env_dir = os.environ.get(DATA_DIR_ENV, "")
    if not cfg.run.data_dir and env_dir and not Path(env_dir).expanduser().is_dir():
        raise ConfigError(f"run.data_dir is empty and {DATA_DIR_ENV}={env_dir} is no directory: correct or unset "
                          f"{DATA_DIR_ENV}, or set run.data_dir")


def preset_names() -> list[str]:
    """Names of the bundled presets (``azr/presets/<name>.yaml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if "." not in p.stem)  # not tiny.baselines.yaml


def preset_data(name: str) -> dict:
    """The raw mapping of a bundled preset."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; known presets: {preset_names()}")
    return load_yaml(str(path))


def load_config(
    preset: str | None = None,
    config_file: str | None = None,
    overrides: typing.Sequence[str] = (),
    *,
    cls: type = Config,
    overlay: typing.Callable[[dict], dict] | None = None,
) -> Any:
    """Defaults <- preset <- ``overlay(preset data)`` <- YAML file <- ``key=value`` overrides,
    checked as one ``cls`` tree (``Config`` or a subclass; ``overlay``: a command's own
    settings on top of the preset, e.g. ``azr rlvr``'s).

    Raises ``ConfigError`` (unknown key, wrong type, impossible value, a model folder or data
    directory that does not exist) before anything runs (``check_values``).
    """
    data: dict = preset_data(preset) if preset else {}
    if overlay is not None:
        data = merge(data, overlay(data))
    if config_file:
        data = merge(data, load_yaml(config_file))
    data = apply_overrides(data, list(overrides), cls)
    cfg = from_dict(cls, data)
    check_registries(cfg)
    check_values(cfg)
    return cfg


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved config (every field of every section) as YAML, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def read_config(path: str | os.PathLike) -> Config:
    """Read a resolved ``config.yaml`` back (e.g. from a run directory)."""
    return from_dict(Config, load_yaml(str(path)))


#: The command that continues a run of each kind (``baseline`` in config.yaml; absent: self-play).
RESUME_COMMANDS = {"self-play": "azr train", "rlvr": "azr rlvr", "sft": "azr sft"}


def run_kind(data: dict) -> str:
    """"self-play", "rlvr" or "sft": the kind of run a config mapping describes."""
    kind = data.get("baseline")
    return kind if kind in ("rlvr", "sft") else "self-play"


def load_resume_config(run_dir: str | os.PathLike, overrides: typing.Sequence[str] = (), cls: type = Config,
                       kind: str | None = None) -> Any:
    """The config of run ``run_dir`` (its ``config.yaml``) with ``overrides``, checked like
    ``load_config``; ``run.run_dir`` is set to ``run_dir``. ``cls`` is ``Config`` or a subclass.
    ``kind``: the resuming command's kind ("self-play", "rlvr", "sft"; default: "self-play" for
    ``Config``); a run of another kind is refused, naming the command that continues it."""
    cfg_file = Path(run_dir) / "config.yaml"
    if not cfg_file.is_file():
        raise ConfigError(f"--resume {run_dir}: no config.yaml there (not a run directory)")
    raw = load_yaml(str(cfg_file))
    if kind is None and cls is Config:
        kind = "self-play"
    if kind is not None and run_kind(raw) != kind:
        raise ConfigError(f"--resume {run_dir}: it holds a {run_kind(raw)} run, which `{RESUME_COMMANDS[kind]}` "
                          f"cannot continue; use `{RESUME_COMMANDS[run_kind(raw)]} --resume {run_dir}`")
    data = apply_overrides(raw, [*overrides, f"run.run_dir={run_dir}"], cls)
    cfg = from_dict(cls, data)
    check_registries(cfg)
    from azr.rl.rundir import CHECKPOINTS, list_checkpoints

    check_values(cfg, need_model=not list_checkpoints(Path(run_dir) / CHECKPOINTS))
    return cfg

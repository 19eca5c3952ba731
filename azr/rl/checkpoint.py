"""Checkpoints: Hugging Face folders plus trainer state, written atomically, with a history policy.

Layout (docs/interfaces.md)::

    <run>/checkpoints/step_000010/   config.json, model.safetensors (or shards), tokenizer files,
                                     generation_config.json, trainer_state.pt, <extra files>
    <run>/checkpoints/LATEST         "step_000010" (the newest complete checkpoint)

Each folder loads with ``AutoModelForCausalLM.from_pretrained``. ``trainer_state.pt`` holds the
step, the optimizer and scheduler state dicts, the RNG states (python, numpy, torch CPU and
CUDA) and the caller's ``extra`` dict; it is read with ``weights_only=False``, so only load
checkpoints you trust (your own runs).

Weights dtype (``CheckpointConfig.dtype``): by default the folder holds the weights in the
dtype the model was stored in before training ("original", read from the source folder's
``config.json``; bf16 for Qwen2.5-Coder), rounded to nearest even from the training weights,
so that two checkpoints, or a checkpoint and its base model, compare as the study compared
them. When that dtype is coarser than the training weights, ``trainer_state.pt`` also keeps the
exact training ("master") weights, by parameter name and in the optimizer's parameter order,
and ``load_checkpoint`` restores them into the model or the optimizer's parameters, so a resume
is bit-identical. ``"model"`` saves the training dtype (the earlier behaviour).

Atomicity: everything is written into ``.tmp-step_000010-<pid>``, files and folder are fsynced,
the folder is renamed into place, then ``LATEST`` is replaced (write temp + fsync + rename). A
crash leaves either the old ``LATEST`` or the new one, never a half checkpoint behind it.
History: after saving, folders are deleted unless their step is a multiple of ``keep_every`` or
they are among the ``keep_last`` newest (the ``LATEST`` target is never deleted).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from azr.rl.config import CheckpointConfig
from azr.rl.rundir import LATEST_FILE, STATE_FILE, disk_full_error, is_disk_full, list_checkpoints

log = logging.getLogger(__name__)



def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


@dataclass
class TrainerState:
    """What ``load_checkpoint`` returns besides restoring the objects you pass it."""

    step: int
    path: Path  # the checkpoint folder
    extra: dict[str, Any]  # the caller's extra dict


def rng_state() -> dict[str, Any]:
    """The python, numpy and torch (CPU + all CUDA devices) RNG states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_extra_file(folder: Path, rel: str, content: str | bytes | os.PathLike) -> None:
    target = (folder / rel).resolve()
    if folder.resolve() not in target.parents:
        raise ValueError(f"extra file {rel!r} escapes the checkpoint folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        src = Path(content)
        shutil.copytree(src, target) if src.is_dir() else shutil.copyfile(src, target)


_TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
                 "float64": torch.float64}


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _training_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's floating-point parameters (the first one found)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    raise ValueError("model has no floating-point parameters")


def source_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype the model's weights were stored in where it was loaded from: the ``dtype``
    (or older ``torch_dtype``) of ``config.json`` in ``model.config._name_or_path`` (a local
    folder, or a hub id already in the local cache). None when unknown."""
    name = getattr(getattr(model, "config", None), "_name_or_path", "") or ""
    if not name:
        return None
    path = Path(name) / "config.json"
    if not path.is_file():
        try:
            from transformers.utils import cached_file

            found = cached_file(name, "config.json", local_files_only=True)
        except (OSError, ValueError, ImportError):
            return None
        if not found:
            return None
        path = Path(found)
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = cfg.get("dtype") or cfg.get("torch_dtype") if isinstance(cfg, dict) else None
    return _TORCH_DTYPES.get(value) if isinstance(value, str) else None


def resolve_save_dtype(model: nn.Module, choice: str) -> torch.dtype:
    """The dtype ``save_checkpoint`` writes the weights in for ``CheckpointConfig.dtype``."""
    if choice == "model":
        return _training_dtype(model)
    if choice == "original":
        found = source_dtype(model)
        if found is None:
            found = _training_dtype(model)
            log.warning("checkpoint.dtype=original: the source dtype of %r is unknown; saving in the "
                        "training dtype %s", getattr(model.config, "_name_or_path", "?"), _dtype_name(found))
        return found
    if choice not in _TORCH_DTYPES:
        raise ValueError(f"unknown checkpoint dtype {choice!r}")
    return _TORCH_DTYPES[choice]


def _is_coarser(a: torch.dtype, b: torch.dtype) -> bool:
    """True when casting from ``b`` to ``a`` can lose information (fewer mantissa bits)."""
    return torch.finfo(a).eps > torch.finfo(b).eps


def _cast_state_dict(model: nn.Module, dtype: torch.dtype,
                     state: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The model's state dict (or ``state``) with floating tensors cast to ``dtype`` (round to
    nearest even); a tensor shared under several names (tied weights) is kept under its first name only."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in (state if state is not None else model.state_dict()).items():
        if t.data_ptr() in seen and t.numel():
            continue
        seen.add(t.data_ptr())
        out[name] = t.detach().to(dtype).contiguous() if t.is_floating_point() else t.detach()
    return out


def _master_state(model: nn.Module, optimizer: torch.optim.Optimizer | None,
                  state: Mapping[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """The exact training weights by name (on the CPU; from ``state`` when given: gathered
    weights of a sharded model), and the names in the optimizer's order."""
    named = dict(model.named_parameters())
    weights = {n: (state[n] if state is not None else p.detach().to("cpu", copy=True)) for n, p in named.items()}
    order = None
    if optimizer is not None:
        by_id = {id(p): n for n, p in named.items()}
        order = [by_id.get(id(p)) for g in optimizer.param_groups for p in g["params"]]
    return {"weights": weights, "optimizer_order": order}


def _restore_master(master: Mapping[str, Any], model: nn.Module | None,
                    optimizer: torch.optim.Optimizer | None, folder: Path) -> None:
    """Copy the saved master weights into the model (by name) or the optimizer's parameters."""
    weights = master["weights"]
    if model is not None:
        targets = dict(model.named_parameters())
    elif optimizer is not None and master.get("optimizer_order") is not None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        order = master["optimizer_order"]
        if len(order) != len(params):
            raise ValueError(f"{folder}: the optimizer has {len(params)} parameters, the checkpoint {len(order)}")
        targets = {n: p for n, p in zip(order, params) if n is not None}
    else:
        return
    with torch.no_grad():
        for name, p in targets.items():
            if name not in weights or weights[name].shape != p.shape:
                raise ValueError(f"{folder}: master weight {name!r} missing or of another shape")
            p.copy_(weights[name].to(p.device, p.dtype))


def _set_config_dtype(folder: Path, dtype: torch.dtype) -> None:
    """Record the saved weights' dtype in the folder's config.json (both spellings)."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["dtype"] = _dtype_name(dtype)
    if "torch_dtype" in cfg:
        cfg["torch_dtype"] = _dtype_name(dtype)
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


def _cleaned_on_failure(save):
    """``save_checkpoint`` that leaves nothing behind when it fails: its temporary folder is
    removed, a step folder moved aside is put back, and a full disk raises ``RunError``
    naming the checkpoint and the free space."""

    @functools.wraps(save)
    def wrapper(ckpt_dir, step, *args, **kwargs):
        try:
            return save(ckpt_dir, step, *args, **kwargs)
        except BaseException as e:
            root, name = Path(ckpt_dir), checkpoint_name(step) if step >= 0 else ""
            if name:
                shutil.rmtree(root / f".tmp-{name}-{os.getpid()}", ignore_errors=True)
                old = root / f".old-{name}-{os.getpid()}"
                if old.exists() and not (root / name).exists():
                    os.rename(old, root / name)
            if is_disk_full(e):
                raise disk_full_error(root / name, "checkpoint") from None
            raise

    return wrapper


@_cleaned_on_failure
def save_checkpoint(
    ckpt_dir: str | Path,
    step: int,
    model: nn.Module,
    tokenizer=None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    extra: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str | bytes | os.PathLike] | None = None,
    policy: CheckpointConfig | None = None,
    dtype: str | None = None,
    model_state: Mapping[str, torch.Tensor] | None = None,
    optimizer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``<ckpt_dir>/step_<step>/`` atomically, update ``LATEST``, prune; return the folder.

    Args:
        ckpt_dir: the run's ``checkpoints`` folder (created if missing).
        step: the number of completed training steps.
        model: a HF ``PreTrainedModel`` (saved with ``save_pretrained``: safetensors, tied
            weights handled).
        tokenizer: saved alongside when given, so the folder is self-contained.
        optimizer, scheduler: their ``state_dict()`` go into ``trainer_state.pt``.
        extra: small picklable caller state (e.g. buffer sizes, config hash).
        extra_files: ``{relative path: str | bytes | existing file or folder}``, e.g.
            ``{"buffers/deduction.jsonl": text}``.
        policy: the history policy (which folders to keep) and the weights dtype; default
            ``CheckpointConfig()``.
        dtype: overrides ``policy.dtype`` ("original", "model", "float32", "bfloat16", "float16").
        model_state, optimizer_state: the whole weights and optimizer state dict to write
            instead of the model's and optimizer's own (an FSDP2-sharded model:
            ``azr.rl.parallel.gathered_state``).
    """
    if step < 0:
        raise ValueError("step must be >= 0")
    root = Path(ckpt_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(step)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    policy = policy or CheckpointConfig()
    target = resolve_save_dtype(model, dtype or policy.dtype)
    trained = _training_dtype(model)
    if target == trained and model_state is None:
        model.save_pretrained(str(tmp))
    else:
        model.save_pretrained(str(tmp), state_dict=_cast_state_dict(model, target, model_state))
        if target != trained:
            _set_config_dtype(tmp, target)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(tmp))
    state = {
        "step": step,
        "weights_dtype": _dtype_name(target),
        "training_dtype": _dtype_name(trained),
        "master": _master_state(model, optimizer, model_state) if _is_coarser(target, trained) else None,
        "optimizer": optimizer_state if optimizer_state is not None else
        (optimizer.state_dict() if optimizer is not None else None),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    torch.save(state, tmp / STATE_FILE)
    for rel, content in (extra_files or {}).items():
        _write_extra_file(tmp, rel, content)
    _fsync_tree(tmp)
    final = root / name
    if final.exists():  # re-saving a step (e.g. after a resume): move the old one aside first
        old = root / f".old-{name}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old)
    else:
        os.rename(tmp, final)
    _fsync_dir(root)
    _write_latest(root, name)
    prune_checkpoints(root, policy)
    return final


def _write_latest(root: Path, name: str) -> None:
    tmp = root / f".{LATEST_FILE}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / LATEST_FILE)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise disk_full_error(root / LATEST_FILE) from None
        raise
    _fsync_dir(root)


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The folder ``LATEST`` names, or None when there is no checkpoint yet."""
    root = Path(ckpt_dir)
    pointer = root / LATEST_FILE
    if not pointer.exists():
        return None
    path = root / pointer.read_text(encoding="utf-8").strip()
    if not (path / STATE_FILE).exists():
        raise FileNotFoundError(f"{pointer} names {path.name}, which is missing or incomplete")
    return path


def prune_checkpoints(ckpt_dir: str | Path, policy: CheckpointConfig) -> list[Path]:
    """Delete the folders the history policy does not keep; return the deleted paths."""
    ckpts = list_checkpoints(ckpt_dir)
    latest = latest_checkpoint(ckpt_dir)
    keep_recent = {p for _, p in ckpts[-policy.keep_last :]}
    removed = []
    for step, path in ckpts:
        keep = path in keep_recent or path == latest
        keep = keep or (policy.keep_every > 0 and step % policy.keep_every == 0)
        if not keep:
            shutil.rmtree(path)
            removed.append(path)
    return removed


def _load_weights(model: nn.Module, folder: Path) -> None:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no safetensors weights in {folder}")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    params = dict(model.named_parameters(remove_duplicate=False))
    ptrs = {params[k].data_ptr() for k in state if k in params}
    untied_missing = [k for k in missing if k not in params or params[k].data_ptr() not in ptrs]
    untied_missing = [k for k in untied_missing if k in params]  # buffers (rotary freqs) are rebuilt
    if unexpected or untied_missing:
        raise ValueError(f"checkpoint {folder} does not match the model: missing={untied_missing} "
                         f"unexpected={unexpected}")


def load_checkpoint(
    path: str | Path,
    model: nn.Module | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> TrainerState:
    """Restore a checkpoint into existing objects.

    Args:
        path: a checkpoint folder, or a ``checkpoints`` folder (then ``LATEST`` is followed).
        model: its weights are overwritten in place (same architecture): the exact master
            weights when the folder holds coarser ones, else the folder's weights.
        optimizer, scheduler: restored from their saved state dicts; without ``model``, the
            optimizer's parameters get the master weights (a resume that loaded the model from
            the folder itself ends up with the exact training weights).
        restore_rng: set the python/numpy/torch RNGs to the saved states.
    """
    folder = Path(path)
    if (folder / LATEST_FILE).exists() and not (folder / STATE_FILE).exists():
        folder = latest_checkpoint(folder)
    if not (folder / STATE_FILE).exists():
        raise FileNotFoundError(f"{folder} is not a checkpoint folder (no {STATE_FILE})")
    state = torch.load(folder / STATE_FILE, map_location=map_location, weights_only=False)
    if model is not None:
        _load_weights(model, folder)
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"{folder} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if state.get("master") is not None:
        _restore_master(state["master"], model, optimizer, folder)
    if scheduler is not None:
        if state["scheduler"] is None:
            raise ValueError(f"{folder} holds no scheduler state")
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"])
    return TrainerState(step=int(state["step"]), path=folder, extra=state["extra"])

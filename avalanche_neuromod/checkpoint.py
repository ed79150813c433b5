"""Checkpoints of a run after each experience, and resuming from them bit for bit.

A checkpoint is one ``torch.save`` file of tensors and plain Python values only (dicts, lists,
numbers, strings), written atomically (temporary file, flush, fsync, ``os.replace``) and read back
with ``torch.load(weights_only=True)``: loading never runs pickled code, so a checkpoint received
from someone else cannot execute anything. Avalanche 0.6's own ``save_checkpoint`` (dill) is not
used: it fails for SGD on torch 2.14 and loads with full unpickling.

What it holds (:func:`capture`):

* the model's ``state_dict`` and, per optimizer, its ``state_dict`` with the *names* of its
  parameters in order (so it is rebuilt whatever order adaptation created them in);
* the reward-driven strategy's critic, critic optimizer, policy temperature and No-Go bias;
* every plugin's state, in ``strategy.plugins`` order: the neuromodulation plugins'
  ``state_dict`` (modulator buffers, serotonin's importances and anchor) with their step counter
  and trace, the numerical guard's counters, the evaluator's metrics (forgetting, BWT and FWT keep
  the accuracies they compare against) and its last values, Avalanche's clock, and the plain
  state of Avalanche's baseline plugins (EWC's saved parameters and importances, SI's
  trajectories, MAS's importances, LwF's previous model as a ``state_dict``, GEM's memories),
  encoded by :func:`encode_state` into tagged dicts of tensors and plain values;
* the state of Python's, NumPy's and torch's generators (:mod:`avalanche_neuromod.determinism`).

Some strategies keep state that is not tensors (Avalanche's Replay buffer and A-GEM's memory are
datasets and data-loader iterators, Cumulative's concatenated dataset, JointTraining trains once):
:func:`resume_blocker` names them and the runner then restarts such a cell from its first
experience instead of resuming it (Cumulative is rebuilt from the stream and does resume).

The encoding lives in :mod:`avalanche_neuromod.checkpoint_codec`, the file format (atomic write,
checked load) in :mod:`avalanche_neuromod.checkpoint_io`; their public names are importable from
here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from .checkpoint_codec import (
    ALLOWED_CLASSES,
    _qualname,
    _Unsupported,
    decode_state,
    encode_state,
)
from .checkpoint_io import FORMAT, load_checkpoint, write_atomic
from .errors import CheckpointError

# plugins and strategies whose state is not tensors (datasets, iterators, a single phase)
NOT_RESUMABLE = {
    "ReplayPlugin": "its replay buffer holds datasets",
    "AGEMPlugin": "its memory holds datasets and a data-loader iterator",
    "JointTraining": "it trains once on the whole stream",
    "DER": "its buffer holds datasets and stored logits",
    "ER_ACE": "its buffer holds datasets",
    "GenerativeReplay": "its generator is trained by a strategy of its own",
}


# --------------------------------------------------------------------- capture and restore

def resume_blocker(strategy) -> str | None:
    """Why ``strategy`` cannot resume from a checkpoint mid-stream (``None``: it can)."""
    for obj in [strategy, *strategy.plugins]:
        for cls in type(obj).__mro__:
            if cls.__name__ in NOT_RESUMABLE:
                return f"{type(obj).__name__}: {NOT_RESUMABLE[cls.__name__]}"
    return None


def _param_names(module: torch.nn.Module | None, optimizer) -> list[list[str]] | None:
    if module is None or optimizer is None:
        return None
    names = {id(p): n for n, p in module.named_parameters()}
    groups = []
    for group in optimizer.param_groups:
        missing = [p for p in group["params"] if id(p) not in names]
        if missing:
            raise _Unsupported("optimizer: a parameter that is not the model's")
        groups.append([names[id(p)] for p in group["params"]])
    return groups


def _optimizer_layout(strategy) -> dict:
    """The strategy optimizer's parameters by name, in order, and the stale ones.

    Avalanche maps optimizer parameters to names at each training experience
    (``optimized_param_id``); evaluating the test stream afterwards may grow a dynamic module
    (a multi-head classifier's heads), which replaces parameters the optimizer still holds until
    the next experience swaps them (resetting their state); parameters replaced before the
    first experience stay in the optimizer unmapped. Such stale parameters are saved by value so
    that the resumed optimizer is the same, and swaps them the same way.
    """
    model, optimizer = strategy.model, strategy.optimizer
    mapped = getattr(strategy, "optimized_param_id", None) or {}
    by_id = {id(p): n for n, p in mapped.items()}
    current = dict(model.named_parameters())
    by_id.update({id(p): n for n, p in current.items() if id(p) not in by_id})
    groups, stale = [], {}
    for group in optimizer.param_groups:
        names = []
        for p in group["params"]:
            # a parameter the model no longer has (Avalanche leaves those in the optimizer)
            name = by_id.get(id(p)) or f"<unmapped {len(stale)}>"
            if current.get(name) is not p:
                stale[name] = p.detach().cpu().clone()
            names.append(name)
        groups.append(names)
    return {"groups": groups, "stale": stale, "mapped": list(mapped)}


def _is_lazy(module: torch.nn.Module) -> bool:
    from torch.nn.parameter import is_lazy

    return any(is_lazy(p) for p in module.parameters())


def _plugin_state(plugin) -> dict:
    from avalanche.training.plugins import EvaluationPlugin

    from .plugins.base import ModulatorPlugin

    entry: dict[str, Any] = {"class": _qualname(type(plugin))}
    if isinstance(plugin, EvaluationPlugin):
        entry["metrics"] = [
            {"class": _qualname(type(m)),
             "state": {k: encode_state(v, f"{type(m).__name__}.{k}") for k, v in vars(m).items()}}
            for m in plugin.metrics]
        entry["last"] = encode_state(plugin.last_metric_results, "evaluator.last_metric_results")
    elif callable(getattr(plugin, "state_dict", None)):
        entry["state_dict"] = plugin.state_dict()
        if isinstance(plugin, ModulatorPlugin):
            entry["steps"], entry["trace"] = plugin._steps, list(plugin.trace)
    else:
        entry["attrs"] = {k: encode_state(v, f"{type(plugin).__name__}.{k}")
                          for k, v in vars(plugin).items()}
    return entry


def capture(strategy, *, strict: bool = True) -> dict:
    """Everything a strategy needs to continue after the current experience.

    ``strict=False`` leaves out what cannot be encoded (for a post-mortem checkpoint) and lists it
    under ``"left_out"``.
    """
    left_out: list[str] = []

    def attempt(fn, what):
        try:
            return fn()
        except _Unsupported as err:
            if strict:
                raise CheckpointError(f"checkpoint: cannot save {err}") from None
            left_out.append(str(err) or what)
            return None

    model = strategy.model
    state: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": strategy.optimizer.state_dict(),
        "optimizer_layout": attempt(lambda: _optimizer_layout(strategy), "optimizer"),
        "plugins": [attempt(lambda p=p: _plugin_state(p), type(p).__name__)
                    for p in strategy.plugins],
    }
    critic = getattr(strategy, "critic", None)
    if isinstance(critic, torch.nn.Module) and not _is_lazy(critic):
        state["critic"] = critic.state_dict()
        critic_opt = getattr(strategy, "critic_optimizer", None)
        if critic_opt is not None:
            state["critic_optimizer"] = critic_opt.state_dict()
            state["critic_optimizer_params"] = _param_names(critic, critic_opt)
    attrs = {}
    for name in ("temperature", "action_bias"):
        if hasattr(strategy, name):
            attrs[name] = attempt(lambda n=name: encode_state(getattr(strategy, n), n), name)
    state["strategy_attrs"] = attrs
    state["left_out"] = left_out
    return state


def _rebuild_optimizer(optimizer, module: torch.nn.Module, names: list[list[str]] | None,
                       saved: dict) -> None:
    if names is not None:
        params = dict(module.named_parameters())
        missing = [n for group in names for n in group if n not in params]
        if missing or len(names) != len(optimizer.param_groups):
            raise CheckpointError(f"checkpoint: the optimizer's parameters do not fit the model "
                                  f"(missing {missing[:1] or 'groups'})")
        for group, group_names in zip(optimizer.param_groups, names):
            group["params"] = [params[n] for n in group_names]
        optimizer.state = defaultdict(dict)
    optimizer.load_state_dict(saved)


def _restore_strategy_optimizer(strategy, layout: dict | None, saved: dict) -> None:
    if layout is None:
        raise CheckpointError("checkpoint: it holds no optimizer layout (not resumable)")
    params = dict(strategy.model.named_parameters())
    stale = {n: torch.nn.Parameter(t.to(strategy.device)) for n, t in layout["stale"].items()}
    missing = [n for g in layout["groups"] for n in g if n not in stale and n not in params]
    if missing or len(layout["groups"]) != len(strategy.optimizer.param_groups):
        raise CheckpointError(f"checkpoint: the optimizer's parameters do not fit the model "
                              f"(missing {missing[:1] or 'groups'})")
    for group, names in zip(strategy.optimizer.param_groups, layout["groups"]):
        group["params"] = [stale.get(n, params.get(n)) for n in names]
    strategy.optimizer.state = defaultdict(dict)
    strategy.optimizer.load_state_dict(saved)
    in_optimizer = {n for g in layout["groups"] for n in g}
    names = layout["mapped"] or sorted(in_optimizer)
    strategy.optimized_param_id = {n: stale[n] if n in stale else params[n] for n in names
                                   if n in stale or n in params}


def check_compatible(strategy, state: dict) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has this strategy's plugins and metrics.

    Checked before anything is restored, so that a checkpoint written by another version of the
    code (a metric added to the evaluator, say) can be set aside and the run restarted.
    """
    from avalanche.training.plugins import EvaluationPlugin

    saved = state["plugins"]
    if len(saved) != len(strategy.plugins) or any(
            entry is None or entry["class"] != _qualname(type(p))
            for entry, p in zip(saved, strategy.plugins)):
        raise CheckpointError("checkpoint: its plugins differ from this run's strategy")
    for plugin, entry in zip(strategy.plugins, saved):
        if isinstance(plugin, EvaluationPlugin) and (
                len(entry["metrics"]) != len(plugin.metrics) or any(
                    m_state["class"] != _qualname(type(metric))
                    for metric, m_state in zip(plugin.metrics, entry["metrics"]))):
            raise CheckpointError("checkpoint: its metrics differ from this run's evaluator")


def restore(strategy, state: dict, *, train_stream=None, test_stream=None,
            experiences: int = 0) -> None:
    """Put ``state`` (from :func:`capture`) into a freshly built, identical strategy.

    The model is first adapted as the run adapted it (Avalanche's dynamic modules, e.g. the heads
    of a multi-head classifier, grow with the experiences seen and the test stream evaluated)
    over ``experiences`` experiences of ``train_stream``; then weights, optimizers and plugins are
    loaded. RNG states are restored separately (:func:`restore_rng`), last.
    """
    from avalanche.models.utils import avalanche_model_adaptation
    from avalanche.training.plugins import EvaluationPlugin

    check_compatible(strategy, state)  # before anything is restored
    model = strategy.model
    if experiences and train_stream is not None:
        was_training = model.training
        exps = list(train_stream)
        evals = list(test_stream) if test_stream is not None else []
        model.eval()
        for exp in evals:  # the first periodic eval, before training on experience 0
            avalanche_model_adaptation(model, exp)
        for exp in exps[:experiences]:
            model.train()
            avalanche_model_adaptation(model, exp)
            model.eval()
            for ev in evals:
                avalanche_model_adaptation(model, ev)
        model.train(was_training)
        model.to(strategy.device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError("checkpoint: the saved model does not fit this run's model "
                              f"({str(err).splitlines()[0]})") from None
    _restore_strategy_optimizer(strategy, state["optimizer_layout"], state["optimizer"])
    if "critic" in state:
        strategy.critic.load_state_dict(state["critic"])
        strategy.critic.to(strategy.device)
        if "critic_optimizer" in state:
            strategy.critic_optimizer = torch.optim.SGD(strategy.critic.parameters(),
                                                        lr=strategy.critic_lr)
            _rebuild_optimizer(strategy.critic_optimizer, strategy.critic,
                               state.get("critic_optimizer_params"), state["critic_optimizer"])
    for name, value in (state.get("strategy_attrs") or {}).items():
        setattr(strategy, name, decode_state(value, device=strategy.device))
    saved = state["plugins"]
    for plugin, entry in zip(strategy.plugins, saved):
        if isinstance(plugin, EvaluationPlugin):
            for metric, m_state in zip(plugin.metrics, entry["metrics"]):
                for k, v in m_state["state"].items():
                    setattr(metric, k, decode_state(v, device=strategy.device, model=model))
            plugin.last_metric_results = decode_state(entry["last"], device=strategy.device)
        elif "state_dict" in entry:
            plugin.load_state_dict(entry["state_dict"])
            if "steps" in entry:
                plugin._steps, plugin.trace = int(entry["steps"]), list(entry["trace"])
        else:
            for k, v in entry["attrs"].items():
                setattr(plugin, k, decode_state(v, device=strategy.device, model=model))
    _rebuild_cumulative(strategy, train_stream, experiences)


def _rebuild_cumulative(strategy, train_stream, experiences: int) -> None:
    from avalanche.training import Cumulative

    if not isinstance(strategy, Cumulative) or not experiences or train_stream is None:
        return
    from avalanche.benchmarks.utils import concat_datasets

    dataset = None
    for exp in list(train_stream)[:experiences]:
        dataset = exp.dataset if dataset is None else concat_datasets([dataset, exp.dataset])
    strategy.dataset = dataset


# ----------------------------------------------------------------------------- file I/O

def save_checkpoint(path: str | Path, *, strategy, experience_index: int, matrix: list,
                    extra: dict | None = None, strict: bool = True,
                    resumable: bool | None = None) -> Path:
    """Save the run after experience ``experience_index`` (0-based) atomically; return the path.

    ``matrix`` is the accuracy matrix so far, ``extra`` plain values the caller needs on resume
    (the run's key, the last metrics, the elapsed time). Raises :class:`CheckpointError` when the
    strategy holds state that cannot be saved (``strict=False``: saved without it, not
    resumable; so is one saved with ``resumable=False``, e.g. mid-experience after a fault).
    """
    from .determinism import rng_state

    state = capture(strategy, strict=strict)
    ok = not state["left_out"] if resumable is None else resumable and not state["left_out"]
    payload = {"format": FORMAT, "experience": int(experience_index), "matrix": matrix,
               "extra": dict(extra or {}), "rng": rng_state(), "resumable": ok, **state}
    return write_atomic(path, payload)


def restore_rng(state: dict) -> None:
    from .determinism import set_rng_state

    set_rng_state(state["rng"])


__all__ = ["ALLOWED_CLASSES", "FORMAT", "NOT_RESUMABLE", "CheckpointError", "capture",
           "check_compatible", "decode_state", "encode_state", "load_checkpoint", "restore",
           "restore_rng", "resume_blocker", "save_checkpoint", "write_atomic"]

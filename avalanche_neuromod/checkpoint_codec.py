"""How a checkpoint holds non-tensor state: tagged dicts of tensors and plain values.

:func:`encode_state` turns the state of Avalanche's metrics and baseline plugins (and of this
package's objects) into dicts, lists, numbers, strings and tensors, so that a checkpoint loads with
``torch.load(weights_only=True)``; :func:`decode_state` rebuilds it. Objects are rebuilt only of
the classes in :data:`ALLOWED_CLASSES` (:mod:`avalanche_neuromod.checkpoint` saves and restores
a whole run).
"""

from __future__ import annotations

import copy
import importlib
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError

_OBJECT_MODULES = ("avalanche.evaluation.", "avalanche.training.regularization",
                   "avalanche_neuromod.")  # objects of these are saved by their attributes
_FACTORIES = {"builtins.set": set, "builtins.list": list, "builtins.dict": dict,
              "builtins.int": int, "builtins.float": float}
# the only classes a checkpoint may name (objects rebuilt from their attributes, default-dict
# factories): a fixed list of fully qualified names, never a walk along an attribute chain, so a
# checkpoint from someone else cannot name a function (os.system) or anything else
ALLOWED_CLASSES = frozenset({
    "avalanche.evaluation.metrics.accuracy:Accuracy",
    "avalanche.evaluation.metrics.accuracy:TaskAwareAccuracy",
    "avalanche.evaluation.metrics.forgetting_bwt:Forgetting",
    "avalanche.evaluation.metrics.forward_transfer:ForwardTransfer",
    "avalanche.evaluation.metrics.mean:Mean",
    "avalanche.evaluation.metrics.mean:Sum",
    "avalanche.training.regularization:LearningWithoutForgetting",
})
_INIT_FUNCTIONS = {"zeros": torch.zeros, "ones": torch.ones, "empty": torch.empty}


class _Unsupported(Exception):
    """A value :func:`encode_state` cannot hold (the message says where)."""


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(name: str) -> type:
    """The class ``name`` (``module:Qualname``) if it is in :data:`ALLOWED_CLASSES`."""
    if not isinstance(name, str) or name not in ALLOWED_CLASSES:
        raise CheckpointError(f"checkpoint: refusing to build an object of class {name!r} (not "
                              "a class checkpoints may hold)")
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):  # a name of the list: no other attribute is reached
        obj = getattr(obj, part)
    if not isinstance(obj, type) or _qualname(obj) != name:
        raise CheckpointError(f"checkpoint: {name!r} does not name a class")
    return obj


def encode_state(value: Any, where: str = "state") -> Any:
    """``value`` as tensors and plain values only (tagged dicts); raise if that is impossible.

    Handles numbers, strings, tensors, ``torch.Size``/``device``, dicts (default dicts with a
    builtin or allowed factory), lists, tuples, sets, ``nn.Module`` (as its ``state_dict``),
    Avalanche's ``ParamData``, and objects of Avalanche's metrics and regularizers or of this
    package (their attributes, recursively).
    """
    from avalanche.training.utils import ParamData

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().clone(), "device": value.device.type}
    if isinstance(value, torch.Size):
        return {"__size__": list(value)}
    if isinstance(value, torch.device):
        return {"__device__": value.type}
    if isinstance(value, ParamData):
        init = getattr(value.init_function, "__name__", None)
        if init not in _INIT_FUNCTIONS or getattr(torch, init) is not value.init_function:
            raise _Unsupported(f"{where}: ParamData with init function {init!r}")
        return {"__paramdata__": value.name, "shape": list(value.shape), "init": init,
                "data": encode_state(value.data, where), "device": value.device.type}
    if isinstance(value, torch.nn.Module):
        return {"__module__": {k: v.detach().cpu().clone() for k, v in
                               value.state_dict().items()}, "training": value.training}
    if type(value) in (dict, OrderedDict, defaultdict):
        out = {"__dict__": [[encode_state(k, where), encode_state(v, f"{where}[{k!r}]")]
                            for k, v in value.items()]}
        if isinstance(value, defaultdict):
            factory = value.default_factory
            name = None if factory is None else (
                f"builtins.{factory.__name__}" if factory in _FACTORIES.values() else
                _qualname(factory) if isinstance(factory, type) else None)
            if factory is not None and name is None:
                raise _Unsupported(f"{where}: default dict with factory {factory!r}")
            if name is not None and name not in _FACTORIES:
                try:
                    _resolve(name)
                except CheckpointError:
                    raise _Unsupported(f"{where}: default dict of {name}") from None
            out["factory"] = name
        return out
    if type(value) in (list, tuple, set, frozenset):
        tag = {list: "__list__", tuple: "__tuple__", set: "__set__", frozenset: "__set__"}
        return {tag[type(value)]: [encode_state(v, f"{where}[{i}]") for i, v in
                                   enumerate(value)]}
    cls = type(value)
    if any(cls.__module__.startswith(p) or cls.__module__ == p.rstrip(".")
           for p in _OBJECT_MODULES) and hasattr(value, "__dict__"):
        return {"__object__": _qualname(cls),
                "state": {k: encode_state(v, f"{where}.{k}") for k, v in vars(value).items()}}
    raise _Unsupported(f"{where}: {cls.__name__}")


def decode_state(data: Any, *, device: torch.device | str = "cpu",
                 model: torch.nn.Module | None = None) -> Any:
    """Inverse of :func:`encode_state`; non-CPU tensors go to ``device``, modules are copies of
    ``model`` with the saved ``state_dict``."""
    from avalanche.training.utils import ParamData

    device = torch.device(device)

    def dec(x):
        if not isinstance(x, dict):
            return x
        if "__tensor__" in x:
            t = x["__tensor__"]
            return t if x["device"] == "cpu" else t.to(device)
        if "__size__" in x:
            return torch.Size(x["__size__"])
        if "__device__" in x:
            return torch.device("cpu") if x["__device__"] == "cpu" else device
        if "__paramdata__" in x:
            dev = "cpu" if x["device"] == "cpu" else device
            return ParamData(x["__paramdata__"], shape=tuple(x["shape"]),
                             init_function=_INIT_FUNCTIONS[x["init"]],
                             init_tensor=dec(x["data"]).to(dev), device=dev)
        if "__module__" in x:
            if model is None:
                raise CheckpointError("checkpoint: a saved module needs a model to copy")
            module = copy.deepcopy(model)
            module.load_state_dict(x["__module__"])
            module.train(x["training"])
            return module
        if "__dict__" in x:
            factory = x.get("factory")
            out = {} if "factory" not in x else defaultdict(
                None if factory is None else _FACTORIES.get(factory) or _resolve(factory))
            for k, v in x["__dict__"]:
                out[dec(k)] = dec(v)
            return out
        if "__list__" in x:
            return [dec(v) for v in x["__list__"]]
        if "__tuple__" in x:
            return tuple(dec(v) for v in x["__tuple__"])
        if "__set__" in x:
            return {dec(v) for v in x["__set__"]}
        if "__object__" in x:
            cls = _resolve(x["__object__"])
            obj = cls.__new__(cls)
            obj.__dict__.update({k: dec(v) for k, v in x["state"].items()})
            return obj
        raise CheckpointError(f"checkpoint: unknown entry {sorted(x)[:3]}")

    try:
        return dec(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint: a damaged entry ({type(err).__name__}: "
                              f"{str(err)[:80]})") from None

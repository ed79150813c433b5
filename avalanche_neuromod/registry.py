"""Your own benchmarks and models in a suite, without forking: register them by name.

::

    from avalanche_neuromod.registry import register_benchmark, register_model

    register_benchmark("my_stream", my_stream)   # my_stream(*, seed, n_experiences=..., ...)
    register_model("my_cnn", my_cnn)              # my_cnn(*, input_size, n_classes, multihead, ...)

A suite then names them like the built-in ones::

    budget: {model: {name: my_cnn, width: 32}}
    benchmarks: [{name: my_stream, args: {n_experiences: 3}}]

A benchmark factory takes ``seed`` and the suite's ``args`` as keyword arguments (``validation``
too, if it is to be used by ``avalanche-neuromod select``) and returns an Avalanche benchmark
(``train_stream``, ``test_stream``). A model factory takes ``input_size``, ``n_classes``,
``multihead`` (task-incremental streams: ``return_task_id`` in the benchmark's args) and the
suite's model arguments, and returns a ``torch.nn.Module``. The arguments a suite may give are
the factory's keyword parameters (checked before any cell runs). Registrations live in the
process that makes them: local worker processes (forked) inherit them, Ray tasks do not.
The built-in model is ``mlp`` (:func:`avalanche_neuromod.models.mlp`), the default when a suite's
``model`` has no ``name`` (so the configs, and the keys, of suites without one do not change).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

from .config import ConfigError, check_keys, positive_int

DEFAULT_MODEL = "mlp"
MODELS: dict[str, Callable | str] = {DEFAULT_MODEL: "avalanche_neuromod.models:mlp"}
MODEL_INPUTS = ("input_size", "n_classes", "multihead")
# activation name -> torch.nn class (named here, torch-free, so configs are checked before torch)
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "leaky_relu": "LeakyReLU"}


def _check_name(name, factory) -> None:
    if not isinstance(name, str) or not name or not callable(factory):
        raise ValueError("register: give a non-empty name and a callable factory")


def register_benchmark(name: str, factory: Callable, *, replace: bool = False) -> None:
    """Make ``factory`` available to suites as benchmark ``name``."""
    from .benchmarks import BENCHMARKS

    _check_name(name, factory)
    if name in BENCHMARKS and not replace:
        raise ValueError(f"register_benchmark: {name!r} is taken; pass replace=True")
    BENCHMARKS[name] = factory


def register_model(name: str, factory: Callable, *, replace: bool = False) -> None:
    """Make ``factory`` available to suites as ``budget.model.name: <name>``."""
    _check_name(name, factory)
    if name in MODELS and not replace:
        raise ValueError(f"register_model: {name!r} is taken; pass replace=True")
    MODELS[name] = factory


def model_factory(name: str) -> Callable:
    """The factory registered as model ``name`` (the built-in ones are imported on first use)."""
    factory = MODELS[name]
    if isinstance(factory, str):
        module, attr = factory.split(":")
        factory = MODELS[name] = getattr(importlib.import_module(module), attr)
    return factory


def model_args(name: str) -> list[str] | None:
    """The arguments a suite may give model ``name`` (``None``: any, the factory takes
    ``**kwargs``)."""
    params = inspect.signature(model_factory(name)).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name not in MODEL_INPUTS]


def merge_model(base: dict, update: dict) -> dict:
    """A benchmark's (or a suite's) ``model`` over the one it inherits: merged for the same
    model, replaced for another one (an MLP's ``hidden`` means nothing to your CNN)."""
    if "name" in update and update["name"] != base.get("name", DEFAULT_MODEL):
        return dict(update)
    return {**base, **update}


def check_model(model: dict, *, field: str) -> dict:
    """A suite's ``budget.model``: the built-in MLP's hidden/layers/activation, or a registered
    model's name and arguments (errors name ``field``)."""
    name = model.get("name", DEFAULT_MODEL) if isinstance(model, dict) else DEFAULT_MODEL
    if name not in MODELS:
        raise ConfigError(f"{field}.name: unknown model {name!r}; choose from "
                          f"{', '.join(sorted(MODELS))} or register one "
                          "(avalanche_neuromod.registry.register_model)")
    if name != DEFAULT_MODEL:
        allowed = model_args(name)
        if allowed is not None:
            check_keys(model, {"name", *allowed}, field=field)
        return model
    check_keys(model, {"hidden", "layers", "activation"} | ({"name"} if "name" in model else
                                                             set()), field=field)
    positive_int(model["hidden"], field=f"{field}.hidden")
    if isinstance(model["layers"], bool) or not isinstance(model["layers"], int) or \
            model["layers"] < 0:
        raise ConfigError(f"{field}.layers: must be an integer >= 0")
    if model["activation"] not in ACTIVATIONS:
        raise ConfigError(f"{field}.activation: unknown activation "
                          f"{model['activation']!r}; choose from {', '.join(ACTIVATIONS)}")
    return model


__all__ = ["DEFAULT_MODEL", "MODELS", "check_model", "merge_model", "model_args",
           "model_factory", "register_benchmark", "register_model"]

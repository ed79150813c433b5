"""Run suite cells as Ray tasks: on an existing cluster, or on a local Ray started for the run.

Design (the same contract as :func:`avalanche_neuromod.parallel.run_cells`):

* **Cells are tasks, records come back to the driver.** Each cell is one Ray task that calls the
  cell function (``run_suite_cell``), which builds the benchmark, the model, the strategy and the
  loggers *inside the task*: nothing that holds a process, a file or a W&B run crosses the
  network, only the picklable :class:`~avalanche_neuromod.leaderboard.spec.SuiteCell` and the
  JSON-able record it returns.
* **The driver alone writes.** A ``ray.wait`` loop in the driver calls ``on_result`` once for
  each finished cell (the runner appends it to ``results.jsonl``), so the results file is the
  same whichever engine ran it: a suite can be interrupted under Ray and resumed locally, or the
  other way round, and never holds a cell twice. A cell is appended only when its task has
  returned; a task that died half-way wrote nothing.
* **Failures are retried by Ray.** ``max_retries`` covers both a lost worker or node (system
  failure) and an exception raised by the cell (``retry_exceptions=True``). A cell whose retries
  are exhausted is reported on one line naming the cell; the other cells still run and are
  saved, and re-running the same command runs only the missing cells.
* **Resources per cell.** ``num_cpus`` and ``num_gpus`` are Ray's logical resources:
  ``gpus_per_cell=0.25`` packs four small MLP cells onto one GPU (Ray sets
  ``CUDA_VISIBLE_DEVICES`` for each task, so ``cuda`` inside a task is the GPU Ray gave it). Each
  task runs torch on one intra-op thread, as the local engine's workers do.
* **Local runs stay on loopback.** Without an address, a private Ray is started for the run,
  bound to 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which Ray reads at import), with
  usage statistics off and no dashboard, and it is shut down at the end. The driver shuts down
  only a Ray it initialised itself (a connection to a cluster is just closed; the cluster stays).
* **The environment that matters travels with the job.** The data root and the W&B settings
  (not the API key) of the driver are set on the workers through the job's ``runtime_env``.

Ray is an optional dependency: ``pip install 'avalanche-neuromod[ray]'``.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..config import ConfigError

INSTALL_HINT = "--engine ray: Ray is not installed; pip install 'avalanche-neuromod[ray]'"
# settings of the driver that the cells need on every node (W&B credentials are not sent: log
# in on the nodes, or export WANDB_API_KEY where `ray start` runs)
FORWARDED_ENV = ("AVALANCHE_NEUROMOD_DATA", "WANDB_MODE", "WANDB_SILENT", "WANDB_DIR",
                 "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_BASE_URL")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def require_ray():
    """Import Ray, or fail with the one-line install hint (a ConfigError: exit 2 in the CLI)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def check_options(*, address: str | None = None, cpus_per_cell: float = 1.0,
                  gpus_per_cell: float = 0.0, max_retries: int = 3) -> dict:
    """Validate the engine options; a bad value is a ConfigError naming the CLI flag."""
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigError(f"--ray-address: must be host:port or auto, got {address!r}")
    for flag, value in (("--cpus-per-cell", cpus_per_cell), ("--gpus-per-cell", gpus_per_cell)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 0:
            raise ConfigError(f"{flag}: must be a finite number >= 0, got {value!r}")
    if cpus_per_cell <= 0:
        raise ConfigError(f"--cpus-per-cell: must be > 0, got {cpus_per_cell!r}")
    if gpus_per_cell > 1 and gpus_per_cell != int(gpus_per_cell):
        raise ConfigError(f"--gpus-per-cell: above 1 it must be a whole number of GPUs, got "
                          f"{gpus_per_cell!r} (fractions pack several cells onto one GPU)")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"--max-retries: must be an integer >= 0, got {max_retries!r}")
    return {"address": address.strip() if address else None, "cpus_per_cell": float(cpus_per_cell),
            "gpus_per_cell": float(gpus_per_cell), "max_retries": max_retries}


def task_device(device: str | None, gpus_per_cell: float) -> str:
    """The device a cell uses inside its task.

    The driver may have no GPU at all: with Ray a cell's GPU is the one Ray assigned to the task
    (``CUDA_VISIBLE_DEVICES``), so ``auto`` means ``cuda`` when cells get GPUs, else ``cpu``.
    """
    if device in (None, "auto"):
        return "cuda" if gpus_per_cell > 0 else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        if gpus_per_cell <= 0:
            raise ConfigError("--device: cuda with --engine ray needs --gpus-per-cell > 0 "
                              "(Ray gives a task a GPU only when it asks for one)")
        return "cuda"
    if str(device).startswith("cuda:"):
        raise ConfigError(f"--device: {device} cannot be used with --engine ray; Ray assigns "
                          "each task its GPU, use --device cuda (or auto)")
    raise ConfigError(f"--device: unknown device {device!r}; use auto, cpu or cuda")


def run_cell_task(fn: Callable[..., dict], cell: Any, kwargs: dict) -> dict:
    """The body of one Ray task: ``fn(cell, **kwargs)`` on one torch thread."""
    from ..threads import set_threads

    set_threads()  # one intra-op thread per task unless asked (threads.py)
    return fn(cell, **kwargs)


def _is_loopback(address: str | None) -> bool:
    """Whether the driver talks to a Ray on this machine's loopback (or starts one)."""
    if address in (None, "local"):
        return True
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS") or ""
    host = address.split("://")[-1].rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _resolve_auto() -> str:
    """The address ``auto`` stands for (``RAY_ADDRESS``, else the cluster started here), so
    that a cluster on loopback is reached on loopback; ``auto`` when Ray cannot tell."""
    require_ray()
    try:
        from ray._private.services import get_ray_address_from_environment

        return get_ray_address_from_environment("auto", None) or "auto"
    except Exception:  # no cluster found (Ray says so at ray.init), or another Ray version
        return os.environ.get("RAY_ADDRESS") or "auto"


def _check_reachable(address: str) -> None:
    """Fail in one line when nothing listens at ``host:port`` (Ray itself retries for minutes)."""
    if address in ("local", "auto") or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
            pass
    except (OSError, ValueError) as err:
        raise ConfigError(f"--ray-address: no Ray cluster answers at {address} "
                          f"({getattr(err, 'strerror', None) or err}); start one with "
                          "`ray start --head` or check the address") from None


def _token_available() -> bool:
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or \
        bool(path and Path(path).expanduser().is_file()) or \
        (Path.home() / ".ray" / "auth_token").is_file()


@contextlib.contextmanager
def _ray_environment(address: str | None) -> Iterator[None]:
    """Settings Ray reads from the environment, set for this run and restored afterwards.

    * loopback (a local Ray, or an address on 127.0.0.1): ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
      without which Ray replaces 127.0.0.1 by the machine's address, binds there and cannot be
      reached on loopback; Ray reads it when it is imported, so its constant is set as well when
      Ray is already imported. On a real cluster it must stay unset (the driver has to find its
      node by the machine's address).
    * ``RAY_USAGE_STATS_ENABLED=0`` unless set.
    * an explicit address with a Ray token available (``~/.ray/auth_token``,
      ``RAY_AUTH_TOKEN_PATH``, ``RAY_AUTH_TOKEN``) and ``RAY_AUTH_MODE`` unset: token mode, as
      Ray does by itself for ``auto``, so a cluster started with token authentication (Ray's
      default when a token exists) accepts the driver. A cluster without it ignores the token.
    """
    saved = {name: os.environ.get(name) for name in
             ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE")}
    loopback = _is_loopback(address)
    constants = sys.modules.get("ray._private.ray_constants")
    saved_constant = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    try:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if loopback:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            if saved_constant is not None:
                constants.ENABLE_RAY_CLUSTER = False
        explicit = address not in (None, "local", "auto")
        imported = "ray" in sys.modules
        if explicit and saved["RAY_AUTH_MODE"] is None and _token_available():
            os.environ["RAY_AUTH_MODE"] = "token"
            if imported:  # Ray caches its config at import: refresh it, as Ray itself does
                with contextlib.suppress(ImportError, AttributeError):
                    from ray._private.authentication import authentication_token_setup as auth

                    auth._enable_token_auth()
        if imported:  # a token cached by an earlier run in this process may be another one's
            with contextlib.suppress(ImportError, AttributeError):
                from ray._raylet import AuthenticationTokenLoader

                AuthenticationTokenLoader.instance().reset_cache()
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if saved_constant is not None:
            constants.ENABLE_RAY_CLUSTER = saved_constant


def _forwarded_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
    for name in ("AVALANCHE_NEUROMOD_DATA", "WANDB_DIR"):  # paths: the workers' cwd differs
        if name in env:
            env[name] = str(Path(env[name]).expanduser().absolute())
    return env


def _label(cell: Any) -> str:
    return str(getattr(cell, "key", None) or cell)


def _one_line(err: BaseException) -> str:
    cause = getattr(err, "cause", None) or err  # RayTaskError wraps the cell's exception
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}".rstrip(": ")


def run_cells_ray(
    fn: Callable[..., dict],
    cells: Sequence[Any],
    *,
    address: str | None = None,
    cpus_per_cell: float = 1.0,
    gpus_per_cell: float = 0.0,
    max_retries: int = 3,
    kwargs: dict | None = None,
    on_result: Callable[[int, dict], None] | None = None,
    on_failure: Callable[[int, BaseException], None] | None = None,
    progress: bool = True,
    desc: str = "cells",
    unit: str = "cell",
) -> list[dict]:
    """``fn(cell, **kwargs)`` for every cell as a Ray task; finished results in cell order.

    :param address: ``None`` starts a local Ray for the run (loopback, shut down at the end);
        ``"auto"`` joins the cluster of this machine (``RAY_ADDRESS`` or the latest
        ``ray start``); ``host:port`` joins that cluster. An already initialised Ray is used
        as it is (and left running).
    :param cpus_per_cell: Ray CPUs per task (fractions allowed).
    :param gpus_per_cell: Ray GPUs per task; a fraction packs several cells onto one GPU.
    :param max_retries: retries of a cell after a lost worker/node or an exception.
    :param on_result: ``on_result(index, result)`` in the driver, exactly once per finished
        cell, in completion order (the runner appends the record there: workers never write).
    :param on_failure: ``on_failure(index, error)`` for a cell whose retries are exhausted,
        after its one-line report on stderr; the other cells go on.
    """
    opts = check_options(address=address, cpus_per_cell=cpus_per_cell,
                         gpus_per_cell=gpus_per_cell, max_retries=max_retries)
    if not cells:
        return []
    from tqdm.auto import tqdm

    if opts["address"] == "auto":
        opts["address"] = _resolve_auto()
    with _ray_environment(opts["address"]):
        ray = require_ray()
        started = not ray.is_initialized()
        if started:
            init: dict[str, Any] = dict(include_dashboard=False, logging_level="WARNING")
            env = _forwarded_env()
            if env:
                init["runtime_env"] = {"env_vars": env}
            if opts["address"] is None:
                init.update(address="local", _node_ip_address="127.0.0.1")
            else:
                _check_reachable(opts["address"])
                init.update(address=opts["address"])
                if _is_loopback(opts["address"]):
                    init.update(_node_ip_address="127.0.0.1")
            try:
                ray.init(**init)
            except ConnectionError as err:
                first = str(err).strip().splitlines()
                raise ConfigError(f"--ray-address: cannot reach a Ray cluster at "
                                  f"{opts['address'] or 'auto'} "
                                  f"({first[-1] if first else type(err).__name__})") from None
        try:
            bar = tqdm(total=len(cells), desc=desc, unit=unit, disable=not progress)
            return _run(ray, fn, cells, opts, kwargs or {}, on_result, on_failure, bar, desc)
        finally:
            if started:
                ray.shutdown()


def _run(ray, fn, cells, opts, kwargs, on_result, on_failure, bar, desc) -> list[dict]:
    task = ray.remote(run_cell_task)
    results: list[dict | None] = [None] * len(cells)
    pending = {}
    try:
        fn_ref = ray.put(fn)
        kwargs_ref = ray.put(kwargs)
        for i, cell in enumerate(cells):
            ref = task.options(num_cpus=opts["cpus_per_cell"], num_gpus=opts["gpus_per_cell"],
                               max_retries=opts["max_retries"], retry_exceptions=True,
                               name=f"cell {_label(cell)}"[:200]).remote(fn_ref, cell, kwargs_ref)
            pending[ref] = i
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:
                    bar.write(f"{desc}: cell {_label(cells[i])} failed after "
                              f"{opts['max_retries']} retries: {_one_line(err)}", file=sys.stderr)
                    if on_failure is not None:
                        on_failure(i, err)
                else:
                    results[i] = result
                    if on_result is not None:
                        on_result(i, result)
                bar.update()
    except BaseException:
        for ref in pending:  # Ctrl-C or a failing on_result: stop what is still queued
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
    return [r for r in results if r is not None]

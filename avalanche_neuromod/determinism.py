"""Reproducible runs: one place that seeds every generator and asks torch for determinism.

On CPU, a cell run twice with the same seed gives bit-identical weights and metrics (the tests
compare whole records). On CUDA, torch's deterministic algorithms are requested too, with
``warn_only=True`` (an operation without a deterministic kernel warns instead of failing), and
cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` set before its first call, which :func:`deterministic`
does when CUDA is not initialised yet; results then repeat on the same GPU model, driver and
library versions, but not across GPU models or against CPU (see docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device), as Avalanche's
    ``RNGManager.set_random_seeds`` does."""
    from avalanche.training.determinism.rng_manager import RNGManager

    RNGManager.set_random_seeds(int(seed))


@contextlib.contextmanager
def deterministic(seed: int | None = None) -> Iterator[None]:
    """Seed (when ``seed`` is given) and run with deterministic algorithms; restore afterwards.

    Sets ``torch.use_deterministic_algorithms(True, warn_only=True)``, cuDNN's deterministic mode
    (benchmark off), ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset and CUDA is not yet
    initialised, and one thread for every BLAS library loaded (NumPy's and torch's, through
    ``threadpoolctl``). The previous settings come back on exit, so a library user's own choice
    is kept.
    """
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if CUBLAS_ENV not in os.environ and not torch.cuda.is_initialized():
        os.environ[CUBLAS_ENV] = ":4096:8"
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if seed is not None:
        seed_everything(seed)
    from threadpoolctl import threadpool_limits

    try:
        # one BLAS thread: NumPy's OpenBLAS (Avalanche's GEM builds its QP with np.dot) splits
        # a product's sum over as many threads as the machine has cores, so its last bits, and
        # GEM's records, followed the core count and OMP_NUM_THREADS
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2:]


def cpu_kernels() -> str:
    """The CPU code path a CPU run's float results depend on, e.g. ``"AVX512 x86_64 AMD EPYC"``.

    PyTorch dispatches its vectorised CPU kernels on the CPU's capability (``AVX512``, ``AVX2``,
    ``DEFAULT``; ``ATEN_CPU_CAPABILITY`` overrides it) and MKL picks its GEMM code path per CPU,
    so the summation order, hence the last bits, can change from one CPU to another: a run
    repeats bit for bit on CPUs with the same code path (and the same library versions), and
    chaotic cells (class-IL LwF, supervised DA+NA at a large learning rate) can amplify the last
    bits elsewhere into other outcomes. Records name it (``versions["cpu"]``) for that reason.
    """
    import platform

    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return " ".join(p for p in (torch.backends.cpu.get_cpu_capability(), platform.machine(),
                                model) if p)


# ------------------------------------------------------------------------------ RNG states

def rng_state() -> dict:
    """Every global generator's state as tensors and plain values (``weights_only``-loadable)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": list(mt), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

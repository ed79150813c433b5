"""What the W&B logger draws: metric values wandb can take, the accuracy matrix table, the
forgetting curves and the trials-to-criterion curve.

The accuracy matrix ``A`` has a row per trained experience (``trained_on`` = ``i``, from 0) and
a column per test experience: ``A[i][j]`` is the accuracy on ``j`` after training ``i``. The
forgetting of ``j`` after training ``i >= j`` is the best accuracy on ``j`` since it was trained
minus the current one, ``max_{j <= l <= i} A[l][j] - A[i][j]`` (0 at ``i = j``); its curve is
drawn over the same ``i`` as the matrix's rows, so both panels start at 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import wandb
from avalanche.evaluation.metric_results import AlternativeValues, TensorImage
from matplotlib.figure import Figure
from PIL.Image import Image as PILImage
from torch import Tensor
from wandb.sdk.data_types.base_types.wb_value import WBValue

MATRIX_X = "after training experience"
"""The x axis of the forgetting curves: the row ``trained_on`` of ``accuracy_matrix``."""


def convert_value(value):
    """A metric value as something wandb can log (None: skip it)."""
    if isinstance(value, AlternativeValues):
        value = value.best_supported_value(PILImage, Figure, TensorImage, wandb.plot.CustomChart,
                                           WBValue, float, int, np.generic, Tensor)
    if value is None or isinstance(value, (str, bytes)):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        if value.numel() == 1:
            return float(value.item())
        if value.numel() == 0:
            return None
        return wandb.Histogram(value.float().numpy().ravel())
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return float(value.reshape(-1)[0])
        return wandb.Histogram(value.astype(float).ravel()) if value.size else None
    if isinstance(value, TensorImage):
        return wandb.Image(value.image.detach().cpu())
    if isinstance(value, (PILImage, Figure)):
        return wandb.Image(value)
    if isinstance(value, (wandb.plot.CustomChart, WBValue)):
        return value
    return None


def matrix_table(matrix: list[list[float | None]]):
    """``accuracy_matrix`` as a ``wandb.Table``: ``trained_on`` then one column per test
    experience (``exp_000``, ...)."""
    columns = ["trained_on"] + [f"exp_{j:03d}" for j in range(len(matrix[0]))]
    return wandb.Table(columns=columns, data=[[i] + list(row) for i, row in enumerate(matrix)])


def forgetting_points(matrix: list[list[float | None]]) -> dict[int, list[tuple[int, float]]]:
    """Per test experience ``j``: ``(i, forgetting of j after training i)`` for every trained
    ``i >= j`` where ``A[i][j]`` was evaluated (module docstring)."""
    out: dict[int, list[tuple[int, float]]] = {}
    for j in range(len(matrix[0]) if matrix else 0):
        best = -math.inf
        for i in range(j, len(matrix)):
            value = matrix[i][j]
            if value is None:
                continue
            best = max(best, value)
            out.setdefault(j, []).append((i, best - value))
    return out


def forgetting_chart(matrix: list[list[float | None]]):
    """The "Forgetting curves" line series (one line per test experience), or None."""
    points = forgetting_points(matrix)
    if not points:
        return None
    keys = sorted(points)
    return wandb.plot.line_series(
        xs=[[i for i, _ in points[j]] for j in keys],
        ys=[[f for _, f in points[j]] for j in keys],
        keys=[f"exp_{j:03d}" for j in keys], title="Forgetting curves", xname=MATRIX_X)


def adaptation_payload(trials: dict[int, float]) -> dict[str, Any]:
    """The trials-to-criterion curve (x = experience) and its mean over finite values."""
    exps = sorted(trials)
    values = [trials[e] for e in exps]
    payload: dict[str, Any] = {"adaptation/trials_to_criterion": wandb.plot.line_series(
        xs=[exps], ys=[values], keys=["trials_to_criterion"], title="Trials to criterion",
        xname="experience")}
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        payload["adaptation/mean_trials_to_criterion"] = float(np.mean(finite))
    return payload

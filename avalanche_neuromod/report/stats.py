"""Small, dependency-free statistics for the case-study report (numpy only, no scipy).

- :func:`mean_ci`: mean and half-width of a Student-t 95% confidence interval over seeds;
- :func:`median_with_failures`: median of trials-to-criterion where a failure (``None``) is +inf;
- :func:`solved_share`: share of entries that are not failures;
- :func:`column_mean_ci`: the same as :func:`mean_ci`, column-wise, for bands in plots.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = [
    "T_95",
    "t_critical",
    "mean_ci",
    "median_with_failures",
    "solved_share",
    "column_mean_ci",
]

#: Two-sided 95% Student-t quantiles (t_{0.975, df}) for df = 1..30; beyond that 1.96 is used.
T_95: dict[int, float] = {
    1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706,
    6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622, 10: 2.2281,
    11: 2.2010, 12: 2.1788, 13: 2.1604, 14: 2.1448, 15: 2.1314,
    16: 2.1199, 17: 2.1098, 18: 2.1009, 19: 2.0930, 20: 2.0860,
    21: 2.0796, 22: 2.0739, 23: 2.0687, 24: 2.0639, 25: 2.0595,
    26: 2.0555, 27: 2.0518, 28: 2.0484, 29: 2.0452, 30: 2.0423,
}  # fmt: skip


def _check_confidence(confidence: float) -> None:
    if not math.isclose(confidence, 0.95):
        raise ValueError(f"only confidence=0.95 is supported, got {confidence!r}")


def t_critical(df: int, *, confidence: float = 0.95) -> float:
    """Two-sided Student-t critical value for ``df`` degrees of freedom (NaN for ``df < 1``)."""
    _check_confidence(confidence)
    if df < 1:
        return math.nan
    return T_95.get(int(df), 1.96)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def mean_ci(values: Iterable[float | None], *, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean.

    ``None`` and NaN values are dropped. The half-width is ``t * s / sqrt(n)`` with ``s`` the
    sample standard deviation (ddof=1); it is NaN for ``n < 2``, and the mean is NaN for ``n == 0``.

    Raises:
        ValueError: for any ``confidence`` other than 0.95.
    """
    _check_confidence(confidence)
    kept = np.asarray([float(v) for v in values if not _is_missing(v)], dtype=float)
    n = kept.size
    if n == 0:
        return math.nan, math.nan
    mean = float(kept.mean())
    if n < 2:
        return mean, math.nan
    half = t_critical(n - 1) * float(kept.std(ddof=1)) / math.sqrt(n)
    return mean, half


def _as_trials(values: Iterable[float | None]) -> np.ndarray:
    """Trials-to-criterion as floats, with failures (None / NaN) mapped to +inf."""
    return np.asarray([math.inf if _is_missing(v) else float(v) for v in values], dtype=float)


def median_with_failures(values: Iterable[float | None]) -> float:
    """Median of trials-to-criterion where a failure (``None`` or NaN) counts as +inf.

    With an even count the median is the midpoint of the two middle values, so it is +inf as soon as
    either of them is a failure. Returns NaN for an empty input.
    """
    arr = _as_trials(values)
    if arr.size == 0:
        return math.nan
    arr = np.sort(arr)
    mid = arr.size // 2
    if arr.size % 2:
        return float(arr[mid])
    lo, hi = float(arr[mid - 1]), float(arr[mid])
    if math.isinf(lo) or math.isinf(hi):
        return math.inf
    return (lo + hi) / 2.0


def solved_share(values: Iterable[float | None]) -> float:
    """Share of entries that reached criterion (not ``None``, NaN or inf); NaN for empty input."""
    arr = _as_trials(values)
    if arr.size == 0:
        return math.nan
    return float(np.isfinite(arr).mean())


def column_mean_ci(
    matrix: np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise NaN-aware mean and t-CI half-width of a ``(n_seeds, n_points)`` matrix.

    Columns with fewer than two finite values get a NaN half-width (no band is drawn there).
    """
    _check_confidence(confidence)
    m = np.asarray(matrix, dtype=float)
    if m.ndim == 1:
        m = m[None, :]
    valid = ~np.isnan(m)
    n = valid.sum(axis=0)
    mean = np.full(m.shape[1], np.nan)
    half = np.full(m.shape[1], np.nan)
    has = n > 0
    filled = np.where(valid, m, 0.0)
    mean[has] = filled[:, has].sum(axis=0) / n[has]
    two = n >= 2
    if two.any():
        dev = np.where(valid, m - mean[None, :], 0.0)
        std = np.sqrt((dev[:, two] ** 2).sum(axis=0) / (n[two] - 1))
        tcrit = np.asarray([t_critical(int(k) - 1) for k in n[two]])
        half[two] = tcrit * std / np.sqrt(n[two])
    return mean, half

"""Bootstrap confidence intervals for per-case metrics of several training seeds.

The results of a comparison form a grid ``(seeds, cases)`` per configuration. Two sources of variation matter: the
test cases (another sample of cases would give another mean) and the training seed (another run of the same
configuration gives another network). The intervals here resample **both**: each bootstrap replicate draws the
seeds with replacement and, independently, the cases with replacement (all seeds of a drawn case come together),
and takes the mean over the drawn grid. With few seeds this is conservative, which is the point: a difference
that only one lucky seed shows does not exclude 0.

A paired difference between a configuration and the baseline is taken per (seed, case) cell — same test case,
same seed index — and bootstrapped the same way.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Interval", "bootstrap_mean_ci"]


class Interval(NamedTuple):
    """A mean with its bootstrap confidence interval (``n_seeds`` x ``n_cases`` finite values behind it)."""

    mean: float
    low: float
    high: float
    n_seeds: int
    n_cases: int

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0."""
        return bool(self.low > 0 or self.high < 0)


def bootstrap_mean_ci(
    values: np.ndarray, confidence: float = 0.95, num_resamples: int = 10000, seed: int = 0
) -> Interval:
    """Mean of a ``(seeds, cases)`` grid and its percentile bootstrap interval, resampling seeds and cases.

    Args:
        values: ``(n_seeds, n_cases)`` array (a 1D array is one seed); NaN cells (a failed run, an undefined
            metric) are left out of every mean, and rows / columns that are all NaN are dropped first.
        confidence: coverage of the interval, in (0, 1).
        num_resamples: bootstrap replicates.
        seed: seed of the resampling (the interval is deterministic for a given input).

    Returns:
        an :class:`Interval`; all NaN when no finite value is left. With one seed only the cases are resampled,
        with one case only the seeds; with one of each the interval is the single value.

    Raises:
        ValueError: for a ``confidence`` outside (0, 1) or ``values`` with more than two dimensions.

    Example:
        >>> grid = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])
        >>> ci = bootstrap_mean_ci(grid)
        >>> ci.mean, ci.low <= ci.mean <= ci.high, ci.n_seeds, ci.n_cases
        (2.5, True, 2, 3)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim == 1:
        grid = grid[None]
    if grid.ndim != 2:
        raise ValueError(f"values must be a (seeds, cases) grid, got shape {grid.shape}.")
    finite = np.isfinite(grid)
    grid = grid[finite.any(axis=1)][:, finite.any(axis=0)]
    n_seeds, n_cases = grid.shape
    if grid.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, 0)
    mask = np.isfinite(grid)
    filled = np.where(mask, grid, 0.0)
    mean = float(filled.sum() / mask.sum())
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_seeds, size=(num_resamples, n_seeds))
    cols = rng.integers(0, n_cases, size=(num_resamples, n_cases))
    # sum over the drawn grid = sum_{i,j} X[rows_i, cols_j]: count how often each seed / case is drawn
    row_counts = np.zeros((num_resamples, n_seeds))
    col_counts = np.zeros((num_resamples, n_cases))
    np.add.at(row_counts, (np.arange(num_resamples)[:, None], rows), 1.0)
    np.add.at(col_counts, (np.arange(num_resamples)[:, None], cols), 1.0)
    sums = np.einsum("rs,sc,rc->r", row_counts, filled, col_counts)
    counts = np.einsum("rs,sc,rc->r", row_counts, mask.astype(np.float64), col_counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means = means[np.isfinite(means)]
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail]) if means.size else (mean, mean)
    return Interval(mean, float(low), float(high), n_seeds, n_cases)

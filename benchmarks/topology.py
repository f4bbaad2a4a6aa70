"""Benchmarks of the topology core: ``betti_numbers`` vs gudhi, ``compute_persistence`` vs raw cripser.

All ratios are measured in the same run on the same arrays. gudhi is a test-only dependency; without it
the gudhi columns are skipped (and say so).
"""

from __future__ import annotations

import time
import cripser
import numpy as np
from scipy.ndimage import gaussian_filter

from benchmarks.utils import best_time
from monai_topo.topology import betti_numbers, compute_persistence, compute_persistence_batch

__all__ = ["smooth_volume", "benchmark_betti", "benchmark_persistence", "benchmark_persistence_batch"]


def smooth_volume(size: int, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A smooth random field in [0, 1] of shape ``size^3`` (a likelihood-like test volume)."""
    field = gaussian_filter(np.random.default_rng(seed).random((size,) * 3), sigma)
    field -= field.min()
    return field / max(float(field.max()), 1e-12)


def _gudhi_betti(mask: np.ndarray) -> np.ndarray:
    import gudhi

    complex_ = gudhi.CubicalComplex(top_dimensional_cells=(~mask).astype(np.float64))
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=-1)
    betti = np.zeros(mask.ndim, np.int64)
    for dim in range(mask.ndim):
        pairs = complex_.persistence_intervals_in_dimension(dim)
        if len(pairs):
            betti[dim] = int(((pairs[:, 0] <= 0.5) & (pairs[:, 1] > 0.5)).sum())
    return betti


def benchmark_betti(sizes: tuple[int, ...] = (64, 128, 256), gudhi_max_size: int = 128) -> list[dict]:
    """``betti_numbers`` vs Betti numbers read off gudhi's persistence of the same mask (T-construction).

    gudhi runs only up to ``gudhi_max_size`` (256^3 takes minutes and GBs there).
    """
    try:
        import gudhi  # noqa: F401

        have_gudhi = True
    except ImportError:
        have_gudhi = False
    rows = []
    for size in sizes:
        mask = smooth_volume(size) > 0.6
        ours = best_time(lambda: betti_numbers(mask), repeats=3)
        betti = betti_numbers(mask)
        row = {"size": size, "betti": betti.tolist(), "ours_s": ours, "gudhi_s": None, "speedup": None, "exact": None}
        if have_gudhi and size <= gudhi_max_size:
            start = time.perf_counter()
            reference = _gudhi_betti(mask)
            row["gudhi_s"] = time.perf_counter() - start
            row["speedup"] = row["gudhi_s"] / ours
            row["exact"] = bool(np.array_equal(reference, betti))
        rows.append(row)
    return rows


def benchmark_persistence(sizes: tuple[int, ...] = (64, 128), repeats: int = 2) -> list[dict]:
    """``compute_persistence`` (superlevel, T-construction) vs raw ``cripser.computePH_T`` of ``-values``."""
    rows = []
    for size in sizes:
        values = smooth_volume(size, seed=1)
        negated = -values
        raw = best_time(lambda: cripser.computePH_T(negated, maxdim=2), repeats)
        ours = best_time(lambda: compute_persistence(values), repeats)
        rows.append(
            {
                "size": size,
                "pairs": len(compute_persistence(values)),
                "cripser_s": raw,
                "ours_s": ours,
                "ratio": ours / raw,
            }
        )
    return rows


def benchmark_persistence_batch(size: int = 64, count: int = 4, repeats: int = 2) -> dict:
    """Thread-pool speed-up of :func:`compute_persistence_batch` over a serial loop (cripser releases the GIL)."""
    images = [smooth_volume(size, seed=10 + i) for i in range(count)]
    serial = best_time(lambda: compute_persistence_batch(images, num_workers=1), repeats)
    threaded = best_time(lambda: compute_persistence_batch(images), repeats)
    return {"volumes": f"{count} x {size}^3", "serial_s": serial, "threaded_s": threaded, "speedup": serial / threaded}

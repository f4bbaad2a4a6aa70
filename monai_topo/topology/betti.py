"""Betti numbers and Euler characteristic of binary 2D/3D masks in O(n).

- ``b0``: connected foreground components (cc3d, foreground connectivity).
- ``b_{d-1}``: enclosed background components (holes in 2D, cavities in 3D), background connectivity.
- ``b1`` in 3D: from the Euler characteristic, ``b1 = b0 + b2 - chi``.

The cubical complex follows the chosen construction (see :mod:`monai_topo.topology.connectivity`), so
these numbers equal the persistence-derived ones of :func:`monai_topo.topology.compute_persistence`.
"""

from __future__ import annotations

import itertools

import numpy as np

from monai_topo.topology.chunked import chunked_betti_numbers, chunked_euler_characteristic
from monai_topo.topology.connectivity import Connectivity, foreground_connectivity
from monai_topo.topology.euler import mask_euler_characteristic
from monai_topo.topology.labelling import label_mask
from monai_topo.topology.validation import check_binary_mask

__all__ = ["betti_numbers", "euler_characteristic", "patch_slices", "betti_numbers_patches"]


def euler_characteristic(mask: np.ndarray, connectivity: Connectivity = None) -> int:
    """Euler characteristic of the cubical complex of a binary mask.

    T-construction (default): the complex is the union of the closed voxels; a k-cell is present when any
    voxel around it is foreground. V-construction: voxels are vertices; a k-cell is present when all its
    ``2**k`` corner voxels are foreground. Cells are counted with array shifts
    (:func:`monai_topo.topology.euler.mask_euler_characteristic`), or chunk by chunk for a dask array.

    Args:
        mask: binary 2D or 3D array, or a ``dask.array.Array`` (computed chunk by chunk).
        connectivity: foreground connectivity (8/26 T-construction, 4/6 V-construction).

    Example:
        >>> ring = np.ones((3, 3), bool); ring[1, 1] = False
        >>> euler_characteristic(ring)
        0
    """
    if type(mask).__module__.startswith("dask."):  # a chunked volume: exact, chunk by chunk
        return chunked_euler_characteristic(mask, connectivity)
    return mask_euler_characteristic(mask, connectivity)


def betti_numbers(mask: np.ndarray, connectivity: Connectivity = None) -> np.ndarray:
    """Betti numbers ``(b0, b1)`` of a 2D or ``(b0, b1, b2)`` of a 3D binary mask, exactly and in O(n).

    Args:
        mask: binary 2D or 3D array (bool or 0/1 values; threshold probabilities first), or a
            ``dask.array.Array`` (computed chunk by chunk, see :mod:`monai_topo.topology.chunked`).
        connectivity: foreground connectivity: ``None``/8/26 (T-construction, default) or 4/6.

    Returns:
        ``int64`` array of length ``mask.ndim``.

    Raises:
        ValueError: for non-binary values, wrong dimensions, an empty array or a bad connectivity.

    Example:
        >>> shell = np.ones((5, 5, 5), bool); shell[2, 2, 2] = False
        >>> betti_numbers(shell).tolist()
        [1, 0, 1]
    """
    if type(mask).__module__.startswith("dask."):  # a chunked volume: exact, chunk by chunk
        return chunked_betti_numbers(mask, connectivity)
    m = check_binary_mask(mask)
    foreground_connectivity(connectivity, m.ndim)  # a bad connectivity fails on an empty mask too
    if not m.any():
        return np.zeros(m.ndim, np.int64)
    return label_mask(m, connectivity).betti()  # (monai_topo.topology.labelling: shared with other measures)


def patch_slices(
    shape: tuple[int, ...],
    patch_size: int | tuple[int, ...],
    num_patches: int | None = None,
    seed: int | None = 0,
) -> list[tuple[slice, ...]]:
    """Patch windows for Hu et al.'s patch protocol: tiled (default) or ``num_patches`` random ones.

    Tiles start every ``patch_size`` voxels and the last tile along an axis is shifted back to fit, so all
    patches have the same size (clipped to the image). Random patches are drawn uniformly with ``seed``.

    Example:
        >>> patch_slices((10, 10), 4)[:2]
        [(slice(0, 4, None), slice(0, 4, None)), (slice(0, 4, None), slice(4, 8, None))]
    """
    ndim = len(shape)
    size = (patch_size,) * ndim if isinstance(patch_size, (int, np.integer)) else tuple(patch_size)
    if len(size) != ndim or any(int(s) < 1 for s in size):
        raise ValueError(f"patch_size must be a positive int or a tuple of {ndim} positive ints, got {patch_size!r}.")
    size = tuple(min(int(s), int(n)) for s, n in zip(size, shape))
    if num_patches is None:
        starts_per_axis = []
        for n, s in zip(shape, size):
            starts = list(range(0, n - s + 1, s))
            if starts[-1] + s < n:
                starts.append(n - s)
            starts_per_axis.append(starts)
        combos = itertools.product(*starts_per_axis)
    else:
        if num_patches < 1:
            raise ValueError(f"num_patches must be >= 1 or None (tiles), got {num_patches}.")
        rng = np.random.default_rng(seed)
        combos = zip(*[rng.integers(0, n - s + 1, size=num_patches).tolist() for n, s in zip(shape, size)])
    return [tuple(slice(int(a), int(a) + s) for a, s in zip(start, size)) for start in combos]


def betti_numbers_patches(
    mask: np.ndarray,
    patch_size: int | tuple[int, ...],
    num_patches: int | None = None,
    seed: int | None = 0,
    connectivity: Connectivity = None,
) -> np.ndarray:
    """Betti numbers of each patch of ``mask`` (see :func:`patch_slices`), shape ``(num_patches, ndim)``.

    Example:
        >>> betti_numbers_patches(np.eye(8, dtype=bool), 4).tolist()
        [[1, 0], [0, 0], [0, 0], [1, 0]]
    """
    m = check_binary_mask(mask)
    windows = patch_slices(m.shape, patch_size, num_patches, seed)
    return np.stack([betti_numbers(m[w], connectivity) for w in windows]).astype(np.int64)

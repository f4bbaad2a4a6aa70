"""The cubical complex of a binary mask, counted cell by cell: the Euler characteristic of an in-memory mask.

Shared by :mod:`monai_topo.topology.betti` (``euler_characteristic``), :mod:`monai_topo.topology.labelling` (the
Betti numbers of a labelled mask) and :mod:`monai_topo.topology.chunked` (each chunk's share of the count).
"""

from __future__ import annotations

import itertools

import numpy as np

from monai_topo.topology.connectivity import Connectivity, resolve_connectivity
from monai_topo.topology.validation import check_binary_mask

__all__ = ["combine_neighbours", "mask_euler_characteristic"]


def combine_neighbours(arr: np.ndarray, axis: int, combine: np.ufunc) -> np.ndarray:
    """Combine neighbours along ``axis``: ``out[i] = combine(arr[i], arr[i + 1])``."""
    lo = [slice(None)] * arr.ndim
    hi = [slice(None)] * arr.ndim
    lo[axis] = slice(None, -1)
    hi[axis] = slice(1, None)
    return combine(arr[tuple(lo)], arr[tuple(hi)])


def mask_euler_characteristic(mask: np.ndarray, connectivity: Connectivity = None) -> int:
    """Euler characteristic of a binary numpy mask, counting the cells of its cubical complex with array shifts
    (:func:`monai_topo.topology.euler_characteristic` without its chunked path; the constructions are described
    there).

    Args:
        mask: binary 2D or 3D array.
        connectivity: foreground connectivity (8/26 T-construction, 4/6 V-construction).

    Example:
        >>> ring = np.ones((3, 3), bool); ring[1, 1] = False
        >>> mask_euler_characteristic(ring)
        0
    """
    m = check_binary_mask(mask)
    construction = resolve_connectivity(connectivity, m.ndim)
    chi = 0
    if construction == "T":
        padded = np.pad(m, 1)
        for extent in itertools.product((0, 1), repeat=m.ndim):
            cells = padded
            for axis, extends in enumerate(extent):
                if extends:  # the cell spans this axis: it lies inside one voxel row
                    index = [slice(None)] * m.ndim
                    index[axis] = slice(1, -1)
                    cells = cells[tuple(index)]
                else:  # a boundary position between two voxels: present if either voxel is there
                    cells = combine_neighbours(cells, axis, np.logical_or)
            chi += (-1) ** sum(extent) * int(np.count_nonzero(cells))
    else:
        for extent in itertools.product((0, 1), repeat=m.ndim):
            cells = m
            for axis, extends in enumerate(extent):
                if extends:
                    if cells.shape[axis] < 2:
                        cells = cells[tuple(slice(0, 0) if a == axis else slice(None) for a in range(m.ndim))]
                    else:
                        cells = combine_neighbours(cells, axis, np.logical_and)
            chi += (-1) ** sum(extent) * int(np.count_nonzero(cells))
    return chi

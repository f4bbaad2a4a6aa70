"""Connected-component labelling on top of cc3d that is safe on thin volumes and 2D images.

Two cc3d defects are worked around here, so nothing else in monai_topo calls cc3d directly (pyproject
also pins cc3d 3.24-3.26, which our scipy cross-check of 88,000 random and exhaustive masks found clean):

- 26-connectivity on 3D arrays that are lines (e.g. shape ``(1, 1, 12)``) raises
  ``RuntimeError: maximum length exception`` (4.x);
- 2D 8-connectivity sometimes returns a wrong labelling: adjacent voxels with different labels, ``N``
  smaller than the largest label (3.27 to 4.1.1, about 1 in 200 random masks).

Singleton axes do not change connectivity, so they are removed first; a 2D image is labelled as a
one-plane 3D volume (8 -> 26, 4 -> 6), which is exact; a line is labelled as a ``1 x n`` image.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.topology.connectivity import flat_offsets, neighbour_offsets

__all__ = ["label_components", "label_sparse_components"]

_PLANAR_TO_3D = {26: 26, 18: 26, 8: 26, 6: 6, 4: 6}


def label_components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """Label the connected components of a 2D/3D boolean (or label) array.

    Args:
        mask: boolean mask, or an integer label map (cc3d then labels each value's regions separately).
        connectivity: 4 or 8 in 2D; 6, 18 or 26 in 3D.

    Returns:
        ``(labels, n)``: a label array of ``mask.shape`` (0 = background, 1..n components) and ``n``.

    Example:
        >>> labels, n = label_components(np.array([[[1, 0, 1, 1]]], bool), 26)
        >>> n, labels.ravel().tolist()
        (2, [1, 0, 2, 2])
    """
    if not mask.flags.writeable:  # cc3d refuses read-only buffers (e.g. a chunk dask hands out)
        mask = mask.copy()
    shape = mask.shape
    keep = [size for size in shape if size > 1]
    if len(keep) == 3:
        labels, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
        return labels, int(n)
    if len(keep) == 2:  # a plane: label it as a one-plane 3D volume
        reduced, conn = mask.reshape(keep[0], keep[1], 1), _PLANAR_TO_3D[connectivity]
    else:  # a line or a single voxel: label it as a 1 x n image
        reduced, conn = mask.reshape(1, -1), 4
    labels, n = cc3d.connected_components(np.ascontiguousarray(reduced), connectivity=conn, return_N=True)
    return labels.reshape(shape), int(n)


def label_sparse_components(
    index: np.ndarray, values: np.ndarray, shape: tuple[int, ...], connectivity: int
) -> tuple[np.ndarray, int]:
    """Connected components of a sparse set of voxels, given by flat index: the labels cc3d gives them, cheaply.

    Voxels are joined when they are neighbours (``connectivity``) with the same value, as
    :func:`label_components` labels an integer label map. The voxels are visited instead of the whole array: one
    binary search per voxel and forward neighbour, and a graph of the voxels. It pays for a few thousand voxels in
    a large array: on a 130^3 volume, 1,000 voxels take about 0.9 ms against 4 ms for cc3d on the volume; with
    26-connectivity :func:`label_components` is faster from about 1/500 of the volume on (16,000 voxels: 8.6 ms
    against 3.9 ms), with 6-connectivity from about 1/100.

    Args:
        index: sorted (ascending) C-order flat indices of the voxels in an array of ``shape``.
        values: the value of each voxel (non-zero); voxels with different values are never joined.
        shape: the array's shape (2D or 3D).
        connectivity: 4 or 8 in 2D; 6 or 26 in 3D.

    Returns:
        ``(labels, n)``: the component (``1..n``) of each voxel, in the order of ``index``, and ``n``.

    Example:
        >>> labels, n = label_sparse_components(np.array([0, 1, 3]), np.array([1, 1, 1]), (1, 4), 4)
        >>> n, labels.tolist()
        (2, [1, 1, 2])
    """
    index = np.asarray(index, np.int64)
    if len(index) == 0:
        return np.zeros(0, np.int64), 0
    values = np.asarray(values)
    offsets = neighbour_offsets(len(shape), connectivity)
    offsets = offsets[[tuple(o) > (0,) * len(shape) for o in offsets.tolist()]]  # each neighbour pair once
    # flat indices in the array padded by one voxel: a neighbour never wraps around to the next row
    padded_shape = tuple(s + 2 for s in shape)
    coords = np.unravel_index(index, shape)
    padded = np.ravel_multi_index(tuple(c + 1 for c in coords), padded_shape)
    neighbour = padded[:, None] + flat_offsets(offsets, padded_shape)[None, :]
    at = np.minimum(np.searchsorted(padded, neighbour), len(padded) - 1)
    linked = (padded[at] == neighbour) & (values[at] == values[:, None])
    rows = np.broadcast_to(np.arange(len(index))[:, None], neighbour.shape)[linked]
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, at[linked])), shape=(len(index), len(index)))
    n, labels = connected_components(graph, directed=False)
    return labels + 1, int(n)

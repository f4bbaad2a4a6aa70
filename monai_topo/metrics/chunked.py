"""The chunked path of the functional metrics: their per-item values from ``dask.array`` inputs, chunk by chunk.

:func:`monai_topo.metrics.compute_betti_error` and :func:`monai_topo.metrics.compute_connectivity_error` call
:func:`chunked_metric_items` when given ``dask.array.Array`` inputs; the topology of each item comes from
:func:`monai_topo.topology.chunked_pair_topology` (exact, the volume is never loaded whole).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from monai_topo.topology.chunked import chunked_pair_topology, is_dask_array
from monai_topo.topology.connectivity import Connectivity

__all__ = ["chunked_metric_items"]


def chunked_metric_items(
    y_pred: Any,
    y: Any,
    include_background: bool = True,
    connectivity: Connectivity = None,
    instance_labels: bool = False,
    ignore_empty: bool = False,
) -> np.ndarray:
    """Betti error per dimension, splits and merges of every item of chunked ``B C H W [D]`` arrays, in one pass.

    Args:
        y_pred: binary ``B C H W [D]`` dask array (one-hot prediction).
        y: the target, same shape (a numpy array or tensor is chunked like ``y_pred``); instance ids with
            ``instance_labels``.
        include_background: whether to keep the first channel (a single channel is always kept).
        connectivity: foreground connectivity.
        instance_labels: whether ``y`` holds instance ids.
        ignore_empty: items whose target is empty are NaN.

    Returns:
        ``float64`` array ``(B, C', ndim + 2)``: ``|b_k(pred) - b_k(target)|`` for ``k < ndim``, splits, merges.

    Raises:
        ValueError: for wrong dimensions or different shapes (and as :func:`chunked_pair_topology`).

    Example:
        >>> import dask.array as da
        >>> ring = np.ones((1, 1, 5, 5), bool); ring[..., 2, 2] = False
        >>> chunked_metric_items(da.from_array(ring, chunks=2), np.ones((1, 1, 5, 5), bool)).tolist()
        [[[0.0, 1.0, 0.0, 0.0]]]
    """
    import dask.array as da

    if y is None:
        raise ValueError("y (the target) is required.")
    arrays = []
    for name, value in (("y_pred", y_pred), ("y", y)):
        if not is_dask_array(value):
            value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if value.ndim not in (4, 5):
            raise ValueError(f"{name} must be B C H W [D], got shape {tuple(value.shape)}.")
        arrays.append(value)
    pred, target = arrays
    if pred.shape != target.shape:
        raise ValueError(f"y_pred and y must have the same shape, got {pred.shape} and {target.shape}.")
    chunks = (pred if is_dask_array(pred) else target).chunks
    pred = pred if is_dask_array(pred) else da.from_array(pred, chunks=chunks)
    target = target if is_dask_array(target) else da.from_array(target, chunks=chunks)
    target = target.rechunk(pred.chunks)
    ndim = pred.ndim - 2
    first = 0 if include_background or pred.shape[1] == 1 else 1
    out = np.zeros((pred.shape[0], pred.shape[1] - first, ndim + 2))
    for b in range(pred.shape[0]):
        for c in range(first, pred.shape[1]):
            pair = chunked_pair_topology(pred[b, c], target[b, c], connectivity, instance_labels)
            if ignore_empty and pair.target.voxels == 0:
                out[b, c - first] = np.nan
                continue
            out[b, c - first, :ndim] = np.abs(pair.pred.betti - pair.target.betti)
            out[b, c - first, ndim:] = (pair.splits, pair.merges)
    return out

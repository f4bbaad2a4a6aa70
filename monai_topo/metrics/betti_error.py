"""Betti error |b_k(prediction) - b_k(target)| per homology dimension, whole image or Hu et al.'s patches."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.utils import MetricReduction

from monai_topo.metrics.chunked import chunked_metric_items
from monai_topo.metrics.utils import (
    Dims,
    TopologyCumulativeMetric,
    check_dims,
    check_dims_for_input,
    evaluate_items,
    prepare_metric_inputs,
    select_dims,
    to_output_tensor,
)
from monai_topo.topology import Connectivity, betti_numbers, betti_numbers_patches
from monai_topo.topology.chunked import is_dask_array
from monai_topo.topology.validation import (
    check_connectivity,
    check_num_workers,
    renamed_arguments,
)

__all__ = [
    "BettiErrorMetric",
    "betti_error_per_dim",
    "compute_betti_error",
    "compute_betti_error_per_dim",
    "compute_betti_numbers",
]


def betti_error_per_dim(
    pred: np.ndarray,
    target: np.ndarray,
    connectivity: Connectivity = None,
    patch_size: int | tuple[int, ...] | None = None,
    num_patches: int | None = None,
    seed: int | None = 0,
) -> np.ndarray:
    """Betti error of one binary spatial mask pair, per homology dimension (pure numpy).

    Args:
        pred: binary 2D or 3D prediction.
        target: binary target of the same shape.
        connectivity: foreground connectivity (``None``/8/26 T-construction, 4/6 V-construction).
        patch_size: ``None`` for the whole image; otherwise Hu et al.'s protocol: the error of each patch
            (same windows on both masks, see :func:`monai_topo.topology.betti.patch_slices`) averaged over patches.
        num_patches: ``None`` tiles the image; an int draws that many random windows with ``seed``.
        seed: seed of the random windows.

    Returns:
        ``float64`` array of length ``ndim``: ``|b_k(pred) - b_k(target)|`` for ``k = 0..ndim-1``.

    Example:
        >>> ring = np.ones((5, 5), bool); ring[2, 2] = False
        >>> betti_error_per_dim(ring, np.ones((5, 5), bool)).tolist()
        [0.0, 1.0]
    """
    if patch_size is None:
        return np.abs(betti_numbers(pred, connectivity) - betti_numbers(target, connectivity)).astype(np.float64)
    per_patch_pred = betti_numbers_patches(pred, patch_size, num_patches, seed, connectivity)
    per_patch_true = betti_numbers_patches(target, patch_size, num_patches, seed, connectivity)
    return np.abs(per_patch_pred - per_patch_true).mean(axis=0)


def _check_options(
    connectivity: Connectivity,
    dims: Dims,
    patch_size: int | tuple[int, ...] | None,
    num_patches: int | None,
    num_workers: int | None,
) -> tuple[int | None, int | tuple[int, ...] | None, int | None]:
    """Validate the options once; returns ``(connectivity, dims, num_workers)`` normalised."""
    connectivity = check_connectivity(connectivity)
    dims = check_dims(dims)
    if patch_size is not None:
        sizes = (patch_size,) if isinstance(patch_size, (int, np.integer)) else tuple(patch_size)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError(
                f"patch_size must be None, a positive int or a tuple of positive ints, got {patch_size!r}."
            )
    if num_patches is not None:
        if patch_size is None:
            raise ValueError("num_patches needs patch_size (the random patches' size).")
        if isinstance(num_patches, bool) or not isinstance(num_patches, (int, np.integer)) or num_patches < 1:
            raise ValueError(f"num_patches must be None (tile the image) or a positive int, got {num_patches!r}.")
    return connectivity, dims, check_num_workers(num_workers)


def _betti_error_per_dim(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool,
    connectivity: int | None,
    patch_size: int | tuple[int, ...] | None,
    num_patches: int | None,
    seed: int | None,
    ignore_empty: bool,
    num_workers: int | None,
    dims: int | tuple[int, ...] | None = None,
) -> torch.Tensor:
    """:func:`compute_betti_error_per_dim` with options already validated (inputs are checked here)."""
    if is_dask_array(y_pred) or is_dask_array(y):  # volumes larger than memory: exact, chunk by chunk
        if patch_size is not None:
            raise ValueError("patch_size is not supported for dask arrays; compute the whole-volume Betti error.")
        values = chunked_metric_items(y_pred, y, include_background, connectivity, ignore_empty=ignore_empty)
        return to_output_tensor(values[..., : y_pred.ndim - 2], torch.device("cpu"))
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background)
    check_dims_for_input(pred, connectivity, dims)
    values = evaluate_items(
        lambda p, t: betti_error_per_dim(p, t, connectivity, patch_size, num_patches, seed),
        pred,
        target,
        value_shape=(pred.ndim - 2,),
        ignore_empty=ignore_empty,
        num_workers=num_workers,
    )
    return to_output_tensor(values, device)


def compute_betti_error_per_dim(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    connectivity: Connectivity = None,
    patch_size: int | tuple[int, ...] | None = None,
    num_patches: int | None = None,
    seed: int | None = 0,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """Betti error per homology dimension, shape ``(B, C, ndim)``; see :func:`compute_betti_error`.

    Example:
        >>> ring = torch.ones(1, 1, 5, 5); ring[..., 2, 2] = 0
        >>> compute_betti_error_per_dim(ring, torch.ones(1, 1, 5, 5)).tolist()
        [[[0.0, 1.0]]]
    """
    connectivity, _, num_workers = _check_options(connectivity, None, patch_size, num_patches, num_workers)
    return _betti_error_per_dim(
        y_pred, y, include_background, connectivity, patch_size, num_patches, seed, ignore_empty, num_workers
    )


@renamed_arguments(dim="dims")
def compute_betti_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    dims: Dims = None,
    connectivity: Connectivity = None,
    patch_size: int | tuple[int, ...] | None = None,
    num_patches: int | None = None,
    seed: int | None = 0,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """Betti error ``|b_k(y_pred) - b_k(y)|`` of every batch item and channel.

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]``.
        y: binarised one-hot ground truth of the same shape.
        include_background: whether to include the first channel.
        dims: ``None`` sums the errors over all homology dimensions ``0..ndim-1``; an int selects one
            (0 components, 1 loops/holes, 2 cavities); a sequence sums those. (Was ``dim``, deprecated.)
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D), 4 or 6 (V-construction).
        patch_size: ``None`` compares whole images. Otherwise Hu et al.'s protocol: the per-patch Betti error,
            on the same windows of prediction and target, averaged over patches (int or per-axis tuple).
        num_patches: ``None`` tiles the image with non-overlapping patches (the last one shifted back to fit);
            an int draws that many random windows, identical for every item and channel given ``seed``.
        seed: seed of the random windows.
        ignore_empty: if True, items whose target channel is empty are NaN (left out of aggregation).
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Returns:
        ``float32`` tensor ``(B, C)`` on ``y_pred``'s device.

    Raises:
        ValueError: for wrong shapes, mismatched inputs or invalid options.

    Example:
        >>> pred = torch.zeros(1, 1, 8, 8); pred[..., 1:3, 1:3] = 1; pred[..., 5:7, 5:7] = 1
        >>> target = torch.zeros(1, 1, 8, 8); target[..., 1:7, 1:7] = 1
        >>> compute_betti_error(pred, target).item()
        1.0
    """
    connectivity, dims, num_workers = _check_options(connectivity, dims, patch_size, num_patches, num_workers)
    per_dim = _betti_error_per_dim(
        y_pred, y, include_background, connectivity, patch_size, num_patches, seed, ignore_empty, num_workers, dims
    )
    return select_dims(per_dim, dims)


def compute_betti_numbers(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    connectivity: Connectivity = None,
    num_workers: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Betti numbers of prediction and target, each an ``int64`` tensor ``(B, C, ndim)`` on ``y_pred``'s device.

    Example:
        >>> shell = torch.ones(1, 1, 5, 5, 5); shell[..., 2, 2, 2] = 0
        >>> pred_b, true_b = compute_betti_numbers(shell, torch.ones(1, 1, 5, 5, 5))
        >>> pred_b.tolist(), true_b.tolist()
        ([[[1, 0, 1]]], [[[1, 0, 0]]])
    """
    connectivity, _, num_workers = _check_options(connectivity, None, None, None, num_workers)
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background)
    check_dims_for_input(pred, connectivity)
    values = evaluate_items(
        lambda p, t: np.stack([betti_numbers(p, connectivity), betti_numbers(t, connectivity)]),
        pred,
        target,
        value_shape=(2, pred.ndim - 2),
        num_workers=num_workers,
    ).astype(np.int64)
    values_t = torch.as_tensor(values, device=device)
    return values_t[:, :, 0], values_t[:, :, 1]


class BettiErrorMetric(TopologyCumulativeMetric):
    """Betti error ``|b_k(y_pred) - b_k(y)|`` between binarised segmentations, per item and channel.

    ``b0`` counts connected components, ``b1`` loops (holes in 2D, tunnels/handles in 3D) and ``b2`` cavities,
    computed exactly in O(n) (:func:`monai_topo.topology.betti_numbers`). With ``patch_size`` the metric
    follows Hu et al. (NeurIPS 2019): the Betti error of each patch, averaged over patches, which penalises
    local topological mistakes that cancel out over the whole image.

    Inputs ``y_pred`` and ``y`` are binarised one-hot ``B C H W [D]`` tensors (or lists of channel-first
    tensors), as for :class:`monai.metrics.DiceMetric`; non-binary inputs are thresholded at 0.5 with a
    warning. Betti numbers are defined for every mask, so values are NaN only with ``ignore_empty=True``.

    Args:
        include_background: whether to include the first channel. Defaults to ``True`` (as ``DiceMetric``).
        dims: ``None`` (default) sums the errors over homology dimensions ``0..ndim-1``; 0, 1 or 2 selects one; a
            sequence sums those. (Was ``dim``, deprecated.)
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D, T-construction) or 4 / 6.
        patch_size: ``None`` for whole images, otherwise the patch size (int or per-axis tuple).
        num_patches: ``None`` tiles the image; an int samples that many random windows (``seed``).
        seed: seed of the random windows.
        ignore_empty: if True, items with an empty target channel are NaN and excluded from aggregation.
        reduction: MONAI reduction mode applied to not-NaN values (``"mean"``, ``"sum"``, ``"mean_batch"``,
            ``"sum_batch"``, ``"mean_channel"``, ``"sum_channel"``, ``"none"``).
        get_not_nans: whether ``aggregate()`` also returns the not-NaN counts.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Raises:
        ValueError: for invalid options (here) and wrong input shapes (when called).

    Example:
        >>> metric = BettiErrorMetric(dims=1)
        >>> ring = torch.ones(1, 1, 5, 5); ring[..., 2, 2] = 0
        >>> metric(ring, torch.ones(1, 1, 5, 5)).tolist()
        [[1.0]]
        >>> metric.aggregate().item()
        1.0
    """

    @renamed_arguments(dim="dims")
    def __init__(
        self,
        include_background: bool = True,
        dims: Dims = None,
        connectivity: Connectivity = None,
        patch_size: int | tuple[int, ...] | None = None,
        num_patches: int | None = None,
        seed: int | None = 0,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        connectivity, dims, num_workers = _check_options(connectivity, dims, patch_size, num_patches, num_workers)
        self.include_background = include_background
        self.dims = dims
        self.connectivity = connectivity
        self.patch_size = patch_size
        self.num_patches = num_patches
        self.seed = seed
        self.ignore_empty = ignore_empty
        self.num_workers = num_workers

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Betti error ``(B, C)`` of one batch; see :func:`compute_betti_error` (options were checked once)."""
        per_dim = _betti_error_per_dim(
            y_pred,
            y,  # type: ignore[arg-type]
            self.include_background,
            self.connectivity,
            self.patch_size,
            self.num_patches,
            self.seed,
            self.ignore_empty,
            self.num_workers,
            self.dims,
        )
        return select_dims(per_dim, self.dims)

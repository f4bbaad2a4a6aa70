"""Betti matching error (Stucki et al., ICML 2023): persistence features of prediction and target that stay unmatched.

The Betti error compares how *many* components, loops and cavities two masks have. The Betti matching error also
asks whether they are the *same* features: the features of prediction and target are matched through their
comparison image (induced matchings), and each feature left unmatched, on either side, counts one. A loop moved
elsewhere, or a component that vanished here and appeared there, leaves the Betti error at 0 but is two unmatched
features here. The matching is exact (equal to the reference, Betti-Matching-3D) and linear in the number of voxels
(:func:`monai_topo.topology.betti_matching`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.utils import MetricReduction

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
from monai_topo.topology import Connectivity, betti_matching_error
from monai_topo.topology.chunked import is_dask_array
from monai_topo.topology.validation import check_connectivity, check_num_workers

__all__ = [
    "BettiMatchingErrorMetric",
    "compute_betti_matching_error",
    "compute_betti_matching_error_per_dim",
]


def _check_options(
    connectivity: Connectivity, dims: Dims, num_workers: int | None
) -> tuple[int | None, int | tuple[int, ...] | None, int | None]:
    """Validate the options once; returns ``(connectivity, dims, num_workers)`` normalised."""
    return check_connectivity(connectivity), check_dims(dims), check_num_workers(num_workers)


def _betti_matching_error_per_dim(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool,
    connectivity: int | None,
    ignore_empty: bool,
    num_workers: int | None,
    dims: int | tuple[int, ...] | None = None,
) -> torch.Tensor:
    """:func:`compute_betti_matching_error_per_dim` with options already validated (inputs are checked here)."""
    if is_dask_array(y_pred) or is_dask_array(y):
        raise ValueError(
            "the Betti matching error is not computed chunk by chunk; load the volumes into memory (np.asarray) or "
            "use compute_betti_error, which supports dask arrays."
        )
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background)
    check_dims_for_input(pred, connectivity, dims)
    values = evaluate_items(
        lambda p, t: betti_matching_error(p, t, connectivity),
        pred,
        target,
        value_shape=(pred.ndim - 2,),
        ignore_empty=ignore_empty,
        num_workers=num_workers,
    )
    return to_output_tensor(values, device)


def compute_betti_matching_error_per_dim(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    connectivity: Connectivity = None,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """Betti matching error per homology dimension, shape ``(B, C, ndim)``; see :func:`compute_betti_matching_error`.

    Example:
        >>> pred = torch.zeros(1, 1, 12, 12); pred[..., 1:5, 1:5] = 1; pred[..., 2:4, 2:4] = 0  # a ring here
        >>> target = torch.zeros(1, 1, 12, 12); target[..., 7:11, 7:11] = 1; target[..., 8:10, 8:10] = 0  # there
        >>> compute_betti_matching_error_per_dim(pred, target).tolist()  # 2 components and 2 loops unmatched
        [[[2.0, 2.0]]]
    """
    connectivity, _, num_workers = _check_options(connectivity, None, num_workers)
    return _betti_matching_error_per_dim(y_pred, y, include_background, connectivity, ignore_empty, num_workers)


def compute_betti_matching_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    dims: Dims = None,
    connectivity: Connectivity = None,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """Betti matching error of every batch item and channel: unmatched features of ``y_pred`` plus those of ``y``.

    Per homology dimension, the features (persistence pairs) of prediction and target are matched through their
    comparison image (Stucki et al., ICML 2023), exactly as Betti-Matching-3D does
    (:func:`monai_topo.topology.betti_matching_error`); the error counts the features left unmatched on both
    sides. It is never below the Betti error, and it is above it when a feature of the right kind is in the wrong
    place (a loop moved, a component missing here and spurious there).

    With the default 26/8-connectivity every component counts; with 6/4-connectivity the features are the
    reference's finite pairs, so dimension 0 has ``b0 - 1`` features per mask (the first component never dies).

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]``.
        y: binarised one-hot ground truth of the same shape.
        include_background: whether to include the first channel.
        dims: ``None`` sums the errors over all homology dimensions ``0..ndim-1``; an int selects one
            (0 components, 1 loops/tunnels, 2 cavities); a sequence sums those.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D), 4 or 6 (V-construction).
        ignore_empty: if True, items whose target channel is empty are NaN (left out of aggregation).
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Returns:
        ``float32`` tensor ``(B, C)`` on ``y_pred``'s device.

    Raises:
        ValueError: for wrong shapes, mismatched inputs, dask arrays or invalid options.

    Example:
        >>> pred = torch.zeros(1, 1, 8, 8); pred[..., 1:3, 1:3] = 1       # one square here
        >>> target = torch.zeros(1, 1, 8, 8); target[..., 5:7, 5:7] = 1   # the same square there
        >>> compute_betti_matching_error(pred, target).item()            # Betti error 0, two unmatched components
        2.0
    """
    connectivity, dims, num_workers = _check_options(connectivity, dims, num_workers)
    per_dim = _betti_matching_error_per_dim(
        y_pred, y, include_background, connectivity, ignore_empty, num_workers, dims
    )
    return select_dims(per_dim, dims)


class BettiMatchingErrorMetric(TopologyCumulativeMetric):
    """Betti matching error between binarised segmentations, per item and channel (Stucki et al., ICML 2023).

    The persistence features of prediction and target (components, loops/tunnels, cavities) are matched through the
    comparison image by induced matchings; the error counts the features left unmatched in the prediction and in
    the target. Where :class:`~monai_topo.metrics.BettiErrorMetric` only compares the counts, this metric also
    catches a loop that moved or a component replaced by another one elsewhere. Exact (equal to Betti-Matching-3D) and linear in the
    number of voxels (:func:`monai_topo.topology.betti_matching`), but a few times the cost of the Betti error.

    Inputs ``y_pred`` and ``y`` are binarised one-hot ``B C H W [D]`` tensors (or lists of channel-first
    tensors), as for :class:`monai.metrics.DiceMetric`; non-binary inputs are thresholded at 0.5 with a
    warning. The matching is defined for every mask pair, so values are NaN only with ``ignore_empty=True``.

    Args:
        include_background: whether to include the first channel. Defaults to ``True`` (as ``DiceMetric``).
        dims: ``None`` (default) sums the errors over homology dimensions ``0..ndim-1``; 0, 1 or 2 selects one; a
            sequence sums those.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D, T-construction) or 4 / 6 (then
            dimension 0 counts ``b0 - 1`` features per mask, the reference's finite pairs).
        ignore_empty: if True, items with an empty target channel are NaN and excluded from aggregation.
        reduction: MONAI reduction mode applied to not-NaN values (``"mean"``, ``"sum"``, ``"mean_batch"``,
            ``"sum_batch"``, ``"mean_channel"``, ``"sum_channel"``, ``"none"``).
        get_not_nans: whether ``aggregate()`` also returns the not-NaN counts.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Raises:
        ValueError: for invalid options (here) and wrong input shapes (when called).

    Example:
        >>> metric = BettiMatchingErrorMetric(dims=1)
        >>> ring = torch.zeros(1, 1, 12, 12); ring[..., 1:5, 1:5] = 1; ring[..., 2:4, 2:4] = 0
        >>> moved = torch.roll(ring, shifts=(6, 6), dims=(2, 3))     # the same ring, elsewhere
        >>> metric(moved, ring).tolist()                             # Betti error 0; both loops unmatched
        [[2.0]]
        >>> metric.aggregate().item()
        2.0
    """

    def __init__(
        self,
        include_background: bool = True,
        dims: Dims = None,
        connectivity: Connectivity = None,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        connectivity, dims, num_workers = _check_options(connectivity, dims, num_workers)
        self.include_background = include_background
        self.dims = dims
        self.connectivity = connectivity
        self.ignore_empty = ignore_empty
        self.num_workers = num_workers

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Betti matching error ``(B, C)`` of one batch; see :func:`compute_betti_matching_error`."""
        per_dim = _betti_matching_error_per_dim(
            y_pred,
            y,  # type: ignore[arg-type]
            self.include_background,
            self.connectivity,
            self.ignore_empty,
            self.num_workers,
            self.dims,
        )
        return select_dims(per_dim, self.dims)

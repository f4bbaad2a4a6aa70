"""Euler characteristic error ``|chi(prediction) - chi(target)|``: the cheapest topological comparison."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.utils import MetricReduction

from monai_topo.metrics.utils import TopologyCumulativeMetric, evaluate_items, prepare_metric_inputs, to_output_tensor
from monai_topo.topology import Connectivity, euler_characteristic
from monai_topo.topology.validation import check_connectivity, check_num_workers

__all__ = ["EulerCharacteristicErrorMetric", "compute_euler_characteristic_error", "euler_characteristic_error"]


def euler_characteristic_error(pred: np.ndarray, target: np.ndarray, connectivity: Connectivity = None) -> float:
    """``|chi(pred) - chi(target)|`` of one binary 2D/3D mask pair (pure numpy).

    Example:
        >>> ring = np.ones((5, 5), bool); ring[2, 2] = False
        >>> euler_characteristic_error(ring, np.ones((5, 5), bool))
        1.0
    """
    return float(abs(euler_characteristic(pred, connectivity) - euler_characteristic(target, connectivity)))


def _euler_characteristic_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool,
    connectivity: int | None,
    ignore_empty: bool,
    num_workers: int | None,
) -> torch.Tensor:
    """:func:`compute_euler_characteristic_error` with options already validated (inputs are checked here)."""
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background)
    check_connectivity(connectivity, pred.ndim - 2)
    values = evaluate_items(
        lambda p, t: euler_characteristic_error(p, t, connectivity),
        pred,
        target,
        ignore_empty=ignore_empty,
        num_workers=num_workers,
    )
    return to_output_tensor(values, device)


def compute_euler_characteristic_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    connectivity: Connectivity = None,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """Euler characteristic error ``|chi(y_pred) - chi(y)|`` of every batch item and channel.

    ``chi = b0 - b1 (+ b2)``, so this error is a lower bound of the summed Betti error (errors of different
    dimensions can cancel, e.g. one extra component and one extra loop give 0).

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]``.
        y: binarised one-hot ground truth of the same shape.
        include_background: whether to include the first channel.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D), 4 or 6 (V-construction).
        ignore_empty: if True, items whose target channel is empty are NaN.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Returns:
        ``float32`` tensor ``(B, C)`` on ``y_pred``'s device.

    Raises:
        ValueError: for wrong shapes, mismatched inputs or invalid options.

    Example:
        >>> pred = torch.zeros(1, 1, 8, 8); pred[..., 1:3, 1:3] = 1; pred[..., 5:7, 5:7] = 1
        >>> compute_euler_characteristic_error(pred, torch.ones(1, 1, 8, 8)).item()
        1.0
    """
    return _euler_characteristic_error(
        y_pred, y, include_background, check_connectivity(connectivity), ignore_empty, check_num_workers(num_workers)
    )


class EulerCharacteristicErrorMetric(TopologyCumulativeMetric):
    """Euler characteristic error ``|chi(y_pred) - chi(y)|`` between binarised segmentations.

    The Euler characteristic of the cubical complex (:func:`monai_topo.topology.euler_characteristic`) is a
    local count of cells, hence very cheap; it equals ``b0 - b1 + b2``. Inputs are binarised one-hot
    ``B C H W [D]`` tensors; values are NaN only with ``ignore_empty=True`` and an empty target channel.

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D, T-construction) or 4 / 6.
        ignore_empty: if True, items with an empty target channel are NaN and excluded from aggregation.
        reduction: MONAI reduction mode applied to not-NaN values.
        get_not_nans: whether ``aggregate()`` also returns the not-NaN counts.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Example:
        >>> metric = EulerCharacteristicErrorMetric()
        >>> ring = torch.ones(1, 1, 5, 5); ring[..., 2, 2] = 0
        >>> metric(ring, torch.ones(1, 1, 5, 5)).tolist()
        [[1.0]]
    """

    def __init__(
        self,
        include_background: bool = True,
        connectivity: Connectivity = None,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.include_background = include_background
        self.connectivity = check_connectivity(connectivity)
        self.ignore_empty = ignore_empty
        self.num_workers = check_num_workers(num_workers)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Euler characteristic error ``(B, C)`` of one batch; see :func:`compute_euler_characteristic_error`."""
        return _euler_characteristic_error(
            y_pred,
            y,
            self.include_background,
            self.connectivity,
            self.ignore_empty,
            self.num_workers,  # type: ignore[arg-type]
        )

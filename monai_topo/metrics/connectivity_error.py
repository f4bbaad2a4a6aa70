"""Split and merge counts from the overlap graph of predicted components and target instances."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from monai.utils import MetricReduction

from monai_topo.metrics.chunked import chunked_metric_items
from monai_topo.metrics.utils import TopologyCumulativeMetric, evaluate_items, prepare_metric_inputs, to_output_tensor
from monai_topo.topology import Connectivity, label_components
from monai_topo.topology.connectivity import foreground_connectivity
from monai_topo.topology.chunked import chunked_split_merge_counts, is_dask_array
from monai_topo.topology.validation import check_connectivity, check_num_workers

__all__ = [
    "ConnectivityErrorMetric",
    "compute_connectivity_error",
    "kind_first_compat",
    "split_merge_counts",
    "split_merge_from_labels",
]

_KINDS = ("splits", "merges", "total")


def kind_first_compat(include_background: Any, kind: Any, owner: str) -> tuple[bool, str]:
    """Validate ``kind``; accept the pre-0.2 order (``kind`` first, positionally) with a ``DeprecationWarning``.

    Returns:
        ``(include_background, kind)``.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    if isinstance(include_background, str):
        warnings.warn(
            f"{owner}({include_background!r}, ...): kind as the first argument is deprecated since monai_topo 0.2.0 "
            "(MONAI's order: include_background first); pass kind=... by keyword.",
            DeprecationWarning,
            stacklevel=3,
        )
        include_background, kind = (kind if isinstance(kind, bool) else True), include_background
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
    return bool(include_background), kind


def split_merge_counts(
    pred: np.ndarray,
    target: np.ndarray,
    connectivity: Connectivity = None,
    instance_labels: bool = False,
) -> tuple[int, int]:
    """Splits and merges of one 2D/3D prediction against its target (pure numpy).

    Predicted objects are the connected components of ``pred`` (foreground ``connectivity``). Target objects
    are the connected components of a binary ``target``, or, with ``instance_labels=True``, the distinct
    non-zero ids of ``target`` (touching instances stay distinct; one id in several pieces is one object).
    In the bipartite overlap graph (an edge where a component and an instance share a voxel):

    - a target instance overlapped by ``k >= 2`` predicted components contributes ``k - 1`` splits;
    - a predicted component overlapping ``k >= 2`` target instances contributes ``k - 1`` merges.

    Spurious components and missed instances (no overlap at all) count as neither; see the Betti error (``b0``).

    Returns:
        ``(splits, merges)``.

    Example:
        >>> tube = np.zeros((5, 9), bool); tube[2, 1:8] = True
        >>> broken = tube.copy(); broken[2, 4] = False
        >>> split_merge_counts(broken, tube)
        (1, 0)
    """
    if is_dask_array(pred) or is_dask_array(target):  # volumes larger than memory: exact, chunk by chunk
        return chunked_split_merge_counts(pred, target, connectivity, instance_labels)
    pred = np.asarray(pred, dtype=bool)
    fg = foreground_connectivity(connectivity, pred.ndim)
    pred_labels, _ = label_components(np.ascontiguousarray(pred), fg)
    if instance_labels:
        target_labels = np.asarray(target)
    else:
        target_labels, _ = label_components(np.ascontiguousarray(np.asarray(target, dtype=bool)), fg)
    return split_merge_from_labels(pred_labels, target_labels)


def split_merge_from_labels(pred_labels: np.ndarray, target_labels: np.ndarray) -> tuple[int, int]:
    """Splits and merges from the predicted components and the target objects, both as label maps (0 = none).

    What :func:`split_merge_counts` computes once the masks are labelled (e.g. by
    :func:`monai_topo.topology.labelling.label_mask`, whose labels the other measures of a case reuse).

    Example:
        >>> split_merge_from_labels(np.array([[1, 0, 2]]), np.array([[1, 1, 1]]))
        (1, 0)
    """
    overlap = (pred_labels > 0) & (target_labels > 0)
    if not overlap.any():
        return 0, 0
    pred_ids = pred_labels[overlap].astype(np.int64)
    _, target_ids = np.unique(target_labels[overlap], return_inverse=True)  # compact ids: no overflow below
    base = int(target_ids.max()) + 1
    edges = np.unique(pred_ids * base + target_ids.astype(np.int64).ravel())  # distinct (component, instance)
    n_edges = edges.size
    n_target_touched = np.unique(edges % base).size
    n_pred_touched = np.unique(edges // base).size
    return int(n_edges - n_target_touched), int(n_edges - n_pred_touched)


def _connectivity_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool,
    connectivity: int | None,
    instance_labels: bool,
    ignore_empty: bool,
    num_workers: int | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`compute_connectivity_error` with options already validated (inputs are checked here)."""
    if is_dask_array(y_pred) or is_dask_array(y):  # volumes larger than memory: exact, chunk by chunk
        values = chunked_metric_items(y_pred, y, include_background, connectivity, instance_labels, ignore_empty)
        out = to_output_tensor(values[..., -2:], torch.device("cpu"))
        return out[..., 0].contiguous(), out[..., 1].contiguous()
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background, instance_labels=instance_labels)
    check_connectivity(connectivity, pred.ndim - 2)  # a clear error for e.g. 26 on 2D images
    values = evaluate_items(
        lambda p, t: split_merge_counts(p, t, connectivity, instance_labels),
        pred,
        target,
        value_shape=(2,),
        ignore_empty=ignore_empty,
        num_workers=num_workers,
    )
    out = to_output_tensor(values, device)
    return out[..., 0].contiguous(), out[..., 1].contiguous()


def compute_connectivity_error(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    connectivity: Connectivity = None,
    instance_labels: bool = False,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split and merge counts of every batch item and channel (see :func:`split_merge_counts`).

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]``.
        y: binarised one-hot ground truth of the same shape, whose connected components are the target
            objects; or, with ``instance_labels=True``, an instance label map per channel (same shape,
            non-negative integer ids, 0 = background), e.g. ``B 1 H W [D]`` neuron ids for a one-channel
            prediction.
        include_background: whether to include the first channel.
        connectivity: foreground connectivity for the components: ``None`` (8 in 2D, 26 in 3D), 4 or 6.
        instance_labels: whether ``y`` holds instance ids rather than 0/1 values.
        ignore_empty: if True, items whose target channel is empty are NaN.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Returns:
        ``(splits, merges)``, each a ``float32`` tensor ``(B, C)`` on ``y_pred``'s device.

    Raises:
        ValueError: for wrong shapes, mismatched inputs, invalid options, or (with ``instance_labels``)
            negative or non-integer ids.

    Example:
        >>> target = torch.zeros(1, 1, 5, 9); target[..., 2, 1:4] = 1; target[..., 2, 5:8] = 2
        >>> bridged = (target > 0).float(); bridged[..., 2, 4] = 1
        >>> splits, merges = compute_connectivity_error(bridged, target, instance_labels=True)
        >>> splits.item(), merges.item()
        (0.0, 1.0)
    """
    return _connectivity_error(
        y_pred,
        y,
        include_background,
        check_connectivity(connectivity),
        instance_labels,
        ignore_empty,
        check_num_workers(num_workers),
    )


class ConnectivityErrorMetric(TopologyCumulativeMetric):
    """Splits and merges of predicted components against target objects (neurons, vessels, instances).

    From the overlap graph of the predicted connected components and the target instances, a target
    instance overlapped by ``k >= 2`` predicted components contributes ``k - 1`` splits and a predicted
    component overlapping ``k >= 2`` target instances contributes ``k - 1`` merges
    (:func:`split_merge_counts`).

    Target objects are the connected components of a binary one-hot ``y``, or, with
    ``instance_labels=True``, the instance ids of ``y`` (same shape as ``y_pred``, one instance map per
    channel, 0 = background), so that touching instances are told apart. ``y_pred`` is always binarised.

    The arguments follow MONAI's order (``include_background`` first). ``kind`` was the first argument before 0.2;
    a string given first is still read as ``kind``, with a ``DeprecationWarning``.

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        kind: the value returned per item: ``"splits"``, ``"merges"`` or ``"total"`` (their sum, default).
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D) or 4 / 6.
        instance_labels: whether ``y`` holds instance ids rather than 0/1 values.
        ignore_empty: if True, items with an empty target channel are NaN and excluded from aggregation.
        reduction: MONAI reduction mode applied to not-NaN values.
        get_not_nans: whether ``aggregate()`` also returns the not-NaN counts.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Example:
        >>> tube = torch.zeros(1, 1, 5, 9); tube[..., 2, 1:8] = 1
        >>> broken = tube.clone(); broken[..., 2, 4] = 0
        >>> ConnectivityErrorMetric(kind="splits")(broken, tube).tolist()
        [[1.0]]
    """

    def __init__(
        self,
        include_background: bool = True,
        kind: str = "total",
        connectivity: Connectivity = None,
        instance_labels: bool = False,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        include_background, kind = kind_first_compat(include_background, kind, type(self).__name__)
        self.kind = kind
        self.include_background = include_background
        self.connectivity = check_connectivity(connectivity)
        self.instance_labels = instance_labels
        self.ignore_empty = ignore_empty
        self.num_workers = check_num_workers(num_workers)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Splits, merges or their total ``(B, C)`` for one batch; see :func:`compute_connectivity_error`."""
        splits, merges = _connectivity_error(
            y_pred,
            y,  # type: ignore[arg-type]
            self.include_background,
            self.connectivity,
            self.instance_labels,
            self.ignore_empty,
            self.num_workers,
        )
        if self.kind == "splits":
            return splits
        if self.kind == "merges":
            return merges
        return splits + merges

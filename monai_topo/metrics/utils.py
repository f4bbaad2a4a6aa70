"""Input handling, per-item evaluation and reduction shared by every monai_topo metric.

The metrics follow MONAI's conventions (``monai/metrics/hausdorff_distance.py``): inputs are binarised one-hot
``B C H W [D]`` tensors (or numpy arrays), results are ``(B, C)`` float tensors on ``y_pred.device`` with NaN
where a value is undefined, and ``aggregate`` reduces the not-NaN values with :func:`monai.metrics.do_metric_reduction`.

The topology itself is computed per (batch item, channel) by small pure numpy functions; :func:`evaluate_items`
runs them over ``B x C`` in a thread pool (cc3d, numpy and scikit-image release the GIL on large arrays).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric, do_metric_reduction
from monai.utils import MetricReduction

from monai_topo.topology.validation import check_connectivity, check_spatial_ndim, resolve_num_workers

__all__ = [
    "Dims",
    "TopologyCumulativeMetric",
    "check_dims",
    "check_dims_for_input",
    "evaluate_items",
    "prepare_metric_inputs",
    "select_dims",
    "to_output_tensor",
]

#: the ``dims`` option of the per-dimension metrics: ``None`` (sum over all), one homology dimension, or several
Dims = int | Sequence[int] | None


def _as_array(data: Any, name: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach()
        if data.dtype == torch.bfloat16:  # numpy has no bfloat16; 0/1 (and NaN/Inf) are exact in float32
            data = data.float()
        return data.cpu().numpy()
    if isinstance(data, np.ndarray):
        return data
    raise TypeError(f"{name} must be a torch.Tensor or a numpy array (batch-first, B C H W [D]), got {type(data)}.")


def _check_finite(arr: np.ndarray, name: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; binarise a finite prediction first.")


def prepare_metric_inputs(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray | None,
    include_background: bool = True,
    instance_labels: bool = False,
) -> tuple[np.ndarray, np.ndarray, torch.device]:
    """Check and binarise metric inputs the way MONAI's metrics expect them, and drop the background channel.

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]`` (tensor or array).
        y: binarised one-hot target with the same shape; with ``instance_labels=True`` an instance label map
            per channel instead (non-negative integers, 0 = background, same shape as ``y_pred``).
        include_background: keep the first channel. As in MONAI, a single-channel input keeps its channel
            (with a warning) when ``include_background=False``.
        instance_labels: whether ``y`` holds instance ids rather than 0/1 values.

    Returns:
        ``(pred, target, device)``: ``pred`` a boolean ``B C' ...`` array, ``target`` boolean (or ``int64``
        instance ids), ``device`` the device of ``y_pred`` for the result.

    Raises:
        TypeError: when an input is neither a tensor nor an array.
        ValueError: for a missing ``y``, a wrong number of dimensions, mismatched shapes, an empty spatial
            shape, NaN/Inf values, or (with ``instance_labels``) negative or non-integer ids.

    Warns:
        UserWarning: when ``y_pred`` (or a binary ``y``) is not binary; values ``> 0.5`` are then foreground.
    """
    if y is None:
        raise ValueError("y (the ground truth) is required to compute this metric.")
    device = y_pred.device if isinstance(y_pred, torch.Tensor) else torch.device("cpu")
    pred = _as_array(y_pred, "y_pred")
    target = _as_array(y, "y")
    if pred.ndim not in (4, 5):
        raise ValueError(
            f"y_pred must be a batch-first one-hot array of shape B C H W (2D) or B C H W D (3D), got {pred.shape}."
        )
    check_spatial_ndim(pred.ndim - 2, "y_pred")
    if target.shape != pred.shape:
        raise ValueError(
            f"y_pred and y should have same shapes, got {pred.shape} and {target.shape} "
            "(convert y to one-hot first, e.g. monai.transforms.AsDiscrete(to_onehot=N))."
        )
    if pred.size == 0:
        raise ValueError(f"y_pred and y are empty (shape {pred.shape}).")
    if not (np.issubdtype(pred.dtype, np.number) or pred.dtype == bool) or np.iscomplexobj(pred):
        raise TypeError(f"y_pred must be a real numeric array, got dtype {pred.dtype}.")
    if not (np.issubdtype(target.dtype, np.number) or target.dtype == bool) or np.iscomplexobj(target):
        raise TypeError(f"y must be a real numeric array, got dtype {target.dtype}.")
    _check_finite(pred, "y_pred")
    _check_finite(target, "y")

    if not include_background:
        if pred.shape[1] == 1:
            warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=3)
        else:
            pred, target = pred[:, 1:], target[:, 1:]

    pred = _binarise(pred, "y_pred")
    if instance_labels:
        if target.dtype == bool:
            target = target.astype(np.int64)
        if (target < 0).any() or (np.issubdtype(target.dtype, np.floating) and (target != np.round(target)).any()):
            raise ValueError(
                "with instance_labels=True, y must hold non-negative integer instance ids (0 = background)."
            )
        target = np.ascontiguousarray(target.astype(np.int64))
    else:
        target = _binarise(target, "y")
    return pred, target, device


def _binarise(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == bool:
        return np.ascontiguousarray(arr)
    binary = (arr == 0) | (arr == 1)
    if not binary.all():
        warnings.warn(f"{name} should be a binarized tensor; values > 0.5 are taken as foreground.", stacklevel=3)
    return np.ascontiguousarray(arr > 0.5)


def check_dims(dims: Dims) -> int | tuple[int, ...] | None:
    """Validate a ``dims`` option: ``None`` (all), one homology dimension, or a non-empty sequence of them (each 0,
    1 or 2); returns it as an ``int``, a sorted tuple without repeats, or ``None``.

    Raises:
        ValueError: for anything else (an empty sequence, 3, ``True``, ``1.0``, ``"0"``).

    Example:
        >>> check_dims(None), check_dims(1), check_dims([2, 0, 2])
        (None, 1, (0, 2))
    """
    if dims is None:
        return None
    values = [dims] if isinstance(dims, (int, np.integer)) and not isinstance(dims, (bool, np.bool_)) else dims
    try:
        values = list(values)
    except TypeError:
        values = [dims]
    if not values or any(
        isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or not 0 <= d <= 2 for d in values
    ):
        raise ValueError(
            f"dims must be None (sum over all dimensions), a homology dimension 0, 1 or 2, or a non-empty sequence "
            f"of them, got {dims!r}."
        )
    return int(dims) if isinstance(dims, (int, np.integer)) else tuple(sorted({int(d) for d in values}))


def check_dims_for_input(
    pred: np.ndarray, connectivity: int | None, dims: int | tuple[int, ...] | None = None
) -> None:
    """Check that ``connectivity`` and ``dims`` (both already validated) fit a ``B C ...`` input's spatial rank.

    Raises:
        ValueError: for e.g. ``connectivity=26`` or ``dims=2`` on 2D images.

    Example:
        >>> check_dims_for_input(np.zeros((1, 1, 4, 4), bool), 8, 1) is None
        True
    """
    spatial = pred.ndim - 2
    check_connectivity(connectivity, spatial)  # a clear ValueError for e.g. 26 on 2D images
    top = None if dims is None else (dims if isinstance(dims, int) else max(dims))
    if top is not None and top >= spatial:
        raise ValueError(f"dims={dims} does not exist for {spatial}D images (homology dimensions 0..{spatial - 1}).")


def select_dims(per_dim: torch.Tensor, dims: int | tuple[int, ...] | None) -> torch.Tensor:
    """``(..., ndim)`` per-dimension values to ``(...)``: summed over all (``None``) or the selected dimensions.

    Example:
        >>> per_dim = torch.tensor([[[1.0, 2.0, 4.0]]])
        >>> select_dims(per_dim, None).tolist(), select_dims(per_dim, 1).tolist(), select_dims(per_dim, (0, 2)).tolist()
        ([[7.0]], [[2.0]], [[5.0]])
    """
    if dims is None:
        return per_dim.sum(dim=-1)
    if isinstance(dims, int):
        return per_dim[..., dims].contiguous()
    return per_dim[..., list(dims)].sum(dim=-1)


def evaluate_items(
    fn: Callable[[np.ndarray, np.ndarray], Any],
    pred: np.ndarray,
    target: np.ndarray,
    value_shape: tuple[int, ...] = (),
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> np.ndarray:
    """Apply ``fn(pred[b, c], target[b, c])`` to every batch item and channel, in a thread pool.

    Args:
        fn: pure function of one spatial prediction and target, returning a scalar or an array of
            ``value_shape``.
        pred, target: ``B C ...`` arrays.
        value_shape: shape of one result of ``fn``.
        ignore_empty: give NaN (without calling ``fn``) where the target channel is empty.
        num_workers: threads, already validated (:func:`monai_topo.topology.validation.check_num_workers`);
            ``None`` uses one per CPU core (at most one per item), ``0``/``1`` runs serially.

    Returns:
        ``float64`` array of shape ``(B, C) + value_shape``.
    """
    batch, channels = pred.shape[:2]
    out = np.full((batch, channels) + tuple(value_shape), np.nan, dtype=np.float64)
    jobs = [(b, c) for b, c in np.ndindex(batch, channels) if not (ignore_empty and not target[b, c].any())]
    if not jobs:
        return out

    def run(job: tuple[int, int]) -> Any:
        return fn(pred[job], target[job])

    workers = resolve_num_workers(num_workers, len(jobs))
    if workers <= 1:
        results = [run(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, jobs))
    for job, value in zip(jobs, results, strict=True):
        out[job] = value
    return out


def to_output_tensor(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """``float32`` tensor on ``device``, the dtype MONAI's metrics return."""
    return torch.as_tensor(values, dtype=torch.float32, device=device)


class TopologyCumulativeMetric(CumulativeIterationMetric):
    """Base of the monai_topo metrics: stores ``reduction`` / ``get_not_nans`` and aggregates like MONAI.

    Subclasses implement ``_compute_tensor(y_pred, y)`` returning a ``(B, C)`` tensor (NaN where undefined).
    """

    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False) -> None:
        super().__init__()
        MetricReduction(reduction)  # fail early on a typo
        self.reduction = reduction
        self.get_not_nans = get_not_nans

    def aggregate(
        self, reduction: MetricReduction | str | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Reduce the buffered ``(N, C)`` values over the not-NaN entries.

        Args:
            reduction: ``"none"``, ``"mean"``, ``"sum"``, ``"mean_batch"``, ``"sum_batch"``, ``"mean_channel"``
                or ``"sum_channel"``; defaults to ``self.reduction``.

        Returns:
            The reduced metric, or ``(metric, not_nans)`` when ``get_not_nans=True``.

        Raises:
            ValueError: when nothing was buffered yet.
        """
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be PyTorch Tensor; call the metric on some data first.")
        f, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f

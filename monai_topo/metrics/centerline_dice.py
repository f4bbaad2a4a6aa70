"""Centerline Dice (clDice, Shit et al., CVPR 2021): Dice of skeletons against the other segmentation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.utils import MetricReduction

from monai_topo.metrics.utils import TopologyCumulativeMetric, evaluate_items, prepare_metric_inputs, to_output_tensor
from monai_topo.topology.skeleton import skeleton
from monai_topo.topology.validation import check_num_workers

__all__ = [
    "CenterlineDiceMetric",
    "centerline_dice",
    "centerline_dice_from_overlap",
    "compute_centerline_dice",
    "skeleton",
    "skeleton_overlap",
]


def centerline_dice(pred: np.ndarray, target: np.ndarray) -> float:
    """clDice of one binary 2D/3D mask pair (pure numpy).

    ``tprec = |S(pred) & target| / |S(pred)|``, ``tsens = |S(target) & pred| / |S(target)|`` and
    ``clDice = 2 tprec tsens / (tprec + tsens)``, with ``S`` the :func:`skeleton`.

    Empty cases: both masks empty gives 1.0 (perfect agreement); exactly one empty gives 0.0; non-empty masks
    whose skeletons miss each other completely (``tprec + tsens = 0``) give 0.0.

    Example:
        >>> tube = np.zeros((9, 9), bool); tube[3:6, 1:8] = True
        >>> centerline_dice(tube, tube)
        1.0
    """
    pred = np.asarray(pred, dtype=bool)
    target = np.asarray(target, dtype=bool)
    return centerline_dice_from_overlap(
        skeleton_overlap(pred, target),
        int(np.count_nonzero(pred)),
        int(np.count_nonzero(target)),
        int(np.count_nonzero(pred & target)),
    )


def skeleton_overlap(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """What clDice counts, from the bare thinning (``skeleton(..., keep_vanished=False)``): ``[|S(pred)|,
    |S(pred) & target|, |S(target)|, |S(target) & pred|]`` (int64).

    The counts add up over objects that do not touch, so clDice of a mask made of pieces is
    :func:`centerline_dice_from_overlap` of the summed counts.

    Example:
        >>> tube = np.zeros((5, 9), bool); tube[1:4, 1:8] = True
        >>> skeleton_overlap(tube, tube).tolist()
        [6, 6, 6, 6]
    """
    pred = np.asarray(pred, dtype=bool)
    target = np.asarray(target, dtype=bool)
    counts = np.zeros(4, np.int64)
    if pred.any():
        skel = skeleton(pred, keep_vanished=False)
        counts[0], counts[1] = np.count_nonzero(skel), np.count_nonzero(skel & target)
    if target.any():
        skel = skeleton(target, keep_vanished=False)
        counts[2], counts[3] = np.count_nonzero(skel), np.count_nonzero(skel & pred)
    return counts


def centerline_dice_from_overlap(
    overlap: np.ndarray, pred_voxels: int, target_voxels: int, intersection: int
) -> float:
    """clDice from :func:`skeleton_overlap` (possibly summed over pieces) and the masks' voxel counts.

    A mask that thins away completely is its own skeleton (as :func:`skeleton`); empty cases as
    :func:`centerline_dice`.

    Example:
        >>> round(centerline_dice_from_overlap(np.array([6, 6, 6, 5]), 21, 20, 20), 3)
        0.909
    """
    if pred_voxels == 0 and target_voxels == 0:
        return 1.0
    if pred_voxels == 0 or target_voxels == 0:
        return 0.0
    skel_pred, pred_in_target, skel_target, target_in_pred = (int(v) for v in overlap)
    if skel_pred == 0:  # thinned away: the mask is its skeleton
        skel_pred, pred_in_target = pred_voxels, intersection
    if skel_target == 0:
        skel_target, target_in_pred = target_voxels, intersection
    tprec = pred_in_target / skel_pred
    tsens = target_in_pred / skel_target
    if tprec + tsens == 0:
        return 0.0
    return float(2.0 * tprec * tsens / (tprec + tsens))


def compute_centerline_dice(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool = True,
    ignore_empty: bool = False,
    num_workers: int | None = None,
) -> torch.Tensor:
    """clDice of every batch item and channel (see :func:`centerline_dice` for the definition and empty cases).

    Args:
        y_pred: binarised one-hot prediction ``B C H W [D]``.
        y: binarised one-hot ground truth of the same shape.
        include_background: whether to include the first channel.
        ignore_empty: if True, items whose target channel is empty are NaN (instead of 1.0 or 0.0).
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Returns:
        ``float32`` tensor ``(B, C)`` in ``[0, 1]`` on ``y_pred``'s device.

    Raises:
        ValueError: for wrong shapes or mismatched inputs.

    Example:
        >>> tube = torch.zeros(1, 1, 9, 9); tube[..., 3:6, 1:8] = 1
        >>> broken = tube.clone(); broken[..., 4] = 0
        >>> round(compute_centerline_dice(broken, tube).item(), 3)
        0.909
    """
    return _centerline_dice(y_pred, y, include_background, ignore_empty, check_num_workers(num_workers))


def _centerline_dice(
    y_pred: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    include_background: bool,
    ignore_empty: bool,
    num_workers: int | None,
) -> torch.Tensor:
    """:func:`compute_centerline_dice` with options already validated (inputs are checked here)."""
    pred, target, device = prepare_metric_inputs(y_pred, y, include_background)
    values = evaluate_items(centerline_dice, pred, target, ignore_empty=ignore_empty, num_workers=num_workers)
    return to_output_tensor(values, device)


class CenterlineDiceMetric(TopologyCumulativeMetric):
    """Centerline Dice (clDice) between binarised segmentations of tubular structures.

    Shit et al., "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure Segmentation",
    CVPR 2021. Topology precision is the fraction of the predicted skeleton inside the target, topology
    sensitivity the fraction of the target skeleton inside the prediction; clDice is their harmonic mean.
    Skeletons come from :func:`skimage.morphology.skeletonize` (2D and 3D).

    Both channels empty gives 1.0, exactly one empty gives 0.0; with ``ignore_empty=True`` every item with an
    empty target channel is NaN and excluded from aggregation.

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        ignore_empty: if True, items with an empty target channel are NaN.
        reduction: MONAI reduction mode applied to not-NaN values.
        get_not_nans: whether ``aggregate()`` also returns the not-NaN counts.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).

    Example:
        >>> metric = CenterlineDiceMetric()
        >>> tube = torch.zeros(1, 1, 9, 9); tube[..., 3:6, 1:8] = 1
        >>> metric(tube, tube).tolist()
        [[1.0]]
    """

    def __init__(
        self,
        include_background: bool = True,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.include_background = include_background
        self.ignore_empty = ignore_empty
        self.num_workers = check_num_workers(num_workers)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """clDice ``(B, C)`` of one batch; see :func:`compute_centerline_dice`."""
        return _centerline_dice(y_pred, y, self.include_background, self.ignore_empty, self.num_workers)  # type: ignore[arg-type]

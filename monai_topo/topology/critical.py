"""Critical supervoxels (Grim et al., 2025): the voxel errors of a binary prediction that change connectivity.

numpy in, numpy out, no torch. See ``docs/algorithms.md`` ("SupervoxelLoss") and :func:`critical_components` for the
exact rules; the analysis itself (:mod:`monai_topo.topology.supervoxels`, one helper per rule) is shared with
:func:`monai_topo.topology.topological_errors`. Everything is vectorised: two cc3d labellings (the correctly
predicted part, the error supervoxels), one pass of array gathers over the neighbourhoods of the smaller of the two
voxel sets, ``np.unique`` / ``np.bincount`` on the adjacent label pairs, and for a binary target the objects
(target components) as components of the small graph of adjacent kept / false-negative supervoxels, so the target
itself is never labelled. No Python loop runs over voxels or components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity, foreground_connectivity
from monai_topo.topology.supervoxels import Supervoxels, critical_analysis, read_target
from monai_topo.topology.validation import renamed_arguments

__all__ = ["CriticalSupervoxels", "critical_components", "critical_supervoxels", "target_objects"]

#: the masks are filled by one dense lookup when more than 1 / _DENSE_RATIO of the voxels are errors
_DENSE_RATIO = 16


@renamed_arguments(instances="instance_labels")
def target_objects(
    target: np.ndarray, connectivity: Connectivity = None, *, instance_labels: bool | None = None
) -> tuple[np.ndarray, bool]:
    """The objects of a target: an integer map, 0 = background, one id per object.

    Args:
        target: 2D/3D binary mask or instance label map (non-negative integers; integral floats are accepted).
        connectivity: foreground connectivity (8/26 default, 4/6), used to split a binary target into objects.
        instance_labels: ``True``: the values are instance ids (one object per id, even if disconnected);
            ``False``: the target is binary (non-zero = foreground), objects are its connected components;
            ``None`` (default): binary when the target holds only 0 and 1, instance ids otherwise. (Was
            ``instances``, deprecated.)

    Returns:
        ``(objects, is_binary)``: an int64 (instance ids) or unsigned (component labels) array of
        ``target.shape``, and whether the target was read as binary.

    Raises:
        TypeError / ValueError: for a non-numeric, non-finite, negative or non-integral target.

    Example:
        >>> objects, is_binary = target_objects(np.array([[1, 0, 1]]))
        >>> objects.tolist(), is_binary
        ([[1, 0, 2]], True)
    """
    values, is_binary = read_target(target, instance_labels)
    conn = foreground_connectivity(connectivity, values.ndim)
    if is_binary:
        return label_components(values, conn)[0], True
    return values, False


@renamed_arguments(instances="instance_labels")
def critical_components(
    pred_mask: np.ndarray,
    target: np.ndarray,
    connectivity: Connectivity = None,
    *,
    instance_labels: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Critical false-negative and false-positive supervoxels of a binary prediction (Grim et al., 2025).

    Let ``P`` be the predicted mask, ``O`` the target objects (see below), ``Y = O > 0`` and ``K = P & Y`` the
    correctly predicted part. Connectivity is the foreground one (8/26 by default, 4/6 with the V-construction)
    for every labelling and every adjacency below.

    - **Objects.** An instance label map: one object per non-zero id (a disconnected id is one object).
      A binary target: one object per connected component of ``Y``.
    - **Kept components**: connected components of ``K`` *within one object* (two touching instances never share
      a kept component). Each has an owner object.
    - **False-negative supervoxels**: connected components of ``Y & ~P`` within one object (the object they
      belong to). One is *critical* when it is adjacent to 0 kept components of its own object (the object, or a
      separate piece of it, is missed entirely) or to 2 or more (removing it splits the object). Kept
      components of other objects do not count.
    - **False-positive supervoxels**: connected components of ``P & ~Y``. One is *critical* when it is adjacent
      to no kept component (a spurious object), or to kept components of 2 or more distinct objects (it merges
      them: distinct instance ids, or distinct target components for a binary target). Joining two kept
      components of the *same* object (e.g. a detour around a gap) is not a merge and is not critical.

    Args:
        pred_mask: binary 2D or 3D prediction (``probabilities > threshold``).
        target: binary mask or instance label map of the same shape (non-negative integers, 0 = background).
        connectivity: foreground connectivity: 8 or 4 in 2D, 26 or 6 in 3D; ``None`` = 8 / 26.
        instance_labels: how to read ``target``: ``None`` (default) binary if it holds only 0 and 1, instance ids
            otherwise; ``True`` instance ids; ``False`` binary (non-zero = foreground). (Was ``instances``,
            deprecated.)

    Returns:
        ``(critical_fn, critical_fp)``: boolean arrays of ``pred_mask.shape``, the union of the critical
        false-negative resp. false-positive supervoxels.

    Raises:
        TypeError / ValueError: for non-binary predictions, invalid targets, mismatched shapes, or a
            connectivity that does not fit the number of dimensions.

    Example:
        >>> target = np.zeros((3, 7), bool); target[1] = True  # a bar
        >>> pred = target.copy(); pred[1, 3] = False  # broken in the middle
        >>> fn, fp = critical_components(pred, target)
        >>> np.argwhere(fn).tolist(), bool(fp.any())
        ([[1, 3]], False)
    """
    found = critical_analysis(pred_mask, target, connectivity, instance_labels)
    if found is None:
        return np.zeros(np.shape(pred_mask), bool), np.zeros(np.shape(pred_mask), bool)
    pred, sv, critical, _, _ = found
    dense = len(sv.error_index) * _DENSE_RATIO > pred.size  # many errors: one dense lookup is cheaper
    return _critical_masks(critical, sv, pred, dense)


@dataclass(frozen=True)
class CriticalSupervoxels:
    """The error supervoxels of :func:`critical_components` as labels, and which are critical.

    Attributes:
        error_labels: supervoxel label of every voxel (0: no error), of the prediction's shape.
        critical: per label (index 0 unused, ``False``), whether the supervoxel is critical.
        kept_labels: components of the correctly predicted part (prediction and target), for a binary target;
            ``None`` for an instance target (its kept components are split at instance boundaries).
    """

    error_labels: np.ndarray
    critical: np.ndarray
    kept_labels: np.ndarray | None


def critical_supervoxels(
    pred_mask: np.ndarray,
    target: np.ndarray,
    connectivity: Connectivity = None,
    *,
    instance_labels: bool | None = None,
) -> CriticalSupervoxels:
    """:func:`critical_components` as labels: for callers that go on working with the supervoxels.

    Args:
        pred_mask, target, connectivity, instance_labels: as :func:`critical_components`.

    Returns:
        a :class:`CriticalSupervoxels` (no label at all when the prediction has no error).

    Raises:
        TypeError / ValueError: as :func:`critical_components`.

    Example:
        >>> target = np.zeros((3, 7), bool); target[1] = True
        >>> pred = target.copy(); pred[1, 3] = False; pred[0, 6] = True
        >>> found = critical_supervoxels(pred, target)
        >>> found.error_labels[:2].tolist(), found.critical.tolist()
        ([[0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 2, 0, 0, 0]], [False, False, True])
    """
    found = critical_analysis(pred_mask, target, connectivity, instance_labels)
    if found is None:
        return CriticalSupervoxels(np.zeros(np.shape(pred_mask), np.uint8), np.zeros(1, bool), None)
    pred, sv, critical, is_binary, _ = found
    inner = (slice(1, -1),) * pred.ndim
    kept = np.ascontiguousarray(sv.kept_labels[inner]) if is_binary else None
    return CriticalSupervoxels(np.ascontiguousarray(sv.error_labels[inner]), critical, kept)


def _critical_masks(
    critical: np.ndarray, sv: Supervoxels, pred: np.ndarray, dense: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Critical FN / FP masks (unpadded) from the per-label ``critical`` flags.

    ``dense``: one lookup over the whole padded image (cheaper with many errors); otherwise only the error voxels
    are visited. Both give the same masks (tested).
    """
    inner = (slice(1, -1),) * pred.ndim
    if dense:
        critical_mask = critical[sv.error_labels]
        return (critical_mask & ~pred)[inner], (critical_mask & pred)[inner]
    critical_index = sv.error_index[critical[sv.error_labels.ravel()[sv.error_index]]]
    is_fp = pred.ravel()[critical_index]
    masks = []
    for index in (critical_index[~is_fp], critical_index[is_fp]):
        mask = np.zeros(pred.shape, bool)
        mask.ravel()[index] = True
        masks.append(mask[inner])
    return masks[0], masks[1]

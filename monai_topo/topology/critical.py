"""Critical supervoxels (Grim et al., 2025): the voxel errors of a binary prediction that change connectivity.

numpy in, numpy out, no torch. See ``docs/algorithms.md`` ("SupervoxelLoss") and :func:`critical_components` for the
exact rules; each rule is one helper (:func:`_isolated_rule`, :func:`_split_rule`, :func:`_merge_rule`). Everything is vectorised: two cc3d labellings (the correctly
predicted part, the error supervoxels), one pass of array gathers over the neighbourhoods of the smaller of the two
voxel sets, ``np.unique`` / ``np.bincount`` on the adjacent label pairs, and for a binary target the objects
(target components) as components of the small graph of adjacent kept / false-negative supervoxels, so the target
itself is never labelled. No Python loop runs over voxels or components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity, flat_offsets, foreground_connectivity, neighbour_offsets
from monai_topo.topology.validation import check_binary_mask, check_image, renamed_arguments

__all__ = ["CriticalSupervoxels", "critical_components", "critical_supervoxels", "target_objects"]

#: the masks are filled by one dense lookup when more than 1 / _DENSE_RATIO of the voxels are errors
_DENSE_RATIO = 16


def _read_target(target: np.ndarray, instance_labels: bool | None) -> tuple[np.ndarray, bool]:
    """Validate a target; return ``(foreground mask, True)`` for a binary one, ``(int64 ids, False)`` otherwise."""
    tgt = check_image(target, "target")
    if tgt.dtype != bool:
        if np.issubdtype(tgt.dtype, np.floating):
            if not np.array_equal(tgt, np.round(tgt)):
                raise ValueError(
                    "target must be a binary mask or a map of integer instance ids (0 = background), "
                    "found non-integral values; threshold soft labels first (e.g. target > 0.5)."
                )
        if tgt.min() < 0:
            raise ValueError(f"target must be non-negative (0 = background), found the value {tgt.min()}.")
        if np.issubdtype(tgt.dtype, np.floating) or tgt.dtype == np.uint64:
            if tgt.max() > np.iinfo(np.int64).max // 2:
                raise ValueError(f"target instance ids must be below 2**62, found {tgt.max()}.")
    if instance_labels is None:
        instance_labels = tgt.dtype != bool and tgt.max() > 1
    if not instance_labels:
        return np.ascontiguousarray(tgt if tgt.dtype == bool else tgt != 0), True
    return np.ascontiguousarray(tgt, dtype=np.int64), False


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
    values, is_binary = _read_target(target, instance_labels)
    conn = foreground_connectivity(connectivity, values.ndim)
    if is_binary:
        return label_components(values, conn)[0], True
    return values, False


def _pad(arr: np.ndarray) -> np.ndarray:
    """``arr`` with one zero voxel on every side (what ``np.pad(arr, 1)`` returns, faster)."""
    out = np.zeros(tuple(size + 2 for size in arr.shape), arr.dtype)
    out[(slice(1, -1),) * arr.ndim] = arr
    return out


def _adjacent_pairs(
    error_index: np.ndarray,
    kept_index: np.ndarray,
    error_labels: np.ndarray,
    error_values: np.ndarray,
    kept_labels: np.ndarray,
    kept_values: np.ndarray,
    offsets: np.ndarray,
    from_kept: bool | None = None,
    chunk: int = 1 << 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Adjacent ``(error label, kept label)`` pairs, with the value of each side's voxel.

    ``error_index`` and ``kept_index`` are the flat indices of the two voxel sets; the other arrays are flat
    views of zero-padded images (so ``index + offset`` never leaves the array). The smaller of the two voxel sets
    is visited (``from_kept``: the kept voxels; ``None``: decided from the two lengths), ``chunk`` voxels at a time: one gather of the other side's labels at all neighbour offsets
    (a ``chunk x len(offsets)`` array). Runs of repeated pairs (a voxel's neighbours, raster neighbours) are
    dropped on the fly; pairs may still repeat.

    Returns:
        ``(error label, kept label, error value, kept value)`` arrays, one entry per found pair.
    """
    if from_kept is None:
        from_kept = len(kept_index) < len(error_index)
    if from_kept:
        index, own_labels, own_values, other_labels, other_values = (
            kept_index,
            kept_labels,
            kept_values,
            error_labels,
            error_values,
        )
    else:
        index, own_labels, own_values, other_labels, other_values = (
            error_index,
            error_labels,
            error_values,
            kept_labels,
            kept_values,
        )
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(0, len(index), chunk):
        source = index[start : start + chunk]
        neighbour = (source[:, None] + offsets[None, :]).ravel()
        partner = np.take(other_labels, neighbour)
        hit = np.flatnonzero(partner != 0)  # (np.flatnonzero is ~10x faster on bool than on integer arrays)
        if hit.size == 0:
            continue
        row = hit // len(offsets)
        mine = np.take(own_labels, source[row]).astype(np.int64)
        theirs = partner[hit].astype(np.int64)
        new_run = np.ones(hit.size, bool)  # drop consecutive repeats of the same pair
        new_run[1:] = (mine[1:] != mine[:-1]) | (theirs[1:] != theirs[:-1])
        hit, row, mine, theirs = hit[new_run], row[new_run], mine[new_run], theirs[new_run]
        found.append((mine, theirs, np.take(own_values, source[row]), np.take(other_values, neighbour[hit])))
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    mine, theirs, mine_value, their_value = (np.concatenate(parts) for parts in zip(*found))
    if from_kept:
        return theirs, mine, their_value, mine_value
    return mine, theirs, mine_value, their_value


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
    found = _critical_analysis(pred_mask, target, connectivity, instance_labels)
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
    found = _critical_analysis(pred_mask, target, connectivity, instance_labels)
    if found is None:
        return CriticalSupervoxels(np.zeros(np.shape(pred_mask), np.uint8), np.zeros(1, bool), None)
    pred, sv, critical, is_binary, _ = found
    inner = (slice(1, -1),) * pred.ndim
    kept = np.ascontiguousarray(sv.kept_labels[inner]) if is_binary else None
    return CriticalSupervoxels(np.ascontiguousarray(sv.error_labels[inner]), critical, kept)


def _critical_analysis(
    pred_mask: np.ndarray, target: np.ndarray, connectivity: Connectivity, instance_labels: bool | None
) -> tuple[np.ndarray, _Supervoxels, np.ndarray, bool, _Adjacency] | None:
    """Checked, padded prediction, its supervoxels, the per-label critical flags, whether the target is binary
    and the adjacency graph; ``None`` when the prediction has no error."""
    pred = check_binary_mask(pred_mask, "pred_mask")
    if np.shape(target) != pred.shape:
        raise ValueError(f"pred_mask {pred.shape} and target {np.shape(target)} must have the same shape.")
    conn = foreground_connectivity(connectivity, pred.ndim)
    values, is_binary = _read_target(target, instance_labels)
    # pad once: every flat index + neighbour offset then stays inside the arrays
    pred, values = _pad(pred), _pad(values)
    foreground = values if is_binary else values != 0
    errors = pred != foreground
    if not errors.any():
        return None
    sv = _supervoxels(pred, values, foreground, errors, is_binary, conn)
    graph = _adjacency(sv, pred, conn, is_binary)
    critical = _isolated_rule(graph) | _split_rule(graph) | _merge_rule(graph)
    critical[0] = False
    return pred, sv, critical, is_binary, graph


@dataclass(frozen=True)
class _Supervoxels:
    """Labelled kept components and error supervoxels of a padded prediction (see :func:`_supervoxels`)."""

    error_index: np.ndarray  # flat indices of the error voxels
    error_labels: np.ndarray  # supervoxel label of every voxel (0: not an error)
    error_values: np.ndarray  # per voxel: object id of a false negative (1 for a binary target), fp_code for a FP
    n_errors: int
    kept_labels: np.ndarray  # kept component of every voxel (0: not kept)
    kept: np.ndarray  # the kept mask (prediction and target foreground)
    kept_values: np.ndarray  # flat object id of every voxel (a placeholder for a binary target)
    n_kept: int
    fp_code: int
    object_dtype: np.dtype


@dataclass(frozen=True)
class _Adjacency:
    """Distinct adjacent (error supervoxel, kept component) pairs and what each rule needs of them."""

    err: np.ndarray  # error supervoxel of each pair
    partner: np.ndarray  # kept component of each pair
    partner_object: np.ndarray  # owner object of the pair's kept component
    own: np.ndarray  # the pair joins a false negative to a kept component of its own object
    is_fn_pair: np.ndarray  # the pair's error supervoxel is a false negative
    value_of: np.ndarray  # per error label: its value (0: touches no kept component at all)
    fp_code: int
    n_errors: int


def _supervoxels(
    pred: np.ndarray, values: np.ndarray, foreground: np.ndarray, errors: np.ndarray, is_binary: bool, conn: int
) -> _Supervoxels:
    """Kept components (within one object) and error supervoxels (false negatives labelled per object)."""
    kept = pred & foreground
    error_index = np.flatnonzero(errors)  # errors are usually sparse: fill their values by index
    error_is_fn = foreground.ravel()[error_index]
    if is_binary:  # the objects come later, from the adjacency graph
        kept_labels, n_kept = label_components(kept, conn)
        kept_values = kept_labels.ravel()  # a placeholder: the pairs' kept values are not used
        fp_code = 2
        error_values = np.zeros(pred.shape, np.uint8)
        error_values.ravel()[error_index] = np.where(error_is_fn, 1, fp_code)
        object_dtype = np.dtype(np.int64)
    else:
        kept_labels, n_kept = label_components(np.where(kept, values, 0), conn)
        fp_code = int(values.max()) + 1
        error_values = np.zeros_like(values)
        error_values.ravel()[error_index] = np.where(error_is_fn, values.ravel()[error_index], fp_code)
        kept_values = values.ravel()
        object_dtype = values.dtype
    error_labels, n_errors = label_components(error_values, conn)
    return _Supervoxels(
        error_index,
        error_labels,
        error_values,
        n_errors,
        kept_labels,
        kept,
        kept_values,
        n_kept,
        fp_code,
        object_dtype,
    )


def _adjacency(sv: _Supervoxels, pred: np.ndarray, conn: int, is_binary: bool) -> _Adjacency:
    """Adjacent (error, kept) pairs, the owner object of every kept component, and each error's value."""
    offsets = flat_offsets(neighbour_offsets(pred.ndim, conn), pred.shape)
    # the kept voxels are only listed when they are the smaller set (np.flatnonzero on the bool mask: fast)
    from_kept = int(np.count_nonzero(sv.kept)) < len(sv.error_index)
    kept_index = np.flatnonzero(sv.kept) if from_kept else np.zeros(0, np.int64)
    err, partner, err_value, partner_object = _adjacent_pairs(
        sv.error_index,
        kept_index,
        sv.error_labels.ravel(),
        sv.error_values.ravel(),
        sv.kept_labels.ravel(),
        sv.kept_values,
        offsets,
        from_kept,
    )
    n_kept, n_errors = sv.n_kept, sv.n_errors
    # value of each error supervoxel and owner object of each kept component (labels without pairs keep 0)
    value_of = np.zeros(n_errors + 1, sv.error_values.dtype)
    value_of[err] = err_value
    if not is_binary:
        owner = np.zeros(n_kept + 1, sv.object_dtype)
        owner[partner] = partner_object
    unique = np.unique(err * (n_kept + 1) + partner)
    err, partner = unique // (n_kept + 1), unique % (n_kept + 1)
    is_fn_pair = value_of[err] != sv.fp_code
    if is_binary:
        # objects = components of the target = components of the graph of kept and false-negative supervoxels
        # joined by adjacency (two kept components, or two false-negative ones, are never adjacent)
        graph = coo_matrix(
            (np.ones(int(is_fn_pair.sum()), np.int8), (partner[is_fn_pair], n_kept + 1 + err[is_fn_pair])),
            shape=(n_kept + n_errors + 2,) * 2,
        )
        owner = connected_components(graph, directed=False)[1][: n_kept + 1]
        own = is_fn_pair  # a false negative's kept neighbours all lie in its own object
    else:  # a false negative counts the kept components of its own object only
        own = is_fn_pair & (owner[partner] == value_of[err])
    return _Adjacency(err, partner, owner[partner], own, is_fn_pair, value_of, sv.fp_code, n_errors)


def _isolated_rule(graph: _Adjacency) -> np.ndarray:
    """Critical: a supervoxel adjacent to no kept component (a missed object or piece, or a spurious object)."""
    return graph.value_of == 0


def _split_rule(graph: _Adjacency) -> np.ndarray:
    """Critical: a false negative adjacent to 2+ kept components of its own object (removing it splits the object).

    (One adjacent to none is caught by :func:`_isolated_rule`, or here when it only touches other objects.)
    """
    fn_partners = np.bincount(graph.err[graph.own], minlength=graph.n_errors + 1)
    return (graph.value_of != 0) & (graph.value_of != graph.fp_code) & (fn_partners != 1)


def _merge_rule(graph: _Adjacency) -> np.ndarray:
    """Critical: a false positive adjacent to kept components of 2+ distinct objects (it merges them)."""
    fp_err, fp_obj = graph.err[~graph.is_fn_pair], graph.partner_object[~graph.is_fn_pair]
    obj_ids, obj_index = np.unique(fp_obj, return_inverse=True)  # compact ids for int64 keys
    distinct = np.unique(fp_err * (len(obj_ids) + 1) + obj_index.reshape(-1)) // (len(obj_ids) + 1)
    fp_objects = np.bincount(distinct, minlength=graph.n_errors + 1)
    return (graph.value_of == graph.fp_code) & (fp_objects >= 2)


def _critical_masks(
    critical: np.ndarray, sv: _Supervoxels, pred: np.ndarray, dense: bool
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

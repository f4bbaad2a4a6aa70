"""The supervoxel analysis of a binary prediction against its target, shared by :mod:`~monai_topo.topology.critical`
(which supervoxels are critical) and :mod:`~monai_topo.topology.errors` (what kind of error each one is).

The prediction and the target are padded once (:func:`pad`) so that a flat index plus a neighbour offset never leaves
the arrays; :func:`label_supervoxels` labels the kept components (within one object) and the error supervoxels,
:func:`adjacency` finds the adjacent (error, kept) pairs (:func:`adjacent_pairs`, one gather over the smaller voxel
set) and the owner object of every kept component, and :func:`critical_analysis` applies the three rules of
:func:`monai_topo.topology.critical_components` (:func:`_isolated_rule`, :func:`_split_rule`, :func:`_merge_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity, flat_offsets, foreground_connectivity, neighbour_offsets
from monai_topo.topology.validation import check_binary_mask, check_image

__all__ = [
    "Adjacency",
    "Supervoxels",
    "adjacency",
    "adjacent_pairs",
    "critical_analysis",
    "label_supervoxels",
    "pad",
    "read_target",
]


def read_target(target: np.ndarray, instance_labels: bool | None) -> tuple[np.ndarray, bool]:
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


def pad(arr: np.ndarray) -> np.ndarray:
    """``arr`` with one zero voxel on every side (what ``np.pad(arr, 1)`` returns, faster)."""
    out = np.zeros(tuple(size + 2 for size in arr.shape), arr.dtype)
    out[(slice(1, -1),) * arr.ndim] = arr
    return out


def adjacent_pairs(
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


def critical_analysis(
    pred_mask: np.ndarray, target: np.ndarray, connectivity: Connectivity, instance_labels: bool | None
) -> tuple[np.ndarray, Supervoxels, np.ndarray, bool, Adjacency] | None:
    """Checked, padded prediction, its supervoxels, the per-label critical flags, whether the target is binary
    and the adjacency graph; ``None`` when the prediction has no error."""
    pred = check_binary_mask(pred_mask, "pred_mask")
    if np.shape(target) != pred.shape:
        raise ValueError(f"pred_mask {pred.shape} and target {np.shape(target)} must have the same shape.")
    conn = foreground_connectivity(connectivity, pred.ndim)
    values, is_binary = read_target(target, instance_labels)
    # pad once: every flat index + neighbour offset then stays inside the arrays
    pred, values = pad(pred), pad(values)
    foreground = values if is_binary else values != 0
    errors = pred != foreground
    if not errors.any():
        return None
    sv = label_supervoxels(pred, values, foreground, errors, is_binary, conn)
    graph = adjacency(sv, pred, conn, is_binary)
    critical = _isolated_rule(graph) | _split_rule(graph) | _merge_rule(graph)
    critical[0] = False
    return pred, sv, critical, is_binary, graph


@dataclass(frozen=True)
class Supervoxels:
    """Labelled kept components and error supervoxels of a padded prediction (see :func:`label_supervoxels`)."""

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
class Adjacency:
    """Distinct adjacent (error supervoxel, kept component) pairs and what each rule needs of them."""

    err: np.ndarray  # error supervoxel of each pair
    partner: np.ndarray  # kept component of each pair
    partner_object: np.ndarray  # owner object of the pair's kept component
    own: np.ndarray  # the pair joins a false negative to a kept component of its own object
    is_fn_pair: np.ndarray  # the pair's error supervoxel is a false negative
    value_of: np.ndarray  # per error label: its value (0: touches no kept component at all)
    fp_code: int
    n_errors: int


def label_supervoxels(
    pred: np.ndarray, values: np.ndarray, foreground: np.ndarray, errors: np.ndarray, is_binary: bool, conn: int
) -> Supervoxels:
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
    return Supervoxels(
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


def adjacency(sv: Supervoxels, pred: np.ndarray, conn: int, is_binary: bool) -> Adjacency:
    """Adjacent (error, kept) pairs, the owner object of every kept component, and each error's value."""
    offsets = flat_offsets(neighbour_offsets(pred.ndim, conn), pred.shape)
    # the kept voxels are only listed when they are the smaller set (np.flatnonzero on the bool mask: fast)
    from_kept = int(np.count_nonzero(sv.kept)) < len(sv.error_index)
    kept_index = np.flatnonzero(sv.kept) if from_kept else np.zeros(0, np.int64)
    err, partner, err_value, partner_object = adjacent_pairs(
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
    return Adjacency(err, partner, owner[partner], own, is_fn_pair, value_of, sv.fp_code, n_errors)


def _isolated_rule(graph: Adjacency) -> np.ndarray:
    """Critical: a supervoxel adjacent to no kept component (a missed object or piece, or a spurious object)."""
    return graph.value_of == 0


def _split_rule(graph: Adjacency) -> np.ndarray:
    """Critical: a false negative adjacent to 2+ kept components of its own object (removing it splits the object).

    (One adjacent to none is caught by :func:`_isolated_rule`, or here when it only touches other objects.)
    """
    fn_partners = np.bincount(graph.err[graph.own], minlength=graph.n_errors + 1)
    return (graph.value_of != 0) & (graph.value_of != graph.fp_code) & (fn_partners != 1)


def _merge_rule(graph: Adjacency) -> np.ndarray:
    """Critical: a false positive adjacent to kept components of 2+ distinct objects (it merges them)."""
    fp_err, fp_obj = graph.err[~graph.is_fn_pair], graph.partner_object[~graph.is_fn_pair]
    obj_ids, obj_index = np.unique(fp_obj, return_inverse=True)  # compact ids for int64 keys
    distinct = np.unique(fp_err * (len(obj_ids) + 1) + obj_index.reshape(-1)) // (len(obj_ids) + 1)
    fp_objects = np.bincount(distinct, minlength=graph.n_errors + 1)
    return (graph.value_of == graph.fp_code) & (fp_objects >= 2)

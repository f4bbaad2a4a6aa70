"""Where the topological errors are: a label map of the error voxels of a binary prediction, one code per class.

numpy in, numpy out, no torch. The classes of the object-level errors are those of :func:`critical_components`
(so a picture made from :func:`topological_errors` shows exactly what :class:`monai_topo.losses.SupervoxelLoss`
weights), refined into split / missed object and merge / spurious object; the remaining error supervoxels are
checked for loops (holes in 2D, tunnels in 3D) and cavities they create or destroy.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.topology.betti import betti_numbers
from monai_topo.topology.components import label_components, label_sparse_components
from monai_topo.topology.connectivity import (
    Connectivity,
    background_connectivity,
    flat_offsets,
    foreground_connectivity,
    neighbour_offsets,
    resolve_connectivity,
)
from monai_topo.topology.labelling import MaskLabelling, border_labels
from monai_topo.topology.supervoxels import Adjacency, Supervoxels, adjacent_pairs, critical_analysis, pad

__all__ = ["TOPOLOGICAL_ERROR_CODES", "error_component_counts", "topological_errors"]

#: code -> name of the classes of :func:`topological_errors` (0: no error)
TOPOLOGICAL_ERROR_CODES: dict[int, str] = {
    1: "split",
    2: "missed object",
    3: "merge",
    4: "spurious object",
    5: "other false negative",
    6: "other false positive",
    7: "missing loop",
    8: "extra loop",
    9: "missing cavity",
    10: "extra cavity",
}
_FN_OTHER, _FP_OTHER = 5, 6
_MAX_EXACT = 16  # whole-mask Betti computations per call, at most
_SPLIT_EDGES_PER_BATCH = 1 << 21  # copied graph edges per batch of removals (_split_counts)


def _neighbour_values(padded: np.ndarray, index: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(len(index), len(offsets))`` values of ``padded`` (flat) at the neighbours of the flat ``index``."""
    return np.take(padded.ravel(), index[:, None] + flat_offsets(offsets, padded.shape)[None, :])


def _distinct_per_label(labels: np.ndarray, partners: np.ndarray, n_labels: int) -> np.ndarray:
    """How many distinct non-zero ``partners`` each label (``0..n_labels``) has; pairs may repeat."""
    keep = partners != 0
    labels, partners = labels[keep].astype(np.int64), partners[keep].astype(np.int64)
    pairs = np.unique(labels * (int(partners.max(initial=0)) + 1) + partners)
    return np.bincount(pairs // (int(partners.max(initial=0)) + 1), minlength=n_labels + 1)


def _euler_change(
    pred: np.ndarray, labels: np.ndarray, index: np.ndarray, construction: str, n_labels: int
) -> np.ndarray:
    """Change of the Euler characteristic of ``pred`` when one error supervoxel alone is corrected, per label.

    ``pred`` and ``labels`` are zero-padded; ``index`` are the flat indices of the voxels of the supervoxels to
    check. A false negative (not in ``pred``) is added, a false positive removed. The cells of the cubical
    complex around each voxel (``3**ndim`` of them, in doubled coordinates) are visited once per supervoxel:
    T-construction, a cell is present when any of its voxels is; V-construction, when all of them are.
    """
    ndim, shape = pred.ndim, pred.shape
    flat_pred, flat_labels = pred.ravel(), labels.ravel()
    own = flat_labels[index]
    is_fn = ~flat_pred[index]
    # the 3**ndim voxels around each voxel, gathered once: before and after the correction, and which are its own
    neighbourhood = np.array(list(itertools.product((-1, 0, 1), repeat=ndim)), np.int64)
    flat = flat_offsets(neighbourhood, shape)
    around = index[:, None] + flat[None, :]
    old = flat_pred[around]
    same = flat_labels[around] == own[:, None]
    new = np.where(is_fn[:, None], old | same, old & ~same)
    column = {tuple(offset): i for i, offset in enumerate(neighbourhood.tolist())}
    combine = np.any if construction == "T" else np.all
    change = np.zeros(len(index), np.int64)
    for delta in itertools.product((-1, 0, 1), repeat=ndim):
        # the cell between the voxel and voxel + delta (in doubled coordinates) is incident to these voxels
        incident = [column[o] for o in itertools.product(*[(0,) if d == 0 else (0, d) for d in delta])]
        # a cell shared by several voxels of the supervoxel is counted at the first of them (in memory order)
        earlier = [i for i in incident if flat[i] < 0]
        first = ~same[:, earlier].any(axis=1) if earlier else np.ones(len(index), bool)
        cell_change = combine(new[:, incident], axis=1).astype(np.int64) - combine(old[:, incident], axis=1)
        # T: odd coordinates are voxel centres, so a delta of 0 is an odd coordinate: dim = zeros of delta;
        # V: voxels are vertices, dim = non-zeros of delta
        dim = sum(1 for d in delta if d == 0) if construction == "T" else sum(1 for d in delta if d != 0)
        change += np.where(first, cell_change, 0) * (-1) ** dim
    return np.bincount(own, weights=change, minlength=n_labels + 1).astype(np.int64)


def _cavity_changes(
    pred_p: np.ndarray,
    labels_p: np.ndarray,
    index: np.ndarray,
    is_fn_label: np.ndarray,
    check: np.ndarray,
    background_conn: int,
    background: _PaddedLabels,
    is_outer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Change of ``b2`` (enclosed background components) per supervoxel of a 3D prediction, where it is cheap.

    ``background`` labels the background components of the padded prediction (0: foreground) and ``is_outer``
    says, per label, whether it reaches the image border (the padding): those are one component, the others
    are cavities. Returns ``(delta_b2, exact)``. A false positive made background joins the background
    components it touches (each of its pieces in the background connectivity those this piece touches): exact.
    A false negative made foreground cuts its background component: exact when it fills whole cavities (-1
    each), or (0) when its background neighbours stay connected within its bounding box plus 8 voxels (only the
    supervoxels in ``check`` are visited, one by one). The others are left to an exact Betti computation.
    """
    n_labels = len(is_fn_label) - 1
    n_background = len(is_outer) - 1
    shape = pred_p.shape
    bounded = ~is_outer
    bounded[0] = False
    own = labels_p.ravel()[index]
    offsets = neighbour_offsets(pred_p.ndim, background_conn)
    # false positives: their pieces in the background connectivity join the background components they touch;
    # one graph for all supervoxels at once (a node per piece and per (supervoxel, component) pair)
    fp = ~is_fn_label[own]
    piece_of, n_pieces = label_sparse_components(index[fp], own[fp], shape, background_conn)
    owner = np.zeros(n_pieces + 1, np.int64)
    owner[piece_of] = own[fp]
    touched = background.take(index[fp][:, None] + flat_offsets(offsets, shape)[None, :])
    piece_rep, comp = np.repeat(piece_of, len(offsets))[touched.ravel() != 0], touched.ravel()[touched.ravel() != 0]
    pair, pair_node = np.unique(owner[piece_rep] * (n_background + 1) + comp, return_inverse=True)
    pair_node = pair_node.reshape(-1) + n_pieces + 1
    n_nodes = n_pieces + 1 + len(pair)
    graph = coo_matrix((np.ones(len(piece_rep), np.int8), (piece_rep, pair_node)), shape=(n_nodes, n_nodes))
    component = connected_components(graph, directed=False)[1]
    node_owner = np.concatenate([owner, pair // (n_background + 1)])
    node_outer = np.concatenate([np.zeros(n_pieces + 1, bool), is_outer[pair % (n_background + 1)]])
    has_outer = np.zeros(component.max() + 1, bool)
    has_outer[component[node_outer]] = True
    enclosed_after = np.zeros(component.max() + 1, bool)
    enclosed_after[component[1:]] = True
    enclosed_after &= ~has_outer
    comp_owner = np.zeros(component.max() + 1, np.int64)
    comp_owner[component[1:]] = node_owner[1:]
    after = np.bincount(comp_owner[enclosed_after], minlength=n_labels + 1)
    before = np.bincount(pair[bounded[pair % (n_background + 1)]] // (n_background + 1), minlength=n_labels + 1)
    delta_b2 = np.where(is_fn_label, 0, after - before)
    exact = ~is_fn_label.copy()
    # false negatives, one by one: a cut of the outer background that leaves it connected around the cut
    fn_check = np.zeros(n_labels + 1, bool)
    fn_check[check] = True
    fn_check &= is_fn_label
    checked = fn_check[own]
    if not checked.any():
        return delta_b2, exact
    # the checked supervoxels' voxels grouped by label, their bounding boxes and the background components they
    # lie in (with voxel counts), all at once
    order = np.argsort(own[checked], kind="stable")
    voxels, voxel_label = index[checked][order], own[checked][order]
    labels, starts = np.unique(voxel_label, return_index=True)
    stops = np.append(starts[1:], len(voxels))
    coords = np.stack(np.unravel_index(voxels, shape), axis=1)
    low = np.maximum(np.minimum.reduceat(coords, starts, axis=0) - 8, 0)
    high = np.maximum.reduceat(coords, starts, axis=0) + 9  # (inside the padded array: the voxels are inner ones)
    keys = voxel_label.astype(np.int64) * (n_background + 1) + background.take(voxels)
    member, member_counts = np.unique(keys, return_counts=True)
    member_bounds = np.searchsorted(member // (n_background + 1), np.append(labels, labels[-1] + 1))
    for j, label in enumerate(labels):
        inside = member[member_bounds[j] : member_bounds[j + 1]] % (n_background + 1)
        count = member_counts[member_bounds[j] : member_bounds[j + 1]]
        cavity = bounded[inside]
        box = tuple(slice(lo, hi) for lo, hi in zip(low[j], high[j]))
        filled = np.zeros(len(inside), bool)  # whole cavities: none of its voxels on the box's faces, all in mine
        if cavity.any():
            local_background = background[box]
            on_faces = border_labels(local_background)
            for i in np.flatnonzero(cavity):
                filled[i] = inside[i] not in on_faces and count[i] == np.count_nonzero(local_background == inside[i])
        delta_b2[label] = -int(filled.sum())
        if filled.all():
            exact[label] = True
            continue
        if int((cavity & ~filled).sum()) + int((~cavity).any()) != 1:  # (the outer labels are one component)
            continue
        local = ~pred_p[box] & (labels_p[box] != label)
        local_labels, _ = label_components(local, background_conn)
        local_index = np.ravel_multi_index(tuple((coords[starts[j] : stops[j]] - low[j]).T), local.shape)
        neighbours = _neighbour_values(local_labels, local_index, offsets)
        exact[label] = len(np.unique(neighbours[neighbours != 0])) <= 1
    return delta_b2, exact


def _pad_index(index: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices of ``shape`` mapped to the same voxels of the array padded by one voxel on every side."""
    coords = np.unravel_index(index, shape)
    return np.ravel_multi_index(tuple(c + 1 for c in coords), tuple(s + 2 for s in shape))


def _unpad_index(index: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices of inner voxels of a padded array mapped to the unpadded array (inverse of :func:`_pad_index`)."""
    coords = np.unravel_index(index, padded_shape)
    return np.ravel_multi_index(tuple(c - 1 for c in coords), tuple(s - 2 for s in padded_shape))


def _split_counts(
    label_of: np.ndarray, kept_of: np.ndarray, n_kept: int, n_labels: int, which: np.ndarray
) -> np.ndarray:
    """Number of prediction pieces left around each false-positive supervoxel in ``which`` once it is removed.

    The prediction's components are those of the graph of kept components and false-positive supervoxels (which
    are never adjacent to each other), joined by the adjacent pairs (``label_of[i]``, ``kept_of[i]``); the
    supervoxel's node is removed and the components among its kept neighbours counted (a small graph: one node
    per kept component and per supervoxel).
    """
    # components of the whole graph once; removing a supervoxel only changes its own component, so each removal
    # is examined on a copy of that component's edges without its own: all copies in one graph
    fp_node = n_kept + 1 + label_of
    n_nodes = n_kept + 1 + n_labels + 1
    whole = coo_matrix((np.ones(len(label_of), np.int8), (kept_of, fp_node)), shape=(n_nodes, n_nodes))
    component = connected_components(whole, directed=False)[1]
    edge_component = component[kept_of]
    order = np.argsort(edge_component, kind="stable")
    bounds = np.searchsorted(edge_component[order], np.arange(component.max() + 2))
    removed = n_kept + 1 + np.asarray(which, np.int64)
    sizes = bounds[component[removed] + 1] - bounds[component[removed]]
    counts = np.zeros(len(which), np.int64)
    # batches of at most ~2M copied edges (one supervoxel's copy can be larger: it is its own batch)
    batch = np.cumsum(sizes) // _SPLIT_EDGES_PER_BATCH
    for b in np.unique(batch):
        members = np.flatnonzero(batch == b)
        counts[members] = _removal_pieces(kept_of, fp_node, order, bounds, component, removed[members], n_nodes)
    return counts


def _removal_pieces(
    kept_of: np.ndarray,
    fp_node: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    component: np.ndarray,
    removed: np.ndarray,
    n_nodes: int,
) -> np.ndarray:
    """For each ``removed`` node, the pieces its kept neighbours fall into once it is removed (see
    :func:`_split_counts`): one graph holding, per removed node, a copy of its component's edges without its own.
    """
    start, stop = bounds[component[removed]], bounds[component[removed] + 1]
    sizes = stop - start
    copy = np.repeat(np.arange(len(removed)), sizes)
    edges = order[np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(start, sizes)]
    kept_e, fp_e = kept_of[edges], fp_node[edges]
    nodes, compact = np.unique(np.concatenate([copy * n_nodes + kept_e, copy * n_nodes + fp_e]), return_inverse=True)
    compact = compact.reshape(2, -1)
    rest = fp_e != removed[copy]
    graph = coo_matrix(
        (np.ones(int(rest.sum()), np.int8), (compact[0, rest], compact[1, rest])), shape=(len(nodes),) * 2
    )
    pieces = connected_components(graph, directed=False)[1]
    # per copy, the distinct pieces among the removed node's kept neighbours
    around = np.unique(copy[~rest] * (len(nodes) + 1) + pieces[compact[0, ~rest]])
    return np.bincount(around // (len(nodes) + 1), minlength=len(removed)).astype(np.int64)


class _PaddedLabels:
    """A label array as if padded by one voxel of label ``pad`` on every side, without the padded copy.

    ``take`` reads it at flat indices of the padded shape and ``[box]`` cuts a box of it, as ``np.take`` and
    slicing would read the padded array.
    """

    def __init__(self, labels: np.ndarray, pad: int | None) -> None:
        """``pad=None``: ``labels`` is the padded array itself."""
        self.labels, self.pad = labels, pad
        self.shape = labels.shape if pad is None else tuple(size + 2 for size in labels.shape)

    def take(self, index: np.ndarray) -> np.ndarray:
        if self.pad is None:
            return self.labels.ravel()[index]
        coords = np.unravel_index(index, self.shape)
        inner = np.ones(np.shape(index), bool)
        for c, size in zip(coords, self.labels.shape):
            inner &= (c >= 1) & (c <= size)
        out = np.full(np.shape(index), self.pad, np.int64)
        out[inner] = self.labels[tuple(c[inner] - 1 for c in coords)]
        return out

    def __getitem__(self, box: tuple[slice, ...]) -> np.ndarray:
        if self.pad is None:
            return self.labels[box]
        out = np.full(tuple(b.stop - b.start for b in box), self.pad, np.int64)
        source = tuple(slice(max(b.start - 1, 0), min(b.stop - 1, size)) for b, size in zip(box, self.labels.shape))
        target = tuple(slice(s.start + 1 - b.start, s.stop + 1 - b.start) for s, b in zip(source, box))
        out[target] = self.labels[source]
        return out


def _padded_background(
    pred_p: np.ndarray, background_conn: int, pred_labelling: MaskLabelling | None
) -> tuple[_PaddedLabels, np.ndarray]:
    """Background components of the padded prediction and, per label, whether it reaches the border.

    From ``pred_labelling`` (an evaluation's labelling of the unpadded prediction) when given: its background
    labels, the padding as one more outer label (not copied); otherwise the padded prediction's background is
    labelled (its padding is then one of its labels).
    """
    if pred_labelling is not None and pred_labelling.background is not None:
        inner_labels, n = pred_labelling.background, pred_labelling.n_background
        is_outer = np.zeros(n + 2, bool)
        is_outer[border_labels(inner_labels)] = True
        is_outer[n + 1] = True
        return _PaddedLabels(inner_labels, n + 1), is_outer
    background, n = label_components(~pred_p, background_conn)
    is_outer = np.zeros(n + 1, bool)
    is_outer[background.ravel()[0]] = True
    return _PaddedLabels(background, None), is_outer


def _prediction_components(
    pred_p: np.ndarray,
    sv: Supervoxels,
    graph: Adjacency,
    is_fp_label: np.ndarray,
    is_binary: bool,
    conn: int,
    pred_labelling: MaskLabelling | None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The prediction's components, as ``(labels or None, per kept component, per error supervoxel)``.

    With a binary target the kept components are never adjacent to each other, nor are the false-positive
    supervoxels: the prediction's components are those of the small graph of both joined by adjacency, and are
    returned per kept component and per false-positive supervoxel (``0``: none; labels ``None``). Otherwise the
    padded labels (from ``pred_labelling`` when given) and two empty lookups.
    """
    if is_binary:
        n_kept, n_errors = sv.n_kept, sv.n_errors
        fp_pair = ~graph.is_fn_pair
        edges = coo_matrix(
            (np.ones(int(fp_pair.sum()), np.int8), (graph.partner[fp_pair], n_kept + 1 + graph.err[fp_pair])),
            shape=(n_kept + n_errors + 2,) * 2,
        )
        component = connected_components(edges, directed=False)[1] + 1
        of_kept, of_error = component[: n_kept + 1], np.where(is_fp_label, component[n_kept + 1 :], 0)
        of_kept[0] = 0
        return None, of_kept, of_error
    empty = np.zeros(1, np.int64)
    if pred_labelling is not None:
        return pad(pred_labelling.components), empty, empty
    return label_components(pred_p, conn)[0], empty, empty


def _loop_codes(
    pred_p: np.ndarray,
    sv: Supervoxels,
    graph: Adjacency,
    code_of: np.ndarray,
    is_fp_label: np.ndarray,
    error_label: np.ndarray,
    is_binary: bool,
    connectivity: Connectivity,
    pred_labelling: MaskLabelling | None,
) -> None:
    """Give codes 7-10 to the non-critical error supervoxels whose correction changes ``b1`` or ``b2``.

    Works on the padded arrays of the critical analysis (``error_label``: the supervoxel of each error voxel of
    ``sv.error_index``). ``b1 = b0 + b2 - chi``: the changes of ``b0``
    (adjacency) and ``chi`` (the cells around each supervoxel) are found for all supervoxels at once, the change
    of ``b2`` where it is cheap (:func:`_cavity_changes`); the rest get exact Betti numbers of the corrected mask.
    """
    ndim = pred_p.ndim
    n_labels = len(code_of) - 1
    conn = foreground_connectivity(connectivity, ndim)
    candidates = np.isin(code_of, (_FN_OTHER, _FP_OTHER))
    candidates[0] = False
    if not candidates.any():
        return
    labels_p = sv.error_labels
    index = sv.error_index[candidates[error_label]]  # the candidates' voxels (flat, padded), read sparsely
    own = labels_p.ravel()[index]
    offsets = neighbour_offsets(ndim, conn)
    flat = flat_offsets(offsets, pred_p.shape)
    # change of b0 from adjacency: a false negative joins the prediction components it touches; a false positive
    # touching one kept component leaves b0 as it is (one touching several is checked exactly below)
    is_fn_label = candidates & ~is_fp_label
    fn_voxels = is_fn_label[own]
    kept_components, n_kept = (sv.kept_labels, sv.n_kept) if is_binary else label_components(sv.kept, conn)
    pred_components, of_kept, of_error = _prediction_components(
        pred_p, sv, graph, is_fp_label, is_binary, conn, pred_labelling
    )
    touched = np.zeros((len(index), len(flat)), np.int64)
    fn_around = index[fn_voxels][:, None] + flat[None, :]
    if pred_components is None:
        kept_around = kept_components.ravel()[fn_around]
        touched[fn_voxels] = np.where(kept_around != 0, of_kept[kept_around], of_error[labels_p.ravel()[fn_around]])
    else:
        touched[fn_voxels] = pred_components.ravel()[fn_around]
    touched[~fn_voxels] = kept_components.ravel()[index[~fn_voxels][:, None] + flat[None, :]]
    partners = _distinct_per_label(np.repeat(own, len(flat)), touched.ravel(), n_labels)
    delta_b0 = np.where(is_fn_label, 1 - partners, 0)
    several = np.flatnonzero(candidates & ~is_fn_label & (partners > 1))
    if several.size:
        if is_binary:  # the kept components of the critical analysis: its adjacency has the pairs
            fp_pair = ~graph.is_fn_pair
            label_of, kept_of = graph.err[fp_pair], graph.partner[fp_pair]
        else:
            fp_index = sv.error_index[pred_p.ravel()[sv.error_index]]
            kept_flat = kept_components.ravel()
            fp_of, kept_of, _, _ = adjacent_pairs(
                fp_index, fp_index[:0], labels_p.ravel(), labels_p.ravel(), kept_flat, kept_flat, flat, False
            )
            pairs = np.unique(fp_of * (n_kept + 1) + kept_of)
            label_of, kept_of = pairs // (n_kept + 1), pairs % (n_kept + 1)
        delta_b0[several] = _split_counts(label_of, kept_of, n_kept, n_labels, several) - 1
    exact = candidates.copy()
    delta_chi = _euler_change(pred_p, labels_p, index, resolve_connectivity(connectivity, ndim), n_labels)
    # b1 - b2 changes by delta_b0 - delta_chi
    check = np.flatnonzero(candidates & ((delta_b0 != delta_chi) | ~is_fn_label))
    if ndim == 3:
        background_conn = background_connectivity(connectivity, 3)
        background, is_outer = _padded_background(pred_p, background_conn, pred_labelling)
        delta_b2, b2_exact = _cavity_changes(
            pred_p, labels_p, index, is_fn_label, check, background_conn, background, is_outer
        )
        exact &= b2_exact
    else:
        delta_b2 = np.zeros(n_labels + 1, np.int64)
    delta_b1 = delta_b0 + delta_b2 - delta_chi
    # exact Betti numbers of the whole corrected mask for the rest (few on a decent prediction; capped on noise,
    # where the others keep the b2 change found so far, i.e. none)
    inner = (slice(1, -1),) * ndim
    pred, before = pred_p[inner], None
    for label in np.flatnonzero(candidates & ~exact & ((delta_b0 != delta_chi) | ~is_fn_label))[:_MAX_EXACT]:
        if before is None:
            before = pred_labelling.betti() if pred_labelling is not None else betti_numbers(pred, connectivity)
        change = betti_numbers(pred ^ (labels_p[inner] == label), connectivity) - before
        delta_b1[label] = change[1]
        if ndim == 3:
            delta_b2[label] = change[2]
    # > 0: correcting the error adds the feature, so the prediction misses it there
    loops = candidates & (delta_b1 != 0)
    code_of[loops] = np.where(delta_b1[loops] > 0, 7, 8)
    cavities = candidates & (delta_b2 != 0)
    code_of[cavities] = np.where(delta_b2[cavities] > 0, 9, 10)


def _check_labelling(name: str, labelling: MaskLabelling | None, shape: tuple[int, ...], conn: int) -> None:
    """A given labelling must be of a mask of ``shape`` with foreground connectivity ``conn``."""
    if labelling is None:
        return
    if labelling.mask.shape != shape:
        raise ValueError(f"{name} is of a mask of shape {labelling.mask.shape}, the prediction is {shape}.")
    found = foreground_connectivity(labelling.connectivity, len(shape))
    if found != conn:
        raise ValueError(f"{name} was labelled with connectivity {found}, the errors use {conn}.")


def topological_errors(
    pred: np.ndarray,
    target: np.ndarray,
    connectivity: Connectivity = None,
    *,
    instance_labels: bool | None = None,
    loops: bool = True,
    pred_labelling: MaskLabelling | None = None,
    target_labelling: MaskLabelling | None = None,
    return_counts: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[int, int]]:
    """Label map of the topological errors of a binary prediction: which voxels are behind each error.

    The error voxels are grouped into the error supervoxels of :func:`critical_components` (connected components
    of the false negatives within one target object, and of the false positives) and each supervoxel gets one
    code of :data:`TOPOLOGICAL_ERROR_CODES`:

    - ``1`` **split**: a critical false negative touching 2 or more kept (correctly predicted) components of its
      object: filling it joins them. A place, not a piece: one such gap however many kept components it touches,
      and a gap counts even where the prediction joins the parts some other way (around a loop, through false
      positives outside the object). :func:`monai_topo.metrics.split_merge_counts` counts pieces instead (a ring
      cut twice: 2 split regions, 1 split; a missed junction of 3 branches: 1 region, 2 splits).
    - ``2`` **missed object**: a critical false negative touching no kept component of its object.
    - ``3`` **merge**: a critical false positive touching kept components of 2 or more objects.
    - ``4`` **spurious object**: a critical false positive touching no kept component.
    - ``7`` / ``8`` **missing / extra loop** (a hole in 2D, a loop or tunnel in 3D) and ``9`` / ``10``
      **missing / extra cavity** (3D): a non-critical supervoxel whose correction alone (adding a false
      negative to the prediction, removing a false positive from it) changes the prediction's ``b1`` resp.
      ``b2``: up means the prediction misses a loop / cavity of the target there (a cut ring, a filled hole),
      down that it has one the target lacks (a hole punched into a solid part, a bridge closing a loop). The
      classes are local: a prediction with fewer loops than the target in all can still have an extra loop
      somewhere (and a loop broken by a critical supervoxel is a split or a missed object, not a missing loop).
      Since
      ``b1 = b0 + b2 - chi``, the changes are computed for all supervoxels at once: ``b0`` from adjacency (and,
      for a false positive touching several kept components, a small graph), ``chi`` from the cubical cells
      around each supervoxel, ``b2`` from the background components a false positive joins; a false negative
      is checked for ``b2`` only when its correction changes ``b0 - chi`` (its background neighbours staying
      connected around it, or else exact Betti numbers of the corrected mask, for 16 supervoxels at most: on
      a very noisy prediction the others are taken as leaving ``b2`` unchanged), so a false negative whose
      correction changes ``b1`` and ``b2`` by the same amount is not seen. A cavity change wins over a loop
      change. Persistence is not used for this: a cubical persistence of a whole 128^3 volume costs more than
      the rest of an evaluation.
    - ``5`` / ``6`` **other false negative / positive**: every other error voxel. ``0``: no error.

    So ``codes in (1, 2)`` is the critical false-negative mask and ``codes in (3, 4)`` the critical
    false-positive mask of :func:`critical_components` (and of ``SupervoxelLoss.critical_masks``) on the same
    input.

    Args:
        pred: binary 2D or 3D prediction.
        target: binary mask or instance label map of the same shape (0 = background).
        connectivity: foreground connectivity: 8 or 4 in 2D, 26 or 6 in 3D; ``None`` = 8 / 26.
        instance_labels: how to read ``target``, as in :func:`critical_components`.
        loops: also look for loop and cavity errors (codes 7-10); ``False`` leaves those supervoxels 5 / 6.
        pred_labelling: :func:`monai_topo.topology.label_mask` of ``pred`` with the same connectivity, when the
            caller has it (e.g. from the Betti numbers of an evaluation): its background components (and, for an
            instance target, its components) are not labelled again.
        target_labelling: the same for a binary ``target``: its mask is read instead of ``target`` (a binary
            target's objects come from the critical analysis's graph and are never labelled).
        return_counts: also return :func:`error_component_counts` of the map (with a binary target, counted from
            the supervoxels: only those of the loop and cavity classes, the only ones where a false negative and
            a false positive of the same class can touch, are labelled again).

    Returns:
        a ``uint8`` array of ``pred.shape`` with the codes; with ``return_counts``, ``(codes, counts)``.

    Raises:
        TypeError / ValueError: as :func:`critical_components` (non-binary prediction, bad target, shapes,
            connectivity); ``ValueError`` for a labelling of another shape or connectivity, or a
            ``target_labelling`` with instance labels.

    Example:
        >>> target = np.zeros((3, 7), bool); target[1] = True  # a bar
        >>> pred = target.copy(); pred[1, 3] = False; pred[0, 6] = True  # cut in the middle, a thickening
        >>> topological_errors(pred, target)[:2].tolist()
        [[0, 0, 0, 0, 0, 0, 6], [0, 0, 0, 1, 0, 0, 0]]
    """
    if target_labelling is not None:
        _check_labelling(
            "target_labelling", target_labelling, np.shape(pred), foreground_connectivity(connectivity, np.ndim(pred))
        )
        if instance_labels or (instance_labels is None and np.max(target) > 1):
            raise ValueError("target_labelling is the labelling of a binary target; this target has instance labels.")
        target, instance_labels = target_labelling.mask, False  # (already checked and binary)
    found = critical_analysis(pred, target, connectivity, instance_labels)
    conn = foreground_connectivity(connectivity, np.ndim(pred))
    _check_labelling("pred_labelling", pred_labelling, np.shape(pred), conn)
    if found is None:
        empty = np.zeros(np.shape(pred), np.uint8)
        return (empty, dict.fromkeys(TOPOLOGICAL_ERROR_CODES, 0)) if return_counts else empty
    # the padded prediction and the error supervoxels of critical_components (false negatives within one
    # object, false positives), with their adjacency to the kept components; errors are sparse: read by index
    pred_p, sv, critical, is_binary, graph = found
    error_label = sv.error_labels.ravel()[sv.error_index]
    is_fp_voxel = pred_p.ravel()[sv.error_index]
    is_fp_label = np.zeros(sv.n_errors + 1, bool)
    is_fp_label[error_label[is_fp_voxel]] = True
    code_of = np.where(is_fp_label, _FP_OTHER, _FN_OTHER).astype(np.uint8)
    code_of[0] = 0
    # critical supervoxels: split / missed (touches a kept component of its own object or not), merge / spurious
    # (touches a kept component or not)
    touches_own = np.bincount(graph.err[graph.own], minlength=sv.n_errors + 1) > 0
    touches_any = graph.value_of != 0
    code_of[critical] = np.where(is_fp_label, np.where(touches_any, 3, 4), np.where(touches_own, 1, 2))[critical]
    if loops:
        _loop_codes(pred_p, sv, graph, code_of, is_fp_label, error_label, is_binary, connectivity, pred_labelling)
    out = np.zeros(np.shape(pred), np.uint8)
    out.ravel()[_unpad_index(sv.error_index, pred_p.shape)] = code_of[error_label]
    if not return_counts:
        return out
    if not is_binary:  # false negatives of two touching objects may share a class: label the map
        return out, error_component_counts(out, connectivity)
    return out, _supervoxel_class_counts(code_of, error_label, sv.error_index, pred_p.shape, conn)


def _supervoxel_class_counts(
    code_of: np.ndarray, error_label: np.ndarray, index: np.ndarray, shape: tuple[int, ...], conn: int
) -> dict[int, int]:
    """:func:`error_component_counts` of the map of a binary target, from its supervoxels (``code_of`` per label).

    Two false negatives are never adjacent (they would be one supervoxel), nor are two false positives, and the
    classes 1, 2, 5 are false negatives only, 3, 4, 6 false positives only: a component of those classes is one
    supervoxel. Only the voxels of classes 7-10 (``index``: flat, padded, sorted; ``error_label`` theirs) are
    labelled again.
    """
    per_class = np.bincount(code_of[1:], minlength=max(TOPOLOGICAL_ERROR_CODES) + 1)
    mixed_classes = (7, 8, 9, 10)
    mixed = np.isin(code_of[error_label], mixed_classes)
    if mixed.any():
        codes = code_of[error_label[mixed]]
        labels, n = label_sparse_components(index[mixed], codes, shape, conn)
        class_of = np.zeros(n + 1, np.uint8)
        class_of[labels] = codes
        per_class[list(mixed_classes)] = np.bincount(class_of[1:], minlength=len(per_class))[list(mixed_classes)]
    return {code: int(per_class[code]) for code in TOPOLOGICAL_ERROR_CODES}


def error_component_counts(errors: np.ndarray, connectivity: Connectivity = None) -> dict[int, int]:
    """Number of connected components of each class of an error label map (every code, also absent ones).

    Args:
        errors: a label map of :func:`topological_errors`.
        connectivity: foreground connectivity used to count components (``None`` = 8 / 26).

    Returns:
        ``{code: count}`` for every code of :data:`TOPOLOGICAL_ERROR_CODES`.

    Example:
        >>> error_component_counts(np.array([[1, 0, 1, 6]]))[1]
        2
    """
    errors = np.asarray(errors)
    counts = dict.fromkeys(TOPOLOGICAL_ERROR_CODES, 0)
    if not errors.any():
        return counts
    labels, n = label_components(errors, foreground_connectivity(connectivity, errors.ndim))
    index = np.flatnonzero(errors != 0)  # the error voxels only (sparse)
    code = np.zeros(n + 1, errors.dtype)
    code[labels.ravel()[index]] = errors.ravel()[index]
    for value, count in zip(*np.unique(code[1:], return_counts=True)):
        if int(value) in counts:
            counts[int(value)] = int(count)
    return counts

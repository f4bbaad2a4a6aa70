"""Where each label of a label map lies: the bounding box of every value, found in one pass.

A measure of each label of a map with many labels (instance labels: thousands of objects) is cheap when it looks
at the label's bounding box only: the Betti numbers, the Euler characteristic, the components and the skeleton of a
mask do not change when the mask is cut out with its box (the background outside a box is connected to the image
border, as a background component that touches the box is). :func:`label_boxes` finds every box in one pass
(:func:`scipy.ndimage.find_objects`), :func:`grow_box` adds the one-voxel margin the measures get, so that work per
label is proportional to the label's box, not to the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import neighbour_offsets

__all__ = ["Box", "LabelPieces", "box_size", "grow_box", "label_boxes", "label_pieces", "union_box"]

#: a bounding box: one ``slice(start, stop)`` per axis
Box = tuple[slice, ...]

# values up to this (or up to the number of voxels) index find_objects' list directly; larger or negative values
# are numbered first (a sort)
_DIRECT_MAX = 2**16


def label_boxes(labels: np.ndarray) -> dict[int, Box]:
    """The bounding box of each non-zero value of a label map, in one pass.

    Args:
        labels: an integer (or boolean, or integer-valued float) array of any dimension; 0 is background,
            negative values are labels too.

    Returns:
        ``{value: box}`` for the values present, sorted by value (float values as ``int``).

    Example:
        >>> volume = np.zeros((4, 6), np.uint16); volume[1:3, 2] = 7; volume[3, 5] = 2
        >>> label_boxes(volume)
        {2: (slice(3, 4, None), slice(5, 6, None)), 7: (slice(1, 3, None), slice(2, 3, None))}
    """
    values = np.asarray(labels)
    if values.dtype == bool:
        values = values.view(np.uint8)
    if values.size == 0:
        return {}
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= max(_DIRECT_MAX, values.size):  # the values index find_objects' list themselves
            return {k + 1: box for k, box in enumerate(ndimage.find_objects(values)) if box is not None}
    present, inverse = np.unique(values, return_inverse=True)  # numbered 0..n-1 (a sort: large or negative values)
    boxes = ndimage.find_objects(inverse.reshape(values.shape).astype(np.intp) + 1)
    return {int(v): box for v, box in zip(present.tolist(), boxes) if v != 0 and box is not None}


def union_box(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box holding both (either may be ``None``: nothing there).

    Example:
        >>> union_box((slice(0, 2), slice(3, 4)), (slice(1, 5), slice(0, 1)))
        (slice(0, 5, None), slice(0, 4, None))
    """
    if a is None or b is None:
        return a if b is None else b
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def grow_box(box: Box, shape: Sequence[int], margin: int = 1) -> Box:
    """``box`` with ``margin`` voxels more on every side, clipped to an image of ``shape``.

    Example:
        >>> grow_box((slice(0, 2), slice(3, 4)), (5, 5))
        (slice(0, 3, None), slice(2, 5, None))
    """
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, int(n))) for s, n in zip(box, shape))


def box_size(box: Box) -> int:
    """Number of voxels of a box.

    Example:
        >>> box_size((slice(1, 3), slice(0, 4)))
        8
    """
    return int(np.prod([s.stop - s.start for s in box], dtype=np.int64))


@dataclass(frozen=True)
class LabelPieces:
    """The pieces of every label of a prediction and its target (:func:`label_pieces`).

    Piece ``i`` holds the voxels of label ``values[i]`` in either map that form one 26-connected (8 in 2D) set; the
    pieces of one label are at least one voxel apart.

    Attributes:
        values: the label of each piece, shape ``(n,)``.
        boxes: the tight box of each piece.
        pred_components: the prediction's components (each value's regions separately, 26 / 8-connected;
            0 = background); ``target_components`` likewise.
        pred_piece: the piece of each prediction component (index: the component; ``[0] = -1``, the background);
            ``target_piece`` likewise.
        stray: per piece, 1 where it is a single voxel of the prediction, 2 a single voxel of the target, else 0
            (what a measure can count without looking at the voxels).
    """

    values: np.ndarray
    boxes: list[Box]
    pred_components: np.ndarray
    target_components: np.ndarray
    pred_piece: np.ndarray
    target_piece: np.ndarray
    stray: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    def masks(self, index: int, region: Box) -> tuple[np.ndarray, np.ndarray]:
        """The prediction's and the target's voxels of piece ``index`` within ``region`` (two bool arrays)."""
        return (
            self.pred_piece[self.pred_components[region]] == index,
            self.target_piece[self.target_components[region]] == index,
        )


def _component_boxes(components: np.ndarray, n: int) -> np.ndarray:
    """``(n, 2, ndim)`` starts and stops of components ``1..n``."""
    out = np.zeros((n, 2, components.ndim), np.int64)
    for k, box in label_boxes(components).items():  # (every component has voxels)
        out[k - 1, 0] = [s.start for s in box]
        out[k - 1, 1] = [s.stop for s in box]
    return out


def _component_values(values: np.ndarray, components: np.ndarray, n: int) -> np.ndarray:
    """The value of each component ``1..n`` (index 0: background)."""
    out = np.zeros(n + 1, values.dtype)
    out[components.ravel()] = values.ravel()
    return out


def label_pieces(pred: np.ndarray, target: np.ndarray) -> LabelPieces:
    """Every label's pieces, for all labels at once: the 26-connected (8 in 2D) components of
    ``(pred == k) | (target == k)`` for each non-zero value ``k``, each with its tight box.

    Each map is labelled once (each value's regions separately); a prediction component and a target component of
    the same value belong to one piece when they overlap or touch. Touching without overlap is looked for only
    where the maps differ, so the cost is two labellings and a pass over the voxels, whatever the number of labels.
    A label made of one object and stray voxels across the image gets one piece per stray voxel, each on a box of
    one voxel, instead of one box spanning the image.

    Args:
        pred: predicted label map (2D or 3D; integers, bools or integer-valued floats; 0 is background).
        target: target label map of the same shape.

    Returns:
        a :class:`LabelPieces`.

    Raises:
        ValueError: for different shapes or a map that is not 2D or 3D.

    Example:
        >>> pred = np.array([[1, 0, 0, 0, 1], [0, 0, 0, 0, 0], [2, 2, 0, 0, 0]])
        >>> target = np.array([[0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [2, 0, 0, 0, 0]])
        >>> pieces = label_pieces(pred, target)
        >>> pieces.values.tolist(), [tuple((s.start, s.stop) for s in b) for b in pieces.boxes]
        ([1, 1, 2], [((0, 1), (0, 2)), ((0, 1), (4, 5)), ((2, 3), (0, 2))])
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs label {target.shape}")
    if pred.ndim not in (2, 3):
        raise ValueError(f"label maps must be 2D or 3D, got shape {pred.shape}")
    pred = np.ascontiguousarray(pred.view(np.uint8) if pred.dtype == bool else pred)
    target = np.ascontiguousarray(target.view(np.uint8) if target.dtype == bool else target)
    connectivity = 26 if pred.ndim == 3 else 8
    pred_components, n_pred = label_components(pred, connectivity)
    target_components, n_target = label_components(target, connectivity)
    # edges between a prediction component and a target component of the same value: overlaps ...
    same = (pred == target) & (pred != 0)
    head, tail = pred_components[same], target_components[same]
    del same
    if head.size > 1:  # one pair per run of voxels (a pair repeats along each object): less to hold
        change = np.flatnonzero((head[1:] != head[:-1]) | (tail[1:] != tail[:-1])) + 1
        head, tail = head[np.concatenate([[0], change])], tail[np.concatenate([[0], change])]
    heads, tails = [head.astype(np.int64)], [tail.astype(np.int64)]
    # ... and neighbours. A prediction voxel x of value k next to a target voxel y of value k links their components
    # already through an overlap unless the maps differ at both x and y (else x or y lies in both components)
    flat_pred, flat_target = pred.ravel(), target.ravel()
    at = np.flatnonzero((flat_pred != flat_target) & (flat_pred != 0))
    if at.size:
        coords = np.unravel_index(at, pred.shape)
        values = flat_pred[at]
        components = pred_components.ravel()[at]
        flat_target_components = target_components.ravel()
        for offset in neighbour_offsets(pred.ndim, connectivity).tolist():
            near = [c + d for c, d in zip(coords, offset)]
            inside = np.ones(at.size, bool)
            for c, n in zip(near, pred.shape):
                inside &= (c >= 0) & (c < n)
            where = np.ravel_multi_index(tuple(c[inside] for c in near), pred.shape)
            seen = flat_target[where]
            linked = (seen == values[inside]) & (flat_pred[where] != seen)
            heads.append(components[inside][linked].astype(np.int64))
            tails.append(flat_target_components[where[linked]].astype(np.int64))
    head, tail = np.concatenate(heads), np.concatenate(tails)
    total = n_pred + n_target
    if total == 0:
        none = np.array([-1], np.int64)
        return LabelPieces(
            np.zeros(0, pred.dtype), [], pred_components, target_components, none, none.copy(), np.zeros(0, np.int8)
        )
    graph = coo_matrix((np.ones(head.size, np.int8), (head - 1, tail - 1 + n_pred)), shape=(total, total))
    n_pieces, piece = connected_components(graph, directed=False)
    pred_piece = np.concatenate([[-1], piece[:n_pred]]).astype(np.int64)
    target_piece = np.concatenate([[-1], piece[n_pred:]]).astype(np.int64)
    # each piece's value and box from its components'
    ndim = pred.ndim
    values_of = np.zeros(n_pieces, np.result_type(pred.dtype, target.dtype))
    values_of[piece[:n_pred]] = _component_values(pred, pred_components, n_pred)[1:]
    values_of[piece[n_pred:]] = _component_values(target, target_components, n_target)[1:]
    starts = np.full((n_pieces, ndim), np.iinfo(np.int64).max, np.int64)
    stops = np.zeros((n_pieces, ndim), np.int64)
    for components, n, owner in ((pred_components, n_pred, piece[:n_pred]), (target_components, n_target, piece[n_pred:])):
        extent = _component_boxes(components, n)
        np.minimum.at(starts, owner, extent[:, 0])
        np.maximum.at(stops, owner, extent[:, 1])
    boxes = [tuple(slice(int(a), int(b)) for a, b in zip(lo, hi)) for lo, hi in zip(starts.tolist(), stops.tolist())]
    # a piece of one component whose box is one voxel: a stray voxel
    single = (np.bincount(piece, minlength=n_pieces) == 1) & ((stops - starts) == 1).all(axis=1)
    side = np.full(n_pieces, 2, np.int8)  # the map of a one-component piece: 1 prediction, 2 target
    side[piece[:n_pred]] = 1
    stray = np.where(single, side, 0).astype(np.int8)
    return LabelPieces(values_of, boxes, pred_components, target_components, pred_piece, target_piece, stray)

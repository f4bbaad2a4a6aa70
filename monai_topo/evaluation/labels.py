"""Per-label measures on each label's bounding box: what ``evaluate`` and ``betti`` compute per label.

The masks ``pred == k`` and ``target == k`` are cut out with the box of the label in either map (plus a one-voxel
margin, :func:`monai_topo.topology.objects.grow_box`), found for every label in one pass
(:func:`monai_topo.topology.objects.label_boxes`). Betti numbers, components (splits, merges), skeletons (clDice)
and error maps do not change when a mask is cut out with its box, so every number equals the one of the whole
masks, and a map of 1,000 instance labels costs about what one label filling the image does, not 1,000 times
it (``python -m benchmarks --only labels``). :func:`measure_labels` goes one step further: it measures every
label piece by piece (:func:`monai_topo.topology.objects.label_pieces`: the separate parts of a label, each on its
tight box), so a label made of one object and stray voxels across the image costs its object's box and a voxel
per stray voxel, not a box spanning the image; the measures are sums over the pieces (clDice from summed skeleton
counts). The chunked path (:mod:`monai_topo.evaluation.chunked`) sums the
same measures over the pieces of a label that lie inside one chunk each.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from monai_topo.metrics import centerline_dice
from monai_topo.metrics.centerline_dice import centerline_dice_from_overlap, skeleton_overlap
from monai_topo.metrics.connectivity_error import split_merge_from_labels
from monai_topo.topology import label_mask
from monai_topo.topology.labelling import MaskLabelling
from monai_topo.topology.objects import Box, LabelPieces, grow_box, label_boxes, label_pieces, union_box

__all__ = [
    "MaskMeasures",
    "PairMeasures",
    "measure_label",
    "measure_labels",
    "measure_mask",
    "measure_pieces",
    "measure_pair",
    "pair_boxes",
]


@dataclass
class MaskMeasures:
    """Voxels, Betti numbers and Euler characteristic of one mask (additive over pieces that do not touch)."""

    voxels: int
    betti: np.ndarray

    @property
    def euler(self) -> int:
        """``b0 - b1 (+ b2)``: the Euler characteristic (Euler-Poincare)."""
        return int(sum((-1) ** k * int(b) for k, b in enumerate(self.betti)))

    def __add__(self, other: MaskMeasures) -> MaskMeasures:
        return MaskMeasures(self.voxels + other.voxels, self.betti + other.betti)


@dataclass
class PairMeasures:
    """The measures of one label of a case: both masks' voxels and Betti numbers, their overlap, splits and merges,
    clDice (NaN where not computed); with the box and both labellings when kept (for the error overlays)."""

    pred: MaskMeasures
    target: MaskMeasures
    intersection: int
    splits: int
    merges: int
    cldice: float = float("nan")
    box: Box | None = None
    labellings: tuple[MaskLabelling, MaskLabelling] | None = field(default=None, repr=False)

    @property
    def dice(self) -> float:
        """Dice as :func:`monai.metrics.compute_dice` with ``ignore_empty=False`` (1 when both masks are empty)."""
        total = self.pred.voxels + self.target.voxels
        return 1.0 if total == 0 else 2.0 * self.intersection / total

    def __add__(self, other: PairMeasures) -> PairMeasures:
        """The measures of two pieces of a label that do not touch (sums; clDice, box and labellings dropped)."""
        return PairMeasures(
            self.pred + other.pred,
            self.target + other.target,
            self.intersection + other.intersection,
            self.splits + other.splits,
            self.merges + other.merges,
        )

    @staticmethod
    def empty(ndim: int, cldice: float = 1.0) -> PairMeasures:
        """A label absent from both masks: Dice 1, no topology, clDice 1 (NaN where clDice is not computed)."""
        nothing = MaskMeasures(0, np.zeros(ndim, np.int64))
        return PairMeasures(nothing, MaskMeasures(0, nothing.betti.copy()), 0, 0, 0, cldice)


def measure_mask(mask: np.ndarray, connectivity: int | None = None) -> MaskMeasures:
    """Voxels and Betti numbers of a binary mask (one labelling, :func:`monai_topo.topology.label_mask`).

    Example:
        >>> ring = np.ones((3, 3), bool); ring[1, 1] = False
        >>> m = measure_mask(ring)
        >>> m.voxels, m.betti.tolist(), m.euler
        (8, [1, 1], 0)
    """
    return MaskMeasures(int(np.count_nonzero(mask)), label_mask(mask, connectivity).betti())


def measure_pair(
    pred: np.ndarray,
    target: np.ndarray,
    connectivity: int | None = None,
    cldice: bool = True,
    keep_labellings: bool = False,
) -> PairMeasures:
    """The measures of a binary prediction against a binary target: each labelled once, every number from those
    labels (Betti numbers, splits and merges), clDice from the skeletons.

    Example:
        >>> tube = np.zeros((5, 9), bool); tube[2, 1:8] = True
        >>> broken = tube.copy(); broken[2, 4] = False
        >>> m = measure_pair(broken, tube)
        >>> m.pred.betti.tolist(), m.splits, m.merges, round(m.dice, 3)
        ([2, 0], 1, 0, 0.923)
    """
    pred_labelling, target_labelling = label_mask(pred, connectivity), label_mask(target, connectivity)
    splits, merges = split_merge_from_labels(pred_labelling.components, target_labelling.components)
    return PairMeasures(
        MaskMeasures(int(np.count_nonzero(pred_labelling.mask)), pred_labelling.betti()),
        MaskMeasures(int(np.count_nonzero(target_labelling.mask)), target_labelling.betti()),
        int(np.count_nonzero(pred_labelling.mask & target_labelling.mask)),
        int(splits),
        int(merges),
        centerline_dice(pred_labelling.mask, target_labelling.mask) if cldice else float("nan"),
        labellings=(pred_labelling, target_labelling) if keep_labellings else None,
    )


def pair_boxes(pred: np.ndarray, target: np.ndarray, labels: Sequence[int] | None = None) -> dict[int, Box | None]:
    """The box of each label in either map (``None``: in neither), in one pass over each map.

    Args:
        pred: predicted label map.
        target: target label map of the same shape.
        labels: the labels (default: every non-zero value of either map, sorted).

    Example:
        >>> pred = np.array([[1, 0, 0], [0, 0, 2]]); target = np.array([[0, 1, 0], [0, 0, 0]])
        >>> pair_boxes(pred, target, [1, 3])
        {1: (slice(0, 1, None), slice(0, 2, None)), 3: None}
    """
    in_pred, in_target = label_boxes(pred), label_boxes(target)
    if labels is None:
        labels = sorted(set(in_pred) | set(in_target))
    return {int(k): union_box(in_pred.get(int(k)), in_target.get(int(k))) for k in labels}


def measure_label(
    pred: np.ndarray,
    target: np.ndarray,
    label: int,
    box: Box | None,
    connectivity: int | None = None,
    cldice: bool = True,
    keep_labellings: bool = False,
) -> PairMeasures:
    """:func:`measure_pair` of ``pred == label`` against ``target == label``, cut out with ``box`` (the label's box in
    either map, from :func:`pair_boxes`) and a one-voxel margin; ``box=None``: the label is in neither map.

    Example:
        >>> pred = np.zeros((6, 6), np.int32); pred[1:3, 1:3] = 4; target = pred.copy(); target[4, 4] = 4
        >>> m = measure_label(pred, target, 4, pair_boxes(pred, target)[4])
        >>> m.box, m.pred.betti.tolist(), m.target.betti.tolist()
        ((slice(0, 6, None), slice(0, 6, None)), [1, 0], [2, 0])
    """
    if box is None:
        return PairMeasures.empty(pred.ndim, 1.0 if cldice else float("nan"))
    region = grow_box(box, pred.shape)
    measures = measure_pair(pred[region] == label, target[region] == label, connectivity, cldice, keep_labellings)
    measures.box = region
    return measures


def _measure_piece(
    pieces: LabelPieces, index: int, shape: tuple[int, ...], connectivity: int | None, cldice: bool
) -> tuple[PairMeasures, np.ndarray]:
    """The measures and the bare skeleton counts (:func:`~monai_topo.metrics.centerline_dice.skeleton_overlap`)
    of one piece."""
    region = grow_box(pieces.boxes[index], shape)
    pred, target = pieces.masks(index, region)
    measures = measure_pair(pred, target, connectivity, cldice=False)
    return measures, skeleton_overlap(pred, target) if cldice else np.zeros(4, np.int64)


def _stray_voxel(ndim: int, in_prediction: bool, cldice: bool) -> tuple[PairMeasures, np.ndarray]:
    """A piece that is one voxel of one map: one component, no cycle, its own skeleton (thinning keeps an
    isolated voxel)."""
    one, nothing = MaskMeasures(1, np.eye(ndim, dtype=np.int64)[0]), MaskMeasures(0, np.zeros(ndim, np.int64))
    measures = PairMeasures(one, nothing, 0, 0, 0) if in_prediction else PairMeasures(nothing, one, 0, 0, 0)
    counts = np.array([1, 0, 0, 0] if in_prediction else [0, 0, 1, 0], np.int64)
    return measures, counts if cldice else np.zeros(4, np.int64)


def measure_pieces(
    pieces: LabelPieces,
    indices: Sequence[int],
    shape: tuple[int, ...],
    connectivity: int | None = None,
    cldice: bool = True,
    num_workers: int = 1,
) -> dict[int, tuple[PairMeasures, np.ndarray]]:
    """Per label, the measures of the pieces ``indices`` of :func:`~monai_topo.topology.objects.label_pieces`,
    summed, with their summed bare skeleton counts (:func:`~monai_topo.metrics.centerline_dice.skeleton_overlap`;
    zeros without ``cldice``). clDice is left NaN: :func:`measure_labels` makes it from the counts.

    Args:
        pieces: the pieces of a prediction and its target of ``shape``.
        indices: which pieces to measure.
        shape: the maps' shape.
        connectivity: foreground connectivity (``None`` = 8 in 2D / 26 in 3D).
        cldice: count skeleton voxels too.
        num_workers: threads over the pieces.

    Example:
        >>> from monai_topo.topology.objects import label_pieces
        >>> pred = np.array([[1, 1, 0, 0, 1]]); target = np.array([[1, 1, 1, 0, 0]])
        >>> pieces = label_pieces(pred, target)
        >>> m, counts = measure_pieces(pieces, range(len(pieces)), pred.shape)[1]
        >>> m.pred.betti.tolist(), m.splits, counts.tolist()
        ([2, 0], 0, [3, 2, 3, 2])
    """
    ndim = len(shape)
    boxed = [i for i in indices if not pieces.stray[i]]

    def work(batch: Sequence[int]) -> list[tuple[int, PairMeasures, np.ndarray]]:
        return [(i, *_measure_piece(pieces, i, shape, connectivity, cldice)) for i in batch]

    workers = max(1, min(int(num_workers), len(boxed)))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = [r for batch in pool.map(work, [boxed[w::workers] for w in range(workers)]) for r in batch]
    else:
        parts = work(boxed)
    parts.extend((i, *_stray_voxel(ndim, pieces.stray[i] == 1, cldice)) for i in indices if pieces.stray[i])
    totals: dict[int, tuple[PairMeasures, np.ndarray]] = {}
    for i, measures, counts in parts:
        value = int(pieces.values[i])
        if value in totals:
            before, before_counts = totals[value]
            measures, counts = before + measures, before_counts + counts
        totals[value] = (measures, counts)
    return totals


def measure_labels(
    pred: np.ndarray,
    target: np.ndarray,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    cldice: bool = True,
    num_workers: int = 1,
) -> dict[int, PairMeasures]:
    """:func:`measure_label` of every label, piece by piece: each label's separate parts on their own tight boxes
    (:func:`monai_topo.topology.objects.label_pieces`), the measures summed over them (:func:`measure_pieces`).

    Every number equals :func:`measure_pair` of the whole masks ``pred == k`` and ``target == k`` (voxels, Betti
    numbers, overlap, splits and merges add up over parts that do not touch; clDice comes from the summed
    skeleton counts, :func:`~monai_topo.metrics.centerline_dice.centerline_dice_from_overlap`). The cost is two
    labellings of the maps and each piece's box, whatever the number of labels and wherever their stray voxels lie.

    Args:
        pred: predicted label map (2D or 3D).
        target: target label map of the same shape.
        labels: the labels to measure (default: every non-zero value of either map); a label in neither map gets
            :meth:`PairMeasures.empty`.
        connectivity: foreground connectivity (``None`` = 8 in 2D / 26 in 3D).
        cldice: compute clDice (NaN otherwise).
        num_workers: threads over the pieces.

    Example:
        >>> tube = np.zeros((5, 12), np.int32); tube[2, 1:11] = 3
        >>> pred = tube.copy(); pred[2, 5] = 0; pred[0, 0] = 3; pred[4, 11] = 3  # a break and two stray voxels
        >>> m = measure_labels(pred, tube)[3]
        >>> m.pred.betti.tolist(), m.splits, m.merges, round(m.dice, 3), round(m.cldice, 3)
        ([4, 0], 1, 0, 0.857, 0.857)
    """
    pieces = label_pieces(pred, target)
    wanted = None if labels is None else {int(k) for k in labels}
    indices = [i for i, v in enumerate(pieces.values.tolist()) if wanted is None or int(v) in wanted]
    totals = measure_pieces(pieces, indices, pred.shape, connectivity, cldice, num_workers)
    out: dict[int, PairMeasures] = {}
    for value in sorted(totals) if labels is None else [int(k) for k in labels]:
        if value not in totals:
            out[value] = PairMeasures.empty(pred.ndim, 1.0 if cldice else float("nan"))
            continue
        m, counts = totals[value]
        m.cldice = (
            centerline_dice_from_overlap(counts, m.pred.voxels, m.target.voxels, m.intersection)
            if cldice
            else float("nan")
        )
        out[value] = m
    return out

"""One case of the evaluation: Dice, Betti numbers and their error, clDice, splits and merges, one row per label.

Each label is measured on its bounding box (all boxes found in one pass), its prediction and target masks there
labelled once (:mod:`monai_topo.evaluation.labels`): the Betti numbers, the Betti errors, the split / merge counts
and clDice all come from these labellings. Where the boxes overlap much (labels with stray voxels all over the
image: their boxes hold more than :data:`PIECES_ABOVE` times the image), each label is measured piece by piece
instead (:func:`monai_topo.evaluation.labels.measure_labels`: the separate parts of its masks, found for all labels
at once, each on its own tight box; the same numbers). The cost grows with the boxes or the pieces' boxes, not with
the number of labels times the image (1,000 instance labels at 128^3: 1.7x the time of one label, ``python -m
benchmarks --only labels``). On request (``betti_matching=True``) the rows also get the Betti matching error
(:data:`BETTI_MATCHING_COLUMNS`), a few times the cost of the rest; it needs each label's whole masks, so it always
works on the labels' boxes (:func:`evaluate_case_with_labellings` keeps the labellings).
:func:`case_row` builds a row (the CSV columns except ``case``) for the in-memory and the chunked evaluation alike,
and :func:`check_same_grid` is the one shape and affine check of a prediction against its label.
:func:`betti_table` is what ``monai-topo betti`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from monai_topo.evaluation.labels import PairMeasures, measure_label, measure_labels, measure_mask, pair_boxes
from monai_topo.topology import betti_matching_error
from monai_topo.topology.labelling import MaskLabelling
from monai_topo.topology.objects import box_size, grow_box, label_boxes
from monai_topo.topology.validation import check_connectivity, check_num_workers, resolve_num_workers

__all__ = [
    "BETTI_MATCHING_COLUMNS",
    "MAX_DIMS",
    "PIECES_ABOVE",
    "betti_matching_columns",
    "betti_table",
    "case_row",
    "check_same_grid",
    "evaluate_case",
    "evaluate_case_with_labellings",
]

#: homology dimensions of a row (a 2D case leaves ``b2`` empty)
MAX_DIMS = 3

#: labels whose boxes (with their margin) hold more than this many times the image's voxels are measured piece by
#: piece (:func:`monai_topo.evaluation.labels.measure_labels`: two labellings of the maps, then each piece's box);
#: below it each label on its box is cheaper (one labelling of each box). Both give the same numbers.
PIECES_ABOVE = 2

#: the columns of ``betti_matching=True`` (``monai-topo evaluate --betti-matching``): the sum, then per dimension
BETTI_MATCHING_COLUMNS = ("betti_matching_error",) + tuple(f"betti_matching_error_b{k}" for k in range(MAX_DIMS))


def betti_matching_columns(errors: Sequence[float] | None, ndim: int) -> dict[str, object]:
    """The :data:`BETTI_MATCHING_COLUMNS` of a row from the per-dimension errors; ``None`` (not computed, e.g. a
    case evaluated chunk by chunk) gives NaN. Dimensions the case lacks are ``None``.

    Example:
        >>> list(betti_matching_columns([2, 0], 2).values())
        [2, 2, 0, None]
        >>> betti_matching_columns(None, 3)["betti_matching_error"]
        nan
    """
    if errors is None:
        errors = [float("nan")] * ndim
        total: object = float("nan")
    else:
        errors = [int(e) for e in errors]
        total = int(sum(errors))
    row: dict[str, object] = {"betti_matching_error": total}
    for k in range(MAX_DIMS):
        row[f"betti_matching_error_b{k}"] = errors[k] if k < ndim else None
    return row


def case_row(
    label: int,
    ndim: int,
    dice: float,
    pred_betti: Sequence[int],
    label_betti: Sequence[int],
    cldice: float,
    splits: int,
    merges: int,
) -> dict[str, object]:
    """One row of the evaluation (the CSV columns except ``case``); dimensions the case lacks are ``None``.

    Example:
        >>> row = case_row(1, 2, 0.5, [1, 1], [1, 0], 0.75, 0, 0)
        >>> row["betti_error_b1"], row["pred_b2"], row["cldice"]
        (1, None, 0.75)
    """
    row: dict[str, object] = {"label": int(label), "dice": float(dice)}
    for k in range(MAX_DIMS):
        present = k < ndim
        row[f"betti_error_b{k}"] = int(abs(pred_betti[k] - label_betti[k])) if present else None
        row[f"pred_b{k}"] = int(pred_betti[k]) if present else None
        row[f"label_b{k}"] = int(label_betti[k]) if present else None
    row.update(cldice=float(cldice), splits=int(splits), merges=int(merges))
    return row


def check_same_grid(
    pred_name: str,
    label_name: str,
    pred_shape: Sequence[int],
    label_shape: Sequence[int],
    pred_affine: np.ndarray | None = None,
    label_affine: np.ndarray | None = None,
) -> None:
    """Raise ``ValueError`` naming both files when a prediction is not on its label's grid (shape, then affine).

    Affines are compared only when both are given (with ``rtol=1e-5, atol=1e-4``).

    Example:
        >>> check_same_grid("a_seg.nii.gz", "a.nii.gz", (4, 4), (4, 5))
        Traceback (most recent call last):
        ...
        ValueError: shape mismatch: prediction a_seg.nii.gz (4, 4) vs label a.nii.gz (4, 5)
    """
    if tuple(pred_shape) != tuple(label_shape):
        raise ValueError(
            f"shape mismatch: prediction {pred_name} {tuple(pred_shape)} vs label {label_name} {tuple(label_shape)}"
        )
    if pred_affine is not None and label_affine is not None:
        if not np.allclose(pred_affine, label_affine, rtol=1e-5, atol=1e-4):
            raise ValueError(
                f"affine mismatch between prediction {pred_name} and label {label_name} "
                "(resample the prediction to the label's grid first)"
            )


def evaluate_case(
    pred: np.ndarray,
    target: np.ndarray,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    num_workers: int | None = None,
    betti_matching: bool = False,
) -> list[dict[str, object]]:
    """Metrics of one case, one row per label (the CSV columns except ``case``).

    Each label's prediction and target masks are labelled once (:func:`monai_topo.topology.label_mask`); the
    Betti numbers, Betti errors and split / merge counts all come from these labels.

    Args:
        pred: predicted label map (2D or 3D integers).
        target: target label map of the same shape.
        labels: label values to evaluate; default every non-zero value of ``pred`` or ``target``.
        connectivity: foreground connectivity (``None`` = 8 in 2D / 26 in 3D).
        num_workers: threads over the labels.
        betti_matching: also compute the Betti matching error, summed and per dimension
            (:data:`BETTI_MATCHING_COLUMNS`, :func:`monai_topo.topology.betti_matching`): features of prediction
            and label that have no partner on the other side. Off by default: on 128^3 neuron cases it costs about
            twice the rest of the evaluation (``python -m benchmarks --only evaluate-betti-matching``).

    Example:
        >>> ring = np.ones((5, 5), np.uint8); ring[2, 2] = 0
        >>> row = evaluate_case(ring, np.ones((5, 5), np.uint8))[0]
        >>> row["betti_error_b1"], row["pred_b1"], row["label_b1"], row["splits"]
        (1, 1, 0, 0)
        >>> here = np.zeros((8, 8), np.uint8); here[1:3, 1:3] = 1   # a square here, the same square there
        >>> row = evaluate_case(here, here.T[::-1, ::-1].copy(), betti_matching=True)[0]
        >>> row["betti_error_b0"], row["betti_matching_error"], row["betti_matching_error_b0"]
        (0, 2, 2)
    """
    return evaluate_case_with_labellings(
        pred, target, labels, connectivity, num_workers, keep_labellings=False, betti_matching=betti_matching
    )[0]


def evaluate_case_with_labellings(
    pred: np.ndarray,
    target: np.ndarray,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    num_workers: int | None = None,
    keep_labellings: bool = True,
    betti_matching: bool = False,
) -> tuple[list[dict[str, object]], dict[int, tuple[MaskLabelling, MaskLabelling]]]:
    """:func:`evaluate_case`, and with ``keep_labellings`` each label's ``(prediction, target)`` labellings (what
    :func:`monai_topo.evaluation.write_case_overlays` reuses; ``{}`` otherwise)."""
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs label {target.shape}")
    boxes = pair_boxes(pred, target, labels)  # every label's box, one pass over each map
    if not boxes:
        return [], {}
    check_connectivity(connectivity, pred.ndim)
    boxed = sum(box_size(grow_box(b, pred.shape)) for b in boxes.values() if b is not None)
    if not (keep_labellings or betti_matching) and boxed > PIECES_ABOVE * pred.size:
        # the labels' boxes overlap (stray voxels, labels spread over the image): measure them piece by piece
        workers = resolve_num_workers(check_num_workers(num_workers), pred.size)
        found = measure_labels(pred, target, labels, connectivity, num_workers=workers)
        rows = [
            case_row(label, pred.ndim, m.dice, m.pred.betti, m.target.betti, m.cldice, m.splits, m.merges)
            for label, m in found.items()
        ]
        return rows, {}

    def measured(label: int) -> tuple[PairMeasures, np.ndarray | None]:
        keep = keep_labellings or betti_matching
        m = measure_label(pred, target, label, boxes[label], connectivity, keep_labellings=keep)
        matching = None
        if betti_matching:
            matching = (
                np.zeros(pred.ndim, np.int64)
                if m.labellings is None
                else betti_matching_error(m.labellings[0].mask, m.labellings[1].mask, connectivity)
            )
        return m, matching

    labels = list(boxes)
    workers = resolve_num_workers(check_num_workers(num_workers), len(labels))
    if workers <= 1:
        results = [measured(label) for label in labels]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(measured, labels))
    rows = []
    for label, (m, matching) in zip(labels, results):
        row = case_row(label, pred.ndim, m.dice, m.pred.betti, m.target.betti, m.cldice, m.splits, m.merges)
        if matching is not None:
            row.update(betti_matching_columns(matching, pred.ndim))
        rows.append(row)
    # (the overlays label the whole masks again until they work on the boxes too)
    return rows, {}


def betti_table(
    labels: np.ndarray, selected: Sequence[int] | None = None, connectivity: int | None = None
) -> list[list[int]]:
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` for each selected label (default: every non-zero label).

    Each label is measured on its bounding box (all found in one pass): the cost grows with the boxes, not with the
    number of labels times the image.

    Example:
        >>> ring = np.ones((5, 5), np.uint8); ring[2, 2] = 0
        >>> betti_table(ring)
        [[1, 24, 1, 1, 0]]
    """
    boxes = label_boxes(labels)  # every label's box, one pass
    check_connectivity(connectivity, labels.ndim)
    rows = []
    for value in boxes if selected is None else [int(k) for k in selected]:
        box = boxes.get(value)
        if box is None:  # not in the map
            rows.append([value, 0] + [0] * labels.ndim + [0])
            continue
        m = measure_mask(labels[grow_box(box, labels.shape)] == value, connectivity)
        rows.append([value, m.voxels, *m.betti.tolist(), m.euler])
    return rows

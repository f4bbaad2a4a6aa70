"""One folder of predictions against one folder of labels: every case paired by name, evaluated, failures kept.

Files are paired by case name (:func:`monai_topo.io.pair_cases`): ``case.nii.gz`` of the predictions with
``case.nii.gz`` or ``case.nii`` of the labels, and a bundle's ``case_seg.nii.gz`` with ``case.nii.gz``
(``pred_postfix``). A missing partner, a shape or affine mismatch or an unreadable file fails that case only: it
is logged by name and the other cases are still evaluated.

The labels of a case are ``labels`` or every value of its prediction or label. A case whose prediction and label
are both empty is a correct empty prediction: it is scored on the run's labels (``labels``, else every label of the
other cases) as a label absent from both is (Dice 1, clDice 1, no topological error), with one message that says
so. A case whose prediction and label have no label value in common (labels 0/255 against predictions 0/1) gets a
warning: its Dice is 0 everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monai_topo.evaluation.case import (
    MAX_DIMS,
    betti_matching_columns,
    case_row,
    check_same_grid,
    evaluate_case_with_labellings,
)
from monai_topo.evaluation.chunked import evaluate_case_chunked, uses_chunked_path
from monai_topo.evaluation.labels import PairMeasures
from monai_topo.evaluation.overlays import OVERLAY_COLUMNS, write_case_overlays
from monai_topo.io import list_cases, output_problem, pair_cases, read_label_volume
from monai_topo.io.cases import VOLUME_SUFFIXES
from monai_topo.io.volumes import is_zarr_path, volume_shape

__all__ = ["CaseFailure", "evaluate_folders", "pair_files"]

logger = logging.getLogger(__name__)


@dataclass
class CaseFailure:
    """A case that could not be evaluated, and why."""

    case: str
    reason: str


def _is_volume(path: Path) -> bool:
    return path.is_file() or is_zarr_path(path)


def pair_files(
    pred_dir: Path, label_dir: Path, pred_postfix: str | None = "seg", only_predicted: bool = False
) -> tuple[list[tuple[str, Path, Path]], list[CaseFailure]]:
    """Pair the volumes of two folders by case name (:func:`monai_topo.io.pair_cases`).

    Args:
        pred_dir: predictions; ``<case>_<pred_postfix>`` also pairs with the label ``<case>``.
        label_dir: labels.
        pred_postfix: the postfix a bundle's ``SaveImaged(output_postfix=...)`` adds (``"seg"``); ``None`` or
            ``""``: exact names only.
        only_predicted: labels without a prediction are skipped, not failures (a labels folder that also holds
            training cases).

    Returns:
        ``(pairs, failures)``: ``(case, prediction, label)`` for complete pairs, sorted by case name, and a
        failure for each file without a partner or case name used by two files of one folder. A probability map
        ``<case>_prob`` next to the prediction of ``<case>`` (a bundle's ``save_probabilities``) is skipped.
    """
    predictions = list_cases(pred_dir, VOLUME_SUFFIXES, _is_volume)
    labels = list_cases(label_dir, VOLUME_SUFFIXES, _is_volume)
    probabilities = [
        name
        for name in predictions
        if name.endswith("_prob")
        and name not in labels
        and (name[:-5] in predictions or (pred_postfix and f"{name[:-5]}_{pred_postfix}" in predictions))
    ]
    if probabilities:
        logger.info(
            "%d probability map(s) <case>_prob next to the predictions skipped (e.g. %s).",
            len(probabilities),
            predictions[probabilities[0]][0].name,
        )
    found = pair_cases({k: v for k, v in predictions.items() if k not in probabilities}, labels, pred_postfix)
    failures = [
        CaseFailure(name, f"ambiguous: several files for this case ({', '.join(str(p) for p in files)})")
        for name, files in found.ambiguous.items()
    ]
    failures += [
        CaseFailure(name, f"missing label: no {name}.nii[.gz] in {label_dir} for {path}")
        for name, path in found.only_first.items()
    ]
    if only_predicted:
        if found.only_second:
            logger.info("--only-predicted: %d label(s) without a prediction skipped.", len(found.only_second))
    else:
        for name, path in found.only_second.items():
            also = f" or {name}_{pred_postfix}.nii[.gz]" if pred_postfix else ""
            reason = (
                f"missing prediction: no {name}.nii[.gz]{also} in {pred_dir} for {path} (--only-predicted skips it)"
            )
            failures.append(CaseFailure(name, reason))
    return found.pairs, sorted(failures, key=lambda f: f.case)


def evaluate_folders(
    pred_dir: Path,
    label_dir: Path,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    *,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    overlays: Path | None = None,
    pred_postfix: str | None = "seg",
    only_predicted: bool = False,
    betti_matching: bool = False,
) -> tuple[list[dict[str, object]], list[CaseFailure]]:
    """Evaluate every pair of files; returns ``(rows, failures)``, a failed case does not stop the others.

    Args:
        pred_dir: folder of predicted label maps.
        label_dir: folder of target label maps.
        labels: label values to evaluate (default: every non-zero value of each case; a case whose prediction and
            label are both empty: those of the other cases).
        connectivity: foreground connectivity (``None`` = 8 in 2D / 26 in 3D).
        num_workers: threads per case.
        progress: show a progress bar over the cases.
        chunks: evaluate every case chunk by chunk with chunks of this many voxels per axis (one int, or one per
            axis); ``None``: Zarr / OME-Zarr cases and volumes of more than
            :data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels only (:func:`monai_topo.evaluation.evaluate_case_chunked`;
            clDice is NaN there).
        level: OME-Zarr multiscale level (a level other than 0 is evaluated chunk by chunk).
        overlays: a folder: the cases evaluated in memory also get their error label map and picture there
            (:func:`monai_topo.evaluation.write_case_overlays`), and their rows the ``n_<class>`` counts. It may not
            be ``pred_dir`` or ``label_dir`` (``ValueError``, before anything is read).
        pred_postfix, only_predicted: see :func:`pair_files`.
        betti_matching: also the Betti matching error columns
            (:data:`monai_topo.evaluation.case.BETTI_MATCHING_COLUMNS`; a few times the cost of the other measures);
            NaN for the cases evaluated chunk by chunk (not computed there). With ``overlays``, the unmatched
            features are also drawn.

    Returns:
        ``(rows, failures)``: one row per case and label (the CSV columns), and the cases that failed.
    """
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    if overlays is not None:  # (before anything is read: the overlays never go among the inputs)
        problem = output_problem(overlays, inputs={"pred_dir": pred_dir, "label_dir": label_dir}, folder=True)
        if problem:
            raise ValueError(f"overlays: {problem}")
    pairs, failures = pair_files(pred_dir, label_dir, pred_postfix, only_predicted)
    for failure in failures:
        logger.error("case %s: %s", failure.case, failure.reason)
    evaluated: list[tuple[str, list[dict[str, object]]]] = []
    empty: dict[str, tuple[int, bool]] = {}  # both empty: the case's (ndim, chunked)
    with logging_redirect_tqdm():
        for name, pred_path, label_path in tqdm(pairs, desc="evaluate", unit="case", disable=not progress):
            try:
                if uses_chunked_path(pred_path, label_path, chunks=chunks, level=level):  # Zarr, chunks, large
                    case_rows = evaluate_case_chunked(
                        pred_path, label_path, labels, connectivity, chunks, level, progress
                    )
                    if betti_matching:
                        logger.warning("case %s: evaluated chunk by chunk; its Betti matching error is NaN.", name)
                        for row in case_rows:  # (dimensions the case lacks have no Betti numbers)
                            ndim = sum(row.get(f"pred_b{k}") is not None for k in range(MAX_DIMS))
                            row.update(betti_matching_columns(None, ndim))
                    if overlays is not None:
                        logger.warning("case %s: evaluated chunk by chunk; no overlay is written for it.", name)
                    if not _has_foreground(case_rows):
                        empty[name] = (len(volume_shape(pred_path, level)), True)
                    evaluated.append((name, case_rows))
                    continue
                pred, pred_affine = read_label_volume(pred_path)
                target, label_affine = read_label_volume(label_path)
                check_same_grid(pred_path.name, label_path.name, pred.shape, target.shape, pred_affine, label_affine)
                # NIfTI data is in Fortran order: one C-order copy here instead of one per label and per measure
                pred, target = np.ascontiguousarray(pred), np.ascontiguousarray(target)
                # with overlays, the Betti matching (with the voxels of the unmatched features) is made by the overlay
                case_rows, labellings = evaluate_case_with_labellings(
                    pred,
                    target,
                    labels,
                    connectivity,
                    num_workers,
                    keep_labellings=overlays is not None,
                    betti_matching=betti_matching and overlays is None,
                )
                if overlays is not None:  # error label map and picture (same labellings), counts
                    write_case_overlays(
                        overlays, name, pred, target, label_path, case_rows, connectivity, labellings, betti_matching
                    )
            except Exception as e:  # noqa: BLE001 - report the case by name and go on with the others
                reason = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"  # VolumeError is one
                failures.append(CaseFailure(name, reason))
                logger.error("case %s: %s", name, reason)
                continue
            if not _has_foreground(case_rows):
                empty[name] = (pred.ndim, False)
            evaluated.append((name, case_rows))
    for name, case_rows in evaluated:
        _warn_disjoint_values(name, case_rows)
    _score_empty_cases(evaluated, empty, labels, overlays is not None, betti_matching)
    rows = [{"case": name, **row} for name, case_rows in evaluated for row in case_rows]
    return rows, failures


def _has_foreground(rows: Sequence[dict[str, object]]) -> bool:
    """Whether any label of the rows occurs in the prediction or the label (a label that occurs has ``b0 >= 1``)."""
    return any(int(r.get("pred_b0") or 0) or int(r.get("label_b0") or 0) for r in rows)  # type: ignore[call-overload]


def _few(values: Sequence[int], most: int = 8) -> str:
    """``[1, 2, 3]``, or the first ``most`` values and ``...``."""
    shown = ", ".join(str(v) for v in values[:most])
    return f"[{shown}{', ...' if len(values) > most else ''}]"


def _warn_disjoint_values(name: str, rows: Sequence[dict[str, object]]) -> None:
    """Warn when the prediction's labels and the label's share no value (0/255 against 0/1: Dice 0 everywhere)."""
    in_pred = [int(r["label"]) for r in rows if int(r.get("pred_b0") or 0)]  # type: ignore[call-overload]
    in_target = [int(r["label"]) for r in rows if int(r.get("label_b0") or 0)]  # type: ignore[call-overload]
    if in_pred and in_target and not set(in_pred) & set(in_target):
        logger.warning(
            "case %s: the prediction's label values %s and the label's %s have no label value in common, so every "
            "Dice is 0. Is one of them scaled (e.g. 0/255 against 0/1) or numbered differently? Map them to the same "
            "values (--label-values picks the ones to score).",
            name,
            _few(in_pred),
            _few(in_target),
        )


def _score_empty_cases(
    evaluated: list[tuple[str, list[dict[str, object]]]],
    empty: dict[str, tuple[int, bool]],
    labels: Sequence[int] | None,
    overlays: bool,
    betti_matching: bool,
) -> None:
    """Rows for the cases whose prediction and label are both empty: a correct empty prediction of the run's labels
    (``labels``, else the labels of the other cases), as a label absent from both is scored; one message each."""
    run_labels = (
        [int(k) for k in labels]
        if labels is not None
        else sorted({int(r["label"]) for _, rows in evaluated for r in rows})  # type: ignore[call-overload]
    )
    for name, rows in evaluated:
        if name not in empty:
            continue
        if not run_labels:
            logger.warning(
                "case %s: prediction and label are both empty and no case has a foreground label: nothing to "
                "score (--label-values K scores it as a correct empty prediction of label K).",
                name,
            )
            continue
        ndim, chunked = empty[name]
        logger.info(
            "case %s: prediction and label are both empty (label(s) %s): scored as a correct empty prediction "
            "(Dice 1, clDice 1, no topological error), as any label absent from both.",
            name,
            _few(run_labels)[1:-1],
        )
        if rows:  # (labels given: evaluate_case scored them already)
            continue
        nothing = PairMeasures.empty(ndim, float("nan") if chunked else 1.0)
        for label in run_labels:
            row = case_row(label, ndim, nothing.dice, nothing.pred.betti, nothing.target.betti, nothing.cldice, 0, 0)
            if betti_matching:
                row.update(betti_matching_columns(None if chunked else [0] * ndim, ndim))
            if overlays and not chunked:
                row.update(dict.fromkeys(OVERLAY_COLUMNS.values(), 0))
            rows.append(row)

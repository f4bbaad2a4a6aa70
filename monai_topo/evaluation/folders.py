"""One folder of predictions against one folder of labels: every case paired by name, evaluated, failures kept.

Files are paired by case name (:func:`monai_topo.io.pair_cases`): ``case.nii.gz`` of the predictions with
``case.nii.gz`` or ``case.nii`` of the labels, and a bundle's ``case_seg.nii.gz`` with ``case.nii.gz``
(``pred_postfix``). A missing partner, a shape or affine mismatch or an unreadable file fails that case only: it
is logged by name and the other cases are still evaluated.
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
    check_same_grid,
    evaluate_case_with_labellings,
)
from monai_topo.evaluation.chunked import evaluate_case_chunked, uses_chunked_path
from monai_topo.evaluation.overlays import write_case_overlays
from monai_topo.io import list_cases, pair_cases, read_label_volume
from monai_topo.io.cases import VOLUME_SUFFIXES
from monai_topo.io.volumes import is_zarr_path

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
        labels: label values to evaluate (default: every non-zero value of each case).
        connectivity: foreground connectivity (``None`` = 8 in 2D / 26 in 3D).
        num_workers: threads per case.
        progress: show a progress bar over the cases.
        chunks: evaluate every case chunk by chunk with chunks of this many voxels per axis (one int, or one per
            axis); ``None``: Zarr / OME-Zarr cases and volumes of more than
            :data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels only (:func:`monai_topo.evaluation.evaluate_case_chunked`;
            clDice is NaN there).
        level: OME-Zarr multiscale level (a level other than 0 is evaluated chunk by chunk).
        overlays: a folder: the cases evaluated in memory also get their error label map and picture there
            (:func:`monai_topo.evaluation.write_case_overlays`), and their rows the ``n_<class>`` counts.
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

    pairs, failures = pair_files(pred_dir, label_dir, pred_postfix, only_predicted)
    for failure in failures:
        logger.error("case %s: %s", failure.case, failure.reason)
    rows: list[dict[str, object]] = []
    with logging_redirect_tqdm():
        for name, pred_path, label_path in tqdm(pairs, desc="evaluate", unit="case", disable=not progress):
            try:
                if uses_chunked_path(pred_path, label_path, chunks=chunks, level=level):  # Zarr, chunks, large
                    chunked_rows = evaluate_case_chunked(
                        pred_path, label_path, labels, connectivity, chunks, level, progress
                    )
                    if betti_matching:
                        logger.warning("case %s: evaluated chunk by chunk; its Betti matching error is NaN.", name)
                        for row in chunked_rows:  # (dimensions the case lacks have no Betti numbers)
                            ndim = sum(row.get(f"pred_b{k}") is not None for k in range(MAX_DIMS))
                            row.update(betti_matching_columns(None, ndim))
                    rows.extend({"case": name, **row} for row in chunked_rows)
                    if overlays is not None:
                        logger.warning("case %s: evaluated chunk by chunk; no overlay is written for it.", name)
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
            if not case_rows:
                logger.warning("case %s: no foreground label in prediction or label; nothing to evaluate.", name)
            rows.extend({"case": name, **row} for row in case_rows)
    return rows, failures

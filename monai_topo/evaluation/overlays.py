"""Where the errors of a case are: the error label map (NIfTI) and its picture (PNG) of ``evaluate --overlays``.

For each evaluated case ``DIR/<case>_errors.nii.gz`` holds the codes of
:data:`monai_topo.topology.TOPOLOGICAL_ERROR_CODES` (uint8, on the label's grid: its affine and header) and
``DIR/<case>_errors.png`` the maximum-intensity projections of label and prediction along the three axes with the
error classes coloured and a legend of error regions per class (:func:`monai_topo.visualize.save_error_overlay`),
with the case's ``splits`` / ``merges`` under it. The CSV rows of the case get one ``<class>_regions`` column per
class (:data:`OVERLAY_COLUMNS`: ``split_regions``, ``merge_regions``, ..., per label): the connected components of
that class's voxels. They count places, not pieces: a ``split`` region is one gap, however many pieces it leaves,
so ``split_regions`` and the ``splits`` metric (extra pieces per object) differ by definition (a ring cut twice:
2 and 1; a missed junction of 3 branches: 1 and 2; a gap the prediction goes around: 1 and 0; see
:func:`monai_topo.visualize.split_merge_notes`).

With several labels, each label's errors are computed on its own binary masks (``pred == k`` vs ``target == k``);
the NIfTI and the picture show, at each voxel, the most important class over the labels (split, merge, missed,
spurious, loops and cavities, then the ordinary errors).

With ``betti_matching=True`` (``evaluate --overlays --betti-matching``) each label's Betti matching is computed here
with the voxels of its unmatched features (:func:`monai_topo.topology.betti_matching`): the rows get the Betti
matching error columns and the picture marks those birth / death voxels with crosses (white: unmatched in the
prediction, lime: in the label). The NIfTI label map is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from monai_topo.evaluation.case import betti_matching_columns
from monai_topo.topology import TOPOLOGICAL_ERROR_CODES, topological_errors
from monai_topo.topology import betti_matching as match_features
from monai_topo.topology.labelling import MaskLabelling
from monai_topo.visualize import save_error_overlay, split_merge_notes

__all__ = ["OVERLAY_COLUMNS", "write_case_overlays"]

logger = logging.getLogger(__name__)

#: CSV column of each error class, its number of regions: ``split_regions``, ``missed_object_regions``, ...
OVERLAY_COLUMNS: dict[int, str] = {
    code: name.replace(" ", "_") + "_regions" for code, name in TOPOLOGICAL_ERROR_CODES.items()
}
# the case's per-object counts (columns of evaluate_case) shown under the legend, summed over its labels
_PER_OBJECT = ("splits", "merges")
# most important first: where the labels' maps overlap, the first code listed wins
_PRIORITY = (1, 3, 2, 4, 7, 8, 9, 10, 5, 6)


def _combine(maps: Sequence[np.ndarray]) -> np.ndarray:
    """Per voxel, the most important code of several error maps."""
    if len(maps) == 1:
        return maps[0]
    rank = np.zeros(max(TOPOLOGICAL_ERROR_CODES) + 1, np.uint8)
    rank[list(_PRIORITY)] = np.arange(len(_PRIORITY), 0, -1)
    ranks = np.stack([rank[m] for m in maps])
    best = np.take_along_axis(np.stack(maps), ranks.argmax(axis=0)[None], axis=0)[0]
    return best.astype(np.uint8)


def _fortran(errors: np.ndarray) -> np.ndarray:
    """A Fortran-ordered copy of a sparse map (NIfTI's order: nibabel then writes it without a transposed copy)."""
    index = np.flatnonzero(errors != 0)
    out = np.zeros(errors.shape, errors.dtype, order="F")
    out[np.unravel_index(index, errors.shape)] = errors.ravel()[index]
    return out


def write_case_overlays(
    folder: Path,
    case: str,
    pred: np.ndarray,
    target: np.ndarray,
    label_path: Path,
    rows: list[dict[str, object]],
    connectivity: int | None = None,
    labellings: Mapping[int, tuple[MaskLabelling, MaskLabelling]] | None = None,
    betti_matching: bool = False,
) -> tuple[Path, Path]:
    """Write ``<case>_errors.nii.gz`` and ``<case>_errors.png`` to ``folder``; add the counts to ``rows``.

    Args:
        folder: the overlays folder (must exist).
        case: case name.
        pred: predicted label map.
        target: target label map of the same shape.
        label_path: the target's NIfTI file (its affine and header are copied).
        rows: the case's rows of :func:`monai_topo.evaluation.evaluate_case` (one per label); each gets the
            ``<class>_regions`` columns of :data:`OVERLAY_COLUMNS`.
        connectivity: foreground connectivity.
        labellings: per label, the :func:`monai_topo.topology.label_mask` of ``pred == k`` and ``target == k``
            (with ``connectivity``) that the evaluation made; labels missing here are labelled again.
        betti_matching: also compute each label's Betti matching: the rows get the
            :data:`monai_topo.evaluation.case.BETTI_MATCHING_COLUMNS` and the picture the unmatched features.

    Returns:
        the paths of the NIfTI file and of the picture.

    Raises:
        ValueError: naming the file, when the label's header cannot be read or an output cannot be written.
    """
    import nibabel as nib

    maps, totals, matchings = [], dict.fromkeys(TOPOLOGICAL_ERROR_CODES, 0), []
    for row in rows:
        k = int(row["label"])  # type: ignore[call-overload]
        pred_labelling, target_labelling = (labellings or {}).get(k, (None, None))
        pred_mask = pred == k if pred_labelling is None else pred_labelling.mask
        target_mask = target == k if target_labelling is None else target_labelling.mask
        if betti_matching:
            matchings.append(match_features(pred_mask, target_mask, connectivity))
            row.update(betti_matching_columns(matchings[-1].errors, pred.ndim))
        errors, counts = topological_errors(
            pred_mask,
            target_mask,
            connectivity,
            instance_labels=False,
            pred_labelling=pred_labelling,
            target_labelling=target_labelling,
            return_counts=True,
        )
        row.update({OVERLAY_COLUMNS[code]: count for code, count in counts.items()})
        totals = {code: totals[code] + count for code, count in counts.items()}
        maps.append(errors)
    pred_empty, target_empty = not np.any(pred), not np.any(target)
    if pred_empty and not target_empty:  # both empty: a correct empty prediction, told once by the evaluation
        logger.warning("case %s: the prediction is empty: every target object is a missed object.", case)
    if target_empty and not pred_empty:
        logger.warning("case %s: the label %s is empty: every predicted object is spurious.", case, label_path)
    combined = _combine(maps) if maps else np.zeros(target.shape, np.uint8)
    nifti_path, png_path = folder / f"{case}_errors.nii.gz", folder / f"{case}_errors.png"
    try:
        image = nib.load(str(label_path))
        header, affine = image.header.copy(), image.affine
    except Exception as e:
        raise ValueError(f"{label_path}: cannot read the NIfTI header ({type(e).__name__}: {e})") from e
    header.set_data_dtype(np.uint8)
    header.set_slope_inter(1, 0)
    data = _fortran(combined).reshape(combined.shape + (1,) * (len(header.get_data_shape()) - combined.ndim))
    try:
        # the NIfTI file is compressed (zlib, without the GIL) on a thread of its own while the picture is drawn
        # (a thread per case, not a pool kept between calls: nothing to go stale in a forked process)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="monai-topo-overlays") as writer:
            nifti = writer.submit(nib.save, nib.Nifti1Image(data, affine, header), str(nifti_path))
            try:
                save_error_overlay(
                    png_path,
                    combined,
                    target != 0,
                    pred != 0,
                    counts=totals,
                    title=case,
                    matchings=matchings if betti_matching else None,
                    notes=split_merge_notes(*(sum(float(r.get(k, np.nan)) for r in rows) for k in _PER_OBJECT)),
                )
            finally:
                nifti.result()
    except OSError as e:
        raise ValueError(f"--overlays: cannot write the overlay of case {case} to {folder} ({e})") from e
    return nifti_path, png_path

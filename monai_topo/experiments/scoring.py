"""Score a run's predictions against their labels, with a configuration's post-processing applied first.

The metrics of a comparison (:data:`METRICS`): what ``monai-topo evaluate`` computes (Dice, clDice, Betti error per
dimension and summed, splits, merges), and next to them what shows the trade between accuracy and topology: the
predicted / label volume ratio, the false-positive and false-negative volume (relative to the label volume) and
MONAI's symmetric mean surface distance. A term that fixes topology by making masks thicker or thinner shows here.
The Betti matching error (``evaluate --betti-matching``), summed and per dimension, is always among them.

Post-processing (:class:`monai_topo.transforms.TopologyPostprocess`) is applied to the saved label maps exactly as
the bundles' ``evaluate.json`` applies it before saving; ``min_size="auto"`` is chosen on the **validation** split
(:func:`choose_min_size`), never on the test split.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_topo.evaluation import evaluate_case
from monai_topo.io import list_cases, read_label_volume
from monai_topo.transforms import TopologyPostprocess
from monai_topo.transforms.postprocess import check_postprocess_options

__all__ = ["METRICS", "MIN_SIZE_CANDIDATES", "choose_min_size", "score_case", "score_predictions"]

#: per-case metric -> (label, True when higher is better / False when lower is better / None: neither)
METRICS: dict[str, tuple[str, bool | None]] = {
    "dice": ("Dice", True),
    "cldice": ("clDice", True),
    "betti_error": ("Betti error (sum)", False),
    "betti_error_b0": ("Betti error b0", False),
    "betti_error_b1": ("Betti error b1", False),
    "betti_error_b2": ("Betti error b2", False),
    "betti_matching_error": ("Betti matching (sum)", False),
    "betti_matching_error_b0": ("Betti matching b0", False),
    "betti_matching_error_b1": ("Betti matching b1", False),
    "betti_matching_error_b2": ("Betti matching b2", False),
    "splits": ("splits", False),
    "merges": ("merges", False),
    "splits_merges": ("splits + merges", False),
    "volume_ratio": ("volume pred / label", None),
    "fp_volume": ("FP volume / label", False),
    "fn_volume": ("FN volume / label", False),
    "surface_distance": ("mean surface dist.", False),
}

#: the ``min_size`` values (voxels) :func:`choose_min_size` tries on the validation split
MIN_SIZE_CANDIDATES = (0, 4, 8, 16, 32, 64, 128, 256)

_TOPOLOGY_KEYS = ("dice", "cldice", "betti_error_b0", "betti_error_b1", "betti_error_b2", "splits", "merges")
_TOPOLOGY_KEYS += ("betti_matching_error",) + tuple(f"betti_matching_error_b{k}" for k in range(3))


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def score_case(
    pred: np.ndarray, target: np.ndarray, postprocess: Mapping[str, Any] | None = None, connectivity: int | None = None
) -> dict[str, float]:
    """The :data:`METRICS` of one case (mean over the target's foreground labels), after post-processing ``pred``.

    Args:
        pred: predicted label map (2D or 3D, integers).
        target: label map of the same shape.
        postprocess: options of :class:`~monai_topo.transforms.TopologyPostprocess` (``None`` / ``{}``: none).
        connectivity: foreground connectivity of the topology metrics and the post-processing.

    Returns:
        ``{metric: value}``; the surface distance is NaN when a mask is empty.

    Example:
        >>> target = np.zeros((12, 12), np.uint8); target[2:10, 5:7] = 1
        >>> pred = target.copy(); pred[6, 5:7] = 0; pred[0, 0] = 1          # a break and an island
        >>> row = score_case(pred, target)
        >>> row["splits"], row["betti_error_b0"]
        (1.0, 2.0)
        >>> row = score_case(pred, target, {"min_size": 1})                   # the island goes, the break stays
        >>> row["splits"], row["betti_error_b0"]
        (1.0, 1.0)
    """
    from monai.metrics import compute_average_surface_distance

    options = check_postprocess_options(postprocess)
    if options:
        pred = np.asarray(TopologyPostprocess(**options, connectivity=connectivity)(pred[None]))[0]
    labels = sorted(int(v) for v in np.unique(target) if v != 0) or [1]
    case_rows = evaluate_case(pred, target, labels=labels, connectivity=connectivity, betti_matching=True)
    row: dict[str, float] = {}
    for key in _TOPOLOGY_KEYS:
        row[key] = _mean([float(r[key]) for r in case_rows if r.get(key) is not None])
    row["betti_error"] = sum(row[f"betti_error_b{k}"] for k in range(3) if math.isfinite(row[f"betti_error_b{k}"]))
    row["splits_merges"] = row["splits"] + row["merges"]
    ratios, fps, fns, distances = [], [], [], []
    for label in labels:
        p, t = pred == label, target == label
        volume = int(t.sum())
        ratios.append(p.sum() / volume if volume else float("nan"))
        fps.append(np.logical_and(p, ~t).sum() / volume if volume else float("nan"))
        fns.append(np.logical_and(~p, t).sum() / volume if volume else float("nan"))
        if p.any() and t.any():
            onehot = [torch.as_tensor(np.stack([~m, m])[None]) for m in (p, t)]
            with warnings.catch_warnings():  # MONAI 1.5+ deprecates an argument it passes itself
                warnings.filterwarnings("ignore", category=FutureWarning, message=".*always_return_as_numpy.*")
                distance = compute_average_surface_distance(
                    onehot[0], onehot[1], include_background=False, symmetric=True
                )
            distances.append(float(distance.reshape(-1)[0]))
    row["volume_ratio"], row["fp_volume"], row["fn_volume"] = _mean(ratios), _mean(fps), _mean(fns)
    row["surface_distance"] = _mean(distances)
    return row


def _read(path: Path) -> np.ndarray:
    return read_label_volume(path)[0]


def _prediction_path(pred_dir: Path, name: str, label_path: Path) -> Path:
    matches = list_cases(Path(pred_dir)).get(f"{name}_seg", [])
    if not matches:
        raise ValueError(f"no prediction {name}_seg.nii.gz in {pred_dir} for the case {label_path}")
    return matches[0]


def score_predictions(
    pred_dir: str | Path,
    cases: Sequence[tuple[str, Path]],
    postprocess: Mapping[str, Any] | None = None,
    connectivity: int | None = None,
) -> list[dict[str, Any]]:
    """Per-case :data:`METRICS` of the predictions ``<case>_seg.nii[.gz]`` in ``pred_dir`` (a bundle's output).

    Args:
        pred_dir: folder of the predicted label maps.
        cases: ``(case name, label path)`` pairs.
        postprocess: post-processing options applied to every prediction first.
        connectivity: foreground connectivity.

    Returns:
        one ``{"case": name, **metrics}`` dict per case.

    Raises:
        ValueError: when a prediction is missing.
    """
    rows = []
    for name, label_path in cases:
        pred = _read(_prediction_path(Path(pred_dir), name, label_path))
        rows.append({"case": name, **score_case(pred, _read(label_path), postprocess, connectivity)})
    return rows


def choose_min_size(
    pred_dir: str | Path,
    cases: Sequence[tuple[str, Path]],
    options: Mapping[str, Any] | None = None,
    candidates: Sequence[int] = MIN_SIZE_CANDIDATES,
    connectivity: int | None = None,
    max_dice_loss: float = 0.01,
) -> tuple[int, list[dict[str, float]]]:
    """Choose ``min_size`` on a **validation** split: fewest topological errors at (almost) no Dice cost.

    The topological errors of a case are its summed Betti error plus splits plus merges, averaged over the cases.
    Among the candidates whose mean Dice is at most ``max_dice_loss`` below the Dice without post-processing
    (removing real pieces of a broken structure also removes splits, at a Dice cost), the one with the fewest
    topological errors wins; ties go to the higher Dice, then to the smaller size.

    Args:
        pred_dir: folder of the validation predictions (raw, before post-processing).
        cases: the validation ``(case name, label path)`` pairs.
        options: the other post-processing options (``keep_largest``, ``fill_holes``), applied with each candidate.
        candidates: the ``min_size`` values tried.
        connectivity: foreground connectivity.
        max_dice_loss: the largest drop of the mean validation Dice a candidate may cost.

    Returns:
        ``(min_size, table)``: the choice and one ``{"min_size", "topological_errors", "dice"}`` row per candidate.

    Raises:
        ValueError: without validation cases, or when a prediction is missing.
    """
    if not cases:
        raise ValueError("choosing min_size needs validation cases (the datalist's 'validation' list is empty).")
    others = {k: v for k, v in check_postprocess_options(options).items() if k != "min_size"}
    preds = [(_read(_prediction_path(Path(pred_dir), name, path)), _read(path)) for name, path in cases]
    table = []
    for size in candidates:
        rows = [score_case(p, t, {**others, "min_size": int(size)}, connectivity) for p, t in preds]
        errors = _mean([r["betti_error"] + r["splits_merges"] for r in rows])
        table.append({"min_size": int(size), "topological_errors": errors, "dice": _mean([r["dice"] for r in rows])})
    reference = next((r["dice"] for r in table if r["min_size"] == 0), max(r["dice"] for r in table))
    allowed = [r for r in table if not r["dice"] < reference - max_dice_loss] or table
    best = min(allowed, key=lambda r: (round(r["topological_errors"], 9), -round(r["dice"], 9), r["min_size"]))
    return int(best["min_size"]), table

"""``monai-topo evaluate``: topology-aware evaluation of a folder of predictions against a folder of labels.

Files are paired by case name (:mod:`monai_topo.cli.io`): ``case.nii.gz`` in ``--pred`` with ``case.nii.gz`` or
``case.nii`` in ``--label``, and a bundle's ``case_seg.nii.gz`` with ``case.nii.gz`` (``--pred-postfix``, default
``seg``). With ``--only-predicted`` the labels without a prediction (e.g. training cases in the same folder) are
skipped instead of failing. For each case and each label (every non-zero value of prediction or target, or
``--label-values``) the CSV holds
Dice, the Betti error per homology dimension with both Betti numbers, clDice, and split / merge counts,
as the functional metrics of :mod:`monai_topo.metrics` (and :func:`monai.metrics.compute_dice`) compute them; each
label's masks are labelled once (:func:`monai_topo.topology.label_mask`) for the Betti numbers, the split / merge
counts and the ``--overlays`` error map.

A missing partner, a shape or affine mismatch, or an unreadable file fails that case only: it is logged by
name, the other cases are still evaluated, the failures are listed at the end, and the exit code is 1. An output
(``--out`` / ``--plot``) that cannot be written is found before anything is evaluated (exit code 2).

Example::

    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --plot results.png
    monai-topo evaluate --pred eval/predictions --label data/labels --only-predicted --out results.csv
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from monai_topo.cli.betti import format_table, read_label_volume
from monai_topo.cli.chunked import add_chunk_arguments, evaluate_pair_chunked, scheduler
from monai_topo.cli.io import VOLUME_SUFFIXES, list_cases, pair_cases
from monai_topo.cli.options import add_connectivity_argument
from monai_topo.cli.overlays import overlay_dir_problem, write_case_overlays
from monai_topo.io import is_zarr_path
from monai_topo.topology.labelling import MaskLabelling
from monai_topo.topology.validation import resolve_num_workers

__all__ = [
    "CaseFailure",
    "evaluate_case",
    "evaluate_folders",
    "pair_files",
    "register",
    "run",
    "summarise",
    "write_csv",
    "write_plot",
]

logger = logging.getLogger(__name__)

_MAX_DIMS = 3
COLUMNS = (
    ["case", "label", "dice"]
    + [f"betti_error_b{k}" for k in range(_MAX_DIMS)]
    + [f"pred_b{k}" for k in range(_MAX_DIMS)]
    + [f"label_b{k}" for k in range(_MAX_DIMS)]
    + ["cldice", "splits", "merges"]
)
_SUMMARY = ["dice"] + [f"betti_error_b{k}" for k in range(_MAX_DIMS)] + ["cldice", "splits", "merges"]


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
    """Pair the volumes of two folders by case name (:func:`monai_topo.cli.io.pair_cases`).

    Args:
        pred_dir: predictions; ``<case>_<pred_postfix>`` also pairs with the label ``<case>``.
        label_dir: labels.
        pred_postfix: the postfix a bundle's ``SaveImaged(output_postfix=...)`` adds (``"seg"``); ``None`` or
            ``""``: exact names only.
        only_predicted: labels without a prediction are skipped, not failures (a labels folder that also holds
            training cases).

    Returns:
        ``(pairs, failures)``: ``(case, prediction, label)`` for complete pairs, sorted by case name, and a
        failure for each file without a partner or case name used by two files of one folder.
    """
    found = pair_cases(
        list_cases(pred_dir, VOLUME_SUFFIXES, _is_volume),
        list_cases(label_dir, VOLUME_SUFFIXES, _is_volume),
        pred_postfix,
    )
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


def _one_hot(volume: np.ndarray, labels: Sequence[int]) -> torch.Tensor:
    return torch.as_tensor(np.stack([volume == k for k in labels])[None])


def evaluate_case(
    pred: np.ndarray,
    target: np.ndarray,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    num_workers: int | None = None,
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

    Example:
        >>> ring = np.ones((5, 5), np.uint8); ring[2, 2] = 0
        >>> row = evaluate_case(ring, np.ones((5, 5), np.uint8))[0]
        >>> row["betti_error_b1"], row["pred_b1"], row["label_b1"], row["splits"]
        (1, 1, 0, 0)
    """
    return _evaluate_case(pred, target, labels, connectivity, num_workers)[0]


def _evaluate_case(
    pred: np.ndarray,
    target: np.ndarray,
    labels: Sequence[int] | None,
    connectivity: int | None,
    num_workers: int | None,
    keep_labellings: bool = False,
) -> tuple[list[dict[str, object]], dict[int, tuple[MaskLabelling, MaskLabelling]]]:
    """:func:`evaluate_case`, and with ``keep_labellings`` each label's ``(prediction, target)`` labellings."""
    from monai.metrics import compute_dice

    from monai_topo.metrics import compute_centerline_dice, split_merge_from_labels
    from monai_topo.topology import check_connectivity, check_num_workers, label_mask

    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs label {target.shape}")
    if labels is None:
        labels = sorted(int(v) for v in np.union1d(np.unique(pred), np.unique(target)) if v != 0)
    if not labels:
        return [], {}
    check_connectivity(connectivity, pred.ndim)
    y_pred, y = _one_hot(pred, labels), _one_hot(target, labels)
    dice = compute_dice(y_pred.float(), y.float(), include_background=True, ignore_empty=False)[0]
    cldice = compute_centerline_dice(y_pred, y, include_background=True, num_workers=num_workers)[0]

    def labelled(label: int) -> tuple[MaskLabelling, MaskLabelling]:
        return label_mask(pred == label, connectivity), label_mask(target == label, connectivity)

    workers = resolve_num_workers(check_num_workers(num_workers), len(labels))
    if workers <= 1:
        pairs = [labelled(label) for label in labels]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pairs = list(pool.map(labelled, labels))
    rows = []
    for i, (label, (pred_labelling, true_labelling)) in enumerate(zip(labels, pairs)):
        pred_betti, true_betti = pred_labelling.betti(), true_labelling.betti()
        splits, merges = split_merge_from_labels(pred_labelling.components, true_labelling.components)
        row: dict[str, object] = {"label": int(label), "dice": float(dice[i])}
        for k in range(_MAX_DIMS):
            present = k < pred.ndim
            row[f"betti_error_b{k}"] = int(abs(pred_betti[k] - true_betti[k])) if present else None
            row[f"pred_b{k}"] = int(pred_betti[k]) if present else None
            row[f"label_b{k}"] = int(true_betti[k]) if present else None
        row.update(cldice=float(cldice[i]), splits=int(splits), merges=int(merges))
        rows.append(row)
    return rows, (dict(zip((int(label) for label in labels), pairs)) if keep_labellings else {})


def evaluate_folders(
    pred_dir: Path,
    label_dir: Path,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    chunk_options: argparse.Namespace | None = None,
    overlays: Path | None = None,
    pred_postfix: str | None = "seg",
    only_predicted: bool = False,
) -> tuple[list[dict[str, object]], list[CaseFailure]]:
    """Evaluate every pair of files; returns ``(rows, failures)``, a failed case does not stop the others.

    Zarr / OME-Zarr cases, large volumes and every case with ``chunk_options.chunks`` are evaluated chunk by
    chunk (:func:`monai_topo.cli.chunked.evaluate_case_chunked`; clDice is NaN there). With ``overlays`` (a folder),
    the other cases also get their error label map and picture there (:mod:`monai_topo.cli.overlays`).
    ``pred_postfix`` and ``only_predicted``: see :func:`pair_files`.
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
                chunked_rows = evaluate_pair_chunked(
                    pred_path, label_path, labels, connectivity, chunk_options, progress
                )
                if chunked_rows is not None:  # Zarr, --chunks or a large volume: chunk by chunk
                    rows.extend({"case": name, **row} for row in chunked_rows)
                    if overlays is not None:
                        logger.warning("case %s: evaluated chunk by chunk; no overlay is written for it.", name)
                    continue
                pred, pred_affine = read_label_volume(pred_path)
                target, label_affine = read_label_volume(label_path)
                if pred.shape != target.shape:
                    raise ValueError(
                        f"shape mismatch: prediction {pred_path.name} {pred.shape} vs label {label_path.name} "
                        f"{target.shape}"
                    )
                if not np.allclose(pred_affine, label_affine, rtol=1e-5, atol=1e-4):
                    raise ValueError(
                        f"affine mismatch between prediction {pred_path.name} and label {label_path.name} "
                        "(resample the prediction to the label's grid first)"
                    )
                # NIfTI data is in Fortran order: one C-order copy here instead of one per label and per measure
                pred, target = np.ascontiguousarray(pred), np.ascontiguousarray(target)
                case_rows, labellings = _evaluate_case(
                    pred, target, labels, connectivity, num_workers, keep_labellings=overlays is not None
                )
                if overlays is not None:  # --overlays: error label map and picture (same labellings), counts
                    write_case_overlays(overlays, name, pred, target, label_path, case_rows, connectivity, labellings)
            except Exception as e:  # noqa: BLE001 - report the case by name and go on with the others
                reason = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"  # VolumeError is one
                failures.append(CaseFailure(name, reason))
                logger.error("case %s: %s", name, reason)
                continue
            if not case_rows:
                logger.warning("case %s: no foreground label in prediction or label; nothing to evaluate.", name)
            rows.extend({"case": name, **row} for row in case_rows)
    return rows, failures


def write_csv(rows: Sequence[dict[str, object]], path: Path) -> None:
    """Write the per-case, per-label rows (empty cells for dimensions a 2D case lacks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        extra = list(dict.fromkeys(k for row in rows for k in row if k not in COLUMNS))  # e.g. --overlays counts
        writer = csv.DictWriter(f, fieldnames=COLUMNS + extra)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in COLUMNS + extra})


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if np.isnan(value) else f"{value:.6g}"
    return value


def summarise(rows: Sequence[dict[str, object]]) -> tuple[list[str], list[list[object]]]:
    """Per-label means (NaN and missing dimensions skipped): ``(headers, rows)`` for :func:`format_table`."""
    headers = ["label", "cases"] + _SUMMARY
    table = []
    for label in sorted({int(r["label"]) for r in rows}):  # type: ignore[call-overload]
        mine = [r for r in rows if r["label"] == label]
        line: list[object] = [label, len(mine)]
        for column in _SUMMARY:
            values = [float(r[column]) for r in mine if r.get(column) is not None]  # type: ignore[arg-type]
            values = [v for v in values if not np.isnan(v)]
            line.append(float(np.mean(values)) if values else None)
        table.append(line)
    return headers, table


def write_plot(rows: Sequence[dict[str, object]], path: Path) -> None:
    """Per-label box plots of Dice and clDice and bars of the mean Betti error per dimension (Agg, no pyplot)."""
    from matplotlib.figure import Figure

    labels = sorted({int(r["label"]) for r in rows})  # type: ignore[call-overload]
    names = [str(k) for k in labels]
    fig = Figure(figsize=(5 + 1.2 * len(labels), 4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, column, title in ((axes[0], "dice", "Dice"), (axes[1], "cldice", "clDice")):
        data = [[float(r[column]) for r in rows if r["label"] == k] for k in labels]  # type: ignore[arg-type]
        ax.boxplot(data)
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set(title=title, xlabel="label", ylim=(-0.05, 1.05))
    dims = [k for k in range(_MAX_DIMS) if any(r.get(f"betti_error_b{k}") is not None for r in rows)]
    width = 0.8 / max(len(dims), 1)
    positions = np.arange(len(labels))
    for j, k in enumerate(dims):
        means = []
        for label in labels:
            column = f"betti_error_b{k}"
            values = [float(r[column]) for r in rows if r["label"] == label and r.get(column) is not None]  # type: ignore[arg-type]
            means.append(np.mean(values) if values else 0.0)
        axes[2].bar(positions + (j - (len(dims) - 1) / 2) * width, means, width, label=f"b{k}")
    axes[2].set(title="mean Betti error", xlabel="label", xticks=positions, xticklabels=names)
    axes[2].margins(y=0.25)
    axes[2].legend(fontsize="small", loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def _output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written (its folder is created if missing), or ``None``; nothing is written to it."""
    if path.is_dir():
        return f"{path} is a folder; give a file name"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder, so {path} cannot be created"
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a regular file in the way, a read-only parent ...
        return f"cannot create the folder {path.parent} ({type(e).__name__}: {e})"
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path} is not writable (permission denied)"
    return None


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the CSV (and plot), print the summary.

    Returns 1 if any case failed, 2 for bad folders or an output that cannot be written (checked before the
    evaluation starts, and again when writing).
    """
    pred_dir, label_dir = Path(args.pred), Path(args.label)
    for what, folder in (("--pred", pred_dir), ("--label", label_dir)):
        if not folder.is_dir():
            logger.error("%s %s is not a folder.", what, folder)
            return 2
    for what, target in (("--out", args.out), ("--plot", args.plot)):
        problem = _output_problem(Path(target)) if target else None
        if problem:
            logger.error("%s: %s; nothing was evaluated.", what, problem)
            return 2
    overlays = Path(args.overlays) if args.overlays else None
    if overlays is not None and (problem := overlay_dir_problem(overlays)):
        logger.error("--overlays: %s; nothing was evaluated.", problem)
        return 2
    with scheduler(args):
        rows, failures = evaluate_folders(
            pred_dir,
            label_dir,
            args.label_values,
            args.connectivity,
            args.workers,
            not args.no_progress,
            args,
            overlays,
            args.pred_postfix,
            args.only_predicted,
        )
    write_error = False
    try:
        write_csv(rows, Path(args.out))
        logger.info("wrote %d row(s) to %s", len(rows), args.out)
    except OSError as e:
        logger.error("--out: cannot write %s (%s: %s)", args.out, type(e).__name__, e)
        write_error = True
    if args.plot:
        if rows:
            try:
                write_plot(rows, Path(args.plot))
                logger.info("wrote plot to %s", args.plot)
            except OSError as e:
                logger.error("--plot: cannot write %s (%s: %s)", args.plot, type(e).__name__, e)
                write_error = True
        else:
            logger.warning("no results: plot %s not written.", args.plot)
    if rows:
        headers, table = summarise(rows)
        print("mean per label:")
        print(format_table(headers, table))
    n_cases = len({r["case"] for r in rows})
    print(f"{n_cases} case(s) evaluated, {len(failures)} failed.")
    if failures:
        print("failed cases:")
        for failure in sorted(failures, key=lambda f: f.case):
            print(f"  {failure.case}: {failure.reason}")
    if write_error:
        return 2
    return 1 if failures else 0


class _DeprecatedLabels(argparse.Action):
    """``--labels K ...``: the old name of ``--label-values`` (too close to ``--label DIR``), with a warning."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        logger.warning("--labels is deprecated (too close to --label DIR); use --label-values.")
        setattr(namespace, self.dest, values)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate predicted label maps against targets (Dice, Betti error, clDice, splits/merges)",
        description="Pair NIfTI files of two folders by name and compute, per case and label: Dice, Betti error "
        "per dimension with both Betti numbers, clDice, and split/merge counts. Writes a CSV (and a plot), "
        "prints means per label. Exit code 1 if any case failed (the others are still evaluated).",
    )
    parser.add_argument("--pred", required=True, metavar="DIR", help="folder of predicted label maps")
    parser.add_argument("--label", required=True, metavar="DIR", help="folder of target label maps")
    parser.add_argument("--out", required=True, metavar="CSV", help="results file (one row per case and label)")
    parser.add_argument("--plot", metavar="PNG", help="also write a plot of the results")
    add_connectivity_argument(parser)
    parser.add_argument(
        "--label-values",
        type=int,
        nargs="+",
        metavar="K",
        help="label values to evaluate (default: all non-zero); --label is the folder",
    )
    parser.add_argument(
        "--labels", type=int, nargs="+", dest="label_values", action=_DeprecatedLabels, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--pred-postfix",
        default="seg",
        metavar="NAME",
        help="a prediction <case>_NAME.nii.gz pairs with the label <case>.nii.gz when no <case> prediction exists "
        "(default: seg, what the bundles write; '' for exact names only)",
    )
    parser.add_argument(
        "--only-predicted",
        action="store_true",
        help="evaluate only the labels that have a prediction (skip, e.g., training cases in the labels folder) "
        "instead of reporting them as failed",
    )
    parser.add_argument("--workers", type=int, default=None, help="threads per case (default: one per CPU core)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--overlays",
        metavar="DIR",
        help="also write DIR/<case>_errors.nii.gz (error classes: 1 split, 2 missed object, 3 merge, 4 spurious "
        "object, 5/6 other FN/FP, 7/8 missing/extra loop, 9/10 missing/extra cavity) and DIR/<case>_errors.png",
    )
    add_chunk_arguments(parser)
    parser.set_defaults(func=run)
    return parser

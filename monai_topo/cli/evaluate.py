"""``monai-topo evaluate``: topology-aware evaluation of a folder of predictions against a folder of labels.

Files are paired by case name (:func:`monai_topo.io.pair_cases`): ``case.nii.gz`` in ``--pred`` with ``case.nii.gz``
or ``case.nii`` in ``--label``, and a bundle's ``case_seg.nii.gz`` with ``case.nii.gz`` (``--pred-postfix``, default
``seg``). With ``--only-predicted`` the labels without a prediction (e.g. training cases in the same folder) are
skipped instead of failing. For each case and each label (every non-zero value of prediction or target, or
``--label-values``) the CSV holds Dice, the Betti error per homology dimension with both Betti numbers, clDice, and
split / merge counts (:func:`monai_topo.evaluation.evaluate_folders` computes them). ``--betti-matching`` adds the
Betti matching error, summed and per dimension (about three times the cost of the evaluation; NaN for the cases
evaluated chunk by chunk), and with ``--overlays`` marks the unmatched features in the pictures.

A missing partner, a shape or affine mismatch, or an unreadable file fails that case only: it is logged by
name, the other cases are still evaluated, the failures are listed at the end, and the exit code is 1. An output
(``--out`` / ``--plot``) that cannot be written is found before anything is evaluated (exit code 2).

Example::

    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --plot results.png
    monai-topo evaluate --pred eval/test/predictions --label data/labels --only-predicted --out results.csv
    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --betti-matching
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from monai_topo.cli.options import add_chunk_arguments, add_connectivity_argument, chunk_size
from monai_topo.evaluation import evaluate_folders, summarise, write_csv, write_plot
from monai_topo.evaluation.report import format_table
from monai_topo.evaluation.chunked import scheduler
from monai_topo.evaluation.overlays import overlay_dir_problem

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


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
    with scheduler(args.scheduler):
        rows, failures = evaluate_folders(
            pred_dir,
            label_dir,
            labels=args.label_values,
            connectivity=args.connectivity,
            num_workers=args.workers,
            progress=not args.no_progress,
            chunks=chunk_size(args.chunks),
            level=args.level,
            overlays=overlays,
            pred_postfix=args.pred_postfix,
            only_predicted=args.only_predicted,
            betti_matching=args.betti_matching,
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
    parser.add_argument(
        "--betti-matching",
        action="store_true",
        help="also the Betti matching error (Stucki et al.: features of prediction and label without a partner on "
        "the other side; catches a loop or a component in the wrong place), summed and per dimension. Off by "
        "default: it costs about twice the rest of the evaluation. Not computed chunk by chunk: NaN for Zarr and "
        "large volumes. With --overlays the pictures mark the unmatched features' birth and death voxels",
    )
    parser.add_argument("--workers", type=int, default=None, help="threads per case (default: one per CPU core)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--overlays",
        metavar="DIR",
        help="also write DIR/<case>_errors.nii.gz (error classes: 1 split, 2 missed object, 3 merge, 4 spurious "
        "object, 5/6 other FN/FP, 7/8 missing/extra loop, 9/10 missing/extra cavity) and DIR/<case>_errors.png, "
        "and add the columns <class>_regions (split_regions, ...): connected regions of each class. They count "
        "places, the splits / merges columns pieces: a gap is one split region whatever it leaves (a ring cut "
        "twice: 2 split regions, 1 split)",
    )
    add_chunk_arguments(parser)
    parser.set_defaults(func=run)
    return parser

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
name, the other cases are still evaluated, the failures are listed at the end, and the exit code is 1. Every output
(``--out``, ``--plot``, ``--overlays``) goes through one check before anything is read
(:func:`monai_topo.io.output_problem`, exit code 2): it may not be an input or a volume file in an input folder
(the next run would read it as a case), ``--plot`` must name a picture format matplotlib writes, and each must be
writable (``/proc``, ``/dev/full`` are found then, not after the evaluation). A ``--scheduler`` that does not answer
as a dask scheduler within ``--scheduler-timeout`` seconds is exit code 2 too.

Example::

    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --plot results.png
    monai-topo evaluate --pred eval/test/predictions --label data/labels --only-predicted --out results.csv
    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --betti-matching
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from monai_topo.cli.options import add_chunk_arguments, add_connectivity_argument, chunk_size, positive_int
from monai_topo.evaluation import evaluate_folders, summarise, write_csv, write_plot
from monai_topo.evaluation.chunked import SchedulerError, scheduler
from monai_topo.evaluation.report import format_table, plot_formats
from monai_topo.io import output_problem

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the CSV (and plot), print the summary.

    Returns 1 if any case failed, 2 for bad folders, an output that cannot be written (checked before the
    evaluation starts, and again when writing) or a ``--scheduler`` that cannot be used.
    """
    pred_dir, label_dir = Path(args.pred), Path(args.label)
    for what, folder in (("--pred", pred_dir), ("--label", label_dir)):
        if not folder.is_dir():
            logger.error("%s %s is not a folder.", what, folder)
            return 2
    # every output, once, before anything is read: not an input, not read as one, writable, a picture format
    inputs = {"--pred folder": pred_dir, "--label folder": label_dir}
    outputs: dict[str, str] = {}
    for option, target in (("--out", args.out), ("--plot", args.plot), ("--overlays", args.overlays)):
        if not target:
            continue
        formats = plot_formats() if option == "--plot" else None
        problem = output_problem(target, inputs=inputs, folder=option == "--overlays", formats=formats, outputs=outputs)
        if problem:
            logger.error("%s: %s; nothing was evaluated.", option, problem)
            return 2
        outputs[option] = target
    overlays = Path(args.overlays) if args.overlays else None
    try:
        with scheduler(args.scheduler, args.scheduler_timeout):
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
    except SchedulerError as e:  # nothing answering, or not a dask scheduler, within --scheduler-timeout
        logger.error("--scheduler: %s; nothing was evaluated.", e)
        return 2
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
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="threads per case, >= 1 (default: one per CPU core)"
    )
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

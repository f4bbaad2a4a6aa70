"""``monai-topo diagram FILE``: plot the persistence diagram of a probability map (and how the losses match it).

Example::

    monai-topo diagram prob.nii.gz --label label.nii.gz --out diagram.png

One panel per homology dimension (components, loops, cavities) of the superlevel filtration of ``FILE``; with
``--label``, the label's points as crosses and one row per matching: Hu et al.'s (``PersistenceMatchingLoss``)
and the spatially aware optimal transport (``SpatialAwareMatchingLoss``), drawn as segments named in each panel's
legend. ``FILE`` is a probability map in [0, 1], e.g. ``<case>_prob.nii.gz`` from a bundle's evaluation or
inference with ``--save_probabilities True``; other values are refused, a label map of 0 and 1 gets a warning.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np

from monai_topo.cli.options import add_connectivity_argument
from monai_topo.io import VolumeError, output_problem, read_label_volume, read_probability_map
from monai_topo.visualize import plot_persistence_diagram

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Plot the diagram; returns 0, 1 for unreadable or mismatched inputs, 2 for an output that cannot be written."""
    out = Path(args.out)
    inputs = {"FILE": args.file, **({"--label": args.label} if args.label else {})}
    if problem := output_problem(out, inputs=inputs):  # before anything is read: never over an input
        logger.error("--out: %s; nothing was computed.", problem)
        return 2
    try:
        values, _ = read_probability_map(args.file)
        target = None
        if args.label:
            labels, _ = read_label_volume(args.label)
            if labels.shape != values.shape:
                raise VolumeError(f"shape mismatch: {args.file} {values.shape} vs label {args.label} {labels.shape}")
            target = labels == args.label_value if args.label_value is not None else labels != 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            fig = plot_persistence_diagram(
                values, target, args.connectivity, matchings=tuple(args.matching), title=Path(args.file).name
            )
        for warning in caught:  # a label map given as FILE
            logger.warning("%s: %s", args.file, warning.message)
    except ValueError as e:  # VolumeError, values outside [0, 1], a connectivity that does not fit, ...
        logger.error("%s", e if isinstance(e, VolumeError) else f"{args.file}: {e}")
        return 1
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    except OSError as e:
        logger.error("--out: cannot write %s (%s: %s)", out, type(e).__name__, e)
        return 2
    logger.info("wrote %s", out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``diagram`` subcommand."""
    parser = subparsers.add_parser(
        "diagram",
        help="plot the persistence diagram of a probability map (with a label's points and the losses' matchings)",
        description="Persistence diagram (superlevel filtration, one panel per homology dimension) of a 2D/3D "
        "NIfTI probability map. With --label: the label's points and the matchings PersistenceMatchingLoss (hu) "
        "and SpatialAwareMatchingLoss (spatial) would use, drawn as segments (named in each panel's legend). "
        "A bundle writes the probability map of each case, <case>_prob.nii.gz next to <case>_seg.nii.gz, when "
        "its evaluation or inference runs with --save_probabilities True. Values outside [0, 1] are refused; a "
        "label map of 0 and 1 gets a warning (every point of its diagram is (1, 0)).",
    )
    parser.add_argument(
        "file",
        help="NIfTI probability map in [0, 1] (.nii or .nii.gz), higher = foreground, e.g. a bundle's "
        "<case>_prob.nii.gz (save_probabilities)",
    )
    parser.add_argument("--label", metavar="FILE", help="NIfTI label map of the same grid")
    parser.add_argument(
        "--label-value", type=int, default=None, metavar="K", help="label value used as target (default: non-zero)"
    )
    parser.add_argument("--out", required=True, metavar="PNG", help="output picture")
    parser.add_argument(
        "--matching", nargs="+", choices=("hu", "spatial"), default=["hu", "spatial"], help="matchings to draw"
    )
    add_connectivity_argument(parser)
    parser.set_defaults(func=run)
    return parser

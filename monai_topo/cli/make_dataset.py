"""``monai-topo make-dataset``: write a built-in synthetic dataset (NIfTI + MONAI ``dataset.json``).

Usage::

    monai-topo make-dataset neuron --out data/neurons -n 12 --size 96 --seed 0
    monai-topo make-dataset placenta --out data/placenta -n 12
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from monai_topo.data import make_dataset
from monai_topo.data.writers import DATASET_KINDS

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``make-dataset`` parser to ``subparsers`` (from ``ArgumentParser.add_subparsers``).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["make-dataset", "placenta", "--out", "d", "-n", "3"])
        >>> args.kind, args.out, args.num_volumes, args.size, args.seed
        ('placenta', 'd', 3, 96, 0)
    """
    parser = subparsers.add_parser(
        "make-dataset",
        help="write a built-in synthetic dataset (NIfTI + dataset.json)",
        description=(
            "Write synthetic volumes, labels (and neuron instance labels) as NIfTI files under OUT/images, "
            "OUT/labels (OUT/instances) and a MONAI datalist OUT/dataset.json with training/validation/test "
            "lists and the Betti numbers of every label. neuron: branching trees, fluorescence microscopy "
            "(1 x 1 x 2 um voxels); placenta: a curved disc in a uterus, 3D ultrasound, label topology (1, 0, 0)."
        ),
    )
    parser.add_argument("kind", choices=DATASET_KINDS, help="which dataset")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "-n", "--num-volumes", type=int, default=12, metavar="N", help="number of volumes (default: 12)"
    )
    parser.add_argument("--size", type=int, default=96, help="edge length of the volumes in voxels (default: 96)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument(
        "--num-validation", type=int, default=None, metavar="N", help="validation cases (default: N/5, >= 1)"
    )
    parser.add_argument("--num-test", type=int, default=None, metavar="N", help="test cases (default: N/5, >= 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset.json in DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Generate the dataset described by ``args``; return 0, or 1 (with a logged error) on bad options."""
    try:
        path = make_dataset(
            args.kind,
            args.out,
            num_volumes=args.num_volumes,
            size=args.size,
            seed=args.seed,
            num_validation=args.num_validation,
            num_test=args.num_test,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (ValueError, FileExistsError) as err:
        logger.error("%s", err)
        return 1
    print(path)
    return 0

"""``monai-topo betti FILE``: Betti numbers of each label of a NIfTI label map (or a Zarr store, chunk by chunk).

Example::

    $ monai-topo betti seg.nii.gz --connectivity 6
    seg.nii.gz: 3D, shape (96, 96, 64), connectivity 6 (V-construction)
    label  voxels  b0  b1  b2  chi
        1   12345   1   0   0    1
        2     812   2   1   0    1
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from monai_topo.cli.options import add_chunk_arguments, add_connectivity_argument, chunk_size
from monai_topo.evaluation import betti_table, betti_table_chunked
from monai_topo.evaluation.report import format_table
from monai_topo.evaluation.chunked import SchedulerError, scheduler, uses_chunked_path
from monai_topo.io import read_label_volume
from monai_topo.topology.connectivity import foreground_connectivity, resolve_connectivity

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def _print_table(file: str, shape: tuple[int, ...], rows: list[list[int]], connectivity: int | None, how: str) -> None:
    ndim = len(shape)
    construction = resolve_connectivity(connectivity, ndim)
    print(
        f"{file}: {ndim}D, shape {shape}, connectivity {foreground_connectivity(connectivity, ndim)} "
        f"({construction}-construction){how}"
    )
    if not rows:
        print("no foreground labels (the image is all 0).")
        return
    print(format_table(["label", "voxels"] + [f"b{k}" for k in range(ndim)] + ["chi"], rows))


def _run_chunked(args: argparse.Namespace) -> int | None:
    """Print the table chunk by chunk and return the exit code, or ``None`` when ``args.file`` takes the in-memory
    path."""
    chunks = chunk_size(args.chunks)
    try:
        if not uses_chunked_path(args.file, chunks=chunks, level=args.level):
            return None
        with scheduler(args.scheduler, args.scheduler_timeout):
            shape, rows = betti_table_chunked(args.file, args.label, args.connectivity, chunks, args.level, progress=True)
    except SchedulerError as e:  # nothing answering, or not a dask scheduler, within --scheduler-timeout
        logger.error("--scheduler: %s", e)
        return 2
    except ValueError as e:  # VolumeError (a file or chunk that cannot be read), bad values or connectivity
        logger.error("%s", e)
        return 1
    for row in rows:
        if row[1] == 0:
            logger.warning("%s: label %d does not occur; its Betti numbers are all 0.", args.file, row[0])
    _print_table(args.file, shape, rows, args.connectivity, ", computed chunk by chunk")
    return 0


def run(args: argparse.Namespace) -> int:
    """Print the Betti table of ``args.file``; returns the exit code (1 for an unreadable file or bad option, 2 for a
    ``--scheduler`` that cannot be used)."""
    chunked = _run_chunked(args)  # Zarr, --chunks or a large volume: chunk by chunk
    if chunked is not None:
        return chunked
    try:
        labels, _ = read_label_volume(args.file)
        resolve_connectivity(args.connectivity, labels.ndim)
    except ValueError as e:  # VolumeError, or a connectivity that does not fit the image
        logger.error("%s", e)
        return 1
    missing = [k for k in (args.label or []) if not np.any(labels == k)]
    for k in missing:
        logger.warning("%s: label %d does not occur; its Betti numbers are all 0.", args.file, k)
    rows = betti_table(labels, args.label, args.connectivity)
    _print_table(args.file, tuple(labels.shape), rows, args.connectivity, "")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``betti`` subcommand."""
    parser = subparsers.add_parser(
        "betti",
        help="print the Betti numbers of each label of a label map (NIfTI, Zarr / OME-Zarr)",
        description="Betti numbers (b0 components, b1 loops/holes, b2 cavities) and Euler characteristic of "
        "each label of a 2D or 3D label map: NIfTI in memory, Zarr / OME-Zarr stores (and --chunks, or NIfTI "
        "volumes of more than 2^27 voxels) chunk by chunk, with the same numbers.",
    )
    parser.add_argument("file", help="label map: NIfTI (.nii, .nii.gz), Zarr or OME-Zarr (.zarr folder)")
    parser.add_argument(
        "--label",
        type=int,
        action="append",
        metavar="K",
        help="label value to analyse (repeatable; default: every non-zero label)",
    )
    add_connectivity_argument(parser)
    add_chunk_arguments(parser)
    parser.set_defaults(func=run)
    return parser

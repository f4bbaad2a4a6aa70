"""Options shared by several ``monai-topo`` subcommands: connectivity, the chunked path's ``--chunks``, ``--level``,
``--scheduler`` and ``--scheduler-timeout``, and the argument types that make a bad value an argument error."""

from __future__ import annotations

import argparse
import math

from monai_topo.evaluation.chunked import DEFAULT_SCHEDULER_TIMEOUT
from monai_topo.topology.validation import CONNECTIVITIES

__all__ = ["add_chunk_arguments", "add_connectivity_argument", "chunk_size", "positive_int", "positive_seconds"]


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (``--workers``); anything else is an argument error naming the value.

    Example:
        >>> positive_int("4")
        4
        >>> positive_int("-1")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected an integer >= 1, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0 (``--scheduler-timeout``).

    Example:
        >>> positive_seconds("2.5")
        2.5
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def add_connectivity_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--connectivity`` (foreground connectivity, one convention for the whole package)."""
    parser.add_argument(
        "--connectivity",
        type=int,
        choices=sorted(c for pair in CONNECTIVITIES.values() for c in pair),
        default=None,
        help="foreground connectivity: 8 (2D) / 26 (3D) T-construction, the default; or 4 / 6 V-construction",
    )


def add_chunk_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--chunks``, ``--level``, ``--scheduler`` and ``--scheduler-timeout`` (the chunked path's options)."""
    group = parser.add_argument_group("volumes larger than memory (Zarr, OME-Zarr, large NIfTI)")
    group.add_argument(
        "--chunks",
        type=int,
        nargs="+",
        metavar="N",
        help="compute chunk by chunk with chunks of N voxels per axis (one N, or one per axis); default: the Zarr "
        "chunks, and the in-memory path for NIfTI files of up to 2**27 voxels",
    )
    group.add_argument("--level", type=int, default=0, help="OME-Zarr multiscale level (default 0, full resolution)")
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler address (e.g. tcp://host:8786) for the chunk tasks; default: local threads",
    )
    group.add_argument(
        "--scheduler-timeout",
        type=positive_seconds,
        default=DEFAULT_SCHEDULER_TIMEOUT,
        metavar="SECONDS",
        help="give up on --scheduler when it has not answered as a dask scheduler with a worker within this many "
        f"seconds (default {DEFAULT_SCHEDULER_TIMEOUT:g})",
    )


def chunk_size(chunks: list[int] | None) -> int | tuple[int, ...] | None:
    """``--chunks N`` as an int, ``--chunks N N N`` as a tuple, none as ``None``.

    Example:
        >>> chunk_size([64]), chunk_size([32, 32, 16]), chunk_size(None)
        (64, (32, 32, 16), None)
    """
    if not chunks:
        return None
    return chunks[0] if len(chunks) == 1 else tuple(chunks)

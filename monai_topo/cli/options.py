"""Options shared by several ``monai-topo`` subcommands: connectivity, and the chunked path's ``--chunks``, ``--level``
and ``--scheduler``."""

from __future__ import annotations

import argparse

from monai_topo.topology.validation import CONNECTIVITIES

__all__ = ["add_chunk_arguments", "add_connectivity_argument", "chunk_size"]


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
    """Add ``--chunks``, ``--level`` and ``--scheduler`` (the chunked path's options)."""
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


def chunk_size(chunks: list[int] | None) -> int | tuple[int, ...] | None:
    """``--chunks N`` as an int, ``--chunks N N N`` as a tuple, none as ``None``.

    Example:
        >>> chunk_size([64]), chunk_size([32, 32, 16]), chunk_size(None)
        (64, (32, 32, 16), None)
    """
    if not chunks:
        return None
    return chunks[0] if len(chunks) == 1 else tuple(chunks)

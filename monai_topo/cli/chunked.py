"""The chunked path of ``monai-topo betti`` and ``monai-topo evaluate``: Zarr / OME-Zarr / large NIfTI volumes.

The commands switch to it for Zarr stores, with ``--chunks``, or for volumes of more than
:data:`monai_topo.io.LARGE_VOLUME_VOXELS` voxels. Volumes are read lazily (:func:`monai_topo.io.open_volume`) and
every number comes from :mod:`monai_topo.topology.chunked`, exact and chunk by chunk; the scheduler is dask's
default (threads) or the ``dask.distributed`` client named by ``--scheduler`` (e.g. ``tcp://host:8786``).

Example::

    monai-topo betti brain.ome.zarr --level 0 --label 1
    monai-topo evaluate --pred preds/ --label labels/ --out results.csv --chunks 256
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "add_chunk_arguments",
    "betti_table_chunked",
    "evaluate_case_chunked",
    "evaluate_pair_chunked",
    "run_betti_chunked",
    "scheduler",
    "uses_chunked_path",
]

logger = logging.getLogger(__name__)


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


def _chunks(args: argparse.Namespace) -> int | tuple[int, ...] | None:
    chunks = getattr(args, "chunks", None)
    if not chunks:
        return None
    return chunks[0] if len(chunks) == 1 else tuple(chunks)


def uses_chunked_path(args: argparse.Namespace, *paths: str | Path) -> bool:
    """Whether the command handles ``paths`` chunk by chunk (Zarr, ``--chunks``, ``--level`` or a large volume)."""
    from monai_topo.io import wants_chunked

    if getattr(args, "level", 0):
        return True
    return any(wants_chunked(p, _chunks(args)) for p in paths)


@contextlib.contextmanager
def scheduler(args: argparse.Namespace) -> Iterator[None]:
    """Connect to ``--scheduler`` for the duration of the command (nothing to do without it)."""
    address = getattr(args, "scheduler", None)
    if not address:
        yield
        return
    from distributed import Client

    with Client(address):
        yield


def betti_table_chunked(
    path: str | Path,
    selected: Sequence[int] | None = None,
    connectivity: int | None = None,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    progress: bool = True,
) -> tuple[tuple[int, ...], list[list[int]]]:
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` of a lazily read volume, as :func:`monai_topo.cli.betti.betti_table`.

    Returns:
        ``(shape, rows)``.

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for a connectivity that does not fit the volume.
    """
    import dask.array as da

    from monai_topo.io import open_volume
    from monai_topo.topology import chunked_topology, resolve_connectivity

    volume = open_volume(path, level, chunks)
    resolve_connectivity(connectivity, volume.ndim)
    values = sorted(int(v) for v in da.unique(volume).compute() if v != 0) if selected is None else list(selected)
    rows = []
    for value in values:
        top = chunked_topology(volume == value, connectivity, progress, name=f"{path} label {value}")
        rows.append([value, top.voxels, *top.betti.tolist(), top.euler])
    return tuple(volume.shape), rows


def _dice(intersection: int, pred: int, target: int) -> float:
    """Dice as :func:`monai.metrics.compute_dice` with ``ignore_empty=False`` (1 when both are empty)."""
    if target == 0:
        return 1.0 if pred == 0 else 0.0
    return 2.0 * intersection / (pred + target)


def evaluate_case_chunked(
    pred_path: str | Path,
    label_path: str | Path,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One case's rows of ``monai-topo evaluate`` (the CSV columns except ``case``), chunk by chunk.

    Dice, Betti numbers and their error, splits and merges are exact; clDice is NaN (the skeleton of a volume
    is not computed chunk by chunk).

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for different shapes or chunk grids (the message names both files and suggests ``--chunks``).
    """
    import dask.array as da

    from monai_topo.io import open_volume
    from monai_topo.io.volumes import NIFTI_SUFFIXES
    from monai_topo.topology import chunked_pair_topology

    pred = open_volume(pred_path, level, chunks)
    target = open_volume(label_path, level, chunks)
    names = (Path(pred_path).name, Path(label_path).name)
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {names[0]} {pred.shape} vs label {names[1]} {target.shape}")
    if str(pred_path).endswith(NIFTI_SUFFIXES) and str(label_path).endswith(NIFTI_SUFFIXES):
        import nibabel as nib

        if not np.allclose(nib.load(str(pred_path)).affine, nib.load(str(label_path)).affine, rtol=1e-5, atol=1e-4):
            raise ValueError(
                f"affine mismatch between prediction {names[0]} and label {names[1]} "
                "(resample the prediction to the label's grid first)"
            )
    if pred.chunks != target.chunks:
        raise ValueError(
            f"chunk grids differ: prediction {names[0]} chunks {pred.chunksize} vs label {names[1]} chunks "
            f"{target.chunksize}; give --chunks to read both alike"
        )
    if labels is None:
        found = np.union1d(*da.compute(da.unique(pred), da.unique(target)))
        labels = sorted(int(v) for v in found if v != 0)
    rows = []
    for label in labels:
        pair = chunked_pair_topology(
            pred == label, target == label, connectivity, progress=progress, names=(names[0], names[1])
        )
        row: dict[str, Any] = {
            "label": int(label),
            "dice": _dice(pair.intersection, pair.pred.voxels, pair.target.voxels),
        }
        for k in range(3):
            present = k < pred.ndim
            row[f"betti_error_b{k}"] = int(abs(pair.pred.betti[k] - pair.target.betti[k])) if present else None
            row[f"pred_b{k}"] = int(pair.pred.betti[k]) if present else None
            row[f"label_b{k}"] = int(pair.target.betti[k]) if present else None
        row.update(cldice=float("nan"), splits=pair.splits, merges=pair.merges)
        rows.append(row)
    return rows


def evaluate_pair_chunked(
    pred_path: Path,
    label_path: Path,
    labels: Sequence[int] | None,
    connectivity: int | None,
    args: argparse.Namespace | None,
    progress: bool = True,
) -> list[dict[str, Any]] | None:
    """The hook of ``monai-topo evaluate``: the case's rows if it takes the chunked path, else ``None``."""
    options = args if args is not None else argparse.Namespace()
    if not uses_chunked_path(options, pred_path, label_path):
        return None
    level = getattr(options, "level", 0)
    return evaluate_case_chunked(pred_path, label_path, labels, connectivity, _chunks(options), level, progress)


def run_betti_chunked(args: argparse.Namespace) -> int | None:
    """The hook of ``monai-topo betti``: print the table chunk by chunk and return the exit code, or ``None``
    when ``args.file`` takes the in-memory path."""
    from monai_topo.cli.betti import format_table
    from monai_topo.topology import foreground_connectivity, resolve_connectivity

    try:
        if not uses_chunked_path(args, args.file):
            return None
        with scheduler(args):
            shape, rows = betti_table_chunked(
                args.file, args.label, args.connectivity, _chunks(args), args.level, progress=True
            )
    except ValueError as e:  # VolumeError (a file or chunk that cannot be read), bad values or connectivity
        logger.error("%s", e)
        return 1
    ndim = len(shape)
    for row in rows:
        if row[1] == 0:
            logger.warning("%s: label %d does not occur; its Betti numbers are all 0.", args.file, row[0])
    construction = resolve_connectivity(args.connectivity, ndim)
    print(
        f"{args.file}: {ndim}D, shape {shape}, connectivity {foreground_connectivity(args.connectivity, ndim)} "
        f"({construction}-construction), computed chunk by chunk"
    )
    if not rows:
        print("no foreground labels (the image is all 0).")
        return 0
    print(format_table(["label", "voxels"] + [f"b{k}" for k in range(ndim)] + ["chi"], rows))
    return 0

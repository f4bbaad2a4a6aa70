"""The chunked evaluation: Zarr / OME-Zarr / large NIfTI volumes, read lazily and measured chunk by chunk.

The evaluation switches to it for Zarr stores, for a given chunk size or level, or for volumes of more than
:data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels (:func:`uses_chunked_path`). Volumes are read lazily
(:func:`monai_topo.io.open_volume`) and every number comes from :mod:`monai_topo.topology.chunked`, exact and chunk by
chunk; the scheduler is dask's default (threads) or a ``dask.distributed`` client (:func:`scheduler`).

Example::

    from monai_topo.evaluation import betti_table_chunked, evaluate_case_chunked

    shape, rows = betti_table_chunked("brain.ome.zarr", selected=[1])
    rows = evaluate_case_chunked("pred.zarr", "label.zarr", chunks=256)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_topo.evaluation.case import case_row, check_same_grid
from monai_topo.io import open_volume
from monai_topo.io.cases import NIFTI_SUFFIXES
from monai_topo.io.volumes import wants_chunked
from monai_topo.topology import chunked_pair_topology, chunked_topology
from monai_topo.topology.connectivity import resolve_connectivity

__all__ = ["betti_table_chunked", "evaluate_case_chunked", "scheduler", "uses_chunked_path"]


def uses_chunked_path(*paths: str | Path, chunks: int | tuple[int, ...] | None = None, level: int = 0) -> bool:
    """Whether ``paths`` are evaluated chunk by chunk: Zarr, a chunk size or an OME-Zarr level given, or a large
    volume.

    Example:
        >>> uses_chunked_path("a.nii.gz", "b.nii.gz", chunks=64), uses_chunked_path("a.ome.zarr")
        (True, True)
    """
    if level:
        return True
    return any(wants_chunked(p, chunks) for p in paths)


@contextlib.contextmanager
def scheduler(address: str | None) -> Iterator[None]:
    """Connect to the ``dask.distributed`` scheduler at ``address`` for the duration of the block (``None``: the
    default threads, nothing to do)."""
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
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` of a lazily read volume, as :func:`monai_topo.evaluation.betti_table`.

    Returns:
        ``(shape, rows)``.

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for a connectivity that does not fit the volume.
    """
    import dask.array as da

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
    """One case's rows of the evaluation (the CSV columns except ``case``), chunk by chunk.

    Dice, Betti numbers and their error, splits and merges are exact; clDice is NaN (the skeleton of a volume
    is not computed chunk by chunk).

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for different shapes or chunk grids (the message names both files and suggests ``--chunks``).
    """
    import dask.array as da

    pred = open_volume(pred_path, level, chunks)
    target = open_volume(label_path, level, chunks)
    names = (Path(pred_path).name, Path(label_path).name)
    affines = (None, None)
    both_nifti = str(pred_path).endswith(NIFTI_SUFFIXES) and str(label_path).endswith(NIFTI_SUFFIXES)
    if both_nifti and pred.shape == target.shape:  # (a shape mismatch is reported first)
        import nibabel as nib

        affines = (nib.load(str(pred_path)).affine, nib.load(str(label_path)).affine)
    check_same_grid(names[0], names[1], pred.shape, target.shape, *affines)
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
        dice = _dice(pair.intersection, pair.pred.voxels, pair.target.voxels)
        rows.append(
            case_row(label, pred.ndim, dice, pair.pred.betti, pair.target.betti, float("nan"), pair.splits, pair.merges)
        )
    return rows

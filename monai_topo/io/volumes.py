"""Lazy, chunked reading of large label volumes: Zarr, OME-Zarr (one multiscale level) and NIfTI, as dask arrays.

Nothing is read when a volume is opened; each chunk is read by the task that needs it. A chunk that cannot be
read (a corrupt or truncated file, a bad compressed chunk) or that holds values that are not integer labels
raises :class:`monai_topo.io.VolumeError` naming the file and the region.

Zarr stores leave chunks that hold only the fill value unwritten (``write_empty_chunks=False``), so a
missing chunk file reads as the fill value, by the format's definition; it cannot be told from an empty chunk.

Example::

    from monai_topo.io import open_volume
    from monai_topo.topology import betti_numbers

    volume = open_volume("brain.ome.zarr", level=0)       # dask array, nothing read yet
    betti_numbers(volume == 3)                             # chunk by chunk
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_topo.io.cases import NIFTI_SUFFIXES
from monai_topo.io.nifti import VolumeError, as_label_values

__all__ = ["LARGE_VOLUME_VOXELS", "is_zarr_path", "open_volume", "volume_shape", "wants_chunked"]

#: Volumes with more voxels than this (2**27, e.g. 512^3; about 2.7 GB for the in-memory Betti numbers) are
#: evaluated chunk by chunk by the command line.
LARGE_VOLUME_VOXELS = 2**27

_DEFAULT_NIFTI_CHUNK = 128


def is_zarr_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a Zarr / OME-Zarr store (a folder named ``*.zarr`` or holding Zarr metadata).

    Example:
        >>> is_zarr_path("scan.ome.zarr"), is_zarr_path("scan.nii.gz")
        (True, False)
    """
    p = Path(path)
    if p.name.endswith(".zarr"):
        return True
    return p.is_dir() and any((p / key).exists() for key in ("zarr.json", ".zarray", ".zgroup"))


class _Reader:
    """Array-like over a Zarr array or a NIfTI proxy whose reads name the file when they fail."""

    def __init__(self, source: Any, name: str, shape: tuple[int, ...], dtype: np.dtype, prefix: tuple = ()) -> None:
        self.source = source
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.ndim = len(shape)
        self.prefix = prefix  # leading indices that drop singleton axes (OME-Zarr t, c) or add trailing ones

    def __getitem__(self, index: tuple) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        try:
            block = np.asarray(
                self.source[self.prefix + index + (0,) * (len(self.source.shape) - len(self.prefix) - len(index))]
            )
        except Exception as e:  # codecs, zlib, truncated files ... raise many types
            region = ", ".join(f"{s.start}:{s.stop}" if isinstance(s, slice) else str(s) for s in index)
            raise VolumeError(f"{self.name}: cannot read the region [{region}] ({type(e).__name__}: {e})") from e
        return as_label_values(block, self.name)  # floats holding integers as int64; anything else refused


def _open_zarr(path: Path, level: int) -> tuple[Any, str]:
    import zarr

    name = str(path)
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as e:  # missing metadata, not a store, unreadable JSON ...
        raise VolumeError(f"{name}: cannot open as Zarr ({type(e).__name__}: {e})") from e
    if isinstance(node, zarr.Array):
        if level:
            raise VolumeError(f"{name}: a single Zarr array has no multiscale level {level}.")
        return node, name
    attrs = dict(node.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if multiscales:
        datasets = multiscales[0].get("datasets", [])
        if not 0 <= level < len(datasets):
            raise VolumeError(f"{name}: OME-Zarr level {level} does not exist ({len(datasets)} level(s)).")
        key = datasets[level]["path"]
    else:
        arrays = sorted(k for k, _ in node.arrays())
        if len(arrays) != 1:
            raise VolumeError(f"{name}: a Zarr group without OME-Zarr multiscales metadata and {len(arrays)} arrays.")
        key = arrays[0]
    try:
        return node[key], f"{name}/{key}"
    except Exception as e:
        raise VolumeError(f"{name}: cannot open the array {key} ({type(e).__name__}: {e})") from e


def _spatial(shape: tuple[int, ...], name: str) -> tuple[tuple[int, ...], tuple]:
    """Spatial shape and the leading indices that drop extra singleton axes (OME-Zarr ``t, c`` or NIfTI's 4th)."""
    dims = list(shape)
    prefix: list[int] = []
    while len(dims) > 3 and dims[0] == 1:  # OME-Zarr t, c axes come first
        dims.pop(0)
        prefix.append(0)
    while len(dims) > 2 and dims[-1] == 1:  # NIfTI: H x W x 1, or one volume of a 4D file
        dims.pop()
    if len(dims) not in (2, 3):
        raise VolumeError(f"{name}: expected a 2D or 3D label map, got shape {tuple(shape)}.")
    if any(d == 0 for d in dims):
        raise VolumeError(f"{name}: the image is empty (shape {tuple(shape)}).")
    return tuple(dims), tuple(prefix)


def _chunk_sizes(chunks: int | Sequence[int] | None, native: Sequence[int], ndim: int) -> tuple[int, ...]:
    if chunks is None:
        return tuple(int(c) for c in native)
    sizes = (chunks,) * ndim if isinstance(chunks, (int, np.integer)) else tuple(chunks)
    if len(sizes) != ndim or any(int(c) < 1 for c in sizes):
        raise ValueError(f"chunks must be a positive int or {ndim} positive ints, got {chunks!r}.")
    return tuple(int(c) for c in sizes)


def open_volume(path: str | os.PathLike, level: int = 0, chunks: int | Sequence[int] | None = None) -> Any:
    """Open a Zarr / OME-Zarr / NIfTI label volume lazily as a 2D or 3D ``dask.array.Array``.

    Leading singleton axes of Zarr arrays (OME-Zarr ``t, c``) and trailing ones of NIfTI files are dropped.

    Args:
        path: a ``.zarr`` / ``.ome.zarr`` store (an array, or a group with OME-Zarr ``multiscales``
            metadata), or a ``.nii`` / ``.nii.gz`` file.
        level: the OME-Zarr multiscale level (0 = full resolution).
        chunks: chunk size per axis (int or tuple); default the Zarr chunks, or 128 voxels per axis for NIfTI.

    Returns:
        a dask array; reading a chunk that fails raises :class:`~monai_topo.io.VolumeError`.

    Raises:
        VolumeError: for a missing, unreadable or unsupported file (the message names it).
        ValueError: for bad ``chunks``.

    Example:
        >>> import zarr, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "seg.zarr")
        >>> zarr.create_array(path, data=np.ones((4, 6), np.uint8), chunks=(2, 3)).shape
        (4, 6)
        >>> open_volume(path).chunksize
        (2, 3)
    """
    import dask.array as da

    p = Path(path)
    name = str(p)
    if not p.exists():
        raise VolumeError(f"{name}: no such file or folder.")
    if is_zarr_path(p):
        source, name = _open_zarr(p, level)
        native: Sequence[int] = source.chunks
    elif p.name.endswith(NIFTI_SUFFIXES):
        import nibabel as nib

        if level:
            raise VolumeError(f"{name}: NIfTI files have one resolution level, got level={level}.")
        try:
            source = nib.load(name).dataobj
        except Exception as e:
            raise VolumeError(f"{name}: cannot read NIfTI file ({type(e).__name__}: {e})") from e
        native = (_DEFAULT_NIFTI_CHUNK,) * len(source.shape)
    else:
        raise VolumeError(f"{name}: unsupported volume format (expected .zarr, .ome.zarr, .nii or .nii.gz).")
    dtype = np.dtype(source.dtype)
    if not (np.issubdtype(dtype, np.number) or dtype == bool) or np.issubdtype(dtype, np.complexfloating):
        raise VolumeError(f"{name}: unsupported data type {dtype}; expected integer labels.")
    shape, prefix = _spatial(tuple(int(s) for s in source.shape), name)
    native_spatial = tuple(native)[len(prefix) : len(prefix) + len(shape)]
    sizes = _chunk_sizes(chunks, native_spatial, len(shape))
    labels_dtype = np.dtype(np.int64) if np.issubdtype(dtype, np.floating) else dtype  # (what the reads return)
    reader = _Reader(source, name, shape, labels_dtype, prefix)
    return da.from_array(reader, chunks=sizes, asarray=False, fancy=False, name=f"volume-{name}-{sizes}")


def volume_shape(path: str | os.PathLike, level: int = 0) -> tuple[int, ...]:
    """Spatial shape of a volume, from its metadata only.

    Example:
        >>> import zarr, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "seg.zarr")
        >>> _ = zarr.create_array(path, shape=(1, 1, 8, 9, 10), dtype="uint8")
        >>> volume_shape(path)
        (8, 9, 10)
    """
    return tuple(open_volume(path, level).shape)


def wants_chunked(path: str | os.PathLike, chunks: object = None) -> bool:
    """Whether the command line evaluates ``path`` chunk by chunk: Zarr, ``--chunks`` given, or a large volume.

    Example:
        >>> wants_chunked("case.nii.gz", chunks=64)
        True
    """
    if chunks is not None or is_zarr_path(path):
        return True
    try:
        shape = volume_shape(path)
    except VolumeError:  # unreadable: the in-memory reader reports it
        return False
    return int(np.prod(shape, dtype=np.int64)) > LARGE_VOLUME_VOXELS

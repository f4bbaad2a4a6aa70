"""``monai-topo betti FILE``: Betti numbers of each label of a NIfTI label map.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_topo.cli.chunked import add_chunk_arguments, run_betti_chunked
from monai_topo.cli.options import add_connectivity_argument
from monai_topo.topology import (
    betti_numbers,
    euler_characteristic,
    foreground_connectivity,
    resolve_connectivity,
)

__all__ = ["VolumeError", "betti_table", "format_table", "read_label_volume", "register", "run"]

logger = logging.getLogger(__name__)


class VolumeError(ValueError):
    """A NIfTI file that cannot be read or is not a 2D/3D integer label map (the message names the file)."""


def read_label_volume(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI label map (``.nii`` / ``.nii.gz``) with nibabel.

    Trailing singleton axes are dropped, so an ``H x W x 1`` image is 2D and 4D files with one volume are 3D.

    Args:
        path: the file.

    Returns:
        ``(labels, affine)``: an integer array (2D or 3D) and the 4x4 affine.

    Raises:
        VolumeError: when the file is missing, unreadable or corrupt, not 2D/3D, or holds non-integer values.

    Example:
        >>> import nibabel as nib, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "seg.nii.gz")
        >>> nib.save(nib.Nifti1Image(np.ones((4, 5, 1), np.uint8), np.eye(4)), path)
        >>> read_label_volume(path)[0].shape
        (4, 5)
    """
    import nibabel as nib

    name = str(path)
    try:
        image = nib.load(name)
        data = np.asanyarray(image.dataobj)
        affine = np.asarray(image.affine, dtype=np.float64)
    except Exception as e:  # nibabel raises many types for truncated/corrupt files (EOFError, zlib.error, ...)
        raise VolumeError(f"{name}: cannot read NIfTI file ({type(e).__name__}: {e})") from e
    while data.ndim > 2 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (2, 3):
        raise VolumeError(f"{name}: expected a 2D or 3D label map, got shape {data.shape}.")
    if data.size == 0:
        raise VolumeError(f"{name}: the image is empty (shape {data.shape}).")
    if not (np.issubdtype(data.dtype, np.integer) or data.dtype == bool):
        if not np.issubdtype(data.dtype, np.floating):
            raise VolumeError(f"{name}: unsupported data type {data.dtype}; expected integer labels.")
        if not np.isfinite(data).all() or (data != np.round(data)).any():
            raise VolumeError(f"{name}: not a label map (non-integer or NaN values); threshold or round it first.")
        data = data.astype(np.int64)
    return np.asarray(data), affine


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain right-aligned text table; floats with 4 decimals, ``None`` as ``-``.

    Example:
        >>> print(format_table(["label", "b0"], [[1, 2]]))
        label  b0
            1   2
    """

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, (float, np.floating)):
            return "nan" if np.isnan(value) else f"{value:.4f}"
        return str(value)

    text = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in text)


def betti_table(
    labels: np.ndarray, selected: Sequence[int] | None = None, connectivity: int | None = None
) -> list[list[int]]:
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` for each selected label (default: every non-zero label).

    Example:
        >>> ring = np.ones((5, 5), np.uint8); ring[2, 2] = 0
        >>> betti_table(ring)
        [[1, 24, 1, 1, 0]]
    """
    values = sorted(int(v) for v in np.unique(labels) if v != 0) if selected is None else list(selected)
    rows = []
    for value in values:
        mask = labels == value
        rows.append(
            [value, int(np.count_nonzero(mask)), *betti_numbers(mask, connectivity).tolist()]
            + [euler_characteristic(mask, connectivity)]
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the Betti table of ``args.file``; returns the exit code (1 for an unreadable file or bad option)."""
    chunked = run_betti_chunked(args)  # Zarr, --chunks or a large volume: chunk by chunk
    if chunked is not None:
        return chunked
    try:
        labels, _ = read_label_volume(args.file)
        construction = resolve_connectivity(args.connectivity, labels.ndim)
    except ValueError as e:  # VolumeError, or a connectivity that does not fit the image
        logger.error("%s", e)
        return 1
    ndim = labels.ndim
    missing = [k for k in (args.label or []) if not np.any(labels == k)]
    for k in missing:
        logger.warning("%s: label %d does not occur; its Betti numbers are all 0.", args.file, k)
    rows = betti_table(labels, args.label, args.connectivity)
    print(
        f"{args.file}: {ndim}D, shape {tuple(labels.shape)}, connectivity "
        f"{foreground_connectivity(args.connectivity, ndim)} ({construction}-construction)"
    )
    if not rows:
        print("no foreground labels (the image is all 0).")
        return 0
    headers = ["label", "voxels"] + [f"b{k}" for k in range(ndim)] + ["chi"]
    print(format_table(headers, rows))
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``betti`` subcommand."""
    parser = subparsers.add_parser(
        "betti",
        help="print the Betti numbers of each label of a NIfTI label map",
        description="Betti numbers (b0 components, b1 loops/holes, b2 cavities) and Euler characteristic of "
        "each label of a 2D or 3D NIfTI label map.",
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

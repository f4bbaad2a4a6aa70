"""Reading NIfTI label maps and probability maps into memory, with errors that name the file.

Both readers drop trailing singleton axes (an ``H x W x 1`` image is 2D, a 4D file with one volume is 3D) and raise
:class:`VolumeError` (a ``ValueError``) for anything that is not a 2D/3D image of the expected kind. Volumes larger
than memory are read lazily by :func:`monai_topo.io.open_volume`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["VolumeError", "read_label_volume", "read_probability_map"]


class VolumeError(ValueError):
    """A volume that cannot be read, or is not the 2D/3D label map or image expected (the message names the file)."""


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


def read_probability_map(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a 2D/3D NIfTI image of real values (trailing singleton axes dropped).

    Returns:
        ``(values, affine)`` as float64 / 4x4 arrays.

    Raises:
        VolumeError: naming the file, when it cannot be read, is not 2D/3D, is empty or holds NaN / Inf.

    Example:
        >>> import nibabel as nib, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "prob.nii.gz")
        >>> nib.save(nib.Nifti1Image(np.full((4, 5, 1), 0.5, np.float32), np.eye(4)), path)
        >>> read_probability_map(path)[0].shape
        (4, 5)
    """
    import nibabel as nib

    name = str(path)
    try:
        image = nib.load(name)
        data = np.asarray(image.get_fdata(dtype=np.float64))
    except Exception as e:  # nibabel raises many types for missing / corrupt files
        raise VolumeError(f"{name}: cannot read NIfTI file ({type(e).__name__}: {e})") from e
    while data.ndim > 2 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (2, 3) or data.size == 0:
        raise VolumeError(f"{name}: expected a non-empty 2D or 3D image, got shape {data.shape}.")
    if not np.isfinite(data).all():
        raise VolumeError(f"{name}: holds NaN or infinite values.")
    return data, np.asarray(image.affine, np.float64)

"""Reading NIfTI label maps and probability maps into memory, with errors that name the file.

Both readers drop trailing singleton axes (an ``H x W x 1`` image is 2D, a 4D file with one volume is 3D) and raise
:class:`VolumeError` (a ``ValueError``) for anything that is not a 2D/3D image of the expected kind. Volumes larger
than memory are read lazily by :func:`monai_topo.io.open_volume`; both paths turn values into labels with
:func:`as_label_values`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["VolumeError", "as_label_values", "read_label_volume", "read_probability_map"]


class VolumeError(ValueError):
    """A volume that cannot be read, or is not the 2D/3D label map or image expected (the message names the file)."""


def as_label_values(data: np.ndarray, name: str) -> np.ndarray:
    """The values of a label map as integers: integer and boolean arrays as they are, floats that hold integers as
    ``int64``.

    A float type holds every integer only up to a bound (``2**24`` for float32, ``2**53`` for float64); beyond it
    neighbouring labels share one value, and beyond ``2**63`` the ``int64`` cast would wrap (``1e20`` became
    ``-9223372036854775808``), so such values are refused.

    Args:
        data: the values (any shape).
        name: what the error calls them (the file, with the region for a chunk).

    Raises:
        VolumeError: naming ``name``, for NaN / infinite or non-integer values, integers too large for the float
            type, or a type that is not numeric.

    Example:
        >>> as_label_values(np.array([0.0, 2.0, 7.0], np.float32), "seg.nii.gz")
        array([0, 2, 7])
        >>> as_label_values(np.array([0.0, 1e20]), "seg.nii.gz")
        Traceback (most recent call last):
        ...
        monai_topo.io.nifti.VolumeError: seg.nii.gz: label value 1e+20 is too large for a float64 label map ...
    """
    if data.dtype == bool or np.issubdtype(data.dtype, np.integer):
        return data
    if not np.issubdtype(data.dtype, np.floating):
        raise VolumeError(f"{name}: unsupported data type {data.dtype}; expected integer labels.")
    if not np.isfinite(data).all() or (data != np.round(data)).any():
        raise VolumeError(f"{name}: not a label map (non-integer or NaN values); threshold or round it first.")
    exact = min(2 ** (np.finfo(data.dtype).nmant + 1), 2**62)  # every integer up to here has its own value
    if data.size and (largest := float(np.abs(data).max())) > exact:
        value = float(data.flat[int(np.argmax(np.abs(data)))])
        raise VolumeError(
            f"{name}: label value {value:g} is too large for a {data.dtype} label map (beyond {exact:,} "
            f"{data.dtype} cannot tell neighbouring integers apart, largest here {largest:g}); save the labels as "
            "integers."
        )
    return data.astype(np.int64)


def read_label_volume(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI label map (``.nii`` / ``.nii.gz``) with nibabel.

    Trailing singleton axes are dropped, so an ``H x W x 1`` image is 2D and 4D files with one volume are 3D.

    Args:
        path: the file.

    Returns:
        ``(labels, affine)``: an integer array (2D or 3D) and the 4x4 affine.

    Raises:
        VolumeError: when the file is missing, unreadable or corrupt, not 2D/3D, or holds values that are not
            integer labels (:func:`as_label_values`).

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
    return np.asarray(as_label_values(data, name)), affine


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

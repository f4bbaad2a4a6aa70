"""Input checks shared by the topology core: clear errors before anything reaches C++ code."""

from __future__ import annotations

import numpy as np

__all__ = ["check_image", "check_binary_mask"]


def check_image(values: np.ndarray, name: str = "values", allow_ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Return ``values`` as a numpy array after checking it is a finite, real, non-empty 2D/3D image.

    Args:
        values: the image (anything ``np.asarray`` accepts; torch tensors must be converted by the caller).
        name: the argument name used in error messages.
        allow_ndim: accepted numbers of dimensions.

    Raises:
        TypeError: for non-numeric or complex arrays.
        ValueError: for a wrong number of dimensions, an empty array, or NaN/Inf values.

    Example:
        >>> check_image(np.zeros((4, 5))).shape
        (4, 5)
    """
    if type(values).__module__.startswith("torch"):
        raise TypeError(f"{name} must be a numpy array; call .detach().cpu().numpy() on the tensor first.")
    arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}.")
    if arr.ndim not in allow_ndim:
        dims = " or ".join(f"{d}D" for d in allow_ndim)
        raise ValueError(f"{name} must be a {dims} array (spatial dimensions only), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s); topology is undefined on them.")
    return arr


def check_binary_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a C-contiguous boolean array after checking it holds only 0 and 1.

    Raises:
        TypeError / ValueError: as :func:`check_image`, and ``ValueError`` for values other than 0 and 1
            (threshold probabilities first, e.g. ``mask > 0.5``).

    Example:
        >>> check_binary_mask(np.array([[0, 1], [1, 0]])).dtype
        dtype('bool')
    """
    arr = check_image(mask, name)
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
            raise ValueError(
                f"{name} must be binary (0/1), found values such as {bad.tolist()}; threshold it first "
                "(e.g. mask > 0.5) or select one label (mask == k)."
            )
        arr = arr != 0
    return np.ascontiguousarray(arr)

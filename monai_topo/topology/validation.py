"""Input and option checks shared by the whole package: clear errors before anything reaches C++ code.

One helper per concept, used by the topology core, the losses, the metrics and the CLI:

- :func:`check_image`, :func:`check_binary_mask`: numpy images;
- :func:`check_spatial_ndim`: 2D or 3D images only;
- :func:`check_connectivity`: the ``connectivity`` option (``None``, 4 / 8 in 2D, 6 / 26 in 3D);
- :func:`check_num_workers`, :func:`resolve_num_workers`: the ``num_workers`` option of every threaded function;
- :func:`renamed_arguments`: keep an old argument name working for one release, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "CONNECTIVITIES",
    "check_binary_mask",
    "check_connectivity",
    "check_image",
    "check_num_workers",
    "check_spatial_ndim",
    "renamed_arguments",
    "resolve_num_workers",
]

#: foreground connectivities per number of spatial dimensions: ``(T-construction, V-construction)``.
CONNECTIVITIES: dict[int, tuple[int, int]] = {2: (8, 4), 3: (26, 6)}

F = TypeVar("F", bound=Callable[..., Any])


def check_spatial_ndim(ndim: int, name: str = "the image") -> int:
    """Return ``ndim`` after checking that it is 2 or 3 (the spatial dimensions monai_topo supports).

    Args:
        ndim: number of spatial dimensions (without batch and channel).
        name: what has ``ndim`` dimensions, for the error message.

    Raises:
        ValueError: when ``ndim`` is not 2 or 3.

    Example:
        >>> check_spatial_ndim(3)
        3
    """
    if ndim not in (2, 3):
        raise ValueError(f"monai_topo works on 2D and 3D images, {name} has {ndim} spatial dimensions.")
    return int(ndim)


def check_connectivity(connectivity: Any, ndim: int | None = None) -> int | None:
    """Validate a foreground ``connectivity`` option and return it as ``int`` (or ``None``).

    Args:
        connectivity: ``None`` (default: 8 in 2D, 26 in 3D, the T-construction), 8 / 26 (T-construction) or
            4 / 6 (V-construction). Must be an ``int`` (``8.0`` and ``True`` are rejected).
        ndim: number of spatial dimensions, when known: the connectivity must then fit it (4 / 8 in 2D,
            6 / 26 in 3D). ``None`` checks the value only (e.g. in a constructor).

    Returns:
        ``connectivity`` as a Python ``int``, or ``None``.

    Raises:
        ValueError: for a value that is not ``None``, 4, 6, 8 or 26, or that does not fit ``ndim``.

    Example:
        >>> check_connectivity(None), check_connectivity(6, 3)
        (None, 6)
    """
    if connectivity is not None:
        valid = sorted(c for pair in CONNECTIVITIES.values() for c in pair)
        if isinstance(connectivity, (bool, np.bool_)) or not isinstance(connectivity, (int, np.integer)):
            raise ValueError(
                f"connectivity must be None (default: 8 in 2D, 26 in 3D) or one of {valid} as an int, "
                f"got {connectivity!r}."
            )
        if int(connectivity) not in valid:
            raise ValueError(
                f"connectivity must be None (default: 8 in 2D, 26 in 3D), 8 / 26 (T-construction) or 4 / 6 "
                f"(V-construction), got {connectivity!r}."
            )
        connectivity = int(connectivity)
    if ndim is not None:
        check_spatial_ndim(ndim)
        if connectivity is not None and connectivity not in CONNECTIVITIES[ndim]:
            t, v = CONNECTIVITIES[ndim]
            raise ValueError(
                f"connectivity={connectivity!r} is not supported in {ndim}D: use {t} (default, T-construction) "
                f"or {v} (V-construction)."
            )
    return connectivity


def check_num_workers(num_workers: Any) -> int | None:
    """Validate a ``num_workers`` option: ``None`` (one thread per CPU core) or an int ``>= 0`` (0 and 1: serial).

    Raises:
        ValueError: for anything else (negative numbers, floats, booleans).

    Example:
        >>> check_num_workers(None), check_num_workers(0)
        (None, 0)
    """
    if num_workers is not None and (
        isinstance(num_workers, (bool, np.bool_)) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0
    ):
        raise ValueError(
            f"num_workers must be None (one thread per CPU core) or an int >= 0 (0 or 1: serial), got {num_workers!r}."
        )
    return None if num_workers is None else int(num_workers)


def resolve_num_workers(num_workers: int | None, num_items: int) -> int:
    """Number of threads to use for ``num_items`` work items: ``None`` -> CPU cores, capped by ``num_items``.

    Example:
        >>> resolve_num_workers(8, 3), resolve_num_workers(0, 5)
        (3, 1)
    """
    workers = (os.cpu_count() or 1) if num_workers is None else int(num_workers)
    return max(1, min(workers, num_items))


def renamed_arguments(since: str = "0.2.0", removed: str = "0.3.0", **renames: str) -> Callable[[F], F]:
    """Decorator: keep old keyword names working for one release, with a ``DeprecationWarning``.

    Args:
        since: the release that renamed them.
        removed: the release that will drop the old names.
        renames: ``old_name="new_name"`` pairs.

    Raises:
        TypeError: (from the decorated callable) when both the old and the new name are given.

    Example:
        >>> @renamed_arguments(dim="dims")
        ... def f(dims=None):
        ...     return dims
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     f(dim=1)
        1
    """

    def decorator(func: F) -> F:
        owner = func.__qualname__.replace(".__init__", "")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{owner}: pass {new!r} only ({old!r} is its deprecated name).")
                    warnings.warn(
                        f"{owner}: the argument {old!r} is deprecated since monai_topo {since} and will be removed in "
                        f"{removed}; use {new!r}.",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


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

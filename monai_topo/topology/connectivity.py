"""One connectivity convention for every loss and metric of monai_topo.

Two cubical constructions exist for a voxel image (see ``docs/algorithms.md``, "Conventions"):

- **T-construction** (voxels are top cells, ``cripser.computePH_T``): foreground is 8-connected in 2D and
  26-connected in 3D; the background is 4 / 6-connected. This is the default, as in cc3d and most papers.
- **V-construction** (voxels are vertices, ``cripser.computePH``): foreground 4 / 6, background 8 / 26.

Users name the construction by the *foreground* connectivity they want (``connectivity=26`` etc.);
``None`` means the default T-construction.
"""

from __future__ import annotations

import itertools

import numpy as np

from monai_topo.topology.validation import CONNECTIVITIES, check_connectivity

__all__ = [
    "Connectivity",
    "background_connectivity",
    "flat_offsets",
    "foreground_connectivity",
    "neighbour_offsets",
    "resolve_connectivity",
]

Connectivity = int | None

_T_FOREGROUND = {ndim: pair[0] for ndim, pair in CONNECTIVITIES.items()}
_V_FOREGROUND = {ndim: pair[1] for ndim, pair in CONNECTIVITIES.items()}


def resolve_connectivity(connectivity: Connectivity, ndim: int) -> str:
    """Map a foreground connectivity to the cubical construction it implies.

    Args:
        connectivity: foreground connectivity: 8 or 4 in 2D, 26 or 6 in 3D; ``None`` for the default
            (8 in 2D, 26 in 3D, i.e. the T-construction).
        ndim: number of spatial dimensions of the image (2 or 3).

    Returns:
        ``"T"`` (voxels are top cells) or ``"V"`` (voxels are vertices).

    Raises:
        ValueError: when ``ndim`` is not 2 or 3, or the connectivity is not valid for ``ndim``.

    Example:
        >>> resolve_connectivity(None, 3), resolve_connectivity(6, 3), resolve_connectivity(8, 2)
        ('T', 'V', 'T')
    """
    connectivity = check_connectivity(connectivity, ndim)
    return "V" if connectivity == _V_FOREGROUND[ndim] else "T"


def foreground_connectivity(connectivity: Connectivity, ndim: int) -> int:
    """Foreground neighbourhood (4/8 in 2D, 6/26 in 3D) for ``connectivity`` in ``ndim`` dimensions.

    Example:
        >>> foreground_connectivity(None, 2), foreground_connectivity(6, 3)
        (8, 6)
    """
    construction = resolve_connectivity(connectivity, ndim)
    return (_T_FOREGROUND if construction == "T" else _V_FOREGROUND)[ndim]


def background_connectivity(connectivity: Connectivity, ndim: int) -> int:
    """Background neighbourhood matching ``connectivity`` (the complementary one, for duality).

    Example:
        >>> background_connectivity(None, 3), background_connectivity(4, 2)
        (6, 8)
    """
    construction = resolve_connectivity(connectivity, ndim)
    return (_V_FOREGROUND if construction == "T" else _T_FOREGROUND)[ndim]


def flat_offsets(offsets: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Offsets ``(n, ndim)`` (e.g. :func:`neighbour_offsets`) as steps between C-order flat indices of ``shape``.

    Example:
        >>> flat_offsets(np.array([[0, 1], [1, 0], [-1, -1]]), (4, 5)).tolist()
        [1, 5, -6]
    """
    strides = np.cumprod((1,) + tuple(shape)[:0:-1])[::-1].astype(np.int64)
    return np.asarray(offsets, np.int64) @ strides


def neighbour_offsets(ndim: int, connectivity: int) -> np.ndarray:
    """The non-zero offsets of a voxel's neighbourhood, both directions (faces only for 4 / 6), as ``(n, ndim)``.

    Args:
        ndim: number of spatial dimensions.
        connectivity: a neighbourhood (4 / 8 in 2D, 6 / 18 / 26 in 3D); 4 and 6 keep the face neighbours, any
            other the whole ``3**ndim - 1`` neighbourhood.

    Example:
        >>> neighbour_offsets(2, 4).tolist()
        [[-1, 0], [0, -1], [0, 1], [1, 0]]
    """
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    if connectivity in (4, 6):  # faces only
        offsets = [o for o in offsets if sum(map(abs, o)) == 1]
    return np.array(offsets, np.int64).reshape(-1, ndim)

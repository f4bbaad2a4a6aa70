"""Cubical persistent homology of 2D/3D images with critical voxels, on top of ``cripser``.

numpy in, numpy out; no torch. The losses gather probabilities at :attr:`PersistenceDiagram.birth_index` /
:attr:`PersistenceDiagram.death_index` to get gradients (see ``docs/algorithms.md``, "Conventions").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cripser
import numpy as np

from monai_topo.topology.connectivity import Connectivity, resolve_connectivity
from monai_topo.topology.validation import check_image

__all__ = [
    "PersistenceDiagram",
    "compute_persistence",
    "compute_persistence_batch",
    "betti_numbers_from_diagram",
]

_DBL_MAX_CUTOFF = 1e300
_FILTRATIONS = ("superlevel", "sublevel")


@dataclass(frozen=True)
class PersistenceDiagram:
    """Persistence pairs of one image, with the voxels that created and killed each feature.

    All arrays have one row per pair. Values are in the caller's value space: for a ``"superlevel"``
    filtration (foreground = high values, e.g. probabilities) a feature is born at a high value and dies at
    a lower one (``birth >= death``); for ``"sublevel"`` it is the reverse.

    Essential features (that never die, e.g. the last connected component) have ``essential=True`` and a
    finite death equal to the end value of the filtration: the minimum of the image for ``"superlevel"``,
    its maximum for ``"sublevel"``; their death voxel is where that extreme value is (first in C order).
    So ``values.flat[birth_index] == births`` and ``values.flat[death_index] == deaths`` always hold.
    Pairs of zero persistence are dropped. Rows are sorted by dimension, then by decreasing persistence.

    Attributes:
        dims: homology dimension of each pair (0: components, 1: loops/tunnels, 2: cavities).
        births: value at which the feature appears.
        deaths: value at which it disappears (finite, see above).
        birth_coords: ``(n, ndim)`` voxel coordinates of the creator (critical) voxel.
        death_coords: ``(n, ndim)`` voxel coordinates of the destroyer voxel.
        birth_index: flat (C-order) index of the creator voxel.
        death_index: flat (C-order) index of the destroyer voxel.
        essential: whether the feature never dies in the filtration.
        shape: shape of the image.
        filtration: ``"superlevel"`` or ``"sublevel"``.
        construction: ``"T"`` or ``"V"`` (see :mod:`monai_topo.topology.connectivity`).
    """

    dims: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    birth_coords: np.ndarray
    death_coords: np.ndarray
    birth_index: np.ndarray
    death_index: np.ndarray
    essential: np.ndarray
    shape: tuple[int, ...]
    filtration: str
    construction: str

    def __len__(self) -> int:
        return int(self.dims.shape[0])

    @property
    def persistence(self) -> np.ndarray:
        """Lifetime ``|birth - death|`` of each pair (finite, also for essential pairs)."""
        return np.abs(self.births - self.deaths)

    def select(self, rows: np.ndarray | slice) -> PersistenceDiagram:
        """Sub-diagram with the given rows (boolean mask, index array or slice)."""
        return PersistenceDiagram(
            dims=self.dims[rows],
            births=self.births[rows],
            deaths=self.deaths[rows],
            birth_coords=self.birth_coords[rows],
            death_coords=self.death_coords[rows],
            birth_index=self.birth_index[rows],
            death_index=self.death_index[rows],
            essential=self.essential[rows],
            shape=self.shape,
            filtration=self.filtration,
            construction=self.construction,
        )

    def in_dim(self, dim: int) -> PersistenceDiagram:
        """Sub-diagram of the pairs of homology dimension ``dim``."""
        return self.select(self.dims == dim)


def _empty_diagram(shape: tuple[int, ...], filtration: str, construction: str) -> PersistenceDiagram:
    ndim = len(shape)
    return PersistenceDiagram(
        dims=np.zeros(0, np.int64),
        births=np.zeros(0, np.float64),
        deaths=np.zeros(0, np.float64),
        birth_coords=np.zeros((0, ndim), np.int64),
        death_coords=np.zeros((0, ndim), np.int64),
        birth_index=np.zeros(0, np.int64),
        death_index=np.zeros(0, np.int64),
        essential=np.zeros(0, bool),
        shape=shape,
        filtration=filtration,
        construction=construction,
    )


def compute_persistence(
    values: np.ndarray,
    filtration: str = "superlevel",
    connectivity: Connectivity = None,
    maxdim: int | None = None,
) -> PersistenceDiagram:
    """Persistence diagram of a 2D or 3D image, with the critical voxel of every pair.

    ``connectivity`` picks the cubical construction: 8 (2D) / 26 (3D) or ``None`` -> T-construction
    (``cripser.computePH_T``, voxels are top cells), 4 / 6 -> V-construction (``cripser.computePH``).
    A ``"superlevel"`` filtration (the default, for probabilities: foreground is where values are high) is
    computed as the sublevel persistence of ``-values`` and mapped back, so births and deaths are values of
    ``values``. Singleton axes are removed before calling cripser (the complex is the same; cripser's
    V-construction mis-handles 2D arrays with a singleton axis) and coordinates are mapped back.

    Args:
        values: 2D or 3D real array without NaN/Inf.
        filtration: ``"superlevel"`` or ``"sublevel"``.
        connectivity: foreground connectivity (see :func:`monai_topo.topology.connectivity.resolve_connectivity`).
        maxdim: highest homology dimension to compute, at most ``ndim - 1`` (the default).

    Returns:
        a :class:`PersistenceDiagram`.

    Raises:
        ValueError: for wrong dimensions, empty arrays, NaN/Inf values, or bad options.
        TypeError: for non-numeric input.

    Example:
        >>> ring = np.zeros((5, 5)); ring[1:4, 1:4] = 1.0; ring[2, 2] = 0.2
        >>> dgm = compute_persistence(ring)
        >>> [(int(d), float(b), float(e)) for d, b, e in zip(dgm.dims, dgm.births, dgm.deaths)]
        [(0, 1.0, 0.0), (1, 1.0, 0.2)]
    """
    arr = check_image(values, "values")
    if filtration not in _FILTRATIONS:
        raise ValueError(f"filtration must be one of {_FILTRATIONS}, got {filtration!r}.")
    ndim = arr.ndim
    construction = resolve_connectivity(connectivity, ndim)
    if maxdim is None:
        maxdim = ndim - 1
    if not isinstance(maxdim, (int, np.integer)) or not 0 <= maxdim <= ndim - 1:
        raise ValueError(f"maxdim must be an integer in [0, {ndim - 1}] for a {ndim}D image, got {maxdim!r}.")
    shape = tuple(int(s) for s in arr.shape)

    sign = -1.0 if filtration == "superlevel" else 1.0
    f = np.ascontiguousarray(arr, dtype=np.float64)
    f = np.negative(f) if sign < 0 else f

    keep = [axis for axis, size in enumerate(shape) if size > 1]
    if not keep:  # a single voxel: one essential component
        rows = np.array([[0, f.flat[0], np.inf] + [0.0] * 6])
    else:
        reduced = f.reshape([shape[a] for a in keep])
        compute = cripser.computePH_T if construction == "T" else cripser.computePH
        rows = compute(reduced, maxdim=min(int(maxdim), len(keep) - 1), location="yes")

    rdim = len(keep)
    deaths_f = rows[:, 2]
    essential = ~(deaths_f < _DBL_MAX_CUTOFF)
    births_f = rows[:, 1]
    finite_zero = (~essential) & (births_f == deaths_f)
    if finite_zero.any():
        rows = rows[~finite_zero]
        essential = essential[~finite_zero]
    if rows.shape[0] == 0:
        return _empty_diagram(shape, filtration, construction)

    birth_coords = np.zeros((rows.shape[0], ndim), np.int64)
    death_coords = np.zeros((rows.shape[0], ndim), np.int64)
    if rdim:
        birth_coords[:, keep] = rows[:, 3 : 3 + rdim].astype(np.int64)
        death_coords[:, keep] = rows[:, 6 : 6 + rdim].astype(np.int64)
    birth_index = np.ravel_multi_index(tuple(birth_coords.T), shape).astype(np.int64)
    if essential.any():
        end = int(np.argmax(f))  # the end of the sublevel filtration of f
        death_coords[essential] = np.unravel_index(end, shape)
    death_index = np.ravel_multi_index(tuple(death_coords.T), shape).astype(np.int64)

    births = f.flat[birth_index] * sign
    deaths = f.flat[death_index] * sign
    dims = rows[:, 0].astype(np.int64)
    order = np.lexsort((death_index, birth_index, -np.abs(births - deaths), dims))
    return PersistenceDiagram(
        dims=dims[order],
        births=births[order],
        deaths=deaths[order],
        birth_coords=birth_coords[order],
        death_coords=death_coords[order],
        birth_index=birth_index[order],
        death_index=death_index[order],
        essential=essential[order],
        shape=shape,
        filtration=filtration,
        construction=construction,
    )


def compute_persistence_batch(
    images: Sequence[np.ndarray],
    filtration: str = "superlevel",
    connectivity: Connectivity = None,
    maxdim: int | None = None,
    num_workers: int | None = None,
) -> list[PersistenceDiagram]:
    """:func:`compute_persistence` of many images on a thread pool (cripser releases the GIL).

    Args:
        images: 2D/3D arrays (shapes may differ).
        filtration, connectivity, maxdim: as :func:`compute_persistence`.
        num_workers: threads; default ``min(len(images), os.cpu_count())``. ``1`` runs serially.

    Returns:
        one diagram per image, in order.

    Example:
        >>> dgms = compute_persistence_batch([np.eye(4), np.ones((3, 3, 3))])
        >>> [len(d) for d in dgms]
        [1, 1]
    """
    images = list(images)
    if num_workers is None:
        num_workers = min(len(images), os.cpu_count() or 1)
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}.")

    def run(image: np.ndarray) -> PersistenceDiagram:
        return compute_persistence(image, filtration=filtration, connectivity=connectivity, maxdim=maxdim)

    if num_workers == 1 or len(images) <= 1:
        return [run(image) for image in images]
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        return list(pool.map(run, images))


def betti_numbers_from_diagram(diagram: PersistenceDiagram, threshold: float) -> np.ndarray:
    """Betti numbers of the level set at ``threshold`` read off a diagram.

    For ``"superlevel"`` this is the set ``{values >= threshold}``: a pair counts when
    ``birth >= threshold`` and (it is essential or ``death < threshold``). For ``"sublevel"`` the set is
    ``{values <= threshold}`` with the inequalities reversed.

    Returns:
        an ``int64`` array of length ``ndim`` (b0, b1[, b2]).

    Example:
        >>> ring = np.zeros((5, 5)); ring[1:4, 1:4] = 1; ring[2, 2] = 0
        >>> betti_numbers_from_diagram(compute_persistence(ring), 0.5).tolist()
        [1, 1]
    """
    if diagram.filtration == "superlevel":
        alive = (diagram.births >= threshold) & (diagram.essential | (diagram.deaths < threshold))
    else:
        alive = (diagram.births <= threshold) & (diagram.essential | (diagram.deaths > threshold))
    return np.bincount(diagram.dims[alive], minlength=len(diagram.shape))[: len(diagram.shape)].astype(np.int64)

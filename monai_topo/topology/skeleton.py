"""Skeletons and tubed skeletons of binary 2D/3D masks (numpy in, numpy out).

:func:`skeleton` is the centerline used by the clDice metric; :func:`tubed_skeleton` is the target of the Skeleton
Recall loss (Kirchhoff et al., "Skeleton Recall Loss for Connectivity Conserving and Resource Efficient Segmentation
of Thin Tubular Structures", ECCV 2024): the skeleton dilated into a thin tube and kept inside the mask.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from monai_topo.topology.validation import check_binary_mask, check_num_workers, resolve_num_workers

__all__ = ["check_tube_radius", "skeleton", "tube_footprint", "tubed_skeleton", "tubed_skeletons"]


def skeleton(mask: np.ndarray, keep_vanished: bool = True) -> np.ndarray:
    """Skeleton of a binary 2D or 3D mask (scikit-image: Zhang's method in 2D, Lee's in 3D).

    A non-empty object can thin away completely, and in 3D not only small ones: Lee's thinning removes many boxes
    with an even side whatever their length (cross-sections ``2 x 2``, ``4 x 4``, ``6 x 6``, ``1 x 4``, ...), every
    cube of even side and a patch that is entirely foreground (``16 x 16 x 16``). The fallback applies per mask, not
    per object: when the whole mask thins to nothing, the mask itself is its skeleton (so the skeleton of a
    non-empty mask is never empty); an object that vanishes next to one that keeps a skeleton gets nothing.
    ``keep_vanished=False`` turns the fallback off (the bare thinning: objects that do not touch get the
    skeletons they get alone, which is how clDice is summed over the pieces of a label).

    Example:
        >>> tube = np.zeros((5, 9), bool); tube[1:4, 1:8] = True
        >>> int(skeleton(tube).sum()), int((skeleton(tube) & ~tube).sum())
        (6, 0)
        >>> int(skeleton(np.ones((2, 2, 2), bool)).sum())  # thins away completely: the mask is kept
        8
        >>> box = np.zeros((10, 10, 30), bool); box[2:8, 2:8, 2:28] = True  # 6 x 6 x 26: thins away too
        >>> bool((skeleton(box) == box).all())
        True
        >>> both = box.copy(); both[0, 0, 5:25] = True  # ... but not next to a line that keeps its skeleton
        >>> int(skeleton(both)[box].sum()), int(skeleton(both)[0, 0].sum())
        (0, 20)
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros_like(mask)
    skel = skeletonize(mask).astype(bool)
    return skel if skel.any() or not keep_vanished else mask.copy()


def tube_footprint(ndim: int, radius: int = 2) -> np.ndarray:
    """The dilation footprint of the tube: all voxels within city-block distance ``radius`` of the centre.

    ``radius`` dilations with the face-connected cross (4-neighbourhood in 2D, 6 in 3D) give the same tube as one
    dilation with this footprint; ``radius=2`` is the Skeleton Recall paper's tube (its code dilates twice with
    scikit-image's default footprint).

    Args:
        ndim: 2 or 3.
        radius: non-negative int; ``0`` gives a single voxel (no tube).

    Raises:
        ValueError: for another ``ndim`` or a negative / non-integer ``radius``.

    Example:
        >>> tube_footprint(2, 1).astype(int).tolist()
        [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
        >>> int(tube_footprint(3, 2).sum())
        25
    """
    if ndim not in (2, 3):
        raise ValueError(f"the tube is defined for 2D and 3D masks, got ndim={ndim!r}.")
    check_tube_radius(radius)
    if radius == 0:
        return np.ones((1,) * ndim, dtype=bool)
    return ndimage.iterate_structure(ndimage.generate_binary_structure(ndim, 1), int(radius))


def check_tube_radius(radius: int, name: str = "radius") -> int:
    """Return ``radius`` as an int after checking it is a non-negative integer (the tube's half width in voxels).

    Raises:
        ValueError: for a negative number, a float or a bool.

    Example:
        >>> check_tube_radius(2)
        2
    """
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, np.integer)) or radius < 0:
        raise ValueError(f"{name} must be a non-negative int (the tube's half width in voxels), got {radius!r}.")
    return int(radius)


def tubed_skeleton(mask: np.ndarray, radius: int = 2, restrict_to_mask: bool = True) -> np.ndarray:
    """The Skeleton Recall target of one binary mask: its skeleton, dilated into a thin tube, kept in the mask.

    As in Kirchhoff et al. (ECCV 2024): the mask is skeletonised (:func:`skeleton`: scikit-image's
    ``skeletonize``, Zhang's method in 2D and Lee's 3D thinning), the skeleton is dilated by
    :func:`tube_footprint` (``radius=2``: city-block distance <= 2, the paper's "2 px tube"), and the tube is
    intersected with the mask (the paper multiplies it by the segmentation), so a tube never claims background.

    Differs from the paper's code in one case only: a mask that thins away completely keeps the whole mask as its
    tube (see :func:`skeleton`) instead of getting no tube at all. The fallback applies per mask, not per object,
    and fires on large 3D structures too (a thick box of even side, a patch that is entirely foreground): an object
    that thins away next to one that keeps its skeleton gets no tube, as in the paper.

    Args:
        mask: binary 2D or 3D array (bool, or numbers that are all 0 or 1).
        radius: tube half width in voxels (``0``: the bare skeleton).
        restrict_to_mask: intersect the tube with ``mask`` (the paper's choice, default).

    Returns:
        bool array of ``mask``'s shape; empty for an empty mask.

    Raises:
        TypeError / ValueError: for a non-binary, non-finite, empty or non-2D/3D mask, or a bad ``radius``.

    Example:
        >>> bar = np.zeros((5, 9), bool); bar[1:4, 1:8] = True  # 21 pixels, skeleton: 6 of them
        >>> int(tubed_skeleton(bar).sum()), int(tubed_skeleton(bar, restrict_to_mask=False).sum())
        (20, 36)
    """
    mask = check_binary_mask(mask)
    check_tube_radius(radius)
    skel = skeleton(mask)
    if radius > 0 and skel.any():
        skel = ndimage.binary_dilation(skel, structure=tube_footprint(mask.ndim, radius))
    if restrict_to_mask:
        skel &= mask
    return skel


def tubed_skeletons(
    masks: np.ndarray,
    spatial_dims: int,
    radius: int = 2,
    restrict_to_mask: bool = True,
    num_workers: int | None = None,
) -> np.ndarray:
    """:func:`tubed_skeleton` of every item of a stack of masks (e.g. ``B C H W [D]``), on a thread pool.

    Args:
        masks: binary array whose last ``spatial_dims`` dimensions are spatial; any leading dimensions.
        spatial_dims: 2 or 3.
        radius, restrict_to_mask: as :func:`tubed_skeleton`.
        num_workers: threads over the items; ``None`` = one per CPU core (at most one per item), ``0``/``1``:
            serial.

    Returns:
        bool array of ``masks``' shape.

    Raises:
        ValueError / TypeError: as :func:`tubed_skeleton`, for a wrong ``spatial_dims`` or bad ``num_workers``.

    Example:
        >>> masks = np.zeros((2, 3, 5, 5), bool); masks[0, 1, 2, :] = True
        >>> tubed_skeletons(masks, spatial_dims=2).sum(axis=(2, 3)).tolist()
        [[0, 5, 0], [0, 0, 0]]
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}.")
    check_num_workers(num_workers)
    masks = np.asarray(masks)
    if masks.ndim < spatial_dims:
        raise ValueError(f"masks must have at least {spatial_dims} dimensions, got shape {masks.shape}.")
    spatial = masks.shape[masks.ndim - spatial_dims :]
    items = masks.reshape((-1,) + spatial)
    out = np.zeros(items.shape, dtype=bool)

    def work(index: int) -> None:
        if items[index].any():  # an empty mask has an empty tube: skip the thinning
            out[index] = tubed_skeleton(items[index], radius=radius, restrict_to_mask=restrict_to_mask)
        else:
            check_binary_mask(items[index])

    workers = resolve_num_workers(num_workers, len(items))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(len(items))))
    else:
        for index in range(len(items)):
            work(index)
    return out.reshape(masks.shape)

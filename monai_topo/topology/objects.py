"""Where each label of a label map lies: the bounding box of every value, found in one pass.

A measure of each label of a map with many labels (instance labels: thousands of objects) is cheap when it looks
at the label's bounding box only: the Betti numbers, the Euler characteristic, the components and the skeleton of a
mask do not change when the mask is cut out with its box (the background outside a box is connected to the image
border, as a background component that touches the box is). :func:`label_boxes` finds every box in one pass
(:func:`scipy.ndimage.find_objects`), :func:`grow_box` adds the one-voxel margin the measures get, so that work per
label is proportional to the label's box, not to the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["Box", "box_size", "grow_box", "label_boxes", "union_box"]

#: a bounding box: one ``slice(start, stop)`` per axis
Box = tuple[slice, ...]

# values up to this (or up to the number of voxels) index find_objects' list directly; larger or negative values
# are numbered first (a sort)
_DIRECT_MAX = 2**16


def label_boxes(labels: np.ndarray) -> dict[int, Box]:
    """The bounding box of each non-zero value of a label map, in one pass.

    Args:
        labels: an integer (or boolean, or integer-valued float) array of any dimension; 0 is background,
            negative values are labels too.

    Returns:
        ``{value: box}`` for the values present, sorted by value (float values as ``int``).

    Example:
        >>> volume = np.zeros((4, 6), np.uint16); volume[1:3, 2] = 7; volume[3, 5] = 2
        >>> label_boxes(volume)
        {2: (slice(3, 4, None), slice(5, 6, None)), 7: (slice(1, 3, None), slice(2, 3, None))}
    """
    values = np.asarray(labels)
    if values.dtype == bool:
        values = values.view(np.uint8)
    if values.size == 0:
        return {}
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= max(_DIRECT_MAX, values.size):  # the values index find_objects' list themselves
            return {k + 1: box for k, box in enumerate(ndimage.find_objects(values)) if box is not None}
    present, inverse = np.unique(values, return_inverse=True)  # numbered 0..n-1 (a sort: large or negative values)
    boxes = ndimage.find_objects(inverse.reshape(values.shape).astype(np.intp) + 1)
    return {int(v): box for v, box in zip(present.tolist(), boxes) if v != 0 and box is not None}


def union_box(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box holding both (either may be ``None``: nothing there).

    Example:
        >>> union_box((slice(0, 2), slice(3, 4)), (slice(1, 5), slice(0, 1)))
        (slice(0, 5, None), slice(0, 4, None))
    """
    if a is None or b is None:
        return a if b is None else b
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def grow_box(box: Box, shape: Sequence[int], margin: int = 1) -> Box:
    """``box`` with ``margin`` voxels more on every side, clipped to an image of ``shape``.

    Example:
        >>> grow_box((slice(0, 2), slice(3, 4)), (5, 5))
        (slice(0, 3, None), slice(2, 5, None))
    """
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, int(n))) for s, n in zip(box, shape))


def box_size(box: Box) -> int:
    """Number of voxels of a box.

    Example:
        >>> box_size((slice(1, 3), slice(0, 4)))
        8
    """
    return int(np.prod([s.stop - s.start for s in box], dtype=np.int64))

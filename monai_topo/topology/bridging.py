"""Join the pieces of a broken structure across short gaps, with straight digital lines.

A voxel loss breaks a thin structure where the signal drops out: a neuron or a vessel comes out as a few pieces a
handful of voxels apart. Removing the small pieces (:class:`monai.transforms.RemoveSmallObjects`) removes the
split count they cause, and their true voxels with them; :func:`bridge_gaps` joins each piece to its nearest other
piece instead, when the two are at most ``max_gap`` voxels apart, by straight digital lines between their closest
voxels. The lines cost a few voxels per bridge; the piece's voxels stay.

What a bridge is, exactly:

- the pieces are the components of each label (the package's connectivity: 26 / 8 by default, 6 / 4 for the
  V-construction) of the input;
- a piece's *gap* is the smallest Euclidean distance (voxel centres, in voxels) between one of its voxels and a voxel
  of another piece of the same label; when it is at most ``max_gap``, a line is drawn for **every** pair of voxels
  (one of the piece, one of another piece) at exactly that distance. So a piece joins its nearest neighbour whether
  it is small or large, a chain of pieces joins up, and the two flat ends of a cut tube facing each other are joined
  by their whole facing cross-section;
- a line is the set of voxels nearest to the points of the segment at ``n + 1`` evenly spaced steps (``n``: the
  largest coordinate difference), both voxels where a point lies half-way between two: consecutive voxels are
  26- (8-) neighbours; under the V-construction each step adds the voxels of its 2 x 2 (x 2) box, so the line is
  face-connected;
- a line is drawn only where the input has background or its own label (never across another label), and only into
  background.

Nothing depends on the order of the voxels in memory, so a volume stored flipped or transposed is bridged the same
way (the result flipped or transposed). Two structures closer than ``max_gap`` are joined too (a merge): keep
``max_gap`` below the smallest distance between objects that must stay apart.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from scipy import ndimage

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import foreground_connectivity
from monai_topo.topology.objects import grow_box, label_boxes

__all__ = ["bridge_gaps", "digital_line"]


def digital_line(start: np.ndarray, stop: np.ndarray, face_connected: bool = False) -> np.ndarray:
    """The voxels of the straight digital line between ``start`` and ``stop`` (both included).

    The same set from ``start`` to ``stop`` as back, and mirrored with the image (see the module docstring).

    Args:
        start: integer coordinates, shape ``(ndim,)``.
        stop: integer coordinates, shape ``(ndim,)``.
        face_connected: ``True``: a 6 / 4-connected line; ``False``: a 26 / 8-connected one.

    Returns:
        ``(n, ndim)`` integer coordinates, unique, sorted.

    Example:
        >>> digital_line(np.array([0, 0]), np.array([2, 2])).tolist()
        [[0, 0], [1, 1], [2, 2]]
        >>> digital_line(np.array([0, 0]), np.array([2, 1])).tolist()     # half-way: both voxels
        [[0, 0], [1, 0], [1, 1], [2, 1]]
        >>> digital_line(np.array([0, 0]), np.array([1, 1]), face_connected=True).tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    a, b = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    steps = int(np.abs(b - a).max()) if a.size else 0
    if steps == 0:
        return a[None].copy()
    k = np.arange(steps + 1)[:, None]
    numerator = a[None] * steps + (b - a)[None] * k  # the exact point is numerator / steps
    low = numerator // steps
    twice_rest = 2 * (numerator - low * steps)
    nearest_low = np.where(twice_rest > steps, low + 1, low)  # the nearest voxel, the lower one at a half
    high = np.where(twice_rest == steps, low + 1, nearest_low)  # the upper one at a half
    if face_connected:  # each step: the whole box between this point's voxels and the next one's
        low_box = np.minimum(nearest_low[:-1], nearest_low[1:])
        high_box = np.maximum(high[:-1], high[1:])
    else:
        low_box, high_box = nearest_low, high
    voxels = []
    for lo, hi in zip(low_box, high_box):
        voxels.extend(itertools.product(*[range(int(x), int(y) + 1) for x, y in zip(lo, hi)]))
    return np.unique(np.asarray(voxels, dtype=np.int64), axis=0)


@lru_cache(maxsize=64)
def _offsets(squared: int, ndim: int) -> np.ndarray:
    """The integer offsets of squared length ``squared`` in ``ndim`` dimensions."""
    reach = int(np.floor(np.sqrt(squared)))
    axis = np.arange(-reach, reach + 1)
    grid = np.stack(np.meshgrid(*[axis] * ndim, indexing="ij"), -1).reshape(-1, ndim)
    return grid[(grid**2).sum(1) == squared]


def bridge_gaps(labels: np.ndarray, max_gap: float, connectivity: int | None = None) -> np.ndarray:
    """Join each piece of each label to its nearest other pieces of that label when they are ``max_gap`` apart or less.

    See the module docstring for the exact rule.

    Args:
        labels: a 2D or 3D label map (integers or booleans; 0 is background).
        max_gap: the largest distance (voxels, centre to centre) between the closest voxels of two pieces that are
            joined; ``0`` joins nothing. A break of ``k`` missing voxels along an axis is ``k + 1`` apart.
        connectivity: foreground connectivity (``None``: 26 in 3D / 8 in 2D; 6 / 4: the V-construction).

    Returns:
        a copy of ``labels`` with the bridges drawn (same dtype; booleans stay booleans).

    Raises:
        ValueError: for a map that is not 2D or 3D, or a negative or non-finite ``max_gap``.

    Example:
        >>> line = np.zeros((1, 12), np.uint8); line[0, :4] = 1; line[0, 7:] = 1   # a break of 3 voxels
        >>> bridge_gaps(line, max_gap=4)[0].tolist()
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        >>> int(bridge_gaps(line, max_gap=3).sum())                                  # 4 apart: too far
        9
    """
    values = np.asarray(labels)
    if values.ndim not in (2, 3):
        raise ValueError(f"bridge_gaps expects a 2D or 3D label map, got shape {values.shape}.")
    gap = float(max_gap)
    if not np.isfinite(gap) or gap < 0:
        raise ValueError(f"max_gap must be a finite number of voxels >= 0, got {max_gap!r}.")
    out = values.copy()
    if gap < 1 or not values.any():
        return out
    conn = foreground_connectivity(connectivity, values.ndim)
    face = conn in (4, 6)
    reach = int(np.floor(gap))
    for value, box in label_boxes(values).items():  # a line joins two voxels of the label: it stays in its box
        source = values[box]
        pieces, count = label_components(source == value, conn)
        if count < 2:
            continue
        target = out[box]  # a view: lines are drawn into ``out``
        for piece, piece_box in label_boxes(pieces).items():
            window = grow_box(piece_box, pieces.shape, reach)
            sub = pieces[window]
            others = (sub > 0) & (sub != piece)
            if not others.any():
                continue
            distance = ndimage.distance_transform_edt(~others)
            own = sub == piece
            squared = int(np.rint(distance[own].min() ** 2))  # distances are square roots of integers
            if squared > gap * gap + 1e-9:
                continue
            corner = np.array([s.start for s in window])
            starts = np.argwhere(own & (np.rint(distance**2) == squared))
            # every pair at the piece's gap: no choice among ties, so no dependence on the order of the voxels
            stops = starts[:, None, :] + _offsets(squared, values.ndim)[None]
            starts = np.broadcast_to(starts[:, None, :], stops.shape).reshape(-1, values.ndim)
            stops = stops.reshape(-1, values.ndim)
            inside = np.all((stops >= 0) & (stops < np.array(sub.shape)), axis=1)
            starts, stops = starts[inside], stops[inside]
            hit = others[tuple(stops.T)]
            for start, stop in zip(starts[hit] + corner, stops[hit] + corner):
                line = tuple(digital_line(start, stop, face).T)
                crossed = source[line]
                if np.all((crossed == 0) | (crossed == value)):
                    free = target[line] == 0
                    target[tuple(axis[free] for axis in line)] = value
    return out

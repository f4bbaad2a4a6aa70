"""Join the pieces of a broken structure across short gaps, with straight digital lines.

A voxel loss breaks a thin structure where the signal drops out: a neuron or a vessel comes out as a few pieces a
handful of voxels apart. Removing the small pieces (:class:`monai.transforms.RemoveSmallObjects`) removes the
split count they cause, and their true voxels with them; :func:`bridge_gaps` joins each piece to its nearest other
piece instead, when the two are at most ``max_gap`` voxels apart, by the straight digital line between their
closest voxels. The line costs a few voxels per bridge; the piece's voxels stay.

What a bridge is, exactly:

- the pieces are the components of each label (the package's connectivity: 26 / 8 by default, 6 / 4 for the
  V-construction), numbered once, before any line is drawn;
- every piece finds the voxel of another piece of the same label nearest to one of its own voxels (Euclidean
  distance between voxel centres, in voxels; ties go to the first voxel in C order); when that distance is at most
  ``max_gap`` the line between the two voxels is drawn (unless earlier lines joined the two pieces already), so
  that a piece joins its nearest neighbour whether it is small or large, and a chain of pieces joins up;
- the line is a digital line in the connectivity's sense: consecutive voxels are 26- (8-) neighbours by default,
  face neighbours (6 / 4) under the V-construction; it is drawn only through background voxels and voxels of its
  own label, never across another label.

Two structures closer than ``max_gap`` are joined too (a merge): keep ``max_gap`` below the smallest distance
between objects that must stay apart.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import foreground_connectivity
from monai_topo.topology.objects import grow_box, label_boxes

__all__ = ["bridge_gaps", "digital_line"]


def digital_line(start: np.ndarray, stop: np.ndarray, face_connected: bool = False) -> np.ndarray:
    """The voxels of the straight digital line from ``start`` to ``stop`` (both included).

    Args:
        start: integer coordinates, shape ``(ndim,)``.
        stop: integer coordinates, shape ``(ndim,)``.
        face_connected: ``True``: consecutive voxels share a face (6 / 4-connected line); ``False``: they are
            26 / 8-neighbours.

    Returns:
        ``(n, ndim)`` integer coordinates, in order from ``start`` to ``stop``.

    Example:
        >>> digital_line(np.array([0, 0]), np.array([2, 2])).tolist()
        [[0, 0], [1, 1], [2, 2]]
        >>> digital_line(np.array([0, 0]), np.array([1, 1]), face_connected=True).tolist()
        [[0, 0], [1, 0], [1, 1]]
    """
    a, b = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    steps = int(np.abs(b - a).max()) if a.size else 0
    t = np.linspace(0.0, 1.0, steps + 1)[:, None]
    points = np.rint(a[None] + (b - a)[None] * t).astype(np.int64)
    if not face_connected or len(points) < 2:
        return points
    path = [points[0]]
    for point in points[1:]:  # a diagonal step becomes one face step per axis that changes
        current = path[-1].copy()
        for axis in np.flatnonzero(point != current):
            current = current.copy()
            current[axis] = point[axis]
            path.append(current)
    return np.asarray(path, dtype=np.int64)


def bridge_gaps(labels: np.ndarray, max_gap: float, connectivity: int | None = None) -> np.ndarray:
    """Join each piece of each label to its nearest other piece of that label when they are ``max_gap`` apart or less.

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
        pieces, count = label_components(values[box] == value, conn)
        if count < 2:
            continue
        target = out[box]  # a view: lines are drawn into ``out``
        group = list(range(count + 1))  # union-find over the pieces: a pair joined already needs no second line

        def root(k: int) -> int:
            while group[k] != k:
                group[k] = group[group[k]]
                k = group[k]
            return k

        for piece, piece_box in label_boxes(pieces).items():
            window = grow_box(piece_box, pieces.shape, reach)
            sub = pieces[window]
            others = (sub > 0) & (sub != piece)
            if not others.any():
                continue
            distance, nearest = ndimage.distance_transform_edt(~others, return_indices=True)
            distance = np.where(sub == piece, distance, np.inf)
            closest = np.unravel_index(int(np.argmin(distance)), distance.shape)
            if distance[closest] > gap:
                continue
            corner = np.array([s.start for s in window])
            start = np.array(closest) + corner
            stop = np.array([axis[closest] for axis in nearest]) + corner
            partner = int(pieces[tuple(stop)])
            if root(piece) == root(partner):
                continue
            line = tuple(digital_line(start, stop, face).T)
            if np.all((target[line] == 0) | (target[line] == value)):
                target[line] = value
                group[root(piece)] = root(partner)
    return out

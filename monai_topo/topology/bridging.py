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
  26- (8-) neighbours; under the V-construction each step adds the voxels of the box between its voxels and the
  next step's, so the line is face-connected;
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
from monai_topo.topology.objects import label_boxes

__all__ = ["bridge_gaps", "digital_line"]

# lines drawn per block (a block's voxels: pairs x steps x box corners x ndim integers)
_PAIRS_PER_BLOCK = 1 << 14


def _lines(starts: np.ndarray, stops: np.ndarray, face_connected: bool) -> tuple[np.ndarray, np.ndarray]:
    """The voxels of the digital lines between ``starts[i]`` and ``stops[i]`` (see :func:`digital_line`), all at once.

    Returns:
        ``(voxels, owner)``: ``(k, ndim)`` coordinates (repeats possible) and the index of the line of each.
    """
    ndim = starts.shape[1]
    steps = np.abs(stops - starts).max(axis=1)
    voxels, owners = [np.asarray(starts)], [np.arange(len(starts))]  # the ends (also the whole of a 0-step line)
    corners = np.array(list(itertools.product(range(3 if face_connected else 2), repeat=ndim)))
    for n in np.unique(steps[steps > 0]):
        which = np.flatnonzero(steps == n)
        a, b = starts[which], stops[which]
        k = np.arange(n + 1)[None, :, None]
        numerator = a[:, None, :] * n + (b - a)[:, None, :] * k  # the exact points are numerator / n
        low = numerator // n
        twice_rest = 2 * (numerator - low * n)
        nearest = np.where(twice_rest > n, low + 1, low)  # the nearest voxel, the lower one at a half
        high = np.where(twice_rest == n, low + 1, nearest)  # the upper one at a half
        if face_connected:  # each step: the whole box between this point's voxels and the next one's
            low = np.minimum(nearest[:, :-1], nearest[:, 1:])
            high = np.maximum(high[:, :-1], high[:, 1:])
        else:
            low = nearest
        points = np.minimum(low[:, :, None, :] + corners[None, None], high[:, :, None, :])  # every voxel of a box
        voxels.append(points.reshape(-1, ndim))
        owners.append(np.repeat(which, points.shape[1] * points.shape[2]))
    return np.concatenate(voxels), np.concatenate(owners)


def digital_line(start: np.ndarray, stop: np.ndarray, face_connected: bool = False) -> np.ndarray:
    """The voxels of the straight digital line between ``start`` and ``stop`` (both included).

    The voxels nearest to the points of the segment at ``n + 1`` evenly spaced steps (``n``: the largest coordinate
    difference), both voxels where a point lies half-way between two; with ``face_connected`` each step adds the
    voxels of its box. The same set from ``start`` to ``stop`` as back, and mirrored with the image.

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
    a = np.asarray(start, dtype=np.int64).reshape(1, -1)
    b = np.asarray(stop, dtype=np.int64).reshape(1, -1)
    return np.unique(_lines(a, b, face_connected)[0], axis=0)


@lru_cache(maxsize=16)
def _shells(gap: float, ndim: int) -> tuple[np.ndarray, ...]:
    """The integer offsets of length at most ``gap``, one array per squared length, shortest first (computed once
    per ``gap`` and ``ndim``: :func:`bridge_gaps` asks for them once per label)."""
    reach = int(np.floor(gap))
    axis = np.arange(-reach, reach + 1)
    grid = np.stack(np.meshgrid(*[axis] * ndim, indexing="ij"), -1).reshape(-1, ndim)
    squared = (grid**2).sum(1)
    keep = (squared > 0) & (squared <= gap * gap + 1e-9)
    grid, squared = grid[keep], squared[keep]
    shells = tuple(grid[squared == value] for value in np.unique(squared))
    for shell in shells:
        shell.flags.writeable = False  # shared between calls
    return shells


def _gap_pairs(pieces: np.ndarray, count: int, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (voxel of a piece, voxel of another piece) at the first piece's gap, when that is <= ``gap``.

    The closest voxels of a piece to another lie on its boundary (a voxel with a neighbour outside the piece: a
    step towards the other piece would be closer), so only boundary voxels look, shell by shell of offsets, and a
    piece stops looking at the shell where it first finds another piece.
    """
    ndim = pieces.ndim
    different = (ndimage.maximum_filter(pieces, 3, mode="constant") != pieces) | (
        ndimage.minimum_filter(pieces, 3, mode="constant") != pieces
    )
    # ... and only where another piece lies in the cube of half-side ``gap`` around (separable filters: cheap)
    cube = 2 * int(np.floor(gap)) + 1
    highest = ndimage.maximum_filter(pieces, cube, mode="constant")
    lowest = ndimage.minimum_filter(np.where(pieces > 0, pieces, count + 1), cube, mode="constant", cval=count + 1)
    boundary = np.argwhere((pieces > 0) & different & ((highest != pieces) | (lowest != pieces)))
    owner = pieces[tuple(boundary.T)]
    found = np.zeros(count + 1, dtype=bool)
    shape = np.array(pieces.shape)
    starts, stops = [], []
    for shell in _shells(gap, ndim):
        looking = ~found[owner]
        if not looking.any():
            break
        voxels, ids = boundary[looking], owner[looking]
        rows = max(1, (1 << 16) // len(shell))  # bounded memory: blocks of voxels x offsets
        found_now = []
        for lo in range(0, len(voxels), rows):
            u = np.repeat(voxels[lo : lo + rows], len(shell), axis=0)
            v = (voxels[lo : lo + rows, None, :] + shell[None]).reshape(-1, ndim)
            mine = np.repeat(ids[lo : lo + rows], len(shell))
            inside = np.all((v >= 0) & (v < shape), axis=1)
            u, v, mine = u[inside], v[inside], mine[inside]
            theirs = pieces[tuple(v.T)]
            hit = (theirs > 0) & (theirs != mine)
            starts.append(u[hit])
            stops.append(v[hit])
            found_now.append(mine[hit])
        for mine in found_now:  # a piece found another at this shell: that is its gap, all its pairs are in
            found[mine] = True
    if not starts:
        empty = np.zeros((0, ndim), dtype=np.int64)
        return empty, empty
    return np.concatenate(starts).astype(np.int64), np.concatenate(stops).astype(np.int64)


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
    for value, box in label_boxes(values).items():  # a line joins two voxels of the label: it stays in its box
        source = values[box]
        pieces, count = label_components(source == value, conn)
        if count < 2:
            continue
        starts, stops = _gap_pairs(pieces, count, gap)
        if not len(starts):
            continue
        target = out[box]  # a view: lines are drawn into ``out``
        for lo in range(0, len(starts), _PAIRS_PER_BLOCK):  # bounded memory for long facing faces
            voxels, owner = _lines(starts[lo : lo + _PAIRS_PER_BLOCK], stops[lo : lo + _PAIRS_PER_BLOCK], face)
            index = tuple(voxels.T)
            crossed = source[index]
            blocked = np.zeros(len(owner) and owner.max() + 1, dtype=bool)  # a line across another label: not drawn
            blocked[owner[(crossed != 0) & (crossed != value)]] = True
            draw = ~blocked[owner]
            draw[draw] = target[tuple(axis[draw] for axis in index)] == 0
            target[tuple(axis[draw] for axis in index)] = value
    return out

"""Synthetic neuron-like 3D volumes: branching trees rendered like a fluorescence microscope stack.

Geometry lives in physical units (micrometres, voxel ``i`` is centred at ``i * spacing``). Each instance is
a tree grown by persistent random walks that branch, with radii between ``radius_range`` (thin children,
thick trunks) and, sometimes, a soma. Later trees are aimed at earlier ones so that instances cross and
nearly touch, as neurites of different cells do. Segments are drawn as tapered capsules, each in its own
bounding box, with numpy only.

The image is what a widefield / confocal / light-sheet microscope would record: the fluorophore density (dimmer
for thin branches) blurred by an anisotropic Gaussian PSF (longer along ``z``, the last axis), over an uneven,
smooth background, with Poisson shot noise and Gaussian read noise. The difficulties that make voxel losses break
neurons on real light-sheet data are built in: short **signal dropouts** along thin branches (the neurite is in
the label, the dye is not in the image: an annotator traces through, a voxel classifier sees a gap), neurites of
different cells that **touch** (trees aimed within 0-2.5 um of each other), an axial PSF three times the lateral
one, and a **signal-to-noise ratio that varies** from volume to volume (``photons`` drawn per volume).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from monai_topo.data.synthesis import resolve_shape, smooth_random_field

__all__ = ["NeuronVolume", "make_neuron_volume"]


class NeuronVolume(NamedTuple):
    """One synthetic neuron volume (arrays are indexed ``x, y, z``; unpack it as a tuple or use the fields).

    Attributes:
        image: ``float32`` fluorescence image, roughly in ``[0, 1.5]`` (photon counts / ``photons``).
        label: ``uint8`` binary mask (1 = neurite).
        instances: ``uint16`` instance map, ``0`` background and ``1..K`` one id per tree; where trees overlap
            the voxel belongs to the thicker neurite there (so a thin branch crossing a thick one is cut in
            two, the thick one stays whole). ``instances > 0`` equals ``label``.
        spacing: voxel size in micrometres, ``(x, y, z)``.
    """

    image: np.ndarray
    label: np.ndarray
    instances: np.ndarray
    spacing: tuple[float, float, float]


# segment table columns: p0 (3), p1 (3), r0, r1, brightness, instance
_SEG_COLS = 10
_CORNERS = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]


def _euler_lut() -> np.ndarray:
    """8 x the Euler-characteristic contribution of a lattice vertex, per 2x2x2 voxel configuration.

    T-construction (union of closed voxels): the vertex counts once if any of its 8 voxels is set, each of
    its 6 edges (present if any of the 4 voxels around it is set) counts -1/2, each of its 12 faces
    (between 2 voxels) +1/4, each voxel -1/8. Summed over all vertices this is ``euler_characteristic``.
    """
    lut = np.zeros(256, np.int64)
    for config in range(256):
        on = {c for k, c in enumerate(_CORNERS) if config >> k & 1}
        edges = sum(any(c in on for c in _CORNERS if c[a] == side) for a in range(3) for side in (0, 1))
        faces = 0
        for c in _CORNERS:
            for a in range(3):
                if c[a] == 0:
                    d = list(c)
                    d[a] = 1
                    faces += (c in on) or (tuple(d) in on)
        lut[config] = 8 * bool(on) - 4 * edges + 2 * faces - len(on)
    return lut


_EULER_LUT = _euler_lut()


def _euler_numbers(masks: np.ndarray) -> np.ndarray:
    """Euler characteristics (T-construction) of a stack of 3D masks ``(n, x, y, z)``, in one pass."""
    n, sx, sy, sz = masks.shape
    sx, sy, sz = sx + 2, sy + 2, sz + 2
    padded = np.zeros((n, sx, sy, sz), np.uint8)
    padded[:, 1:-1, 1:-1, 1:-1] = masks
    config = np.zeros((n, sx - 1, sy - 1, sz - 1), np.uint8)
    for k, (a, b, c) in enumerate(_CORNERS):
        config |= padded[:, a : a + sx - 1, b : b + sy - 1, c : c + sz - 1] << k
    return _EULER_LUT[config].reshape(n, -1).sum(axis=1) // 8


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _rotate_away(direction: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """``direction`` turned by ``angle`` (radians) around a random perpendicular axis."""
    perp = np.cross(direction, _random_unit(rng))
    perp /= max(np.linalg.norm(perp), 1e-12)
    new = np.cos(angle) * direction + np.sin(angle) * perp
    return new / np.linalg.norm(new)


def _capsule(
    p0: np.ndarray, p1: np.ndarray, r0: float, r1: float, reach: float, spacing: np.ndarray, shape: np.ndarray
) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray] | None:
    """Distance to the axis and local radius of a tapered capsule, on the voxels within ``reach`` of its axis.

    Returns:
        ``(window, dist, radius)`` with ``window`` the slices of the bounding box in the grid, or ``None``
        when the box is outside the grid.
    """
    lo = np.maximum(np.floor((np.minimum(p0, p1) - reach) / spacing).astype(int), 0)
    hi = np.minimum(np.ceil((np.maximum(p0, p1) + reach) / spacing).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return None
    gx = (np.arange(lo[0], hi[0]) * spacing[0] - p0[0])[:, None, None]
    gy = (np.arange(lo[1], hi[1]) * spacing[1] - p0[1])[None, :, None]
    gz = (np.arange(lo[2], hi[2]) * spacing[2] - p0[2])[None, None, :]
    v = p1 - p0
    vv = float(v @ v)
    if vv > 1e-12:
        t = np.clip((gx * v[0] + gy * v[1] + gz * v[2]) / vv, 0.0, 1.0)
        dist = np.sqrt((gx - t * v[0]) ** 2 + (gy - t * v[1]) ** 2 + (gz - t * v[2]) ** 2)
        radius = r0 + t * (r1 - r0)
    else:  # a sphere (soma)
        dist = np.sqrt(gx**2 + gy**2 + gz**2)
        radius = np.full(dist.shape, float(r0))
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), dist, radius


class _TreeMask:
    """The label of one growing tree, to refuse segments that would change its topology (make a loop)."""

    def __init__(self, shape: tuple[int, int, int], spacing: np.ndarray, label_min_radius: float) -> None:
        self.mask = np.zeros(shape, bool)
        self.shape = np.asarray(shape)
        self.spacing = spacing
        self.label_min_radius = label_min_radius
        self.empty = True

    def add(self, p0: np.ndarray, p1: np.ndarray, r0: float, r1: float) -> bool:
        """Draw the segment if the tree stays one component without loops or cavities; return whether it was.

        The Euler characteristic is local: it is compared before and after on the segment's box grown by a
        voxel. A segment that starts inside the tree must leave it unchanged (a new loop lowers it, a new
        cavity raises it); the first segment of a tree adds one component.
        """
        reach = max(r0, r1, self.label_min_radius) + float(self.spacing.max())
        capsule = _capsule(p0, p1, r0, r1, reach, self.spacing, self.shape)
        if capsule is None:
            return True  # outside the field of view: nothing to draw
        window, dist, radius = capsule
        before = self.mask[window]
        after = before | (dist <= np.maximum(radius, self.label_min_radius))
        chi_before, chi_after = _euler_numbers(np.stack([before, after]))
        if chi_after - chi_before != int(self.empty):
            return False
        self.mask[window] = after
        self.empty = False
        return True


def _touches_tree(tip: np.ndarray, radius: float, points: np.ndarray, radii: np.ndarray, checked: np.ndarray) -> float:
    """Smallest surface gap between a tip and the ``checked`` tips of the tree."""
    if not checked.any():
        return np.inf
    n = checked.size
    gaps = np.linalg.norm(points[:n][checked] - tip, axis=1) - radii[:n][checked] - radius
    return float(gaps.min())


def _grow_tree(
    rng: np.random.Generator,
    root: np.ndarray,
    shape: tuple[int, int, int],
    spacing: np.ndarray,
    instance: int,
    radius_range: tuple[float, float],
    branch_probability: float,
    max_segments: int,
    target: np.ndarray | None,
    soma_probability: float,
) -> list[list[float]]:
    """Segments of one tree grown from ``root``; the first branch heads for ``target`` when one is given.

    Branches are persistent random walks of steps of 2.5 x the finest spacing that fork at random. They keep
    clear of the rest of their own tree: a tip whose label surface would come within a voxel diagonal (plus
    one step, as only tips are compared) of another part of the tree turns away, or the branch stops; only
    a young branch may approach its parent near the branch point. A segment that would still close a loop
    or a cavity in the voxelised tree is refused the same way (:class:`_TreeMask`), so each instance is a
    tree: loops only appear where different instances cross or touch. Branches are grown breadth first, so
    the tips of each branch are contiguous in the tip table.
    """
    r_min, r_max = radius_range
    extent = (np.asarray(shape) - 1) * spacing
    step = 2.5 * float(spacing.min())
    label_min_radius = 0.5 * float(np.linalg.norm(spacing)) + 1e-3
    clearance = 2.0 * label_min_radius + step + 0.1
    canvas = _TreeMask(shape, spacing, label_min_radius)
    brightness = rng.uniform(0.75, 1.0)
    segments: list[list[float]] = []
    points = np.zeros((max_segments + 1, 3))  # tips drawn so far (and the soma)
    radii = np.zeros(max_segments + 1)
    n_points = 0
    soma = 0.0
    if rng.random() < soma_probability:
        soma = rng.uniform(1.3, 1.7) * r_max
        canvas.add(root, root, soma, soma)
        segments.append([*root, *root, soma, soma, brightness, instance])
        points[0], radii[0], n_points = root, soma, 1
    # a young branch may come near the tips of its parent within ``near`` tips of its branch point;
    # a branch may touch its own last ``own`` tips
    near = int(np.ceil((clearance + 2 * r_max + soma) / (step * np.sin(0.7)))) + 1
    own = int(np.ceil((clearance + 2 * max(r_max, label_min_radius)) / step)) + 1
    # branches to grow: origin, direction, radius, number of steps, attractor, branch point (tip index)
    queue = []
    for k in range(int(rng.integers(2, 4))):
        if k == 0 and target is not None:
            direction = (target - root) / max(np.linalg.norm(target - root), 1e-9)
            attractor = target
        else:
            direction = _random_unit(rng)
            attractor = None
        radius = rng.uniform(0.7 * r_max + 0.3 * r_min, r_max)
        queue.append((root.copy(), direction, radius, int(rng.integers(30, 70)), attractor, None))
    primary_starts: list[int] = []
    while queue and len(segments) < max_segments:
        origin, direction, radius, steps, attractor, branch_point = queue.pop(0)
        first = n_points
        exempt = np.zeros(max_segments + 1, bool)
        if branch_point is None:  # a primary branch: the soma and the stems of the other primaries
            exempt[: int(soma > 0)] = True
            for start in primary_starts:
                exempt[start : start + near] = True
            primary_starts.append(first)
        else:
            exempt[max(branch_point - near, 0) : branch_point + near + 1] = True
        pos = origin
        tortuosity = rng.uniform(0.15, 0.35)
        branch_brightness = brightness * rng.uniform(0.8, 1.1)
        for _ in range(steps):
            if len(segments) >= max_segments:
                break
            drift = tortuosity * rng.normal(size=3)
            if attractor is not None:
                to_target = attractor - pos
                dist = np.linalg.norm(to_target)
                if dist < 2.0 * step or np.dot(to_target, direction) < 0:
                    attractor = None  # reached or passed: carry on straight through
                else:
                    drift += 0.6 * to_target / dist
            direction = direction + drift
            direction /= np.linalg.norm(direction)
            new_radius = max(r_min, radius * rng.uniform(0.985, 1.0))
            checked = ~exempt[:n_points] if n_points - first < near else np.ones(n_points, bool)
            checked[max(first, n_points - own) :] = False
            for _attempt in range(4):  # turn away from the own tree, give up after a few tries
                new_pos = pos + step * direction
                gap = _touches_tree(new_pos, max(new_radius, label_min_radius), points, radii, checked)
                if gap >= clearance and canvas.add(pos, new_pos, radius, new_radius):
                    break
                direction = _rotate_away(direction, rng.uniform(0.5, 1.2), rng)
            else:
                break
            segments.append([*pos, *new_pos, radius, new_radius, branch_brightness, instance])
            points[n_points], radii[n_points] = new_pos, max(new_radius, label_min_radius)
            n_points += 1
            pos, radius = new_pos, new_radius
            if np.any(pos < 0) or np.any(pos > extent):
                break  # the branch left the field of view
            if rng.random() < branch_probability:
                child_radius = max(r_min, radius * rng.uniform(0.5, 0.85))
                child_dir = _rotate_away(direction, rng.uniform(0.7, 1.3), rng)
                queue.append((pos.copy(), child_dir, child_radius, int(rng.integers(10, 45)), None, n_points - 1))
                radius = max(r_min, radius * 0.92)
    return segments


def _draw_segments(
    segments: np.ndarray, shape: tuple[int, int, int], spacing: np.ndarray, label_min_radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Voxelise tapered capsules: the emission (soft-edged, brightness-weighted) and the instance owning each voxel."""
    emission = np.zeros(shape, np.float32)
    owner = np.zeros(shape, np.uint16)  # 0 = background
    owner_radius = np.zeros(shape, np.float32)  # radius of the capsule that owns the voxel
    shape_arr = np.asarray(shape)
    edge = float(spacing.min())  # width of the soft edge of the emission
    for seg in segments:
        p0, p1 = seg[0:3], seg[3:6]
        r0, r1, brightness, instance = seg[6], seg[7], seg[8], int(seg[9])
        capsule = _capsule(p0, p1, r0, r1, max(r0, r1, label_min_radius) + edge, spacing, shape_arr)
        if capsule is None:
            continue
        window, dist, radius = capsule
        # label: radius floored so that every capsule is sampled by a 26-connected run of voxels
        label_radius = np.maximum(radius, label_min_radius).astype(np.float32)
        # emission: partial-volume occupancy of the (labelled) capsule; thin branches carry less dye
        occupancy = np.clip(0.5 - (dist - label_radius) / edge, 0.0, 1.0)
        view = emission[window]
        np.maximum(view, (occupancy * brightness).astype(np.float32), out=view)
        # where instances overlap the thicker neurite wins (it is drawn over the thin one)
        inside = dist <= label_radius
        radius_view = owner_radius[window]
        wins = inside & (label_radius > radius_view)
        radius_view[wins] = label_radius[wins]
        owner[window][wins] = instance
    return emission, owner


def _branch_brightness(segments: np.ndarray, radius_range: tuple[float, float]) -> np.ndarray:
    """Scale each segment's brightness by its radius (in place): thin branches are dim. Returns the relative radius."""
    r_min, r_max = radius_range
    mean_r = 0.5 * (segments[:, 6] + segments[:, 7])
    rel = np.clip((mean_r - r_min) / max(r_max - r_min, 1e-6), 0.0, 1.0)
    segments[:, 8] *= 0.6 + 0.4 * rel
    return rel


def _signal_dropouts(segments: np.ndarray, thinness: np.ndarray, probability: float, rng: np.random.Generator) -> int:
    """Dim short runs of consecutive segments to 5-25 % of their brightness (in place); returns how many runs.

    A run starts at a segment with probability ``probability * thinness`` (``thinness`` = 1 for the thinnest
    neurites, 0 for the thickest, so trunks rarely drop out) and lasts 1-3 segments (2.5-7.5 finest voxels) of the
    same tree. Somata (zero-length segments) never drop out. The label is left as it is.
    """
    runs, left, factor = 0, 0, 1.0
    draws = rng.random(len(segments))
    lengths = rng.integers(1, 4, size=len(segments))
    factors = rng.uniform(0.05, 0.25, size=len(segments))
    for i, seg in enumerate(segments):
        if np.allclose(seg[0:3], seg[3:6]):
            left = 0
            continue
        if left == 0 and draws[i] < probability * thinness[i]:
            left, factor = int(lengths[i]), float(factors[i])
            runs += 1
        if left > 0:
            seg[8] *= factor
            left -= 1
            if i + 1 < len(segments) and segments[i + 1, 9] != seg[9]:
                left = 0  # a run never continues into another tree
    return runs


def make_neuron_volume(
    size: int | Sequence[int] = 96,
    seed: int | None = 0,
    num_instances: int | tuple[int, int] = (2, 4),
    spacing: Sequence[float] = (1.0, 1.0, 2.0),
    radius_range: tuple[float, float] = (1.0, 3.0),
    branch_probability: float = 0.06,
    crossing_probability: float = 0.8,
    soma_probability: float = 0.4,
    psf_sigma: Sequence[float] = (0.6, 0.6, 1.8),
    photons: float | tuple[float, float] = (25.0, 120.0),
    background: float = 0.1,
    read_noise: float = 2.0,
    dropout_probability: float = 0.08,
    touch_distance: float = 2.5,
) -> NeuronVolume:
    """A synthetic fluorescence-microscopy volume of several branching neurites, with binary and instance labels.

    Args:
        size: grid size, an int (cube) or ``(nx, ny, nz)``. 64-96 keeps CPU training fast.
        seed: seed of the random generator; the same seed gives byte-identical arrays.
        num_instances: number of trees, or an inclusive ``(low, high)`` range to draw it from.
        spacing: voxel size in micrometres (``z`` is the last axis, coarser as in confocal stacks).
        radius_range: neurite radii in micrometres, thin (children) to thick (trunks). The label floors the
            radius at half the voxel diagonal so that every branch stays 26-connected; the image does not.
        branch_probability: chance that a branch forks at each step (one step = 2.5 x the finest spacing).
        crossing_probability: chance that each tree after the first is aimed at an earlier one (it then
            crosses it, touches it or passes within ``touch_distance`` micrometres of its axis).
        soma_probability: chance that a tree has a cell body (a sphere of about 1.5 ``radius_range[1]``).
        psf_sigma: standard deviations of the Gaussian point spread function in micrometres (x, y, z).
        photons: expected photon count of the brightest structure (lower = noisier), or a ``(low, high)`` range
            to draw it from per volume (log-uniform), so that the signal-to-noise ratio varies between volumes.
        background: mean background level relative to the brightest structure; it varies smoothly in space.
        read_noise: standard deviation of the camera read noise, in photons.
        dropout_probability: chance per step of a thin branch that a signal dropout starts there (1-3 steps dimmed
            to 5-25 %, scaled down for thicker branches; ``0``: none). The label keeps the neurite.
        touch_distance: largest offset, in micrometres, between the axis of an earlier tree and the point a later
            tree is aimed at (small values make touching neurites of different cells common).

    Returns:
        a :class:`NeuronVolume` ``(image, label, instances, spacing)``.

    Raises:
        ValueError: for bad sizes, spacings, radii or numbers of instances.

    Example:
        >>> image, label, instances, spacing = make_neuron_volume(32, seed=0)
        >>> image.dtype, label.dtype, instances.dtype, spacing
        (dtype('float32'), dtype('uint8'), dtype('uint16'), (1.0, 1.0, 2.0))
        >>> bool(((instances > 0) == (label > 0)).all()) and int(instances.max()) >= 2
        True
    """
    shape = resolve_shape(size)
    sp = np.asarray([float(s) for s in spacing], np.float64)
    if sp.shape != (3,) or np.any(sp <= 0):
        raise ValueError(f"spacing must be three positive numbers, got {spacing!r}.")
    r_min, r_max = (float(r) for r in radius_range)
    if not 0 < r_min <= r_max:
        raise ValueError(f"radius_range must be (low, high) with 0 < low <= high, got {radius_range!r}.")
    low, high = (num_instances, num_instances) if isinstance(num_instances, (int, np.integer)) else num_instances
    if not 1 <= int(low) <= int(high):
        raise ValueError(
            f"num_instances must be >= 1 or a range (low, high) with 1 <= low <= high, got {num_instances!r}."
        )
    if not 0.0 <= float(dropout_probability) <= 1.0:
        raise ValueError(f"dropout_probability must be in [0, 1], got {dropout_probability!r}.")
    if not float(touch_distance) >= 0.0:
        raise ValueError(f"touch_distance must be >= 0, got {touch_distance!r}.")
    photon_range = (photons, photons) if isinstance(photons, (int, float, np.number)) else tuple(photons)
    if len(photon_range) != 2 or not 0 < float(photon_range[0]) <= float(photon_range[1]):
        raise ValueError(f"photons must be > 0 or a range (low, high) with 0 < low <= high, got {photons!r}.")
    rng = np.random.default_rng(seed)
    extent = (np.asarray(shape) - 1) * sp
    label_min_radius = 0.5 * float(np.linalg.norm(sp)) + 1e-3
    count = int(rng.integers(int(low), int(high) + 1))
    max_segments = int(4 * np.prod(shape) ** (1 / 3))  # about a few field-of-view lengths of neurite per tree

    segments: list[list[float]] = []
    for instance in range(1, count + 1):
        target = None
        if segments and rng.random() < crossing_probability:
            # aim at a point of an earlier tree, offset sideways by 0-4 um: a crossing or a near-touch
            previous = np.asarray(segments)
            point = previous[rng.integers(len(previous)), 0:3]
            target = np.clip(point + rng.uniform(0.0, float(touch_distance)) * _random_unit(rng), 0, extent)
            root = np.clip(
                target + rng.uniform(0.2, 0.4) * extent.min() * _random_unit(rng), 0.1 * extent, 0.9 * extent
            )
        else:
            root = rng.uniform(0.2, 0.8, size=3) * extent
        segments += _grow_tree(
            rng, root, shape, sp, instance, (r_min, r_max), branch_probability, max_segments, target, soma_probability
        )
    table = np.asarray(segments, np.float64).reshape(-1, _SEG_COLS)
    thinness = 1.0 - _branch_brightness(table, (r_min, r_max))
    if dropout_probability > 0:
        _signal_dropouts(table, thinness, float(dropout_probability), rng)
    emission, owner = _draw_segments(table, shape, sp, label_min_radius)

    label = owner > 0
    present = np.unique(owner[label])
    relabel = np.zeros(count + 1, np.uint16)
    relabel[present] = np.arange(1, len(present) + 1, dtype=np.uint16)
    instances = relabel[owner]

    # microscope: PSF blur, uneven background, shot and read noise
    blurred = ndimage.gaussian_filter(emission, sigma=tuple(np.asarray(psf_sigma, float) / sp), mode="constant")
    uneven = np.clip(1.0 + 0.45 * smooth_random_field(shape, rng, num_waves=2), 0.2, None)
    haze = ndimage.uniform_filter(blurred, size=(9, 9, 5), mode="nearest")  # out-of-focus light
    low, high = (float(v) for v in photon_range)
    volume_photons = float(np.exp(rng.uniform(np.log(low), np.log(high)))) if high > low else low
    expected = volume_photons * (blurred + background * uneven + 0.4 * haze)
    counts = rng.poisson(np.maximum(expected, 0.0)).astype(np.float32)
    counts += rng.normal(0.0, read_noise, size=shape).astype(np.float32)
    image = (counts / np.float32(volume_photons)).astype(np.float32)
    return NeuronVolume(image, label.astype(np.uint8), instances, tuple(float(s) for s in sp))

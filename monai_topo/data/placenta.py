"""Synthetic placenta-like 3D volumes: a curved thick disc in a uterus, rendered like 3D ultrasound.

Geometry is defined on the grid normalised to ``[-1, 1]`` per axis, so a volume looks the same at every size
(only the resolution changes). The uterus is an ellipsoidal fluid-filled cavity with a muscular wall; the
placenta is a bent ellipsoidal slab lining part of the inner wall (a cap of the shell between two concentric
ellipsoids, thickest in its middle, with lobulated thickness), so its label is a topological ball:
Betti numbers ``(1, 0, 0)``, checked with :func:`monai_topo.topology.betti_numbers` (and repaired or drawn
again if voxelisation ever broke it). A fetus-like blob floats in the fluid and a strongly reflecting,
bone-like object casts an acoustic shadow.

The ultrasound model: tissue echogenicity (with blurry boundaries) times correlated complex Gaussian
scatterers filtered by the point spread function (Rayleigh speckle, multiplicative), attenuated with depth
(axis 0 is depth, the probe is at index 0) and behind the reflector, then log-compressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from monai_topo.data.synthesis import resolve_shape, smooth_random_field
from monai_topo.topology import betti_numbers, label_components

__all__ = ["PlacentaVolume", "make_placenta_volume", "PLACENTA_TOPOLOGY"]

#: Betti numbers ``(b0, b1, b2)`` of every placenta label: one component, no tunnel, no cavity.
PLACENTA_TOPOLOGY = (1, 0, 0)


class PlacentaVolume(NamedTuple):
    """One synthetic placenta volume (arrays indexed ``x, y, z``, axis 0 is the ultrasound depth).

    Attributes:
        image: ``float32`` log-compressed ultrasound intensity in ``[0, 1]``.
        label: ``uint8`` binary placenta mask with Betti numbers :data:`PLACENTA_TOPOLOGY`.
        spacing: voxel size in millimetres (isotropic by default).
    """

    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, float, float]


def _random_rotation(rng: np.random.Generator, max_angle: float) -> np.ndarray:
    """A rotation matrix by an angle up to ``max_angle`` (radians) around a random axis (Rodrigues)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(-max_angle, max_angle)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _ellipsoid_radius(coords: list[np.ndarray], center: np.ndarray, axes: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Normalised ellipsoidal radius ``|R (q - c) / a|`` on the grid (``< 1`` inside the ellipsoid)."""
    d = [c - center[i] for i, c in enumerate(coords)]  # broadcastable per-axis offsets
    total = 0.0
    for row in range(3):
        local = rot[row, 0] * d[0] + rot[row, 1] * d[1] + rot[row, 2] * d[2]
        total = total + (local / axes[row]) ** 2
    return np.sqrt(total)


def _placenta_geometry(
    shape: tuple[int, int, int], rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw one uterus + placenta scene: the placenta mask and the tissue masks/maps used for rendering."""
    coords = [np.linspace(-1.0, 1.0, n).reshape([-1 if a == i else 1 for a in range(3)]) for i, n in enumerate(shape)]
    voxel = 2.0 / (np.asarray(shape) - 1)  # normalised voxel size per axis
    # uterus: an ellipsoidal cavity with a wall, roughly centred, slightly deeper than the middle
    center = np.array([0.1, 0.0, 0.0]) + rng.uniform(-0.05, 0.05, 3)
    axes = np.array([0.7, 0.8, 0.78]) * rng.uniform(0.92, 1.06, 3)
    rot = _random_rotation(rng, 0.35)
    rho = _ellipsoid_radius(coords, center, axes, rot)
    wall = rng.uniform(0.12, 0.16)  # wall thickness in units of rho
    cavity = rho < 1.0
    uterus = rho < 1.0 + wall

    # placenta: a cap of the shell 1 - t(q) <= rho <= 1 + embed lining the wall around direction n
    normal = rng.normal(size=3)
    normal[0] = abs(normal[0]) * rng.choice([-1.0, 1.0], p=[0.4, 0.6])  # posterior (deep) wall more often
    normal /= np.linalg.norm(normal)
    # local frame (u, v along the wall, n outwards) in the ellipsoid's own coordinates
    helper = np.array([0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e_u = np.cross(normal, helper)
    e_u /= np.linalg.norm(e_u)
    e_v = np.cross(normal, e_u)
    d = [c - center[i] for i, c in enumerate(coords)]
    local = [rot[r, 0] * d[0] + rot[r, 1] * d[1] + rot[r, 2] * d[2] for r in range(3)]
    unit = [local[r] / axes[r] for r in range(3)]  # the ellipsoid mapped to the unit sphere
    along_n = unit[0] * normal[0] + unit[1] * normal[1] + unit[2] * normal[2]
    su = unit[0] * e_u[0] + unit[1] * e_u[1] + unit[2] * e_u[2]
    sv = unit[0] * e_v[0] + unit[1] * e_v[1] + unit[2] * e_v[2]
    # footprint: an ellipse in the angular coordinates around n (a cap of the sphere)
    half_u, half_v = rng.uniform(0.58, 0.78), rng.uniform(0.5, 0.7)  # below 0.8: a cap, not a hemisphere
    safe = np.maximum(rho, 1e-6)
    footprint = ((su / safe / half_u) ** 2 + (sv / safe / half_v) ** 2 <= 1.0) & (along_n > 0)
    radial = np.clip(1.0 - (su / safe / half_u) ** 2 - (sv / safe / half_v) ** 2, 0.0, 1.0)
    # thickness in rho units: a minimum at the rim (at least ~2.5 voxels), thick in the middle, lobulated
    min_t = 2.5 * float(voxel.max()) / float(axes.min())
    max_t = max(rng.uniform(0.26, 0.36), 2.0 * min_t)
    lobes = smooth_random_field(shape, rng, num_waves=4)
    thickness = min_t + (max_t - min_t) * np.sqrt(radial) * np.clip(1.0 + 0.12 * lobes, 0.7, 1.3)
    embed = 0.3 * wall  # the maternal side sinks a little into the wall
    placenta = footprint & (rho >= 1.0 - thickness) & (rho <= 1.0 + embed)

    # fetus-like blob in the fluid, and a bone-like strong reflector (shallower than the placenta, often)
    fetus_center = center + rot.T @ (-normal * rng.uniform(0.25, 0.45) * axes)
    fetus = _ellipsoid_radius(coords, fetus_center, axes * rng.uniform(0.28, 0.4, 3), _random_rotation(rng, np.pi)) < 1
    fetus &= cavity & ~placenta
    reflector_center = fetus_center + rng.uniform(-0.12, 0.12, 3)
    reflector_center[0] = min(reflector_center[0], center[0]) - rng.uniform(0.0, 0.2)
    reflector_axes = rng.uniform(0.05, 0.09, 3) * np.array([0.6, 1.5, 1.5])
    reflector = _ellipsoid_radius(coords, reflector_center, reflector_axes, _random_rotation(rng, 0.4)) < 1
    reflector &= ~placenta
    maps = {"cavity": cavity, "uterus": uterus, "fetus": fetus, "reflector": reflector}
    return placenta, maps


def _repair(mask: np.ndarray) -> np.ndarray:
    """Largest 26-connected component, with enclosed background (cavities, 6-connected) filled."""
    labels, n = label_components(mask, 26)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(mask)


def _render_ultrasound(
    placenta: np.ndarray, maps: dict[str, np.ndarray], rng: np.random.Generator, speckle_sigma: Sequence[float]
) -> np.ndarray:
    """Echogenicity -> speckle -> attenuation and shadowing -> log compression, all vectorised."""
    shape = placenta.shape
    voxel_depth = 2.0 / (shape[0] - 1)
    texture = np.clip(smooth_random_field(shape, rng, num_waves=5), -2.5, 2.5)  # keeps echogenicity positive
    echo = np.full(shape, 0.5, np.float32) * (1.0 + 0.3 * texture)  # maternal soft tissue
    echo[maps["uterus"]] = 0.3  # myometrium
    echo[maps["cavity"]] = 0.035  # amniotic fluid (anechoic)
    echo[maps["fetus"]] = 0.32
    # a hypoechoic retroplacental band between the placenta and the myometrium
    echo[ndimage.binary_dilation(placenta, iterations=2) & maps["uterus"] & ~maps["cavity"]] = 0.15
    echo[placenta] = 0.75 * (1.0 + 0.12 * texture[placenta])  # homogeneous granular placenta
    # chorionic plate: a bright line in the fluid along the fetal surface of the placenta
    plate = ndimage.binary_dilation(placenta) & maps["cavity"] & ~placenta
    echo[plate] = 0.95
    echo[maps["reflector"]] = 3.0
    echo = ndimage.gaussian_filter(echo, 0.9)  # blurry tissue boundaries

    # attenuation along depth (axis 0), strongest through the reflector: acoustic shadow behind it
    attenuation = np.full(shape, 1.0, np.float32)
    attenuation[maps["cavity"]] = 0.1
    attenuation[maps["reflector"]] = 60.0
    depth_loss = np.cumsum(attenuation, axis=0) * np.float32(0.55 * voxel_depth)
    gain = np.exp(-ndimage.gaussian_filter(depth_loss, (0.0, 1.2, 1.2)))
    gain *= np.linspace(0.75, 1.25, shape[0], dtype=np.float32)[:, None, None]  # partial time-gain compensation

    # speckle: scatterers (complex Gaussian) filtered by the PSF -> Rayleigh envelope, mean about 1
    sigma = tuple(float(s) for s in speckle_sigma)
    real = ndimage.gaussian_filter(rng.standard_normal(shape, np.float32), sigma)
    imag = ndimage.gaussian_filter(rng.standard_normal(shape, np.float32), sigma)
    envelope = np.sqrt(real**2 + imag**2)
    envelope /= envelope.mean()

    signal = echo * gain * envelope + np.float32(0.01) * np.abs(rng.standard_normal(shape, np.float32))
    image = np.log1p(12.0 * np.maximum(signal, 0.0)) / np.log1p(12.0 * 1.6)  # log compression to about [0, 1]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def make_placenta_volume(
    size: int | Sequence[int] = 96,
    seed: int | None = 0,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    speckle_sigma: Sequence[float] = (0.6, 1.1, 1.1),
    max_attempts: int = 10,
) -> PlacentaVolume:
    """A synthetic 3D-ultrasound volume of a placenta in a uterus, with a label of topology ``(1, 0, 0)``.

    Args:
        size: grid size, an int (cube) or ``(nx, ny, nz)``; the anatomy scales with the grid.
        seed: seed of the random generator; the same seed gives byte-identical arrays.
        spacing: voxel size in millimetres, written to the NIfTI header by the dataset writer.
        speckle_sigma: point spread function of the scanner in voxels (depth, lateral, elevation); larger
            values give coarser speckle grains.
        max_attempts: scenes drawn before giving up when a label cannot be made a topological ball.

    Returns:
        a :class:`PlacentaVolume` ``(image, label, spacing)``.

    Raises:
        ValueError: for bad sizes or spacings.
        RuntimeError: if no valid placenta was drawn in ``max_attempts`` scenes (not seen in practice).

    Example:
        >>> image, label, spacing = make_placenta_volume(32, seed=0)
        >>> image.dtype, label.dtype, betti_numbers(label).tolist()
        (dtype('float32'), dtype('uint8'), [1, 0, 0])
    """
    shape = resolve_shape(size)
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3 or any(s <= 0 for s in sp):
        raise ValueError(f"spacing must be three positive numbers, got {spacing!r}.")
    rng = np.random.default_rng(seed)
    min_voxels = 0.003 * np.prod(shape)
    for _ in range(max_attempts):
        placenta, maps = _placenta_geometry(shape, rng)
        if tuple(betti_numbers(placenta).tolist()) != PLACENTA_TOPOLOGY:
            placenta = _repair(placenta)
        if tuple(betti_numbers(placenta).tolist()) == PLACENTA_TOPOLOGY and placenta.sum() >= min_voxels:
            break
    else:
        raise RuntimeError(
            f"could not draw a placenta with Betti numbers {PLACENTA_TOPOLOGY} in {max_attempts} attempts "
            f"(size={size!r}, seed={seed!r}); try another seed or a larger size."
        )
    image = _render_ultrasound(placenta, maps, rng, speckle_sigma)
    return PlacentaVolume(image, placenta.astype(np.uint8), sp)

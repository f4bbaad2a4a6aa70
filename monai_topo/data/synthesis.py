"""Small building blocks shared by the synthetic volume generators: seeds, shapes and smooth random fields.

Everything is vectorised numpy and deterministic given a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["case_seed", "resolve_shape", "smooth_random_field"]


def case_seed(seed: int, index: int) -> int:
    """Seed of case ``index`` of a dataset generated with ``seed`` (independent streams, stable across runs).

    Args:
        seed: the dataset seed (a non-negative integer).
        index: the case number, from 0.

    Returns:
        a non-negative ``int`` below ``2**32``, to pass to ``make_neuron_volume`` / ``make_placenta_volume``.

    Example:
        >>> case_seed(0, 1) == case_seed(0, 1), case_seed(0, 1) != case_seed(0, 2)
        (True, True)
    """
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(f"seed and index must be non-negative integers, got seed={seed!r}, index={index!r}.")
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def resolve_shape(size: int | Sequence[int]) -> tuple[int, int, int]:
    """A 3D shape from ``size``: an int ``n`` gives ``(n, n, n)``; a sequence of 3 ints is used as is.

    Raises:
        ValueError: for fewer than 16 voxels along an axis or a sequence that is not of length 3.

    Example:
        >>> resolve_shape(32), resolve_shape((32, 40, 24))
        ((32, 32, 32), (32, 40, 24))
    """
    if isinstance(size, (int, np.integer)):
        shape = (int(size),) * 3
    else:
        shape = tuple(int(s) for s in size)
    if len(shape) != 3 or any(s < 16 for s in shape):
        raise ValueError(f"size must be an int >= 16 or a sequence of three ints >= 16, got {size!r}.")
    return shape  # type: ignore[return-value]


def smooth_random_field(shape: Sequence[int], rng: np.random.Generator, num_waves: int = 3) -> np.ndarray:
    """A smooth random 3D field of zero mean and unit standard deviation (low spatial frequencies only).

    The field is a random combination of the products of ``cos``/``sin`` waves of up to ``num_waves``
    half periods along each axis, evaluated separably (three ``tensordot``), so it costs far less than
    filtering noise with a wide Gaussian.

    Args:
        shape: the 3D output shape.
        rng: the random generator.
        num_waves: the highest frequency, in half periods across the volume (1 = a gentle gradient).

    Returns:
        a ``float32`` array of ``shape``.

    Example:
        >>> f = smooth_random_field((16, 20, 24), np.random.default_rng(0))
        >>> f.shape, abs(float(f.mean())) < 1e-5, abs(float(f.std()) - 1) < 1e-5
        ((16, 20, 24), True, True)
    """
    bases = []
    for n in shape:
        x = np.linspace(0.0, np.pi, int(n))
        freqs = np.arange(1, num_waves + 1)
        bases.append(np.concatenate([np.cos(np.outer(x, freqs)), np.sin(np.outer(x, freqs))], axis=1))
    k = 2 * num_waves
    # amplitudes fall off with frequency so that the field stays smooth
    decay = 1.0 / (1.0 + np.arange(k) % num_waves)
    coeffs = rng.normal(size=(k, k, k)) * decay[:, None, None] * decay[None, :, None] * decay[None, None, :]
    field = np.tensordot(bases[0], coeffs, axes=(1, 0))  # (nx, k, k)
    field = np.tensordot(field, bases[1], axes=(1, 1))  # (nx, k, ny)
    field = np.tensordot(field, bases[2], axes=(1, 1))  # (nx, ny, nz)
    field -= field.mean()
    std = field.std()
    if std > 0:
        field /= std
    return field.astype(np.float32)

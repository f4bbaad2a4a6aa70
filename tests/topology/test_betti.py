"""betti_numbers / euler_characteristic against gudhi and persistence on random masks, plus hand cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from monai_topo.topology import (
    betti_numbers,
    betti_numbers_from_diagram,
    betti_numbers_patches,
    compute_persistence,
    euler_characteristic,
)
from monai_topo.topology.betti import patch_slices
from tests.oracle import gudhi_betti


def _random_mask(seed: int, ndim: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    max_side = 16 if ndim == 2 else 10
    shape = tuple(int(s) for s in rng.integers(1, max_side + 1, size=ndim))
    noise = rng.random(shape)
    if seed % 2:
        noise = gaussian_filter(noise, 0.8)
        return noise > np.quantile(noise, rng.uniform(0.2, 0.8))
    return noise < rng.uniform(0.1, 0.9)


def _check(mask: np.ndarray) -> None:
    for connectivity in (8, 4) if mask.ndim == 2 else (26, 6):
        ours = betti_numbers(mask, connectivity)
        expected = gudhi_betti(mask, connectivity)
        assert ours.tolist() == expected.tolist(), (mask.shape, connectivity)
        from_persistence = betti_numbers_from_diagram(
            compute_persistence(mask.astype(float), connectivity=connectivity), 0.5
        )
        assert ours.tolist() == from_persistence.tolist()
        chi = sum((-1) ** k * b for k, b in enumerate(ours.tolist()))
        assert euler_characteristic(mask, connectivity) == chi


@pytest.mark.parametrize("seed", range(100))
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_masks_match_gudhi(seed, ndim):
    _check(_random_mask(seed, ndim))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 1500))
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_masks_match_gudhi_many(seed, ndim):
    _check(_random_mask(seed, ndim))


def test_all_small_2d_masks_exhaustively():
    """Every 3x3 binary image (512 of them), both connectivities."""
    for bits in itertools.product((0, 1), repeat=9):
        _check(np.array(bits, bool).reshape(3, 3))


def _ball(shape, centre, radius):
    grid = np.indices(shape).astype(float)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def _cases() -> list[tuple[str, np.ndarray, list[int], list[int]]]:
    """(name, mask, betti with 26/8-connectivity, betti with 6/4-connectivity)."""
    ball = _ball((11, 11, 11), (5, 5, 5), 4)
    shell = ball & ~_ball((11, 11, 11), (5, 5, 5), 2)
    torus = np.zeros((13, 13, 7), bool)
    grid = np.indices(torus.shape).astype(float)
    ring_radius = np.sqrt((grid[0] - 6) ** 2 + (grid[1] - 6) ** 2)
    torus[(ring_radius - 4) ** 2 + (grid[2] - 3) ** 2 <= 2.0] = True
    linked = np.zeros((16, 16, 16), bool)
    linked[1:11, 1:11, 5] = True
    linked[3:9, 3:9, 5] = False  # ring A in the plane z = 5
    ring_b = np.zeros_like(linked)
    ring_b[5, 5:14, 2:9] = True
    ring_b[5, 7:12, 4:7] = False  # ring B in the plane x = 5, through A's hole, touching nothing
    linked |= ring_b
    empty = np.zeros((6, 7, 8), bool)
    full = np.ones((6, 7, 8), bool)
    border = np.zeros((6, 6, 6), bool)
    border[0, :, :] = True
    border[:, :, 5] = True
    diagonal = np.zeros((4, 4, 4), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True
    ring2d = np.zeros((6, 6), bool)
    ring2d[1:5, 1:5] = True
    ring2d[2:4, 2:4] = False
    checker = np.indices((5, 5)).sum(0) % 2 == 0
    return [
        ("ball", ball, [1, 0, 0], [1, 0, 0]),
        ("shell", shell, [1, 0, 1], [1, 0, 1]),
        ("torus", torus, [1, 1, 0], [1, 1, 0]),
        ("empty", empty, [0, 0, 0], [0, 0, 0]),
        ("full", full, [1, 0, 0], [1, 0, 0]),
        ("border", border, [1, 0, 0], [1, 0, 0]),
        ("diagonal", diagonal, [1, 0, 0], [2, 0, 0]),
        ("ring2d", ring2d, [1, 1], [1, 1]),
        ("checker", checker, [1, 4], [13, 0]),
        ("linked", linked, [2, 2, 0], [2, 2, 0]),
    ]


@pytest.mark.parametrize("name,mask,expected_t,expected_v", _cases(), ids=[c[0] for c in _cases()])
def test_hand_cases(name, mask, expected_t, expected_v):
    t_conn, v_conn = (26, 6) if mask.ndim == 3 else (8, 4)
    if expected_t is not None:
        assert betti_numbers(mask, t_conn).tolist() == expected_t
        assert betti_numbers(mask, v_conn).tolist() == expected_v
    _check(mask)


def test_patches():
    mask = np.zeros((8, 8), bool)
    mask[1:3, 1:3] = True
    mask[5:7, 5:7] = True
    windows = patch_slices(mask.shape, 4)
    assert len(windows) == 4
    per_patch = betti_numbers_patches(mask, 4)
    assert per_patch.tolist() == [[1, 0], [0, 0], [0, 0], [1, 0]]
    assert len(patch_slices((10, 10, 10), 4)) == 27  # tiles 0, 4, and a last one shifted back to 6
    random_windows = patch_slices((30, 20), (8, 8), num_patches=5, seed=1)
    assert random_windows == patch_slices((30, 20), (8, 8), num_patches=5, seed=1)
    assert all(w[0].stop <= 30 and w[1].stop <= 20 for w in random_windows)
    assert patch_slices((3, 3), 8) == [(slice(0, 3), slice(0, 3))]  # clipped to the image
    with pytest.raises(ValueError, match="patch_size"):
        patch_slices((8, 8), (4, 4, 4))
    with pytest.raises(ValueError, match="num_patches"):
        patch_slices((8, 8), 4, num_patches=0)


@pytest.mark.parametrize(
    "mask,error,match",
    [
        (np.array([[0, 2], [1, 0]]), ValueError, "binary"),
        (np.array([[0.0, 0.5], [1.0, 0.0]]), ValueError, "binary"),
        (np.zeros(4), ValueError, "2D or 3D"),
        (np.zeros((2, 2, 2, 2)), ValueError, "2D or 3D"),
        (np.zeros((0, 3)), ValueError, "empty"),
        (np.array([[np.nan, 1.0], [0.0, 0.0]]), ValueError, "NaN or infinite"),
    ],
)
def test_ill_masks(mask, error, match):
    with pytest.raises(error, match=match):
        betti_numbers(mask)


def test_bad_connectivity():
    with pytest.raises(ValueError, match="connectivity"):
        betti_numbers(np.zeros((3, 3), bool), 26)
    with pytest.raises(ValueError, match="connectivity"):
        betti_numbers(np.zeros((3, 3, 3), bool), 18)


def test_float_and_int_binary_masks_are_accepted():
    mask = np.zeros((5, 5, 5))
    mask[1:4, 1:4, 1:4] = 1.0
    mask[2, 2, 2] = 0.0
    assert betti_numbers(mask).tolist() == [1, 0, 1]
    assert betti_numbers(mask.astype(np.uint8)).tolist() == [1, 0, 1]

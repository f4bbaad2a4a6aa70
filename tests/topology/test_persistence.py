"""compute_persistence against gudhi on random 2D/3D images, both constructions, plus hand cases."""

from __future__ import annotations

import numpy as np
import pytest

from monai_topo.topology import (
    betti_numbers,
    betti_numbers_from_diagram,
    compute_persistence,
    compute_persistence_batch,
)
from tests.oracle import gudhi_pairs


def _ours(dgm) -> list[tuple]:
    return sorted(
        (int(d), float(b), float("inf") if e else float(x))
        for d, b, x, e in zip(dgm.dims, dgm.births, dgm.deaths, dgm.essential)
    )


def _random_image(rng: np.random.Generator, ndim: int, max_side: int) -> np.ndarray:
    shape = tuple(int(s) for s in rng.integers(1, max_side + 1, size=ndim))
    kind = rng.integers(0, 3)
    values = rng.random(shape)
    if kind == 1:  # ties: few distinct levels
        values = np.round(values * 4) / 4
    elif kind == 2:  # smooth field
        from scipy.ndimage import gaussian_filter

        values = gaussian_filter(values, 1.0)
    return values


def _cases(n: int, seed: int) -> list[tuple[int, int, str]]:
    return [(seed + i, 2 + i % 2, ("superlevel", "sublevel")[(i // 2) % 2]) for i in range(n)]


def _check_against_gudhi(seed: int, ndim: int, filtration: str) -> None:
    rng = np.random.default_rng(seed)
    values = _random_image(rng, ndim, 14 if ndim == 2 else 8)
    for connectivity in (8, 4) if ndim == 2 else (26, 6):
        dgm = compute_persistence(values, filtration=filtration, connectivity=connectivity)
        assert _ours(dgm) == gudhi_pairs(values, connectivity, filtration), (values.shape, connectivity)
        # the values at the critical voxels are the reported birth and death values
        np.testing.assert_array_equal(values.flat[dgm.birth_index], dgm.births)
        np.testing.assert_array_equal(values.flat[dgm.death_index], dgm.deaths)
        np.testing.assert_array_equal(np.ravel_multi_index(tuple(dgm.birth_coords.T), values.shape), dgm.birth_index)
        assert np.all(np.isfinite(dgm.deaths))


@pytest.mark.parametrize("seed,ndim,filtration", _cases(120, 1000))
def test_random_images_match_gudhi(seed, ndim, filtration):
    _check_against_gudhi(seed, ndim, filtration)


@pytest.mark.slow
@pytest.mark.parametrize("seed,ndim,filtration", _cases(600, 50000))
def test_random_images_match_gudhi_many(seed, ndim, filtration):
    _check_against_gudhi(seed, ndim, filtration)


@pytest.mark.parametrize(
    "shape", [(1, 9), (9, 1), (1, 1, 9), (1, 7, 1), (7, 1, 1), (1, 6, 7), (6, 1, 7), (1, 1), (1, 1, 1)]
)
@pytest.mark.parametrize("connectivity_2d,connectivity_3d", [(8, 26), (4, 6)])
def test_thin_images(shape, connectivity_2d, connectivity_3d):
    """1-voxel-thin images: cripser's V-construction is wrong on (1, n) 2D arrays; we squeeze axes."""
    values = np.random.default_rng(3).random(shape)
    connectivity = connectivity_2d if len(shape) == 2 else connectivity_3d
    dgm = compute_persistence(values, filtration="sublevel", connectivity=connectivity)
    assert _ours(dgm) == gudhi_pairs(values, connectivity, "sublevel")
    assert int(dgm.essential.sum()) == 1  # one image, one component that never dies


def test_ring_hand_case():
    ring = np.zeros((5, 5))
    ring[1:4, 1:4] = 1.0
    ring[2, 2] = 0.2
    dgm = compute_persistence(ring)
    assert dgm.dims.tolist() == [0, 1]
    assert dgm.births.tolist() == [1.0, 1.0] and dgm.deaths.tolist() == [0.0, 0.2]
    assert dgm.essential.tolist() == [True, False]
    assert tuple(dgm.death_coords[1]) == (2, 2)  # the hole is killed at its centre


def test_ball_with_cavity_and_torus():
    shell = np.zeros((7, 7, 7))
    shell[1:6, 1:6, 1:6] = 0.9
    shell[3, 3, 3] = 0.3
    dgm = compute_persistence(shell)
    assert betti_numbers_from_diagram(dgm, 0.5).tolist() == [1, 0, 1]
    cavity = dgm.in_dim(2)
    assert len(cavity) == 1 and cavity.births[0] == pytest.approx(0.9) and cavity.deaths[0] == pytest.approx(0.3)

    torus = np.zeros((9, 9, 5))
    torus[1:8, 1:8, 1:4] = 1.0
    torus[3:6, 3:6, :] = 0.0  # a hole through the solid block
    dgm = compute_persistence(torus)
    assert betti_numbers_from_diagram(dgm, 0.5).tolist() == [1, 1, 0]
    assert betti_numbers(torus > 0.5).tolist() == [1, 1, 0]


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_constant_images(value):
    for shape in [(6, 6), (4, 5, 6)]:
        dgm = compute_persistence(np.full(shape, value))
        assert len(dgm) == 1 and bool(dgm.essential[0]) and dgm.persistence[0] == 0.0
        assert betti_numbers_from_diagram(dgm, value).tolist()[0] == 1


def test_maxdim_and_selection():
    values = np.random.default_rng(0).random((6, 7, 8))
    full = compute_persistence(values)
    low = compute_persistence(values, maxdim=0)
    assert set(low.dims.tolist()) == {0}
    assert _ours(low) == [p for p in _ours(full) if p[0] == 0]
    assert len(full.in_dim(1)) + len(full.in_dim(0)) + len(full.in_dim(2)) == len(full)
    # sorted by dim, then by decreasing persistence
    for d in range(3):
        pers = full.in_dim(d).persistence
        assert np.all(np.diff(pers) <= 0)


def test_batch_matches_serial():
    rng = np.random.default_rng(5)
    images = [rng.random((12, 12, 12)) for _ in range(4)] + [rng.random((20, 17))]
    serial = [compute_persistence(im) for im in images]
    for workers in (1, 2):
        batch = compute_persistence_batch(images, num_workers=workers)
        for a, b in zip(serial, batch):
            assert _ours(a) == _ours(b)
            np.testing.assert_array_equal(a.birth_index, b.birth_index)


def test_deterministic():
    values = np.round(np.random.default_rng(9).random((10, 11, 12)) * 3)  # many ties
    a, b = compute_persistence(values), compute_persistence(values)
    for field in ("dims", "births", "deaths", "birth_index", "death_index", "essential"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize(
    "values,kwargs,error,match",
    [
        (np.zeros(5), {}, ValueError, "2D or 3D"),
        (np.zeros((2, 2, 2, 2)), {}, ValueError, "2D or 3D"),
        (np.zeros((0, 4)), {}, ValueError, "empty"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), {}, ValueError, "NaN or infinite"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), {}, ValueError, "NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), {}, TypeError, "real numeric"),
        (np.zeros((3, 3), complex), {}, TypeError, "complex"),
        (np.zeros((3, 3)), {"filtration": "upper"}, ValueError, "filtration"),
        (np.zeros((3, 3)), {"connectivity": 6}, ValueError, "connectivity"),
        (np.zeros((3, 3, 3)), {"connectivity": 18}, ValueError, "connectivity"),
        (np.zeros((3, 3)), {"maxdim": 2}, ValueError, "maxdim"),
        (np.zeros((3, 3)), {"maxdim": -1}, ValueError, "maxdim"),
    ],
)
def test_ill_inputs(values, kwargs, error, match):
    with pytest.raises(error, match=match):
        compute_persistence(values, **kwargs)


def test_torch_tensor_is_rejected_clearly():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numpy"):
        compute_persistence(torch.zeros(3, 3))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.uint8, bool])
def test_dtypes(dtype):
    values = (np.random.default_rng(2).random((8, 9)) * 4).astype(dtype)
    dgm = compute_persistence(values)
    assert _ours(dgm) == gudhi_pairs(values.astype(np.float64), None, "superlevel")

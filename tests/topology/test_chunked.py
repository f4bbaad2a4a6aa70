"""Chunked (dask) topology equals the in-memory one exactly: random masks, hand cases across chunk boundaries."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from monai_topo.metrics.connectivity_error import split_merge_counts
from monai_topo.topology import betti_numbers, chunked_pair_topology, chunked_topology, euler_characteristic
from monai_topo.topology.chunked import (
    chunked_betti_numbers,
    chunked_component_count,
    chunked_euler_characteristic,
    chunked_split_merge_counts,
    is_dask_array,
)
from tests.oracle import gudhi_betti

CONNECTIVITIES = {2: (None, 4), 3: (None, 6)}


@pytest.fixture(autouse=True)
def _synchronous():
    """One thread: the tests are about exactness (the threaded and distributed schedulers have their own tests)."""
    with dask.config.set(scheduler="synchronous"):
        yield


def _random_chunks(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Ragged chunks: random sizes from 1 voxel up along each axis."""
    out = []
    for n in shape:
        sizes, left = [], n
        while left:
            sizes.append(int(rng.integers(1, min(left, 7) + 1)))
            left -= sizes[-1]
        out.append(tuple(sizes))
    return tuple(out)


def _check(mask: np.ndarray, chunks, connectivity) -> None:
    top = chunked_topology(da.from_array(mask, chunks=chunks), connectivity)
    assert top.betti.tolist() == betti_numbers(mask, connectivity).tolist(), (chunks, connectivity)
    assert top.euler == euler_characteristic(mask, connectivity)
    assert top.voxels == int(mask.sum())


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 12))])
def test_random_masks_random_ragged_chunks(ndim, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(4, 11 if ndim == 3 else 25, size=ndim))
    mask = rng.random(shape) < rng.uniform(0.3, 0.7)
    for connectivity in CONNECTIVITIES[ndim] + ((8,) if ndim == 2 else (26,)):
        _check(mask, _random_chunks(rng, shape), connectivity)


@pytest.mark.parametrize("chunks", [1, 2, (1, 4, 3), 100])
@pytest.mark.parametrize("connectivity", [None, 6])
def test_chunk_sizes_from_one_voxel(chunks, connectivity):
    mask = np.random.default_rng(7).random((4, 6, 5)) < 0.55
    _check(mask, chunks, connectivity)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_masks_match_gudhi(seed, ndim):
    rng = np.random.default_rng(100 + seed)
    mask = rng.random((9, 8, 7)[:ndim] if ndim == 3 else (16, 15)) < 0.5
    for connectivity in CONNECTIVITIES[ndim]:
        got = chunked_betti_numbers(da.from_array(mask, chunks=3), connectivity)
        assert got.tolist() == gudhi_betti(mask, connectivity).tolist()


def _torus(n: int = 12) -> np.ndarray:
    """A square solid torus (a thick frame) filling most of an n^3 box: one tunnel through many chunks."""
    m = np.zeros((n, n, n), bool)
    m[2:-2, 2:-2, n // 2 - 2 : n // 2 + 2] = True
    m[5:-5, 5:-5, :] = False
    return m


def _shell(n: int = 12) -> np.ndarray:
    """A hollow cube: its cavity and its surface cross every chunk boundary."""
    m = np.zeros((n, n, n), bool)
    m[1:-1, 1:-1, 1:-1] = True
    m[3:-3, 3:-3, 3:-3] = False
    return m


def _diagonal(n: int = 8) -> np.ndarray:
    """A 3D diagonal line: 26-connected through voxel corners only, so it crosses chunk corners."""
    m = np.zeros((n, n, n), bool)
    idx = np.arange(n)
    m[idx, idx, idx] = True
    return m


def _checker_2d(n: int = 12) -> np.ndarray:
    """A checkerboard: one component (8-connected) or n^2 / 2 (4-connected), with holes only for 8."""
    return (np.add.outer(np.arange(n), np.arange(n)) % 2).astype(bool)


def _spiral_2d(n: int = 21) -> np.ndarray:
    """One long rectangular spiral path (one component winding through all chunks)."""
    m = np.zeros((n, n), bool)
    lo, hi = 0, n - 1
    while lo <= hi:
        m[lo, lo : hi + 1] = True
        m[lo : hi + 1, hi] = True
        if lo + 2 <= hi:
            m[hi, lo + 2 : hi + 1] = True
            m[lo + 2 : hi + 1, lo + 2] = True
        lo, hi = lo + 2, hi - 2
    return m


@pytest.mark.parametrize(
    "name, mask, expected_t, expected_v",
    [
        ("torus", _torus(), [1, 1, 0], [1, 1, 0]),
        ("shell", _shell(), [1, 0, 1], [1, 0, 1]),
        ("diagonal", _diagonal(), [1, 0, 0], [8, 0, 0]),
        ("checker", _checker_2d(), [1, 50], [72, 0]),
        ("spiral", _spiral_2d(), None, None),
    ],
)
@pytest.mark.parametrize(
    "chunks", [3, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow), 5]
)
def test_hand_cases_across_chunk_boundaries(name, mask, expected_t, expected_v, chunks):
    ndim = mask.ndim
    for connectivity, expected in zip(CONNECTIVITIES[ndim], (expected_t, expected_v)):
        got = chunked_betti_numbers(da.from_array(mask, chunks=chunks), connectivity)
        assert got.tolist() == betti_numbers(mask, connectivity).tolist()
        if expected is not None:
            assert got.tolist() == expected


def test_empty_and_full_masks():
    for mask in (np.zeros((5, 6, 7), bool), np.ones((5, 6, 7), bool), np.zeros((1, 1), bool)):
        _check(mask, 2, None)


@pytest.mark.parametrize("instance_labels", [False, True])
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_split_merge_counts_match_in_memory(seed, instance_labels):
    rng = np.random.default_rng(seed)
    pred = rng.random((8, 9, 7)) < 0.45
    target = (rng.random((8, 9, 7)) < 0.45).astype(np.int64)
    if instance_labels:
        target *= rng.integers(1, 4, size=target.shape)
    for connectivity in (None, 6):
        expected = split_merge_counts(pred, target, connectivity, instance_labels)
        pair = chunked_pair_topology(
            da.from_array(pred, chunks=3), da.from_array(target, chunks=3), connectivity, instance_labels
        )
        assert (pair.splits, pair.merges) == expected
        assert pair.intersection == int(np.count_nonzero(pred & (target > 0)))
        assert pair.pred.betti.tolist() == betti_numbers(pred, connectivity).tolist()
        assert pair.target.betti.tolist() == betti_numbers(target > 0, connectivity).tolist()


def test_split_and_merge_across_chunks():
    tube = np.zeros((5, 30), bool)
    tube[2, 1:29] = True
    broken = tube.copy()
    broken[2, [8, 17]] = False
    a, b = da.from_array(broken, chunks=4), da.from_array(tube, chunks=4)
    assert chunked_split_merge_counts(a, b) == (2, 0)
    assert chunked_split_merge_counts(b, a) == (0, 2)


def test_core_functions_dispatch_on_dask_arrays():
    shell = da.from_array(_shell(10), chunks=4)
    assert is_dask_array(shell) and not is_dask_array(_shell(10))
    assert betti_numbers(shell).tolist() == [1, 0, 1]
    assert euler_characteristic(shell) == 2 == chunked_euler_characteristic(shell)
    assert chunked_component_count(da.from_array(_diagonal(6), chunks=2), connectivity=6) == 6


def test_threaded_scheduler_and_progress_bar(capsys):
    mask = _torus(12)
    with dask.config.set(scheduler="threads", num_workers=2):
        got = chunked_topology(da.from_array(mask, chunks=5), progress=True)
    assert got.betti.tolist() == [1, 1, 0]
    assert "27/27" in capsys.readouterr().err  # 12^3 in chunks of 5: 3 x 3 x 3


def test_local_cluster():
    distributed = pytest.importorskip("distributed")
    mask = _shell(10)
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        got = chunked_topology(da.from_array(mask, chunks=4), progress=False)
        pair = chunked_pair_topology(da.from_array(mask, chunks=4), da.from_array(_torus(10), chunks=4))
    assert got.betti.tolist() == [1, 0, 1] and got.euler == 2
    assert pair.target.betti.tolist() == betti_numbers(_torus(10)).tolist()


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: da.from_array(np.full((4, 4), 2), chunks=2),
            ValueError,
            r"binary.*chunk \(\d, \d\).*values such as \[2\]",
        ),
        (lambda: da.from_array(np.full((4, 4), np.nan), chunks=2), ValueError, "NaN"),
        (lambda: np.zeros((4, 4), bool), TypeError, "dask.array.Array"),
        (lambda: da.zeros((4,), chunks=2), ValueError, "2D or 3D"),
        (lambda: da.zeros((4, 0), chunks=2), ValueError, "empty"),
        (lambda: da.zeros((4, 4), dtype=complex, chunks=2), TypeError, "real"),
    ],
)
def test_bad_masks(make, error, match):
    with pytest.raises(error, match=match):
        chunked_topology(make())


def test_bad_connectivity():
    with pytest.raises(ValueError, match="connectivity=26 is not supported in 2D"):
        chunked_betti_numbers(da.zeros((4, 4), chunks=2), connectivity=26)


def test_mismatched_pairs():
    a = da.zeros((6, 6), dtype=bool, chunks=3)
    with pytest.raises(ValueError, match=r"shape mismatch: prediction \(6, 6\) vs target \(6, 7\)"):
        chunked_pair_topology(a, da.zeros((6, 7), dtype=bool, chunks=3))
    with pytest.raises(ValueError, match=r"chunk grids differ.*rechunk"):
        chunked_pair_topology(a, da.zeros((6, 6), dtype=bool, chunks=2))
    with pytest.raises(ValueError, match="instance ids must be >= 0"):
        chunked_pair_topology(a, da.from_array(-np.ones((6, 6), int), chunks=3), instance_labels=True)

"""Critical supervoxel detection: hand-built 2D/3D cases and a brute-force BFS reference on random masks."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np
import pytest

import monai_topo.topology.critical as critical_module
import monai_topo.topology.supervoxels as supervoxels_module
from monai_topo.topology.critical import critical_components, target_objects


def _bar2d(shape=(5, 9), row=2, cols=(1, 8)):
    m = np.zeros(shape, np.uint8)
    m[row, cols[0] : cols[1]] = 1
    return m


def _case_gap():
    target = _bar2d()
    pred = target.copy()
    pred[2, 4] = 0
    fn = np.zeros_like(target, bool)
    fn[2, 4] = True
    return pred, target, fn, np.zeros_like(fn)


def _case_spurious_blob():
    target = _bar2d()
    pred = target.copy()
    pred[4, 1:3] = 1  # two rows below the bar: not adjacent
    fp = np.zeros_like(target, bool)
    fp[4, 1:3] = True
    return pred, target, np.zeros_like(fp), fp


def _two_bars(instance: bool):
    target = np.zeros((5, 9), np.uint8)
    target[1, 1:8] = 1
    target[3, 1:8] = 2 if instance else 1
    pred = (target > 0).astype(np.uint8)
    pred[2, 4] = 1  # the bridge
    fp = np.zeros(target.shape, bool)
    fp[2, 4] = True
    return pred, target, np.zeros_like(fp), fp


def _case_fn_bump():
    target = np.zeros((5, 9), np.uint8)
    target[1:4, 1:8] = 1
    pred = target.copy()
    pred[1, 4] = 0  # a dent at the edge of a thick bar
    return pred, target, np.zeros(target.shape, bool), np.zeros(target.shape, bool)


def _case_fp_thickening():
    target = _bar2d()
    pred = target.copy()
    pred[1, 3:6] = 1  # a bump on the bar
    return pred, target, np.zeros(target.shape, bool), np.zeros(target.shape, bool)


def _case_detour():
    """A gap in the prediction bridged by a detour outside the target: FN critical, FP detour is not a merge."""
    target = _bar2d()
    pred = target.copy()
    pred[2, 4] = 0
    pred[1, 4] = 1
    fn = np.zeros(target.shape, bool)
    fn[2, 4] = True
    return pred, target, fn, np.zeros(target.shape, bool)


def _case_missed_touching_instance():
    """Instance 1 entirely missed; it touches the found instance 2, which does not count as its own part."""
    target = np.zeros((4, 6), np.uint8)
    target[1, 1:5] = 1
    target[2, 1:5] = 2
    pred = (target == 2).astype(np.uint8)
    return pred, target, target == 1, np.zeros(target.shape, bool)


def _case_3d_gap():
    target = np.zeros((5, 5, 9), np.uint8)
    target[2, 2, 1:8] = 1
    pred = target.copy()
    pred[2, 2, 4:6] = 0
    fn = np.zeros(target.shape, bool)
    fn[2, 2, 4:6] = True
    return pred, target, fn, np.zeros(target.shape, bool)


def _case_3d_blob_and_bump():
    target = np.zeros((6, 6, 8), np.uint8)
    target[2, 2, 1:7] = 1
    pred = target.copy()
    pred[3, 3, 3] = 1  # diagonal thickening: adjacent under 26-connectivity, not critical
    pred[5, 0:2, 5:7] = 1  # spurious blob
    fp = np.zeros(target.shape, bool)
    fp[5, 0:2, 5:7] = True
    return pred, target, np.zeros(target.shape, bool), fp


def _case_3d_bridge(instance: bool):
    target = np.zeros((5, 7, 7), np.uint8)
    target[1, 3, :] = 1
    target[3, 3, :] = 2 if instance else 1
    pred = (target > 0).astype(np.uint8)
    pred[2, 2, 3] = 1  # diagonal bridge, 26-adjacent to both bars
    fp = np.zeros(target.shape, bool)
    fp[2, 2, 3] = True
    return pred, target, np.zeros(target.shape, bool), fp


TEST_CASES = [  # [params, inputs, expected]
    [{}, _case_gap()[:2], _case_gap()[2:]],
    [{}, _case_spurious_blob()[:2], _case_spurious_blob()[2:]],
    [{}, _two_bars(True)[:2], _two_bars(True)[2:]],
    [{}, _two_bars(False)[:2], _two_bars(False)[2:]],
    [{"instance_labels": False}, _two_bars(True)[:2], _two_bars(True)[2:]],
    [{}, _case_fn_bump()[:2], _case_fn_bump()[2:]],
    [{"connectivity": 4}, _case_fn_bump()[:2], _case_fn_bump()[2:]],
    [{}, _case_fp_thickening()[:2], _case_fp_thickening()[2:]],
    [{}, _case_detour()[:2], _case_detour()[2:]],
    [{}, _case_missed_touching_instance()[:2], _case_missed_touching_instance()[2:]],
    [{}, _case_3d_gap()[:2], _case_3d_gap()[2:]],
    [{"connectivity": 6}, _case_3d_gap()[:2], _case_3d_gap()[2:]],
    [{}, _case_3d_blob_and_bump()[:2], _case_3d_blob_and_bump()[2:]],
    [{}, _case_3d_bridge(True)[:2], _case_3d_bridge(True)[2:]],
    [{}, _case_3d_bridge(False)[:2], _case_3d_bridge(False)[2:]],
]


@pytest.mark.parametrize("params, inputs, expected", TEST_CASES)
def test_hand_built(params, inputs, expected):
    fn, fp = critical_components(*inputs, **params)
    assert fn.dtype == bool and fp.dtype == bool and fn.shape == inputs[0].shape
    np.testing.assert_array_equal(fn, expected[0])
    np.testing.assert_array_equal(fp, expected[1])


def test_connectivity_changes_objects():
    """Two diagonal pixels are one object under 8-connectivity and two under 4: the FP corner merges them."""
    target = np.array([[1, 0], [0, 1]], np.uint8)
    pred = np.array([[1, 1], [0, 1]], np.uint8)
    assert not critical_components(pred, target)[1].any()
    np.testing.assert_array_equal(critical_components(pred, target, 4)[1], [[False, True], [False, False]])


def test_3d_bridge_face_connectivity():
    """Under 6-connectivity the diagonal bridge touches nothing: it is a spurious object, still critical."""
    pred, target, _, fp = _case_3d_bridge(True)
    np.testing.assert_array_equal(critical_components(pred, target, 6)[1], fp)


def test_disconnected_instance_id():
    """One instance id in two pieces: a bridge between them is no merge when read as instances."""
    target = np.zeros((5, 7), np.uint8)
    target[1, :] = 1
    target[3, :] = 1
    pred = target.copy()
    pred[2, 3] = 1
    assert critical_components(pred, target)[1][2, 3]  # binary: two components merged
    assert not critical_components(pred, target, instance_labels=True)[1].any()


def test_perfect_and_empty():
    target = _bar2d()
    for pred in (target, target.astype(bool)):
        fn, fp = critical_components(pred, target)
        assert not fn.any() and not fp.any()
    fn, fp = critical_components(np.zeros((4, 4)), np.zeros((4, 4)))
    assert not fn.any() and not fp.any()
    fn, fp = critical_components(np.zeros_like(target), target)  # all missed
    np.testing.assert_array_equal(fn, target > 0)


def test_thin_volumes():
    target = np.zeros((1, 1, 9), np.uint8)
    target[..., 1:8] = 1
    pred = target.copy()
    pred[..., 4] = 0
    fn, fp = critical_components(pred, target)
    assert fn[0, 0, 4] and fn.sum() == 1 and not fp.any()
    fn, fp = critical_components(pred.reshape(1, 9, 1), target.reshape(1, 9, 1), 6)
    assert fn.sum() == 1


def test_float_and_large_instance_ids():
    pred, target, fn, fp = _two_bars(True)
    big = target.astype(np.int64) * (2**40)
    got = critical_components(pred.astype(np.float32), big)
    np.testing.assert_array_equal(got[1], fp)
    got = critical_components(pred > 0, target.astype(np.float64))
    np.testing.assert_array_equal(got[1], fp)


def test_target_objects():
    objects, is_binary = target_objects(np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0]]))
    assert is_binary and objects.max() == 3
    diagonal = np.array([[1, 0], [0, 1]])
    assert target_objects(diagonal)[0].max() == 1 and target_objects(diagonal, 4)[0].max() == 2
    objects, is_binary = target_objects(np.array([[3, 0, 3]]))
    assert not is_binary and objects.tolist() == [[3, 0, 3]]
    objects, is_binary = target_objects(np.array([[3, 0, 3]]), instance_labels=False)
    assert is_binary and objects.tolist() == [[1, 0, 2]]


def test_ill_shape():
    with pytest.raises(ValueError, match="same shape"):
        critical_components(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="2D or 3D"):
        critical_components(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="2D or 3D"):
        critical_components(np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)))


def test_ill_opts():
    with pytest.raises(ValueError, match="binary"):
        critical_components(np.full((4, 4), 0.7), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="non-integral"):
        critical_components(np.zeros((4, 4)), np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="non-negative"):
        critical_components(np.zeros((4, 4)), -np.ones((4, 4)))
    with pytest.raises(ValueError, match="connectivity"):
        critical_components(np.zeros((4, 4)), np.zeros((4, 4)), connectivity=6)
    with pytest.raises(TypeError, match="complex"):
        critical_components(np.zeros((4, 4), complex), np.zeros((4, 4)))


# ----------------------------------------------------------------------------------------------------------------
# Brute-force reference: one breadth-first search per component, written from the rules in the docstring.


def _neighbours(ndim, connectivity):
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=ndim) if any(o)]
    if connectivity in (4, 6):
        offsets = [o for o in offsets if sum(abs(v) for v in o) == 1]
    return offsets


def _bfs_components(region, same, offsets):
    """Components of the voxel set ``region`` (a set of tuples) where neighbours must satisfy ``same(a, b)``."""
    comp = {}
    n = 0
    for start in sorted(region):
        if start in comp:
            continue
        n += 1
        comp[start] = n
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for o in offsets:
                w = tuple(a + b for a, b in zip(v, o))
                if w in region and w not in comp and same(v, w):
                    comp[w] = n
                    queue.append(w)
    return comp, n


def brute_force_critical(pred, target, connectivity, instances):
    offsets = _neighbours(pred.ndim, connectivity)
    voxels = list(itertools.product(*(range(s) for s in pred.shape)))
    if instances:
        obj = {v: int(target[v]) for v in voxels}
    else:
        comps, _ = _bfs_components({v for v in voxels if target[v]}, lambda a, b: True, offsets)
        obj = {v: comps.get(v, 0) for v in voxels}
    p = {v: bool(pred[v]) for v in voxels}
    kept = {v for v in voxels if p[v] and obj[v]}
    fn = {v for v in voxels if not p[v] and obj[v]}
    fp = {v for v in voxels if p[v] and not obj[v]}
    same_obj = lambda a, b: obj[a] == obj[b]  # noqa: E731
    kept_comp, _ = _bfs_components(kept, same_obj, offsets)
    fn_comp, n_fn = _bfs_components(fn, same_obj, offsets)
    fp_comp, n_fp = _bfs_components(fp, lambda a, b: True, offsets)

    def touching_kept(members):
        out = set()
        for v in members:
            for o in offsets:
                w = tuple(a + b for a, b in zip(v, o))
                if w in kept_comp:
                    out.add(w)
        return out

    crit_fn = np.zeros(pred.shape, bool)
    for c in range(1, n_fn + 1):
        members = [v for v, k in fn_comp.items() if k == c]
        own = {kept_comp[w] for w in touching_kept(members) if obj[w] == obj[members[0]]}
        if len(own) != 1:
            for v in members:
                crit_fn[v] = True
    crit_fp = np.zeros(pred.shape, bool)
    for c in range(1, n_fp + 1):
        members = [v for v, k in fp_comp.items() if k == c]
        touched = touching_kept(members)
        if not touched or len({obj[w] for w in touched}) >= 2:
            for v in members:
                crit_fp[v] = True
    return crit_fn, crit_fp


def _random_case(rng, ndim, kind):
    shape = tuple(rng.integers(3, 8, size=ndim)) if ndim == 2 else tuple(rng.integers(2, 6, size=ndim))
    if kind == "binary":
        target = (rng.random(shape) < rng.uniform(0.2, 0.7)).astype(np.uint8)
    else:  # instances 1..4 on a random part of the image
        target = rng.integers(1, 5, size=shape) * (rng.random(shape) < rng.uniform(0.3, 0.9))
        if rng.random() < 0.5:  # blockier instances: coarser labels
            target = np.repeat(target, 2, axis=0)[: shape[0]]
    flip = rng.random(shape) < rng.uniform(0.1, 0.5)
    pred = (target > 0) ^ flip
    return pred, target


@pytest.mark.parametrize(
    "ndim, connectivity, kind",
    [(2, 8, "binary"), (2, 4, "binary"), (2, 8, "instance"), (2, 4, "instance")]
    + [(3, 26, "binary"), (3, 6, "binary"), (3, 26, "instance"), (3, 6, "instance")],
)
def test_against_brute_force(ndim, connectivity, kind):
    rng = np.random.default_rng([ndim, connectivity, len(kind)])
    n_critical = 0
    for _ in range(20):  # 8 x 20 = 160 random cases
        pred, target = _random_case(rng, ndim, kind)
        instance_labels = kind == "instance"
        expected = brute_force_critical(pred, target, connectivity, instance_labels)
        got = critical_components(pred, target, connectivity, instance_labels=instance_labels)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        n_critical += int(expected[0].sum() + expected[1].sum())
    assert n_critical > 0  # the cases exercise the rules


def test_chunked_pairs_and_both_mask_paths(monkeypatch):
    """A 3D case with many errors (dense output path) and few (sparse path), with tiny gather chunks."""
    rng = np.random.default_rng(7)
    target = rng.integers(0, 3, size=(20, 22, 24)) * (rng.random((20, 22, 24)) < 0.3)
    for flip_rate in (0.3, 0.003):
        pred = (target > 0) ^ (rng.random(target.shape) < flip_rate)
        expected = critical_components(pred, target)
        monkeypatch.setattr(supervoxels_module.adjacent_pairs, "__defaults__", (7,))
        got = critical_components(pred, target)
        monkeypatch.undo()
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert expected[0].any() and expected[1].any()


@pytest.mark.parametrize("flip_rate", [0.3, 0.003])
@pytest.mark.parametrize("kind", ["binary", "instance"])
def test_dense_and_sparse_mask_paths_agree(monkeypatch, flip_rate, kind):
    """The dense lookup and the sparse fill of the critical masks give the same masks, for many and few errors."""
    rng = np.random.default_rng(11)
    target = rng.integers(0, 3, size=(14, 16, 18)) * (rng.random((14, 16, 18)) < 0.3)
    if kind == "binary":
        target = target > 0
    pred = (target > 0) ^ (rng.random(target.shape) < flip_rate)
    results = []
    for ratio in (0, 10**18):  # 0: never dense; 10**18: always dense
        monkeypatch.setattr(critical_module, "_DENSE_RATIO", ratio)
        results.append(critical_components(pred, target))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][0].any() and results[0][1].any()


def test_instances_is_a_deprecated_alias():
    target = np.array([[1, 1, 0, 2, 2]])
    pred = np.array([[1, 1, 1, 1, 1]], bool)
    with pytest.warns(DeprecationWarning, match="'instances' is deprecated.*use 'instance_labels'"):
        old = critical_components(pred, target, instances=True)
    new = critical_components(pred, target, instance_labels=True)
    np.testing.assert_array_equal(old[1], new[1])
    assert new[1][0, 2]  # the bridge merges two instances
    with pytest.raises(TypeError, match="pass 'instance_labels' only"):
        critical_components(pred, target, instances=True, instance_labels=True)

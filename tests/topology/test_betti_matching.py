"""betti_matching / betti_matching_error against Betti-Matching-3D (the reference), plus hand cases and bad inputs.

The reference's pybind module ships standalone inside the ``topolosses==0.2.0`` wheel (CPython 3.11, Linux):
``pip install --no-deps topolosses==0.2.0``. It is loaded by file path (``topolosses`` itself imports torch
modules this project does not need); the oracle tests are skipped where it is absent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from monai_topo.topology import BettiMatching, betti_matching, betti_matching_error, betti_numbers


def _load_reference():
    spec = importlib.util.find_spec("topolosses")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for path in sorted(Path(root).glob("losses/betti_matching/src/betti_matching*.so")):
            module_spec = importlib.util.spec_from_file_location("betti_matching", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module
    return None


REFERENCE = _load_reference()
needs_reference = pytest.mark.skipif(
    REFERENCE is None,
    reason="Betti-Matching-3D is not installed: pip install --no-deps topolosses==0.2.0 (its CPython 3.11 Linux "
    "wheel carries the reference's compiled module)",
)


def _pairs(births: np.ndarray, deaths: np.ndarray) -> list[tuple]:
    return sorted(zip(map(tuple, np.asarray(births).tolist()), map(tuple, np.asarray(deaths).tolist())))


def reference_matching(pred: np.ndarray, target: np.ndarray, connectivity: int) -> list[tuple]:
    """Per foreground dimension: (matched, unmatched pred pairs, unmatched target pairs), from the reference.

    6/4-connectivity: the reference's sublevel filtration of ``1 - mask``. 26/8: of the zero-padded mask itself
    (the background's features), dimensions reversed, coordinates shifted back into the grid and clipped to it.
    """
    d = pred.ndim
    if connectivity in (4, 6):
        a, b, shift = 1.0 - pred, 1.0 - target, 0
    else:
        a, b, shift = np.pad(pred, 1).astype(np.float64), np.pad(target, 1).astype(np.float64), 1
    r = REFERENCE.compute_matching(np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64))
    limit = np.array(pred.shape) - 1

    def coords(c):
        return np.clip(np.asarray(c).reshape(-1, d) - shift, 0, limit)

    out = []
    for k in range(d):
        un_pred = _pairs(
            coords(r.input1_unmatched_birth_coordinates[k]), coords(r.input1_unmatched_death_coordinates[k])
        )
        un_target = _pairs(
            coords(r.input2_unmatched_birth_coordinates[k]), coords(r.input2_unmatched_death_coordinates[k])
        )
        out.append((int(r.num_matched[k]), un_pred, un_target))
    return out[::-1] if shift else out


def our_matching(pred: np.ndarray, target: np.ndarray, connectivity: int) -> list[tuple]:
    r = betti_matching(pred, target, connectivity)
    assert r.errors.tolist() == betti_matching_error(pred, target, connectivity).tolist()
    return [
        (
            int(r.matched[k]),
            _pairs(r.pred_births[k], r.pred_deaths[k]),
            _pairs(r.target_births[k], r.target_deaths[k]),
        )
        for k in range(pred.ndim)
    ]


def _random_pair(seed: int, ndim: int, max_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random masks (noise, a noisy copy, or two thresholds of smooth noise), thin axes and borders included."""
    rng = np.random.default_rng(seed)
    max_side = max_side or (14 if ndim == 2 else 9)
    shape = tuple(int(s) for s in rng.integers(1, max_side + 1, size=ndim))
    kind = seed % 3
    if kind == 0:
        return rng.random(shape) < rng.uniform(0.2, 0.9), rng.random(shape) < rng.uniform(0.2, 0.9)
    if kind == 1:
        a = rng.random(shape) < rng.uniform(0.2, 0.9)
        return a, a ^ (rng.random(shape) < 0.15)
    field = gaussian_filter(rng.random(shape), 1.0)
    noisy = field + rng.normal(0.0, 0.02, shape)
    return field > np.quantile(field, rng.uniform(0.2, 0.8)), noisy > np.quantile(field, rng.uniform(0.2, 0.8))


def _shaped_pair(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Blobs with handles and cavities (a thresholded smooth field) and a perturbed copy of them."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(size // 2, size + 1, size=3))
    field = gaussian_filter(rng.random(shape), rng.uniform(1.0, 2.0))
    noisy = field + gaussian_filter(rng.standard_normal(shape), 1.0) * rng.uniform(0.01, 0.05)
    level = np.quantile(field, rng.uniform(0.3, 0.7))
    return field > level, noisy > level


def _check_against_reference(pred: np.ndarray, target: np.ndarray) -> dict:
    """Mismatches per (connectivity, dimension) between ours and the reference, both constructions."""
    mismatches = {}
    for connectivity in (8, 4) if pred.ndim == 2 else (26, 6):
        ours, expected = our_matching(pred, target, connectivity), reference_matching(pred, target, connectivity)
        for k in range(pred.ndim):
            if ours[k] != expected[k]:
                mismatches[(connectivity, k)] = (ours[k], expected[k])
    return mismatches


@needs_reference
@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("ndim", [2, 3])
def test_random_pairs_match_reference(seed, ndim):
    pred, target = _random_pair(seed, ndim)
    assert _check_against_reference(pred, target) == {}, (pred.shape, seed)


@needs_reference
@pytest.mark.parametrize("seed", range(4))
def test_shaped_volumes_match_reference(seed):
    pred, target = _shaped_pair(seed, 28)
    assert _check_against_reference(pred, target) == {}


@needs_reference
def test_synthetic_neuron_matches_reference():
    """A neuron label against a thresholded prediction of its image (gaps, blobs, merged branches)."""
    from monai_topo.data.neuron import make_neuron_volume

    image, label, _, _ = make_neuron_volume(40, seed=3)
    smooth = gaussian_filter(image.astype(np.float64), 1.0)
    pred = smooth > np.quantile(smooth, 1 - 1.2 * (label > 0).mean())
    assert _check_against_reference(pred, label > 0) == {}


# the ways of computing linking numbers: (words of running XORs at once, cost of one enumerated pair in words,
# enumerated pairs at once)
LINKING_STRATEGIES = {
    "running-xor": (1 << 40, 1 << 40, 1 << 21),
    "column-blocks": (64, 1 << 40, 1 << 21),
    "pairs": (0, 0, 1 << 21),
    "pairs-by-row-ranges": (0, 0, 64),
}


def _noise_pair(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent 50% noise: thousands of tunnels, long loops through the sweeps' forests."""
    rng = np.random.default_rng(seed)
    return rng.random((size,) * 3) < 0.5, rng.random((size,) * 3) < 0.5


@pytest.mark.parametrize("strategy", ["column-blocks", "pairs", "pairs-by-row-ranges"])
def test_linking_strategies_agree(strategy, monkeypatch):
    """Dense running XORs, the same in blocks of columns, and enumerated pairs give the same matching."""
    module = importlib.import_module("monai_topo.topology.betti_matching")
    pred, target = _noise_pair(5, 12)
    expected = {c: our_matching(pred, target, c) for c in (26, 6)}
    monkeypatch.setattr(module, "_LINKING_DENSE_WORDS", LINKING_STRATEGIES[strategy][0])
    monkeypatch.setattr(module, "_LINKING_PAIR_COST", LINKING_STRATEGIES[strategy][1])
    monkeypatch.setattr(module, "_LINKING_PAIRS_AT_ONCE", LINKING_STRATEGIES[strategy][2])
    assert {c: our_matching(pred, target, c) for c in (26, 6)} == expected
    assert expected[26][1][1] and expected[6][1][1]  # unmatched tunnels on both sides: the pairings were exercised


@needs_reference
@pytest.mark.parametrize("strategy", sorted(LINKING_STRATEGIES))
def test_noise_matches_reference(strategy, monkeypatch):
    module = importlib.import_module("monai_topo.topology.betti_matching")
    monkeypatch.setattr(module, "_LINKING_DENSE_WORDS", LINKING_STRATEGIES[strategy][0])
    monkeypatch.setattr(module, "_LINKING_PAIR_COST", LINKING_STRATEGIES[strategy][1])
    monkeypatch.setattr(module, "_LINKING_PAIRS_AT_ONCE", LINKING_STRATEGIES[strategy][2])
    pred, target = _noise_pair(7, 14)
    assert _check_against_reference(pred, target) == {}


@needs_reference
@pytest.mark.slow
def test_many_pairs_match_reference():
    """>= 1,000 random and shaped pairs, 2D and 3D, both connectivities: 0 mismatches per dimension."""
    mismatches, cases = {}, 0
    for seed in range(1000, 1600):
        for ndim in (2, 3):
            pred, target = _random_pair(seed, ndim, max_side=24 if ndim == 2 else 12)
            for key in _check_against_reference(pred, target):
                mismatches[key] = mismatches.get(key, 0) + 1
            cases += 1
    for seed in range(40):
        pred, target = _shaped_pair(seed, 40)
        for key in _check_against_reference(pred, target):
            mismatches[key] = mismatches.get(key, 0) + 1
        cases += 1
    assert cases >= 1000
    assert mismatches == {}


# --------------------------------------------------------------------------------------------------------------
# building blocks of the fast path, each against a plain computation


@pytest.mark.parametrize("seed", range(6))
def test_first_voxels_of_labels(seed):
    """The first voxel (index order) of each label, in cc3d's numbering and in a shuffled one (the fallback)."""
    module = importlib.import_module("monai_topo.topology.betti_matching")
    from monai_topo.topology.components import label_components

    rng = np.random.default_rng(seed)
    shape = [(9, 11, 13), (1, 12, 7), (5, 1, 1), (16, 16), (3, 40)][seed % 5]
    labels, n = label_components(rng.random(shape) < 0.4, 6 if len(shape) == 3 else 4)
    permuted = np.r_[0, rng.permutation(n) + 1][labels] if seed % 2 else labels
    expected = np.full(n + 1, np.iinfo(np.int64).max, np.int64)
    for index, value in enumerate(permuted.ravel().tolist()):
        if value and expected[value] == np.iinfo(np.int64).max:
            expected[value] = index
    assert n > 1
    assert module._first_voxels(permuted, n).tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_tree_roots_by_pointer_jumping(seed):
    """Trees given by parent pointers: the same partition as scipy's connected components, numbered by root."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    module = importlib.import_module("monai_topo.topology.betti_matching")
    rng = np.random.default_rng(seed)
    n = 500
    order = rng.permutation(n)  # a random forest: each node points to itself or to a node earlier in this order
    parent = np.arange(n)
    for i in range(1, n):
        if rng.random() < 0.97:
            parent[order[i]] = order[rng.integers(0, i)]
    count, ids = module._roots(parent)
    expected_count, expected = connected_components(coo_matrix((np.ones(n), (np.arange(n), parent)), (n, n)))
    assert count == expected_count
    assert len({(a, b) for a, b in zip(ids.tolist(), expected.tolist())}) == count  # the same partition
    roots = np.flatnonzero(parent == np.arange(n))
    assert ids[roots].tolist() == list(range(count))  # numbered by root


@pytest.mark.parametrize("shape", [(7, 8, 9), (1, 9, 8), (8, 1, 9), (9, 8, 1), (6, 1, 1), (2, 2, 2)])
def test_dual_candidates_shared_by_both_sweeps(shape):
    """The candidate squares computed once for both dual sweeps of a mask equal those computed for each sweep."""
    module = importlib.import_module("monai_topo.topology.betti_matching")
    rng = np.random.default_rng(sum(shape))
    masks = [rng.random(shape) < density for density in (0.5, 0.8, 0.95)]  # (voxels on the axis y = z = 0 too)
    masks.append(np.pad(masks[0], [(0, 0) if k == 1 else (1, 1) for k in shape]))
    for X in masks:
        cells = module._Cells(X)
        for mode in ("deaths", "births"):
            sweep = module._DualSweep(cells, mode)
            keys, c1, c2 = cells.dual_candidates(mode, sweep.sides)
            expected = module._dual_candidates(X, cells.E, cells.SQ, mode)
            assert sorted(keys.tolist()) == sorted(expected.tolist())
            lo, hi = sweep.sides(keys)
            assert np.array_equal(c1, lo) and np.array_equal(c2, hi)


# --------------------------------------------------------------------------------------------------------------
# hand cases: expected values worked out by hand (no reference needed)


def _ring_2d(shape, top_left, size=3):
    mask = np.zeros(shape, bool)
    y, x = top_left
    mask[y : y + size, x : x + size] = True
    mask[y + size // 2, x + size // 2] = False
    return mask


def _cube(shape, lo, hi):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return mask


def _shell(shape, centre, outer, inner):
    grid = np.indices(shape)
    r = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, centre)))
    return (r <= outer) & (r > inner)


def _ring_and_dot():
    """A ring touching two borders, and one voxel in the opposite corner."""
    return _ring_2d((7, 7), (0, 0), 5) | _cube((7, 7), (6, 6), (7, 7))


def _torus(shape, centre, big, small):
    grid = np.indices(shape).astype(float)
    ring = np.sqrt((grid[0] - centre[0]) ** 2 + (grid[1] - centre[1]) ** 2)
    return (ring - big) ** 2 + (grid[2] - centre[2]) ** 2 <= small**2


HAND_CASES = [
    # name, pred, target, connectivity, expected errors per dimension
    ("identical rings (8)", _ring_2d((9, 9), (2, 2)), _ring_2d((9, 9), (2, 2)), 8, [0, 0]),
    # a loop moved: 8-connectivity compares through the intersection (empty): nothing matched
    ("ring moved (8)", _ring_2d((9, 12), (1, 1)), _ring_2d((9, 12), (4, 8)), 8, [2, 2]),
    # 4-connectivity compares through the union: both rings are there, each hole is the other's loop: unmatched;
    # one component each: no finite dimension-0 pair (b0 - 1 = 0)
    ("ring moved (4)", _ring_2d((9, 12), (1, 1)), _ring_2d((9, 12), (4, 8)), 4, [0, 2]),
    # the hole filled in the prediction
    ("hole filled", _cube((7, 7), (1, 1), (6, 6)), _ring_2d((7, 7), (1, 1), 5), 8, [0, 1]),
    # a component replaced elsewhere: A and B against A and C
    (
        "component replaced (26)",
        _cube((10, 10, 10), (1, 1, 1), (3, 3, 3)) | _cube((10, 10, 10), (6, 6, 6), (8, 8, 8)),
        _cube((10, 10, 10), (1, 1, 1), (3, 3, 3)) | _cube((10, 10, 10), (1, 6, 6), (3, 8, 8)),
        26,
        [2, 0, 0],
    ),
    ("identical tori (6)", _torus((13, 13, 7), (6, 6, 3), 4, 1.5), _torus((13, 13, 7), (6, 6, 3), 4, 1.5), 6, [0] * 3),
    # a torus against a ball of the same place: the tunnel is unmatched
    (
        "tunnel filled (26)",
        _torus((13, 13, 7), (6, 6, 3), 4, 1.5) | _cube((13, 13, 7), (3, 3, 2), (10, 10, 5)),
        _torus((13, 13, 7), (6, 6, 3), 4, 1.5),
        26,
        [0, 1, 0],
    ),
    # nested shells: shell, ball inside its cavity (one cavity, two components) against the shell alone
    (
        "nested shells (26)",
        _shell((15, 15, 15), (7, 7, 7), 6, 4) | _shell((15, 15, 15), (7, 7, 7), 2, -1),
        _shell((15, 15, 15), (7, 7, 7), 6, 4),
        26,
        [1, 0, 0],
    ),
    # objects touching the border (8: the grid is zero-padded, the ring's hole stays a hole; 4: the ring holds the
    # first voxel, the extra voxel is the target's only finite component, and the union never joins it to pred)
    ("border ring + extra (8)", _ring_2d((7, 7), (0, 0), 5), _ring_and_dot(), 8, [1, 0]),
    ("border ring + extra (4)", _ring_2d((7, 7), (0, 0), 5), _ring_and_dot(), 4, [1, 0]),
    # the same ring shifted by one voxel: the intersection (8) has both holes, each filled in the other mask; the
    # union (4) has none
    ("shifted border rings (8)", _ring_2d((6, 6), (0, 0), 5), _ring_2d((6, 6), (1, 1), 5), 8, [0, 2]),
    ("shifted border rings (4)", _ring_2d((6, 6), (0, 0), 5), _ring_2d((6, 6), (1, 1), 5), 4, [0, 2]),
    ("empty vs empty (26)", np.zeros((4, 5, 6), bool), np.zeros((4, 5, 6), bool), 26, [0, 0, 0]),
    ("empty vs full (26)", np.zeros((4, 5, 6), bool), np.ones((4, 5, 6), bool), 26, [1, 0, 0]),
    ("empty vs full (6)", np.zeros((4, 5, 6), bool), np.ones((4, 5, 6), bool), 6, [0, 0, 0]),
    ("full vs full (8)", np.ones((5, 5), bool), np.ones((5, 5), bool), 8, [0, 0]),
]


@pytest.mark.parametrize("name, pred, target, connectivity, expected", HAND_CASES, ids=[c[0] for c in HAND_CASES])
def test_hand_cases(name, pred, target, connectivity, expected):
    result = betti_matching(pred, target, connectivity)
    assert result.errors.tolist() == expected
    assert betti_matching_error(pred, target, connectivity).tolist() == expected
    assert betti_matching_error(target, pred, connectivity).tolist() == expected  # symmetric on binary inputs


def test_border_ring_is_matched():
    """A ring touching two borders keeps its hole (26/8: the grid is zero-padded); it is matched in both inputs."""
    a, b = _ring_2d((7, 7), (0, 0), 5), _ring_and_dot()
    assert betti_numbers(a).tolist() == [1, 1] and betti_numbers(b).tolist() == [2, 1]
    result = betti_matching(a, b)
    assert result.matched.tolist() == [1, 1]
    assert result.target_births[0].tolist() in ([[6, 6]], [[5, 5]])  # the extra voxel or its neighbour


def test_nested_shells_unmatched_ball_is_drawn_inside():
    outer = _shell((15, 15, 15), (7, 7, 7), 6, 4)
    ball = _shell((15, 15, 15), (7, 7, 7), 2, -1)
    result = betti_matching(outer | ball, outer)
    assert result.unmatched_pred.tolist() == [1, 0, 0] and result.unmatched_target.tolist() == [0, 0, 0]
    assert result.matched.tolist() == [1, 0, 1]  # the outer shell and its cavity
    # the unmatched component is the ball: its reference voxels lie at or next to it
    for voxel in np.concatenate([result.pred_births[0], result.pred_deaths[0]]):
        assert np.abs(voxel - 7).max() <= 3


@pytest.mark.parametrize("connectivity", [26, 6])
def test_identical_masks_match_everything(connectivity):
    rng = np.random.default_rng(0)
    mask = gaussian_filter(rng.random((14, 13, 12)), 1.0) > 0.5
    result = betti_matching(mask, mask, connectivity)
    betti = betti_numbers(mask, connectivity)
    finite = betti.copy()
    if connectivity == 6 and betti[0]:
        finite[0] -= 1  # the reference reports finite pairs: the first component never dies
    assert result.errors.tolist() == [0, 0, 0]
    assert result.matched.tolist() == finite.tolist()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("connectivity", [8, 4, 26, 6])
def test_counts_add_up_to_betti_numbers(seed, connectivity):
    """matched + unmatched = the finite features of each input; coordinates lie in the grid, one per feature."""
    ndim = 2 if connectivity in (8, 4) else 3
    pred, target = _random_pair(seed + 100, ndim)
    result = betti_matching(pred, target, connectivity)
    for mask, unmatched, births, deaths in (
        (pred, result.unmatched_pred, result.pred_births, result.pred_deaths),
        (target, result.unmatched_target, result.target_births, result.target_deaths),
    ):
        finite = betti_numbers(mask, connectivity)
        if connectivity in (4, 6) and finite[0]:
            finite[0] -= 1
        assert (result.matched + unmatched).tolist() == finite.tolist()
        for k in range(ndim):
            assert births[k].shape == deaths[k].shape == (unmatched[k], ndim)
            assert ((births[k] >= 0) & (births[k] < np.array(mask.shape))).all()
            assert ((deaths[k] >= 0) & (deaths[k] < np.array(mask.shape))).all()


def test_record_and_defaults():
    a = _ring_2d((9, 12), (1, 1))
    b = _ring_2d((9, 12), (4, 8))
    result = betti_matching(a, b)
    assert isinstance(result, BettiMatching)
    assert result.connectivity == 8
    assert betti_matching(a, b, 4).connectivity == 4
    assert result.error == int(result.errors.sum()) == 4
    assert result.errors.dtype == np.int64
    errors = betti_matching_error(a.astype(np.uint8), b.astype(np.float32))
    assert errors.dtype == np.int64 and errors.tolist() == [2, 2]
    with pytest.raises(Exception):
        result.matched = np.zeros(2)  # frozen


# --------------------------------------------------------------------------------------------------------------
# bad inputs


@pytest.mark.parametrize("function", [betti_matching, betti_matching_error])
def test_ill_inputs(function):
    good = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="same shape"):
        function(good, np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="binary"):
        function(good, np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        function(np.full((4, 4), np.nan), good)
    with pytest.raises(ValueError, match="2D or 3D"):
        function(np.zeros(4, bool), np.zeros(4, bool))
    with pytest.raises(ValueError, match="2D or 3D"):
        function(np.zeros((2, 2, 2, 2), bool), np.zeros((2, 2, 2, 2), bool))
    with pytest.raises(ValueError, match="empty"):
        function(np.zeros((0, 3), bool), np.zeros((0, 3), bool))
    with pytest.raises(ValueError, match="connectivity"):
        function(good, good, connectivity=6)
    with pytest.raises(ValueError, match="connectivity"):
        function(good, good, connectivity=5)
    with pytest.raises(TypeError):
        function(np.array([["a"]]), np.array([["b"]]))

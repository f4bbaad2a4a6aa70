"""Matching math of the persistence losses: hand cases, the exact W2 reduction against POT, pruned vs exact OT."""

from __future__ import annotations

import numpy as np
import ot
import pytest

from monai_topo.topology.matching import (
    betti_prior_selection,
    hu_matching,
    normalize_locations,
    spatial_aware_matching,
    spatial_cost_matrix,
)


def hu_matching_cost(births, deaths, matched, unmatched, num_target: int = 0) -> float:
    """Reference value of Hu et al.'s loss for a matching: ``sum_matched (1-b)^2 + d^2 + sum_unmatched (b-d)^2 / 2``,
    plus 1/2 per target point left without a partner (the squared W2 distance for the "wasserstein" matching)."""
    b, d = np.asarray(births, np.float64), np.asarray(deaths, np.float64)
    matched, unmatched = np.asarray(matched, np.int64), np.asarray(unmatched, np.int64)
    cost = np.sum((1.0 - b[matched]) ** 2 + d[matched] ** 2) + np.sum((b[unmatched] - d[unmatched]) ** 2) / 2.0
    return float(cost + max(int(num_target) - matched.shape[0], 0) / 2.0)


def diagonal_cost(births, deaths) -> np.ndarray:
    """Euclidean distance of each point to the diagonal, ``|d - b| / sqrt(2)``."""
    return np.abs(np.asarray(deaths, np.float64) - np.asarray(births, np.float64)) / np.sqrt(2.0)

B = np.array([0.9, 0.6, 0.95, 0.4])
D = np.array([0.1, 0.5, 0.9, 0.0])
# persistence 0.8, 0.1, 0.05, 0.4; corner distance^2: 0.02, 0.41, 0.8125, 0.36

HU_CASES = [
    [{"num_target": 1, "method": "persistence"}, [0], [1, 2, 3]],
    [{"num_target": 2, "method": "persistence"}, [0, 3], [1, 2]],
    [{"num_target": 2, "method": "corner"}, [0, 3], [1, 2]],
    [{"num_target": 3, "method": "corner"}, [0, 3, 1], [2]],
    [{"num_target": 0, "method": "persistence"}, [], [0, 1, 2, 3]],
    [{"num_target": 9, "method": "persistence"}, [0, 3, 1, 2], []],
    # delta = ((b + d - 1)^2 - 2 l) / 2: -0.8, -0.095, 0.31125, -0.22 -> only negative ones, up to num_target
    [{"num_target": 2, "method": "wasserstein"}, [0, 3], [1, 2]],
    [{"num_target": 4, "method": "wasserstein"}, [0, 3, 1], [2]],
]


@pytest.mark.parametrize("params, matched, unmatched", HU_CASES)
def test_hu_matching(params, matched, unmatched):
    m, u = hu_matching(B, D, **params)
    assert m.tolist() == matched
    assert u.tolist() == unmatched


def _w2_squared_pot(b, d, num_target):
    """Squared W2 between the diagram and num_target copies of (1, 0), by exact OT with the diagonal."""
    n, m = len(b), num_target
    cost = np.zeros((n + 1, m + 1))
    cost[:n, :m] = ((1 - b) ** 2 + d**2)[:, None]
    cost[:n, m] = (b - d) ** 2 / 2
    cost[n, :m] = 0.5
    return ot.emd2(np.r_[np.ones(n), m], np.r_[np.ones(m), n], cost)


@pytest.mark.parametrize("seed", range(5))
def test_hu_wasserstein_is_exact_w2(seed):
    rng = np.random.default_rng(seed)
    b = rng.random(12)
    d = b * rng.random(12)
    for num_target in (0, 1, 3, 15):
        m, u = hu_matching(b, d, num_target, "wasserstein")
        ours = hu_matching_cost(b, d, m, u, num_target)
        assert ours == pytest.approx(_w2_squared_pot(b, d, num_target), abs=1e-12)
        # the persistence rule is a feasible matching, never better than the optimum
        m2, u2 = hu_matching(b, d, num_target, "persistence")
        assert hu_matching_cost(b, d, m2, u2, num_target) >= ours - 1e-12


def test_hu_matching_cost_hand():
    m, u = hu_matching(np.array([0.9, 0.6]), np.array([0.6, 0.4]), 1)
    # matched (0.9, 0.6): 0.01 + 0.36; unmatched (0.6, 0.4): 0.04 / 2
    assert hu_matching_cost(np.array([0.9, 0.6]), np.array([0.6, 0.4]), m, u) == pytest.approx(0.39)
    assert hu_matching_cost(np.array([0.9]), np.array([0.6]), [0], [], num_target=3) == pytest.approx(0.37 + 1.0)


def test_locations_and_costs():
    assert normalize_locations(np.array([[0, 4, 0], [2, 0, 0]]), (5, 5, 1)).tolist() == [[0, 1, 0], [0.5, 0, 0]]
    assert diagonal_cost(np.array([0.9]), np.array([0.1])) == pytest.approx([0.8 / np.sqrt(2)])
    M, f = spatial_cost_matrix(
        np.array([[0.9, 0.1], [0.5, 0.4]]),
        np.array([[0.0, 0.0], [1.0, 1.0]]),
        np.array([[1.0, 0.0]]),
        np.array([[0.0, 0.3]]),
    )
    assert f[:, 0] == pytest.approx([0.3, 1.0])  # sqrt(1 + 0.49) clamped to 1
    assert M[:, 0] == pytest.approx([0.3 * np.sqrt(0.02), np.sqrt(0.25 + 0.16)])
    M, f = spatial_cost_matrix(
        np.array([[0.9, 0.1]]), np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])
    )
    assert f[0, 0] == 0.05  # clamped from below


def test_spatial_matching_prefers_close_features():
    # target: two identical points at the left and the right; prediction: strong on the right, weak on the left
    pred = np.array([[0.9, 0.0], [0.3, 0.1]])
    pred_loc = np.array([[0.5, 0.875], [0.5, 0.125]])
    tgt = np.array([[1.0, 0.0], [1.0, 0.0]])
    tgt_loc = np.array([[0.5, 0.125], [0.5, 0.875]])
    res = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc)
    pairs = sorted(zip(res.pair_pred.tolist(), res.pair_target.tolist()))
    assert pairs == [(0, 1), (1, 0)]
    assert res.cost == pytest.approx(0.05 * 0.1 + 0.05 * np.sqrt(0.5))
    assert res.pred_diagonal.size == 0 and res.target_diagonal.size == 0


def test_spatial_matching_empty_sides():
    pred = np.array([[0.9, 0.1], [0.5, 0.4]])
    loc = np.zeros((2, 3))
    res = spatial_aware_matching(pred, loc, np.zeros((0, 2)), np.zeros((0, 3)))
    assert res.pred_diagonal.tolist() == [0, 1] and res.cost == pytest.approx(0.9 / np.sqrt(2))
    res = spatial_aware_matching(np.zeros((0, 2)), np.zeros((0, 3)), pred, loc)
    assert res.target_diagonal.tolist() == [0, 1] and res.cost == pytest.approx(0.9 / np.sqrt(2))
    res = spatial_aware_matching(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)))
    assert res.cost == 0.0


def _random_problem(rng, n, m, ndim=3):
    b = rng.random(n)
    pred = np.stack([b, b * rng.random(n)], 1)
    tgt = np.stack([rng.uniform(0.5, 1.0, m), rng.uniform(0.0, 0.3, m)], 1)
    return pred, rng.random((n, ndim)), tgt, rng.random((m, ndim))


def _excess_bound(exact, kept, pred, pred_loc, tgt, tgt_loc):
    """sum (diag_i + diag_j - M_ij) over the exact plan's pairs whose prediction point was pruned."""
    pruned_pairs = ~np.isin(exact.pair_pred, kept)
    i, j = exact.pair_pred[pruned_pairs], exact.pair_target[pruned_pairs]
    M, _ = spatial_cost_matrix(pred[i], pred_loc[i], tgt[j], tgt_loc[j])
    return float(np.sum(diagonal_cost(pred[i, 0], pred[i, 1]) + diagonal_cost(tgt[j, 0], tgt[j, 1]) - np.diag(M)))


@pytest.mark.parametrize("seed", range(4))
def test_pruned_ot_against_exact(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n, m = int(rng.integers(1, 80)), int(rng.integers(1, 9))
        pred, pred_loc, tgt, tgt_loc = _random_problem(rng, n, m)
        exact = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=None)
        assert exact.kept.shape[0] == n
        # the exact value, checked independently with ot.emd2 on the full matrix
        M, _ = spatial_cost_matrix(pred, pred_loc, tgt, tgt_loc)
        full = np.zeros((n + 1, m + 1))
        full[:n, :m], full[:n, m], full[n, :m] = M, diagonal_cost(*pred.T), diagonal_cost(*tgt.T)
        assert exact.cost == pytest.approx(ot.emd2(np.r_[np.ones(n), m], np.r_[np.ones(m), n], full), abs=1e-9)
        # K >= n: nothing pruned, identical
        same = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=1.0, prune_min=n)
        assert same.cost == pytest.approx(exact.cost, abs=1e-12)
        # candidate lists of size >= m: exact although most points are pruned
        cand = spatial_aware_matching(
            pred, pred_loc, tgt, tgt_loc, prune_factor=0.0, prune_min=1, candidates_per_target=m
        )
        assert cand.cost == pytest.approx(exact.cost, abs=1e-9)
        # persistence-only pruning: feasible (never below exact) and within the stated bound
        for k in (1, 3):
            approx = spatial_aware_matching(
                pred, pred_loc, tgt, tgt_loc, prune_factor=0.0, prune_min=k, candidates_per_target=0
            )
            bound = _excess_bound(exact, approx.kept, pred, pred_loc, tgt, tgt_loc)
            assert exact.cost - 1e-9 <= approx.cost <= exact.cost + bound + 1e-9
            assert approx.kept.shape[0] == min(k, n)
            assert sorted(approx.pred_diagonal.tolist() + approx.pair_pred.tolist()) == list(range(n))


@pytest.mark.parametrize("seed", range(3))
def test_nearest_neighbour_candidates(seed):
    rng = np.random.default_rng(seed)
    # n <= 64: the k-d tree path sees every point, so with candidates >= m it is still exact
    pred, pred_loc, tgt, tgt_loc = _random_problem(rng, 60, 5)
    exact = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=None)
    kd = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=0.0, prune_min=1, scan_limit=0)
    assert kd.cost == pytest.approx(exact.cost, abs=1e-9)
    # a larger problem: feasible, within the bound, and pruned
    pred, pred_loc, tgt, tgt_loc = _random_problem(rng, 2000, 12)
    exact = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=None)
    kd = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, scan_limit=0)
    assert kd.kept.shape[0] < 2000
    bound = _excess_bound(exact, kd.kept, pred, pred_loc, tgt, tgt_loc)
    assert exact.cost - 1e-9 <= kd.cost <= exact.cost + bound + 1e-9


def test_spatial_plan_is_a_partition():
    rng = np.random.default_rng(7)
    pred, pred_loc, tgt, tgt_loc = _random_problem(rng, 300, 6)
    res = spatial_aware_matching(pred, pred_loc, tgt, tgt_loc, prune_factor=2.0, prune_min=10, candidates_per_target=4)
    # every prediction point and every target point is transported exactly once (integral plan)
    pred_mass = np.zeros(300)
    np.add.at(pred_mass, res.pair_pred, res.pair_weight)
    np.add.at(pred_mass, res.pred_diagonal, res.pred_diagonal_weight)
    assert pred_mass == pytest.approx(np.ones(300))
    tgt_mass = np.zeros(6)
    np.add.at(tgt_mass, res.pair_target, res.pair_weight)
    np.add.at(tgt_mass, res.target_diagonal, res.target_diagonal_weight)
    assert tgt_mass == pytest.approx(np.ones(6))
    assert res.kept.shape[0] <= 2 * 6 + 10 + 4 * 6


BETTI_CASES = [
    [(np.array([0.2, 0.9, 0.5]), 1, None), [1], [2, 0], 0],
    [(np.array([0.2, 0.9, 0.5]), 0, 1), [], [1], 0],
    [(np.array([0.2, 0.9, 0.5]), 2, 0), [1, 2], [], 0],
    [(np.array([0.2]), 3, None), [0], [], 2],
    [(np.zeros(0), 1, 20), [], [], 1],
]


@pytest.mark.parametrize("args, keep, remove, missing", BETTI_CASES)
def test_betti_prior_selection(args, keep, remove, missing):
    sel = betti_prior_selection(*args)
    assert sel.keep.tolist() == keep and sel.remove.tolist() == remove and sel.missing == missing


def test_ill_opts():
    with pytest.raises(ValueError, match="num_target"):
        hu_matching(B, D, -1)
    with pytest.raises(ValueError, match="method"):
        hu_matching(B, D, 1, "greedy")
    with pytest.raises(ValueError, match="same length"):
        hu_matching(B, D[:2], 1)
    with pytest.raises(ValueError, match="finite"):
        hu_matching(np.array([np.inf]), np.array([0.0]), 1)
    with pytest.raises(ValueError, match="betti"):
        betti_prior_selection(B, -1)
    with pytest.raises(ValueError, match="max_bars"):
        betti_prior_selection(B, 1, -2)
    pred, loc = np.array([[0.9, 0.1]]), np.zeros((1, 2))
    with pytest.raises(ValueError, match="prune_factor"):
        spatial_aware_matching(pred, loc, pred, loc, prune_factor=-1)
    with pytest.raises(ValueError, match="finite"):
        spatial_aware_matching(np.array([[np.inf, 0.0]]), loc, pred, loc)
    with pytest.raises(ValueError, match="locations"):
        spatial_aware_matching(pred, np.zeros((2, 2)), pred, loc)

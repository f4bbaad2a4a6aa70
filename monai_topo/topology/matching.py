"""Matching math of the persistence-based losses: numpy in, numpy out, no torch.

Every function here works on the points of *one* persistence diagram in *one* homology dimension, in the
superlevel convention of the losses (probabilities: a point is ``(birth, death)`` with ``birth >= death``,
its persistence is ``birth - death``). They return index arrays into the points (and transport masses), so
the torch side of a loss only gathers the probabilities at the critical voxels of the selected points and
evaluates a closed-form cost; the combinatorial choice is never differentiated.

- :func:`hu_matching`: Hu et al. (NeurIPS 2019). The target is a binary mask, so its diagram is
  ``num_target`` copies of the perfect corner ``(1, 0)``; pick which prediction points are matched to it.
- :func:`spatial_aware_matching`: SATLoss (ICCV 2025). Exact optimal transport between two diagrams with a
  spatially weighted ground cost and the diagonal, with a pruning step that keeps it fast on noisy volumes.
- :func:`betti_prior_selection`: Clough et al. (TPAMI 2020). Which bars a Betti-number prior wants long
  and which it wants gone.

See ``docs/algorithms.md`` (the persistence losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

__all__ = [
    "HU_MATCHING_METHODS",
    "BettiPriorSelection",
    "SpatialMatching",
    "betti_prior_selection",
    "hu_matching",
    "normalize_locations",
    "spatial_aware_matching",
    "spatial_cost_matrix",
]

HU_MATCHING_METHODS = ("persistence", "corner", "wasserstein")
_SQRT2 = float(np.sqrt(2.0))


def _points(births: np.ndarray, deaths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(births, dtype=np.float64).reshape(-1)
    d = np.asarray(deaths, dtype=np.float64).reshape(-1)
    if b.shape != d.shape:
        raise ValueError(f"births and deaths must have the same length, got {b.shape[0]} and {d.shape[0]}.")
    if not (np.isfinite(b).all() and np.isfinite(d).all()):
        raise ValueError("births and deaths must be finite (give essential pairs a finite death first).")
    return b, d


def hu_matching(
    births: np.ndarray, deaths: np.ndarray, num_target: int, method: str = "persistence"
) -> tuple[np.ndarray, np.ndarray]:
    """Match prediction points to a binary target's diagram: ``num_target`` points at the perfect corner.

    Hu et al.'s loss then pushes matched points to ``(1, 0)`` (cost ``(1 - b)^2 + d^2``) and every other point
    to its diagonal projection (cost ``(b - d)^2 / 2``). Which points are matched:

    - ``"persistence"`` (default, Hu et al.'s reference code): the ``num_target`` most persistent points.
      Always matches ``min(num_target, n)`` points, so a missing feature is always created from the best
      candidate, even a weak one.
    - ``"corner"``: the ``num_target`` points closest to ``(1, 0)`` (squared Euclidean distance).
    - ``"wasserstein"``: the exact optimum of the squared 2-Wasserstein distance to the target diagram (a target
      point may also go to the diagonal, at cost 1/2). Matching point ``i`` instead of sending it and one target
      point to the diagonal changes the cost by ``delta_i = ((b + d - 1)^2 - 2 (b - d)) / 2``, so the optimum
      matches the (at most ``num_target``) points with the most negative ``delta``. Weak points are then left
      unmatched and pushed away instead of grown, which is faithful to the metric but gives no force to create
      a feature the prediction barely has.

    Ties are broken by point order (stable sort), so the result is deterministic.

    Args:
        births: birth values (superlevel: the higher value), shape ``(n,)``.
        deaths: death values, shape ``(n,)``, finite.
        num_target: number of target points in this dimension (``beta_k`` of the target), ``>= 0``.
        method: ``"persistence"``, ``"corner"`` or ``"wasserstein"``.

    Returns:
        ``(matched, unmatched)``: index arrays into the points; together a partition of ``range(n)``.
        ``matched`` is ordered by preference (most persistent / closest / most negative ``delta`` first).

    Raises:
        ValueError: for a negative ``num_target``, an unknown method or mismatched inputs.

    Example:
        >>> hu_matching(np.array([0.9, 0.6, 0.3]), np.array([0.1, 0.5, 0.0]), 1)
        (array([0]), array([1, 2]))
    """
    b, d = _points(births, deaths)
    if int(num_target) != num_target or num_target < 0:
        raise ValueError(f"num_target must be a non-negative integer, got {num_target!r}.")
    if method not in HU_MATCHING_METHODS:
        raise ValueError(f"method must be one of {HU_MATCHING_METHODS}, got {method!r}.")
    n = b.shape[0]
    k = min(int(num_target), n)
    if method == "persistence":
        order = np.argsort(-(b - d), kind="stable")
        matched = order[:k]
    elif method == "corner":
        order = np.argsort((1.0 - b) ** 2 + d**2, kind="stable")
        matched = order[:k]
    else:
        delta = ((b + d - 1.0) ** 2 - 2.0 * (b - d)) / 2.0
        order = np.argsort(delta, kind="stable")
        matched = order[:k]
        matched = matched[delta[matched] < 0]
    unmatched_mask = np.ones(n, bool)
    unmatched_mask[matched] = False
    return matched.astype(np.int64), np.flatnonzero(unmatched_mask).astype(np.int64)


def normalize_locations(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Voxel coordinates ``(n, ndim)`` mapped per axis to ``[0, 1]``: ``coord / (size - 1)`` (0 for size 1).

    Example:
        >>> normalize_locations(np.array([[0, 4], [2, 0]]), (5, 5)).tolist()
        [[0.0, 1.0], [0.5, 0.0]]
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, len(shape))
    scale = np.maximum(np.asarray(shape, dtype=np.float64) - 1.0, 1.0)
    return coords / scale


def _locations(locations: np.ndarray, count: int) -> np.ndarray:
    arr = np.asarray(locations, dtype=np.float64)
    if arr.ndim != 2:
        arr = arr.reshape(count, -1) if count else arr.reshape(0, 0)
    if arr.shape[0] != count:
        raise ValueError(f"expected {count} locations (one per point), got an array of shape {arr.shape}.")
    return arr


def spatial_cost_matrix(
    pred_points: np.ndarray,
    pred_locations: np.ndarray,
    target_points: np.ndarray,
    target_locations: np.ndarray,
    min_factor: float = 0.05,
    max_factor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """SATLoss ground cost ``M_ij = clamp(||loc_i - loc_j||_2, min_factor, max_factor) * ||D_i - D_j||_2``.

    Args:
        pred_points: ``(n, 2)`` (birth, death) of the prediction.
        pred_locations: ``(n, ndim)`` normalised locations (see :func:`normalize_locations`).
        target_points: ``(m, 2)``.
        target_locations: ``(m, ndim)``.
        min_factor, max_factor: clamp of the spatial factor (the paper's 0.05 and 1).

    Returns:
        ``(M, factor)``, both ``(n, m)``.

    Example:
        >>> M, f = spatial_cost_matrix(np.array([[0.9, 0.1]]), np.array([[0.0, 0.0]]),
        ...                            np.array([[1.0, 0.0]]), np.array([[0.0, 0.5]]))
        >>> round(float(M[0, 0]), 4), float(f[0, 0])
        (0.0707, 0.5)
    """
    pp = np.asarray(pred_points, np.float64).reshape(-1, 2)
    tp = np.asarray(target_points, np.float64).reshape(-1, 2)
    pl = _locations(pred_locations, pp.shape[0])
    tl = _locations(target_locations, tp.shape[0])
    # accumulate per axis: no (n, m, ndim) temporaries
    sq = np.zeros((pp.shape[0], tp.shape[0]))
    for axis in range(pl.shape[1]):
        diff = pl[:, axis, None] - tl[None, :, axis]
        sq += diff * diff
    factor = np.clip(np.sqrt(sq), min_factor, max_factor)
    db = pp[:, 0, None] - tp[None, :, 0]
    dd = pp[:, 1, None] - tp[None, :, 1]
    return factor * np.sqrt(db * db + dd * dd), factor


@dataclass(frozen=True)
class SpatialMatching:
    """Optimal transport plan between a prediction diagram, a target diagram and the diagonal.

    Attributes:
        pair_pred, pair_target: indices of the (prediction, target) pairs that carry mass.
        pair_weight: the mass of each pair (1 for the integral plans ``ot.emd`` returns).
        pair_factor: the spatial factor ``clamp(||loc_i - loc_j||)`` of each pair.
        pred_diagonal, pred_diagonal_weight: prediction points sent (partly) to the diagonal, with their mass;
            pruned points are here with mass 1.
        target_diagonal, target_diagonal_weight: target points sent to the diagonal, with their mass.
        kept: prediction indices that entered the exact OT (all of them when nothing was pruned).
        cost: total transport cost (the loss value of this diagram pair).
    """

    pair_pred: np.ndarray
    pair_target: np.ndarray
    pair_weight: np.ndarray
    pair_factor: np.ndarray
    pred_diagonal: np.ndarray
    pred_diagonal_weight: np.ndarray
    target_diagonal: np.ndarray
    target_diagonal_weight: np.ndarray
    kept: np.ndarray
    cost: float


def _select_candidates(
    pred_points: np.ndarray,
    pred_locations: np.ndarray,
    target_points: np.ndarray,
    target_locations: np.ndarray,
    pred_diag: np.ndarray,
    per_target: int,
    min_factor: float,
    max_factor: float,
    scan_limit: int,
    max_total: int,
    chunk_elements: int = 1 << 22,
) -> np.ndarray:
    """For each target point, the ``per_target`` prediction points with the smallest reduced cost
    ``M_ij - diag_i`` (what matching ``i`` to ``j`` costs compared to sending ``i`` to the diagonal).

    Exact scan when ``n * m <= scan_limit``; otherwise the scan is restricted, for each target point, to its
    ``max(4 * per_target, 64)`` spatially nearest prediction points (a k-d tree query), which are the ones whose
    spatial factor is smallest, and ``per_target`` is lowered to at most ``max(1, max_total // m)`` so that the
    candidates add at most about ``max_total`` points to the OT.
    """
    n, m = pred_points.shape[0], target_points.shape[0]
    k = min(per_target, n)
    if k <= 0 or m == 0:
        return np.zeros(0, np.int64)
    if n * m > scan_limit:
        k = min(k, max(1, max_total // m))
        from scipy.spatial import cKDTree

        near = min(max(4 * k, 64), n)
        _, idx = cKDTree(pred_locations).query(target_locations, k=near)
        idx = np.asarray(idx, np.int64).reshape(m, near)
        flat = idx.reshape(-1)
        cols = np.repeat(np.arange(m), near)
        # the cost of each (candidate, its own target) pair only, not a dense matrix
        loc_d = np.sqrt(((pred_locations[flat] - target_locations[cols]) ** 2).sum(-1))
        factor = np.clip(loc_d, min_factor, max_factor)
        dist = np.sqrt(((pred_points[flat] - target_points[cols]) ** 2).sum(-1))
        reduced = (factor * dist - pred_diag[flat]).reshape(m, near)
        best = (
            np.argpartition(reduced, k - 1, axis=1)[:, :k] if near > k else np.broadcast_to(np.arange(near), (m, near))
        )
        return np.unique(np.take_along_axis(idx, best, axis=1))
    # exact: keep a running best-k list per target column, chunk over the prediction points to bound memory
    best_val = np.full((0, m), np.inf)
    best_idx = np.zeros((0, m), np.int64)
    chunk = max(chunk_elements // m, k, 1)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        M, _ = spatial_cost_matrix(
            pred_points[start:stop], pred_locations[start:stop], target_points, target_locations, min_factor, max_factor
        )
        reduced = M - pred_diag[start:stop, None]
        vals = np.concatenate([best_val, reduced], axis=0)
        idxs = np.concatenate([best_idx, np.broadcast_to(np.arange(start, stop)[:, None], reduced.shape)], axis=0)
        if vals.shape[0] > k:
            part = np.argpartition(vals, k - 1, axis=0)[:k]
            vals = np.take_along_axis(vals, part, axis=0)
            idxs = np.take_along_axis(idxs, part, axis=0)
        best_val, best_idx = vals, idxs
    return np.unique(best_idx)


def spatial_aware_matching(
    pred_points: np.ndarray,
    pred_locations: np.ndarray,
    target_points: np.ndarray,
    target_locations: np.ndarray,
    prune_factor: float | None = 2.0,
    prune_min: int = 64,
    candidates_per_target: int = 32,
    min_factor: float = 0.05,
    max_factor: float = 1.0,
    scan_limit: int = 1 << 22,
) -> SpatialMatching:
    """SATLoss matching: exact optimal transport with the diagonal, on a pruned set of prediction points.

    The transport problem is the ``(n + 1) x (m + 1)`` matrix of :func:`spatial_cost_matrix` with an extra
    row and column for the diagonal: a prediction point goes to the diagonal at ``|d - b| / sqrt(2)``, a target
    point too, the corner costs 0; masses are 1 per point, ``m`` for the diagonal row and ``n`` for the
    diagonal column. It is solved exactly with ``ot.emd`` (network simplex).

    **Pruning** (the approximation). A noisy 96^3 likelihood has ~1e5 points per dimension, too many for an
    exact OT. Only these prediction points enter the OT; all others are sent to the diagonal at their fixed cost:

    1. the ``K = ceil(prune_factor * m) + prune_min`` most persistent points, and
    2. for every target point ``j``, the ``candidates_per_target`` points with the smallest reduced cost
       ``M_ij - |d_i - b_i| / sqrt(2)`` (what matching ``i`` to ``j`` saves over sending ``i`` to the diagonal;
       these are the spatially close ones that SATLoss wants to match even when they are weak). This scan costs
       ``O(n m)``; when ``n * m > scan_limit`` it is restricted to the ``max(4 * candidates_per_target, 64)``
       spatially nearest points of each target point (k-d tree), which makes it ``O((n + m) log n)``, and the
       lists are shortened to ``max(1, max(K, 1024) // m)`` points so the OT stays about ``2K`` points.

    The result is a feasible plan of the full problem, so its cost is never below the exact optimum. It is
    *exact* when ``K >= n`` or when ``candidates_per_target >= m`` and ``n * m <= scan_limit``: if an optimal
    plan matched a target ``j``
    to a point outside ``j``'s candidate list, one of ``j``'s ``m`` candidates is free (the other ``m - 1``
    targets use at most ``m - 1`` of them) and has a reduced cost no larger, so swapping them does not increase
    the cost. Otherwise the excess is at most ``sum (diag_i + diag_j - M_ij)`` over the exact optimum's pairs
    whose prediction point was pruned (send both to the diagonal instead). ``prune_factor=None`` disables
    pruning (exact OT on every point; quadratic memory, cubic time).

    Cost: the OT itself has ``(K' + 1) x (m + 1)`` entries (``K' <= K + candidates_per_target * m`` kept points),
    so it is negligible for the usual few to few hundred target features, but grows quadratically with ``m``
    (about 1 s for ``m ~ 1000`` in one window): for very fragmented targets use patches.

    Args:
        pred_points: ``(n, 2)`` (birth, death) of the prediction, finite.
        pred_locations: ``(n, ndim)`` normalised locations of the prediction points.
        target_points: ``(m, 2)`` of the target.
        target_locations: ``(m, ndim)``.
        prune_factor: ``K`` per target point (``None``: no pruning).
        prune_min: floor added to ``K``.
        candidates_per_target: size of each target's candidate list (0 disables step 2).
        min_factor, max_factor: clamp of the spatial factor.
        scan_limit: largest ``n * m`` for the exact candidate scan (beyond: nearest-neighbour candidates).

    Returns:
        a :class:`SpatialMatching`.

    Example:
        >>> res = spatial_aware_matching(np.array([[0.9, 0.2], [0.3, 0.2]]), np.array([[0.1, 0.1], [0.9, 0.9]]),
        ...                              np.array([[1.0, 0.0]]), np.array([[0.1, 0.1]]))
        >>> res.pair_pred.tolist(), res.pair_target.tolist(), res.pred_diagonal.tolist()
        ([0], [0], [1])
    """
    pp = np.asarray(pred_points, np.float64).reshape(-1, 2)
    tp = np.asarray(target_points, np.float64).reshape(-1, 2)
    n, m = pp.shape[0], tp.shape[0]
    pl = _locations(pred_locations, n)
    tl = _locations(target_locations, m)
    if not (np.isfinite(pp).all() and np.isfinite(tp).all()):
        raise ValueError("diagram points must be finite (give essential pairs a finite death first).")
    if prune_factor is not None and prune_factor < 0:
        raise ValueError(f"prune_factor must be >= 0 or None, got {prune_factor}.")
    if prune_min < 0 or candidates_per_target < 0:
        raise ValueError("prune_min and candidates_per_target must be >= 0.")
    pdiag = np.abs(pp[:, 1] - pp[:, 0]) / _SQRT2
    tdiag = np.abs(tp[:, 1] - tp[:, 0]) / _SQRT2
    empty_i = np.zeros(0, np.int64)
    empty_f = np.zeros(0, np.float64)

    if n == 0 or m == 0:  # nothing to transport between: everything goes to the diagonal
        return SpatialMatching(
            empty_i, empty_i, empty_f, empty_f,
            np.arange(n, dtype=np.int64), np.ones(n), np.arange(m, dtype=np.int64), np.ones(m),
            empty_i, float(pdiag.sum() + tdiag.sum()),
        )  # fmt: skip

    if prune_factor is None or int(np.ceil(prune_factor * m)) + prune_min >= n:
        kept = np.arange(n, dtype=np.int64)
    else:
        k = int(np.ceil(prune_factor * m)) + prune_min
        pers = pp[:, 0] - pp[:, 1]
        top = np.argpartition(-pers, k - 1)[:k] if k > 0 else empty_i
        cand = _select_candidates(
            pp, pl, tp, tl, pdiag, candidates_per_target, min_factor, max_factor, scan_limit, max(k, 1024)
        )
        kept = np.union1d(top, cand).astype(np.int64)
    pruned = np.setdiff1d(np.arange(n, dtype=np.int64), kept, assume_unique=True)

    K = kept.shape[0]
    M, factor = spatial_cost_matrix(pp[kept], pl[kept], tp, tl, min_factor, max_factor)
    full = np.zeros((K + 1, m + 1), np.float64)
    full[:K, :m] = M
    full[:K, m] = pdiag[kept]
    full[K, :m] = tdiag
    a = np.concatenate([np.ones(K), [float(m)]])
    b = np.concatenate([np.ones(m), [float(K)]])
    plan = ot.emd(a, b, full, numItermax=max(100000, 50 * (K + 1) * (m + 1)))
    plan = np.where(plan > 1e-12, plan, 0.0)

    rows, cols = np.nonzero(plan[:K, :m])
    pair_pred = kept[rows]
    pair_weight = plan[rows, cols]
    pred_diag_rows = np.flatnonzero(plan[:K, m])
    target_diag_cols = np.flatnonzero(plan[K, :m])
    pred_diagonal = np.concatenate([kept[pred_diag_rows], pruned])
    pred_diagonal_weight = np.concatenate([plan[pred_diag_rows, m], np.ones(pruned.shape[0])])
    order = np.argsort(pred_diagonal, kind="stable")
    cost = float((plan * full).sum() + pdiag[pruned].sum())
    return SpatialMatching(
        pair_pred=pair_pred.astype(np.int64),
        pair_target=cols.astype(np.int64),
        pair_weight=pair_weight,
        pair_factor=factor[rows, cols],
        pred_diagonal=pred_diagonal[order].astype(np.int64),
        pred_diagonal_weight=pred_diagonal_weight[order],
        target_diagonal=target_diag_cols.astype(np.int64),
        target_diagonal_weight=plan[K, target_diag_cols],
        kept=kept,
        cost=cost,
    )


@dataclass(frozen=True)
class BettiPriorSelection:
    """Bars a Betti-number prior acts on.

    Attributes:
        keep: indices of the ``beta`` longest bars, to be made persistence 1 (cost ``(1 - l)^2``).
        remove: indices of the next bars (at most ``max_bars``), to be made persistence 0 (cost ``l^2``).
        missing: how many of the ``beta`` wanted bars do not exist (each costs the constant 1).
    """

    keep: np.ndarray
    remove: np.ndarray
    missing: int


def betti_prior_selection(persistence: np.ndarray, betti: int, max_bars: int | None = None) -> BettiPriorSelection:
    """Clough et al.'s split of the bars of one dimension by a Betti-number prior ``betti``.

    Bars are ranked by persistence ``l_1 >= l_2 >= ...`` (stable for ties); the loss is
    ``sum_{i <= betti} (1 - l_i)^2 + sum_{betti < i <= betti + max_bars} l_i^2``.

    Args:
        persistence: ``(n,)`` bar lengths.
        betti: the wanted number of features in this dimension, ``>= 0``.
        max_bars: cap on the second sum (``None``: all remaining bars).

    Example:
        >>> s = betti_prior_selection(np.array([0.2, 0.9, 0.5]), 1)
        >>> s.keep.tolist(), s.remove.tolist(), s.missing
        ([1], [2, 0], 0)
    """
    pers = np.asarray(persistence, np.float64).reshape(-1)
    if int(betti) != betti or betti < 0:
        raise ValueError(f"betti must be a non-negative integer, got {betti!r}.")
    if max_bars is not None and (int(max_bars) != max_bars or max_bars < 0):
        raise ValueError(f"max_bars must be a non-negative integer or None, got {max_bars!r}.")
    order = np.argsort(-pers, kind="stable").astype(np.int64)
    betti = int(betti)
    keep = order[:betti]
    remove = order[betti:] if max_bars is None else order[betti : betti + int(max_bars)]
    return BettiPriorSelection(keep=keep, remove=remove, missing=max(betti - pers.shape[0], 0))

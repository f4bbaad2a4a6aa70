"""Every metric aggregates to the same value on 2 gloo processes as on 1, also with uneven shards.

MONAI's ``CumulativeIterationMetric`` all-gathers the per-item buffers in ``aggregate()``; ranks may hold different
numbers of items (``evenly_divisible_all_gather`` pads and trims). Each rank gets a contiguous shard of the same
items, fed in batches of varying size, so the gathered buffer has the single-process order and every reduction,
including ``"none"`` and ``"mean_channel"`` (per item), must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from monai_topo.metrics import (
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
)
from tests.distributed_helpers import requires_gloo, run_on_ranks

REDUCTIONS = ("mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel", "none")
N_ITEMS = 7


def _metrics() -> dict:
    return {
        "betti": BettiErrorMetric(get_not_nans=True),
        "betti-b0": BettiErrorMetric(dims=0, get_not_nans=True),
        "betti-b1": BettiErrorMetric(dims=1, get_not_nans=True),
        "betti-b2": BettiErrorMetric(dims=2, get_not_nans=True),
        "betti-patches": BettiErrorMetric(patch_size=5, num_patches=3, seed=1, get_not_nans=True),
        "betti-ignore-empty": BettiErrorMetric(ignore_empty=True, get_not_nans=True),
        "betti-matching": BettiMatchingErrorMetric(get_not_nans=True),
        "betti-matching-b1": BettiMatchingErrorMetric(dims=1, connectivity=6, ignore_empty=True, get_not_nans=True),
        "euler": EulerCharacteristicErrorMetric(ignore_empty=True, get_not_nans=True),
        "cldice": CenterlineDiceMetric(ignore_empty=True, get_not_nans=True),
        "splits": ConnectivityErrorMetric(kind="splits", get_not_nans=True),
        "merges": ConnectivityErrorMetric(kind="merges", get_not_nans=True),
        "connectivity": ConnectivityErrorMetric(connectivity=6, ignore_empty=True, get_not_nans=True),
    }


def _data(n: int = N_ITEMS) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random 3D masks, 2 channels; one empty target channel (NaN where ``ignore_empty``)."""
    rng = np.random.default_rng(11)

    def masks():
        fields = gaussian_filter(rng.random((n, 2, 12, 12, 10)), (0, 0, 1.2, 1.2, 1.2))
        return torch.as_tensor(fields > np.quantile(fields, 0.55))

    pred, true = masks(), masks()
    true[2, 1] = False
    return pred, true


def _aggregate(pred: torch.Tensor, true: torch.Tensor, batches: list[int]) -> dict:
    """Feed the items in batches of the given sizes, then aggregate every metric with every reduction."""
    assert sum(batches) == pred.shape[0]
    metrics = _metrics()
    start = 0
    for size in batches:
        for metric in metrics.values():
            metric(pred[start : start + size], true[start : start + size])
        start += size
    out = {}
    for name, metric in metrics.items():
        for reduction in REDUCTIONS:
            value, not_nans = metric.aggregate(reduction)
            out[f"{name}/{reduction}"] = (value.numpy(), not_nans.numpy())
    return out


# shards: the items of rank 0 and rank 1 (contiguous, in order), each as batch sizes
SHARDS = {
    "even": ([2, 1, 1], [2, 2]),  # 4 and 4 items (8 in all)
    "uneven": ([2, 2, 1], [1, 1]),  # 5 and 2
    "one-item-on-rank-0": ([1], [3, 2, 1]),  # 1 and 6
}


def _worker(rank: int, world_size: int, shards: tuple[list[int], list[int]]) -> dict:
    pred, true = _data(sum(map(sum, shards)))
    start = sum(sum(s) for s in shards[:rank])
    mine = slice(start, start + sum(shards[rank]))
    return _aggregate(pred[mine], true[mine], shards[rank])


@requires_gloo
@pytest.mark.parametrize("shards", list(SHARDS.values()), ids=list(SHARDS))
def test_two_processes_match_one(shards):
    pred, true = _data(sum(map(sum, shards)))
    single = _aggregate(pred, true, [pred.shape[0]])
    assert any(np.isnan(v).any() for k, (v, _) in single.items() if k.endswith("/none"))  # NaN cases are exercised
    for ranked in run_on_ranks(_worker, 2, shards):
        assert ranked.keys() == single.keys()
        for key, (value, not_nans) in single.items():
            np.testing.assert_allclose(ranked[key][0], value, rtol=1e-6, err_msg=key)
            np.testing.assert_array_equal(ranked[key][1], not_nans, err_msg=key)


def _fails_on_rank_1(rank: int, world_size: int) -> int:
    if rank == 1:
        raise RuntimeError("boom on rank 1")
    return rank


@requires_gloo
def test_a_failing_rank_is_reported_not_hung():
    with pytest.raises(AssertionError, match="boom on rank 1"):
        run_on_ranks(_fails_on_rank_1, 2, timeout=60)

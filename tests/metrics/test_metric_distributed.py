"""``aggregate()`` gives the same result on 1 process and on 2 (gloo on CPU), via MONAI's buffer all-gather."""

from __future__ import annotations

import numpy as np
import torch

from monai_topo.metrics import (
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
)
from tests.distributed_helpers import requires_gloo, run_on_ranks


def _metrics():
    return [
        BettiErrorMetric(get_not_nans=True),
        BettiMatchingErrorMetric(ignore_empty=True, get_not_nans=True),
        EulerCharacteristicErrorMetric(ignore_empty=True, get_not_nans=True),
        CenterlineDiceMetric(ignore_empty=True, get_not_nans=True),
        ConnectivityErrorMetric(get_not_nans=True),
    ]


def _data():
    rng = np.random.default_rng(7)
    pred = torch.as_tensor(rng.random((4, 2, 12, 12)) > 0.5)
    true = torch.as_tensor(rng.random((4, 2, 12, 12)) > 0.5)
    true[3, 1] = False  # an empty target channel: NaN where ignore_empty
    return pred, true


def _aggregate(metrics, pred, true):
    out = []
    for metric in metrics:
        for b in range(pred.shape[0]):  # one item per iteration, like a validation loop
            metric(pred[b : b + 1], true[b : b + 1])
        value, not_nans = metric.aggregate()
        out.append((float(value), float(not_nans)))
    return out


def _worker(rank: int, world_size: int):
    pred, true = _data()
    half = pred.shape[0] // world_size
    mine = slice(rank * half, (rank + 1) * half)
    return _aggregate(_metrics(), pred[mine], true[mine])


@requires_gloo
def test_two_processes_match_one():
    pred, true = _data()
    single = _aggregate(_metrics(), pred, true)
    for ranked in run_on_ranks(_worker, 2):
        np.testing.assert_allclose(np.array(ranked), np.array(single), rtol=1e-6)

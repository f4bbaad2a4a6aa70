"""``aggregate()`` gives the same result on 1 process and on 2 (gloo on CPU), via MONAI's buffer all-gather."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monai_topo.metrics import (
    BettiErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
)


def _metrics():
    return [
        BettiErrorMetric(get_not_nans=True),
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


def _worker(rank: int, world_size: int, port: int, queue) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        pred, true = _data()
        half = pred.shape[0] // world_size
        mine = slice(rank * half, (rank + 1) * half)
        queue.put(_aggregate(_metrics(), pred[mine], true[mine]))
    except Exception as e:  # report instead of hanging the parent
        queue.put(repr(e))
        raise
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
@pytest.mark.skipif(sys.platform != "linux", reason="forks the test process")
def test_two_processes_match_one():
    pred, true = _data()
    single = _aggregate(_metrics(), pred, true)
    ctx = mp.get_context("fork")  # no re-import of torch/monai in the workers
    queue = ctx.SimpleQueue()
    port = _free_port()
    workers = [ctx.Process(target=_worker, args=(rank, 2, port, queue)) for rank in range(2)]
    for w in workers:
        w.start()
    per_rank = [queue.get() for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    for ranked in per_rank:
        assert not isinstance(ranked, str), ranked
        np.testing.assert_allclose(np.array(ranked), np.array(single), rtol=1e-6)

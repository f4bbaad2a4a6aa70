"""Run a function on N ``torch.distributed`` ranks (gloo, CPU, forked processes, a free port on 127.0.0.1).

Used by the distributed metric tests: every rank initialises the process group, runs ``fn(rank, world_size, *args)``
and sends its (picklable) result back; an exception on a rank is reported with its traceback instead of hanging
the parent, and the parent gives up after ``timeout`` seconds.
"""

from __future__ import annotations

import queue as queue_module
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["free_port", "run_on_ranks", "requires_gloo"]

requires_gloo = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available() or sys.platform != "linux",
    reason="needs torch.distributed with gloo, and fork (Linux)",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, world_size: int, port: int, results, fn: Callable, args: tuple) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        results.put((rank, True, fn(rank, world_size, *args)))
    except BaseException:  # report instead of hanging the parent
        results.put((rank, False, traceback.format_exc()))
        raise
    finally:
        dist.destroy_process_group()


def run_on_ranks(fn: Callable[..., Any], world_size: int = 2, *args: Any, timeout: float = 120.0) -> list[Any]:
    """``[fn(rank, world_size, *args) for rank in range(world_size)]``, each on its own gloo rank.

    ``fn`` must be a module-level function (the processes are forked, so no re-import of torch / monai).

    Raises:
        AssertionError: when a rank raised (with its traceback), timed out, or exited with an error.
    """
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    port = free_port()
    workers = [ctx.Process(target=_entry, args=(r, world_size, port, results, fn, args)) for r in range(world_size)]
    for w in workers:
        w.start()
    per_rank: dict[int, Any] = {}
    try:
        for _ in workers:
            try:
                rank, ok, value = results.get(timeout=timeout)
            except queue_module.Empty:
                raise AssertionError(f"no result from every rank within {timeout} s (a collective may hang)") from None
            assert ok, f"rank {rank} failed:\n{value}"
            per_rank[rank] = value
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
                w.join(timeout=10)
    for w in workers:
        assert w.exitcode == 0, f"a worker exited with {w.exitcode}"
    return [per_rank[r] for r in range(world_size)]

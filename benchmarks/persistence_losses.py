"""Benchmark of the persistence-diagram losses against raw cripser on the same volumes.

Goal (``docs/algorithms.md``, the persistence losses): a forward + backward pass of each loss
within 1.15x of the time raw ``cripser.computePH_T`` needs for the persistence of the same volumes (serially),
the batch x channel x patch items spread over a thread pool; and a SATLoss OT step that stays small on a noisy
96^3 likelihood thanks to pruning.

Data: a vessel-like binary target (thickened zero-crossings of smooth random fields, about ten components and a
few loops) and the logits of a good but noisy prediction of it (gaps, blobs, N(0, 1) logit noise: every voxel
creates persistence pairs, ~1e5 per 64^3 volume), from :mod:`benchmarks.supervoxel`.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable

import cripser
import numpy as np
import torch

from benchmarks.supervoxel import trained_logits, tube_target
from monai_topo.losses import BettiPriorLoss, PersistenceMatchingLoss, SpatialAwareMatchingLoss
from monai_topo.topology import compute_persistence
from benchmarks.utils import best_time, peak_rss_bytes, reset_peak_rss
from monai_topo.topology.matching import normalize_locations, spatial_aware_matching

__all__ = ["benchmark_persistence_losses", "benchmark_sat_ot", "make_batch"]


def _probe_worker(which: str, size: int, batch: int, seed: int, workers: int) -> float | None:
    """In a fresh process: extra peak RSS (MiB) of one forward + backward (or raw cripser), above the RSS after
    the data is built. A fresh process, because freed memory kept by the allocator hides a second peak."""
    torch.set_num_threads(max(1, workers))
    logits, target = make_batch(size, batch, seed)
    vols = [np.ascontiguousarray(-torch.sigmoid(logits[b, 0].double()).numpy()) for b in range(batch)]
    losses = _loss_factories()
    if not reset_peak_rss():
        return None
    before = peak_rss_bytes() / 2**20
    if which == "raw":
        for v in vols:
            cripser.computePH_T(v, maxdim=2, location="yes")
    else:
        x = logits.clone().requires_grad_(True)
        losses[which](workers)(x, target).backward()
    return peak_rss_bytes() / 2**20 - before


def _peak_in_fresh_process(which: str, size: int, batch: int, seed: int, workers: int) -> float | None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_probe_worker, (which, size, batch, seed, workers))


def _loss_factories() -> dict[str, Callable[[int], torch.nn.Module]]:
    return {
        "PersistenceMatchingLoss": lambda w: PersistenceMatchingLoss(sigmoid=True, num_workers=w),
        "SpatialAwareMatchingLoss": lambda w: SpatialAwareMatchingLoss(sigmoid=True, num_workers=w),
        "BettiPriorLoss": lambda w: BettiPriorLoss((1, 0, 0), sigmoid=True, num_workers=w),
    }


def make_batch(size: int, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, target)`` of shape ``(batch, 1, size, size, size)``: vessel-like target, noisy good prediction."""
    spatial = (size,) * 3
    targets = np.stack([tube_target(spatial, seed + b, sigma=size / 8, width=0.15) for b in range(batch)])
    logits = np.stack([trained_logits(t, seed + b) for b, t in enumerate(targets)])
    return torch.from_numpy(logits[:, None]), torch.from_numpy(targets[:, None].astype(np.float32))


def benchmark_sat_ot(size: int = 96, seed: int = 0, exact_limit: int = 2_000_000) -> dict:
    """Time of the SATLoss OT step alone (per homology dimension) on one noisy ``size^3`` likelihood.

    Returns:
        ``{"size", "persistence_s", "dims": [{"dim", "pred_points", "target_points", "points_in_ot", "ot_s",
        "exact_ot_s", "cost", "exact_cost"}], "ot_total_s"}``; the exact (unpruned) OT is run only where
        ``pred_points * target_points <= exact_limit``.
    """
    logits, target = make_batch(size, batch=1, seed=seed)
    p = torch.sigmoid(logits[0, 0].double()).numpy()
    y = target[0, 0].double().numpy()
    start = time.perf_counter()
    pred_dgm = compute_persistence(p)
    persistence_s = time.perf_counter() - start
    tgt_dgm = compute_persistence(y)
    rows = []
    for k in range(3):
        P, T = pred_dgm.in_dim(k), tgt_dgm.in_dim(k)
        pts = np.stack([P.births, np.where(P.essential, 0.0, P.deaths)], 1)
        tps = np.stack([T.births, np.where(T.essential, 0.0, T.deaths)], 1)
        args = (pts, normalize_locations(P.birth_coords, P.shape), tps, normalize_locations(T.birth_coords, T.shape))
        start = time.perf_counter()
        res = spatial_aware_matching(*args)
        ot_s = time.perf_counter() - start
        row = {
            "dim": k,
            "pred_points": len(P),
            "target_points": len(T),
            "points_in_ot": int(res.kept.shape[0]),
            "ot_s": ot_s,
            "cost": res.cost,
            "exact_ot_s": None,
            "exact_cost": None,
        }
        if len(P) * max(len(T), 1) <= exact_limit:
            start = time.perf_counter()
            exact = spatial_aware_matching(*args, prune_factor=None)
            row["exact_ot_s"], row["exact_cost"] = time.perf_counter() - start, exact.cost
        rows.append(row)
    return {"size": size, "persistence_s": persistence_s, "dims": rows, "ot_total_s": sum(r["ot_s"] for r in rows)}


def benchmark_persistence_losses(
    sizes: tuple[int, ...] = (64, 128),
    batch: int = 2,
    repeats: int = 2,
    seed: int = 0,
    sat_size: int | None = 96,
    max_seconds: float = 60.0,
    num_workers: int | None = None,
    memory: bool = True,
) -> dict:
    """Time each persistence loss (forward + backward) against raw cripser on the same volumes.

    For every size (``batch x 1 x size^3``), in the same run and on the same arrays:

    - ``cripser_s``: raw ``cripser.computePH_T(-p, maxdim=2, location="yes")`` of every item's probabilities,
      one after the other (the target volumes too, for SATLoss: ``cripser_with_target_s``);
    - ``serial_s`` / ``threaded_s``: the loss with ``num_workers=1`` / ``num_workers`` (default: one per core);
    - ``speedup`` = ``serial_s / threaded_s``; ``ratio`` = ``threaded_s`` over the raw cripser time of the volumes
      the loss computes persistence of (predictions; plus targets for SATLoss);
    - ``serial_cpu_ratio``: CPU time (``time.process_time``) of the serial loss (one torch thread) over that of
      raw cripser: the overhead of the loss itself, insensitive to other processes competing for the cores;
    - ``pairs``: persistence pairs of the predictions; ``extra_peak_mib``: peak resident memory of one threaded
      forward + backward (raw cripser: of the serial calls) above the resident memory before it, measured in a
      fresh process (C++ allocations included; Linux only, else None). With ``k`` threads, ``k`` volumes are in
      cripser at once, so expect about ``k`` times raw cripser's peak.

    A size is skipped (``"skipped"``) when the previous size's slowest serial forward + backward, scaled by
    ``size^3 log size``, projects beyond ``max_seconds``.

    Args:
        sizes: cube sizes.
        batch: batch size.
        repeats: best-of repeats per timing (sizes >= 128 use 1).
        seed: data seed.
        sat_size: size of the SATLoss OT-step benchmark (None: skip).
        max_seconds: time budget for one serial forward + backward at a size.
        num_workers: threads for the threaded run.
        memory: measure ``extra_peak_mib`` (each in a fresh spawned process; adds a few seconds per entry).

    Returns:
        ``{"losses": [rows], "sat_ot": {...}, "cpu_cores", "max_rss_mib"}``.
    """
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    rows: list[dict] = []
    last_slowest, last_size = None, None
    for size in sizes:
        if last_slowest is not None:
            projected = last_slowest * (size / last_size) ** 3 * np.log(size) / np.log(last_size)
            if projected > max_seconds:
                rows.append({"size": size, "loss": "all", "skipped": f"projected {projected:.0f} s > {max_seconds} s"})
                continue
        reps = repeats if size < 128 else 1
        slowest = 0.0
        logits, target = make_batch(size, batch, seed)
        probs = torch.sigmoid(logits.double()).numpy()
        vols = [np.ascontiguousarray(-probs[b, 0]) for b in range(batch)]
        tvols = [np.ascontiguousarray(-target[b, 0].double().numpy()) for b in range(batch)]
        pairs = 0

        def raw(volumes: list[np.ndarray]) -> None:
            nonlocal pairs
            pairs = sum(cripser.computePH_T(v, maxdim=2, location="yes").shape[0] for v in volumes)

        cripser_s = best_time(lambda vols=vols: raw(vols), reps)
        pred_pairs = pairs
        cripser_target_s = best_time(lambda tvols=tvols: raw(tvols), reps)
        cripser_cpu_s = best_time(lambda vols=vols: raw(vols), reps, time.process_time)
        cripser_target_cpu_s = best_time(lambda tvols=tvols: raw(tvols), reps, time.process_time)
        for name, make in _loss_factories().items():

            def run(
                w: int, make: Callable = make, logits: torch.Tensor = logits, target: torch.Tensor = target
            ) -> None:
                x = logits.clone().requires_grad_(True)
                make(w)(x, target).backward()

            serial = best_time(lambda: run(1), reps)
            torch_threads = torch.get_num_threads()
            torch.set_num_threads(1)  # idle intra-op threads would add spin time to the CPU clock
            try:
                serial_cpu = best_time(lambda: run(1), reps, time.process_time)
            finally:
                torch.set_num_threads(torch_threads)
            slowest = max(slowest, serial)
            threaded = best_time(lambda: run(workers), reps)
            sat = name == "SpatialAwareMatchingLoss"
            base = cripser_s + (cripser_target_s if sat else 0.0)
            base_cpu = cripser_cpu_s + (cripser_target_cpu_s if sat else 0.0)
            rows.append(
                {
                    "size": size,
                    "loss": name,
                    "pairs": pred_pairs,
                    "cripser_s": cripser_s,
                    "cripser_with_target_s": cripser_s + cripser_target_s,
                    "serial_s": serial,
                    "threaded_s": threaded,
                    "speedup": serial / threaded,
                    "ratio": threaded / base,
                    "serial_cpu_ratio": serial_cpu / base_cpu,
                    "extra_peak_mib": _peak_in_fresh_process(name, size, batch, seed, workers) if memory else None,
                }
            )
        rows.append(
            {
                "size": size,
                "loss": "raw cripser (pred volumes)",
                "pairs": pred_pairs,
                "cripser_s": cripser_s,
                "extra_peak_mib": _peak_in_fresh_process("raw", size, batch, seed, workers) if memory else None,
            }
        )
        last_slowest, last_size = slowest, size
    out: dict = {"losses": rows, "cpu_cores": os.cpu_count(), "threads": workers}
    if sat_size:
        out["sat_ot"] = benchmark_sat_ot(sat_size, seed)["dims"]
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(benchmark_persistence_losses(), indent=2, default=str))

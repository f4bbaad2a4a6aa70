"""Many labels: ``betti``, ``evaluate`` and the chunked evaluation on 1 label against ``n`` labels of one volume.

The goal of issue 18.9: 1,000 instance labels at 128^3 in at most 2 GB and at most 10 times the time of one label.
One ``size^3`` target of ``n`` touching objects (cells around random seeds, cut by a smooth random field: pieces,
loops, cavities) and a prediction with breaks and relabelled noise; the one-label case is the same foreground with
a single label (``target > 0``, ``pred > 0``). Each operation runs in a fresh process (``--child``): peak RSS
(``VmHWM``, absolute and above the process after importing the package and loading the arrays) and the best of
``repeats`` wall-clock times:

- ``betti_table``: the Betti numbers of every label of the target (``monai-topo betti``, in memory);
- ``evaluate_case``: every label of the prediction against the target (``monai-topo evaluate``, in memory);
- ``evaluate_case_chunked``: the same from Zarr stores with ``chunks^3`` chunks (``evaluate`` on Zarr).

Example::

    python -m benchmarks --only labels
    python -m benchmarks.labels --size 96 --labels 500      # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.utils import child_env, peak_rss_bytes

__all__ = ["OPERATIONS", "benchmark_labels", "instance_volumes", "main"]

_MB = 1024.0 * 1024.0

#: the measured operations, by name
OPERATIONS = ("betti_table", "evaluate_case", "evaluate_case_chunked")


def instance_volumes(size: int = 128, n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(target, pred)``: ``size^3`` int32 maps of about ``n`` touching objects, and a prediction with breaks.

    Example:
        >>> target, pred = instance_volumes(16, 20)
        >>> target.shape, 15 <= len(np.unique(target)) - 1 <= 20
        ((16, 16, 16), True)
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    shape = (size,) * 3
    seeds = np.zeros(shape, np.int32)
    seeds.flat[rng.choice(seeds.size, size=n, replace=False)] = np.arange(1, n + 1, dtype=np.int32)
    _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    field = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), 1.5)
    target = np.where(field > np.quantile(field, 0.4), seeds[tuple(nearest)], 0).astype(np.int32)
    del nearest
    pred = target.copy()
    pred[rng.random(shape, dtype=np.float32) < 0.02] = 0  # breaks
    noise = rng.random(shape, dtype=np.float32) < 0.005
    pred[noise] = rng.integers(0, n + 1, size=int(noise.sum()), dtype=np.int32)  # merges, spurious voxels
    return target, pred


def _run(operation: str, data: str, chunks: int, workers: int) -> object:
    import dask

    from monai_topo.evaluation import betti_table, evaluate_case, evaluate_case_chunked

    if operation == "evaluate_case_chunked":
        with dask.config.set(scheduler="threads", num_workers=workers):
            return evaluate_case_chunked(
                os.path.join(data, "pred.zarr"), os.path.join(data, "target.zarr"), progress=False
            )
    target = np.load(os.path.join(data, "target.npy"))
    if operation == "betti_table":
        return betti_table(target)
    pred = np.load(os.path.join(data, "pred.npy"))
    return evaluate_case(pred, target, num_workers=workers)


def _child(operation: str, data: str, chunks: int, workers: int, repeats: int) -> dict:
    """One operation in this (fresh) process: best time and peak RSS."""
    import monai_topo.evaluation  # noqa: F401 - the import is part of the baseline

    baseline = peak_rss_bytes()
    best, rows = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        rows = _run(operation, data, chunks, workers)
        best = min(best, time.perf_counter() - start)
    peak = peak_rss_bytes()
    return {"seconds": best, "peak_mb": peak / _MB, "above_import_mb": (peak - baseline) / _MB, "rows": len(rows)}


def _write(folder: str, target: np.ndarray, pred: np.ndarray, chunks: int) -> None:
    import zarr

    os.makedirs(folder, exist_ok=True)
    for name, volume in (("target", target), ("pred", pred)):
        np.save(os.path.join(folder, f"{name}.npy"), volume)
        zarr.create_array(os.path.join(folder, f"{name}.zarr"), data=volume, chunks=(chunks,) * volume.ndim)


def benchmark_labels(
    size: int = 128, labels: int = 1000, chunks: int = 64, workers: int = 1, repeats: int = 2, seed: int = 0
) -> dict:
    """Each operation on 1 label and on ``labels`` labels, each in a fresh process; ratios of the two times.

    Returns:
        ``{"rows": [...], "labels": n, "size": size}``: per operation and label count the seconds, peak RSS and
        its part above the import, and for the ``n``-label rows ``ratio``, their time over the one-label time.
    """
    target, pred = instance_volumes(size, labels, seed)
    found = int(len(np.unique(target)) - 1)
    root = tempfile.mkdtemp(prefix="monai_topo_labels_")
    rows = []
    try:
        folders = {1: os.path.join(root, "one"), found: os.path.join(root, "many")}
        _write(folders[1], (target > 0).astype(np.int32), (pred > 0).astype(np.int32), chunks)
        _write(folders[found], target, pred, chunks)
        del target, pred
        for operation in OPERATIONS:
            times = {}
            for count, folder in folders.items():
                command = [sys.executable, "-m", "benchmarks.labels", "--child", operation, "--data", folder]
                command += ["--chunks", str(chunks), "--workers", str(workers), "--repeats", str(repeats)]
                result = subprocess.run(command, capture_output=True, text=True, check=True, env=child_env())
                row = json.loads(result.stdout.strip().splitlines()[-1])
                times[count] = row["seconds"]
                rows.append({"operation": operation, "labels": count, **row})
                if count != 1:
                    rows[-1]["ratio"] = times[count] / times[1]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"rows": rows, "labels": found, "size": size, "chunks": chunks, "workers": workers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.labels", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", choices=OPERATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.data, args.chunks, args.workers, args.repeats)))
        return 0
    print(json.dumps(benchmark_labels(args.size, args.labels, args.chunks, args.workers, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

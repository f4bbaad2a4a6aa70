"""Chunked (dask) topology: exactness, time against the in-memory path, and peak memory on a Zarr volume.

Three measurements:

- ``exact``: :func:`monai_topo.topology.chunked_topology` against :func:`~monai_topo.topology.betti_numbers`
  on random and structured masks, 2D and 3D, both connectivities, chunk sizes from 1 voxel up, ragged chunks.
- ``time``: a ``size^3`` mask that fits in memory, in-memory Betti numbers vs the chunked path over
  ``da.from_array`` with the threaded scheduler (``--workers`` threads), best of ``--repeats``.
- ``memory``: a ``size^3`` mask written chunk by chunk to a compressed Zarr store (never whole in memory), then
  its Betti numbers in a fresh process: peak RSS (``VmHWM``) and time; the store is deleted afterwards.

Example::

    python -m benchmarks --only chunked                               # 512^3 time, 1024^3 memory
    python -m benchmarks.chunked --time-size 256 --memory-size 512     # a quicker run
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

from benchmarks.utils import best_time, child_env, peak_rss_bytes

__all__ = ["benchmark_chunked", "benchmark_exactness", "benchmark_memory", "benchmark_time", "field_block", "main"]

_MB = 1024.0 * 1024.0


def field_block(block: np.ndarray, block_info: dict | None = None, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """One chunk of a binary test volume defined voxel by voxel: smooth waves (blobs, tunnels, cavities) + noise.

    The waves are functions of the global voxel coordinates, so the mask is the same whatever the chunking;
    the noise is seeded by the chunk's position.
    """
    info = (block_info or {}).get(0)
    starts = [lo for lo, _ in info["array-location"]] if info else [0] * block.ndim
    grid = np.meshgrid(
        *[
            np.arange(s, s + n, dtype=np.float32) * np.float32(0.07 + 0.01 * a)
            for a, (s, n) in enumerate(zip(starts, block.shape))
        ],
        indexing="ij",
        sparse=True,
    )
    out = np.sin(grid[0] + np.float32(seed))
    for axis in grid[1:]:
        out = out + np.sin(axis + np.float32(1.3 * seed + 0.5))
    out = out + np.sin(grid[0] + grid[1]) * np.cos(grid[-1])
    rng = np.random.default_rng([seed, *starts])
    out += rng.random(block.shape, dtype=np.float32) * np.float32(0.3)
    return out > level


def _lazy_mask(size: int, ndim: int, chunks: int, seed: int = 0):
    import dask.array as da

    return da.zeros((size,) * ndim, dtype=bool, chunks=chunks).map_blocks(field_block, seed=seed, dtype=bool)


def benchmark_exactness(seed: int = 0) -> dict:
    """Chunked vs in-memory Betti numbers and Euler characteristic on many masks and chunkings.

    Returns:
        ``{"cases", "exact", "mismatches"}``.
    """
    import dask
    import dask.array as da

    from monai_topo.topology import betti_numbers, chunked_topology, euler_characteristic

    rng = np.random.default_rng(seed)
    masks = []
    for ndim, size in ((2, 40), (3, 14)):
        masks.append(rng.random((size,) * ndim) < 0.5)  # noise: many components, loops, cavities
        masks.append(np.asarray(_lazy_mask(size, ndim, 7, seed)))  # waves: structures spanning many chunks
    ragged3 = ((1, 3, 4, 6), (5, 2, 7), (7, 7))
    chunkings = {2: [1, 2, 3, 7, (5, 11), ((1, 13, 26), (20, 20))], 3: [1, 2, 3, 5, 7, ragged3]}
    cases, mismatches = 0, []
    with dask.config.set(scheduler="synchronous"):
        for mask in masks:
            for connectivity in (None, 4 if mask.ndim == 2 else 6):
                expected = betti_numbers(mask, connectivity).tolist(), euler_characteristic(mask, connectivity)
                for chunks in chunkings[mask.ndim]:
                    top = chunked_topology(da.from_array(mask, chunks=chunks), connectivity)
                    cases += 1
                    if (top.betti.tolist(), top.euler) != expected:
                        mismatches.append(f"{mask.shape} chunks={chunks} conn={connectivity}")
    return {"cases": cases, "exact": not mismatches, "mismatches": mismatches}


def benchmark_time(size: int = 512, chunks: int = 128, workers: int = 2, repeats: int = 2) -> dict:
    """In-memory vs chunked Betti numbers of one ``size^3`` mask (threaded scheduler, ``workers`` threads)."""
    import dask
    import dask.array as da

    from monai_topo.topology import betti_numbers, chunked_topology

    mask = np.asarray(_lazy_mask(size, 3, chunks))
    lazy = da.from_array(mask, chunks=chunks)
    expected = betti_numbers(mask)
    in_memory = best_time(lambda: betti_numbers(mask), repeats)
    with dask.config.set(scheduler="threads", num_workers=workers):
        got = chunked_topology(lazy).betti
        chunked = best_time(lambda: chunked_topology(lazy), repeats)
    return {
        "shape": f"{size}^3",
        "chunks": f"{chunks}^3",
        "workers": workers,
        "betti": str(expected.tolist()),
        "exact": bool((got == expected).all()),
        "in_memory_s": in_memory,
        "chunked_s": chunked,
        "ratio": chunked / in_memory,
    }


def _write_zarr(path: str, size: int, chunks: int) -> float:
    """Write the ``size^3`` test mask chunk by chunk to a compressed Zarr store; returns the seconds taken."""
    import dask
    import dask.array as da

    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=1):
        da.to_zarr(_lazy_mask(size, 3, chunks).astype(np.uint8), path, overwrite=True)
    return time.perf_counter() - start


def _child(path: str, workers: int) -> dict:
    """In a fresh process: Betti numbers of the Zarr store, peak RSS and time."""
    import dask

    from monai_topo.io import open_volume
    from monai_topo.topology import chunked_topology

    baseline = peak_rss_bytes()
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=workers):
        top = chunked_topology(open_volume(path) != 0)
    seconds = time.perf_counter() - start
    return {
        "betti": top.betti.tolist(),
        "euler": top.euler,
        "voxels": top.voxels,
        "seconds": seconds,
        "import_peak_mb": baseline / _MB,
        "peak_mb": peak_rss_bytes() / _MB,
    }


def benchmark_memory(size: int = 1024, chunks: int = 128, workers: int = 2, folder: str | None = None) -> dict:
    """Peak RSS of the chunked Betti numbers of a ``size^3`` Zarr mask, in a fresh process (store deleted after)."""
    root = tempfile.mkdtemp(prefix="monai_topo_chunked_", dir=folder)
    path = os.path.join(root, f"mask_{size}.zarr")
    try:
        write_s = _write_zarr(path, size, chunks)
        disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
        command = [sys.executable, "-m", "benchmarks.chunked", "--child", path, "--workers", str(workers)]
        result = subprocess.run(command, capture_output=True, text=True, check=True, env=child_env())
        row = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "shape": f"{size}^3",
        "chunks": f"{chunks}^3",
        "workers": workers,
        "zarr_mb": disk / _MB,
        "write_s": write_s,
        **row,
        "full_array_mb": size**3 / _MB,
    }


def benchmark_chunked(
    time_size: int = 512, memory_size: int = 1024, chunks: int = 128, workers: int = 2, repeats: int = 2
) -> dict:
    """All three measurements (see the module docstring)."""
    return {
        "exact": benchmark_exactness(),
        "time": benchmark_time(time_size, chunks, workers, repeats),
        "memory": benchmark_memory(memory_size, chunks, workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chunked", description=__doc__.split("\n")[0])
    parser.add_argument("--time-size", type=int, default=512)
    parser.add_argument("--memory-size", type=int, default=1024)
    parser.add_argument("--chunks", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.workers)))
        return 0
    print(
        json.dumps(
            benchmark_chunked(args.time_size, args.memory_size, args.chunks, args.workers, args.repeats), indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

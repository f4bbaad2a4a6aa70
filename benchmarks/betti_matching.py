"""Betti matching: :func:`monai_topo.topology.betti_matching` against Betti-Matching-3D (the reference).

Binary pairs of three kinds, at 64^3, 96^3 and 128^3 (ours and the reference, timed in the same run, best of
interleaved rounds; the outputs compared) and at 192^3 and 256^3 (ours alone, to show how the cost grows):

- ``neuron``: the built-in synthetic neuron's label against a thresholded smoothing of its image (gaps, blobs,
  merged and broken branches);
- ``placenta``: the built-in synthetic placenta's label against a thresholded smoothing of its ultrasound image
  (speckle blobs);
- ``blobs``: a thresholded smooth random field (handles and cavities) against a perturbed copy: hundreds of
  tunnels, the hard case for dimension 1;
- ``noise`` (only when asked for, at small sizes): two independent masks of 50% random voxels, thousands of tunnels
  with long loops, the worst case (the linking numbers grow faster than the volume).

The connectivity is the package default (26: the reference applied to the zero-padded masks, dimensions reversed).
Peak memory (RSS) of each, ours and the reference, is measured in a fresh ``python -m benchmarks.betti_matching
--child`` process that loads the pair from ``.npy`` files: the peak above the process's resident size just before
the call (its own input conversion included).

Example::

    python -m benchmarks --only betti-matching
    python -m benchmarks.betti_matching --sizes 64 128 --large-sizes 256 --kinds neuron --repeats 3
    python -m benchmarks.betti_matching --kinds noise --sizes 32 48 --large-sizes --no-memory
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from benchmarks.utils import best_times_interleaved, child_env, current_rss_bytes, peak_rss_bytes, reset_peak_rss

__all__ = [
    "COLUMNS", "KINDS", "WORST_CASE", "benchmark_betti_matching", "load_reference", "make_pair", "reference_matching",
]  # fmt: skip

KINDS = ("neuron", "placenta", "blobs")  # the default run
WORST_CASE = "noise"
_MB = 1024.0 * 1024.0


def load_reference():
    """Betti-Matching-3D's compiled module from the ``topolosses==0.2.0`` wheel (``pip install --no-deps
    topolosses==0.2.0``), loaded by file path; ``None`` where it is not installed."""
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


def make_pair(kind: str, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A ``(pred, target)`` pair of boolean ``size^3`` masks of the given kind (see the module docstring).

    Example:
        >>> pred, target = make_pair("blobs", 16)
        >>> pred.shape, target.dtype
        ((16, 16, 16), dtype('bool'))
    """
    if kind == "neuron":
        from monai_topo.data.neuron import make_neuron_volume

        image, label, _, _ = make_neuron_volume(size, seed=seed)
        target = label > 0
        smooth = gaussian_filter(image.astype(np.float32), 1.0)
        return smooth > np.quantile(smooth, 1.0 - 1.1 * target.mean()), target
    if kind == "placenta":
        from monai_topo.data.placenta import make_placenta_volume

        image, label, _ = make_placenta_volume(size, seed=seed)
        target = label > 0
        smooth = gaussian_filter(image.astype(np.float32), 1.5)
        return smooth > np.quantile(smooth, 1.0 - target.mean()), target
    if kind == "blobs":
        rng = np.random.default_rng(seed)
        field = gaussian_filter(rng.random((size,) * 3, dtype=np.float32), size / 32.0)
        noise = gaussian_filter(rng.standard_normal((size,) * 3, dtype=np.float32), size / 64.0)
        level = np.quantile(field, 0.5)
        return field + noise * field.std() * 0.5 > level, field > level
    if kind == WORST_CASE:
        rng = np.random.default_rng(seed)
        return rng.random((size,) * 3) < 0.5, rng.random((size,) * 3) < 0.5
    raise ValueError(f"unknown kind {kind!r}; use one of {KINDS + (WORST_CASE,)}.")


def _reference_inputs(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """26-connectivity: the reference's sublevel filtration of the zero-padded masks themselves."""
    return np.pad(pred, 1).astype(np.float64), np.pad(target, 1).astype(np.float64)


def reference_matching(reference, pred: np.ndarray, target: np.ndarray) -> list[tuple]:
    """Per foreground dimension (26-connectivity): ``(matched, unmatched pred pairs, unmatched target pairs)`` of the
    reference, the pairs as sorted ``(birth voxel, death voxel)`` in the unpadded grid (clipped to it)."""
    result = reference.compute_matching(*_reference_inputs(pred, target))
    d, limit = pred.ndim, np.array(pred.shape) - 1

    def pairs(births, deaths, k):
        b = np.clip(np.asarray(births[k]).reshape(-1, d) - 1, 0, limit)
        e = np.clip(np.asarray(deaths[k]).reshape(-1, d) - 1, 0, limit)
        return sorted(zip(map(tuple, b.tolist()), map(tuple, e.tolist())))

    out = [
        (
            int(result.num_matched[k]),
            pairs(result.input1_unmatched_birth_coordinates, result.input1_unmatched_death_coordinates, k),
            pairs(result.input2_unmatched_birth_coordinates, result.input2_unmatched_death_coordinates, k),
        )
        for k in range(d)
    ]
    return out[::-1]


def _our_matching(result) -> list[tuple]:
    def pairs(births, deaths):
        return sorted(zip(map(tuple, births.tolist()), map(tuple, deaths.tolist())))

    return [
        (
            int(result.matched[k]),
            pairs(result.pred_births[k], result.pred_deaths[k]),
            pairs(result.target_births[k], result.target_deaths[k]),
        )
        for k in range(len(result.matched))
    ]


def _child(which: str, folder: str) -> dict:
    """Run one of ``ours`` / ``errors`` / ``reference`` on the pair saved in ``folder`` (called in a subprocess)."""
    import gc

    pred, target = np.load(Path(folder) / "pred.npy"), np.load(Path(folder) / "target.npy")
    if which == "reference":
        reference = load_reference()

        def run():
            return reference.compute_matching(*_reference_inputs(pred, target))

    else:
        from monai_topo.topology import betti_matching, betti_matching_error

        def run():
            return betti_matching(pred, target) if which == "ours" else betti_matching_error(pred, target)

    gc.collect()
    before = current_rss_bytes()
    reset = reset_peak_rss()
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    return {"which": which, "seconds": seconds, "peak_mb": peak / _MB, "above_mb": (peak - (before or 0)) / _MB,
            "peak_reset": reset}


def _run_child(which: str, folder: str, timeout: float | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.betti_matching", "--child", which, folder]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"betti matching child {which!r} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark_betti_matching(
    sizes: tuple[int, ...] = (64, 96, 128),
    large_sizes: tuple[int, ...] = (192, 256),
    kinds: tuple[str, ...] = KINDS,
    seed: int = 0,
    repeats: int = 2,
    memory: bool = True,
    timeout: float | None = 1800,
) -> list[dict]:
    """One row per (kind, size): our time (full record, and errors only), the reference's, their ratio, whether the
    outputs are equal (counts and unmatched coordinates), and the peak memory of each (``memory``).

    The reference runs at ``sizes`` only (where it is installed); ``large_sizes`` show our cost alone:
    ``us_per_voxel`` is the time per voxel, ``growth`` our time relative to the largest of ``sizes`` scaled by the
    number of voxels (1.0: linear).
    """
    from monai_topo.topology import betti_matching, betti_matching_error

    reference = load_reference()
    rows = []
    for kind in kinds:
        base = None
        for size in tuple(sizes) + tuple(large_sizes):
            pred, target = make_pair(kind, size, seed)
            compare = reference is not None and size in sizes
            fns = {
                "ours": lambda: betti_matching(pred, target),
                "errors_only": lambda: betti_matching_error(pred, target),
            }
            if compare:
                inputs = _reference_inputs(pred, target)
                fns["reference"] = lambda: reference.compute_matching(*inputs)
            times = best_times_interleaved(fns, repeats)
            ours = betti_matching(pred, target)
            row = {
                "kind": kind,
                "size": size,
                "errors": ours.errors.tolist(),
                "ours_s": times["ours"],
                "errors_only_s": times["errors_only"],
                "us_per_voxel": times["ours"] / size**3 * 1e6,
            }
            if compare:
                row["reference_s"] = times["reference"]
                row["speedup"] = times["reference"] / times["ours"]
                row["exact"] = _our_matching(ours) == reference_matching(reference, pred, target)
            if size in sizes:
                base = row["us_per_voxel"]
            elif base:
                row["growth"] = row["us_per_voxel"] / base
            if memory:
                with tempfile.TemporaryDirectory() as folder:
                    np.save(Path(folder) / "pred.npy", pred)
                    np.save(Path(folder) / "target.npy", target)
                    row["ours_peak_mb"] = _run_child("ours", folder, timeout)["above_mb"]
                    if compare:
                        row["reference_peak_mb"] = _run_child("reference", folder, timeout)["above_mb"]
                        row["memory_ratio"] = row["reference_peak_mb"] / max(row["ours_peak_mb"], 1e-9)
            rows.append(row)
    return rows


COLUMNS = [
    "kind", "size", "errors", "ours_s", "errors_only_s", "reference_s", "speedup", "exact",
    "ours_peak_mb", "reference_peak_mb", "memory_ratio", "us_per_voxel", "growth",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.betti_matching", description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 96, 128])
    parser.add_argument("--large-sizes", nargs="*", type=int, default=[192, 256])
    parser.add_argument("--kinds", nargs="+", choices=KINDS + (WORST_CASE,), default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    rows = benchmark_betti_matching(
        tuple(args.sizes), tuple(args.large_sizes), tuple(args.kinds), repeats=args.repeats, memory=not args.no_memory
    )
    for row in rows:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

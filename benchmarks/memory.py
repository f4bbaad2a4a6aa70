"""Peak memory (RSS) of the topology core, the metrics and every loss, each case in a fresh process.

Every case runs in its own ``python -m benchmarks.memory --child CASE SIZE`` subprocess, which imports
the package, builds its inputs, runs the operation and reports its peak resident set size (``VmHWM`` from
``/proc/self/status``, else ``getrusage(RUSAGE_SELF).ru_maxrss``). The baseline is the same measurement of a process
that only imports the package (torch, monai, monai_topo); ``above_baseline_mb`` is the case's peak minus it. Where
Linux allows resetting the peak (``/proc/self/clear_refs``), ``op_extra_mb`` is what the operation itself needs on
top of its inputs (peak during the operation minus the resident size just before it).

Example::

    python -m benchmarks.memory --size 256        # a table; --json FILE for the raw rows
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from benchmarks.utils import child_env, current_rss_bytes, peak_rss_bytes, reset_peak_rss

__all__ = ["CASES", "benchmark_memory", "main"]

_MB = 1024.0 * 1024.0


def _field(shape: tuple[int, ...], seed: int):
    """A float32 field in about [-3, 3]: smooth waves (blobs, handles, cavities) plus a little noise.

    Built by broadcasting, so making it needs no more memory than the result (and one noise array).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    axes = [np.linspace(0, rng.uniform(4, 8) * np.pi, n, dtype=np.float32) for n in shape]
    grid = np.meshgrid(*axes, indexing="ij", sparse=True)
    out = np.sin(grid[0] + np.float32(rng.uniform(0, 6)))
    for axis in grid[1:]:
        out = out + np.sin(axis + np.float32(rng.uniform(0, 6)))
    out = out + np.sin(grid[0] + grid[1]) * np.cos(grid[-1])
    out += rng.random(shape, dtype=np.float32) * np.float32(0.2)
    return out


def _logits_and_target(batch: int, size: int):
    import numpy as np
    import torch

    x = np.stack([_field((size,) * 3, seed) for seed in range(batch)])[:, None] * np.float32(2.0)
    y = np.stack([_field((size,) * 3, seed + 100) > 0.3 for seed in range(batch)])[:, None]
    return torch.from_numpy(x).requires_grad_(True), torch.from_numpy(y.astype(np.float32))


def _loss_case(make: Callable[[], object], batch: int) -> Callable[[int], tuple[Callable[[], object], int]]:
    def setup(size: int):
        x, y = _logits_and_target(batch, size)
        loss_fn = make()

        def run():
            loss = loss_fn(x, y)
            loss.backward()
            return float(loss.detach())

        return run, x.numel() * 4 + y.numel() * 4

    return setup


def _betti_setup(size: int):
    from monai_topo.topology import betti_numbers

    mask = _field((size,) * 3, 0) > 0.3
    return (lambda: betti_numbers(mask).tolist()), mask.nbytes


def _metric_setup(size: int):
    import torch

    from monai_topo.metrics import BettiErrorMetric

    pred = torch.from_numpy(_field((size,) * 3, 0) > 0.3)[None, None].float()
    true = torch.from_numpy(_field((size,) * 3, 1) > 0.3)[None, None].float()
    metric = BettiErrorMetric()

    def run():
        metric(pred, true)
        return float(metric.aggregate())

    return run, pred.numel() * 8


def _supervoxel():
    from monai_topo.losses import SupervoxelLoss

    return SupervoxelLoss()


def _hu(**kwargs):
    def make():
        from monai_topo.losses import PersistenceMatchingLoss

        return PersistenceMatchingLoss(sigmoid=True, **kwargs)

    return make


def _sat():
    from monai_topo.losses import SpatialAwareMatchingLoss

    return SpatialAwareMatchingLoss(sigmoid=True)


def _prior():
    from monai_topo.losses import BettiPriorLoss

    return BettiPriorLoss(sigmoid=True)


def _topology_aware():
    from monai.losses import DiceCELoss

    from monai_topo.losses import SupervoxelLoss, TopologyAwareLoss

    return TopologyAwareLoss(DiceCELoss(sigmoid=True), SupervoxelLoss(), lambda_topology=0.5)


#: name -> (setup(size) -> (run, input bytes), fixed size or None for the benchmark's ``size``, description)
CASES: dict[str, tuple[Callable, int | None, str]] = {
    "betti_numbers": (_betti_setup, None, "betti_numbers on a size^3 mask"),
    "BettiErrorMetric": (_metric_setup, None, "BettiErrorMetric on 1x1xsize^3 (float32 one-hot)"),
    "SupervoxelLoss": (_loss_case(_supervoxel, 1), None, "SupervoxelLoss forward+backward, 1x1xsize^3"),
    "PersistenceMatchingLoss-patches": (
        _loss_case(_hu(patch_size=64, num_patches=4), 1),
        None,
        "PersistenceMatchingLoss, 4 random 64^3 patches, 1x1xsize^3",
    ),
    "SupervoxelLoss-2x128": (_loss_case(_supervoxel, 2), 128, "SupervoxelLoss forward+backward, 2x1x128^3"),
    "PersistenceMatchingLoss-2x128": (_loss_case(_hu(), 2), 128, "PersistenceMatchingLoss (whole), 2x1x128^3"),
    "SpatialAwareMatchingLoss-2x128": (_loss_case(_sat, 2), 128, "SpatialAwareMatchingLoss (whole), 2x1x128^3"),
    "BettiPriorLoss-2x128": (_loss_case(_prior, 2), 128, "BettiPriorLoss, 2x1x128^3"),
    "TopologyAwareLoss-2x128": (
        _loss_case(_topology_aware, 2),
        128,
        "TopologyAwareLoss(DiceCELoss + 0.5 SupervoxelLoss), 2x1x128^3",
    ),
}


def _import_package() -> None:
    import monai  # noqa: F401
    import torch  # noqa: F401

    import monai_topo.losses  # noqa: F401
    import monai_topo.metrics  # noqa: F401
    import monai_topo.topology  # noqa: F401


def _child(case: str, size: int) -> dict:
    """Run one case in this process and return its measurements (called in the subprocess)."""
    _import_package()
    result: dict = {"case": case}
    if case == "baseline":
        result["peak_bytes"] = peak_rss_bytes()
        return result
    setup, fixed, _ = CASES[case]
    run, input_bytes = setup(fixed or size)
    before = current_rss_bytes()
    reset = reset_peak_rss()
    start = time.perf_counter()
    output = run()
    result.update(
        seconds=time.perf_counter() - start,
        peak_bytes=peak_rss_bytes(),
        rss_before_bytes=before,
        peak_reset=reset,
        input_bytes=input_bytes,
        output=output,
    )
    return result


def _run_child(case: str, size: int, timeout: float | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", case, str(size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"memory case {case!r} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark_memory(size: int = 256, cases: list[str] | None = None, timeout: float | None = 1800) -> list[dict]:
    """Peak RSS of each case (see :data:`CASES`), each in a fresh subprocess, minus an import-only baseline.

    Args:
        size: side of the ``size^3`` cases (the ``2x1x128^3`` loss cases keep 128).
        cases: names from :data:`CASES` (default: all).
        timeout: seconds per subprocess.

    Returns:
        one dict per case: ``case``, ``shape``, ``peak_mb`` (the process's peak RSS), ``baseline_mb`` (peak of a
        process that only imports the package), ``above_baseline_mb``, ``input_mb`` (nominal bytes of the inputs),
        ``op_extra_mb`` (peak during the operation minus the RSS just before it; ``None`` where the peak could not
        be reset), ``seconds`` and ``output`` (the value computed, for a sanity check).

    Example:
        >>> rows = benchmark_memory(64, cases=["betti_numbers"])  # doctest: +SKIP
        >>> rows[0]["above_baseline_mb"] > 0  # doctest: +SKIP
        True
    """
    names = list(CASES) if cases is None else list(cases)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown memory case(s) {unknown}; choose from {list(CASES)}.")
    baseline = _run_child("baseline", size, timeout)["peak_bytes"]
    rows = []
    for name in names:
        _, fixed, description = CASES[name]
        r = _run_child(name, size, timeout)
        side = fixed or size
        batch = 2 if name.endswith("-2x128") else 1
        shape = f"{side}^3" if name == "betti_numbers" else f"{batch}x1x{side}^3"
        extra = None
        if r["peak_reset"] and r["rss_before_bytes"] is not None:
            extra = (r["peak_bytes"] - r["rss_before_bytes"]) / _MB
        rows.append(
            {
                "case": name,
                "shape": shape,
                "peak_mb": r["peak_bytes"] / _MB,
                "baseline_mb": baseline / _MB,
                "above_baseline_mb": (r["peak_bytes"] - baseline) / _MB,
                "input_mb": r["input_bytes"] / _MB,
                "op_extra_mb": extra,
                "seconds": r["seconds"],
                "output": r["output"],
                "description": description,
            }
        )
    return rows


def _format(rows: list[dict]) -> str:
    columns = ["case", "shape", "peak_mb", "above_baseline_mb", "input_mb", "op_extra_mb", "seconds"]

    def cell(value: object) -> str:
        if value is None:
            return "-"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    table = [columns] + [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="side of the size^3 cases (default 256)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), help="run only these cases")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], int(args.child[1]))))
        return 0
    rows = benchmark_memory(args.size, args.cases)
    print(f"baseline (import torch, monai, monai_topo): {rows[0]['baseline_mb']:.1f} MB peak RSS")
    print(_format(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

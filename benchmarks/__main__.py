"""``python -m benchmarks``: every timing of docs/performance.md, measured in one run on this machine.

Sections: ``topology`` (Betti numbers vs gudhi, persistence vs raw cripser), ``supervoxel``
(SupervoxelLoss vs cc3d labelling, DiceLoss and SoftclDiceLoss), ``persistence_losses`` (the persistence
losses vs raw cripser, thread-pool speed-up, SATLoss OT step), ``skeleton_recall`` (SkeletonRecallLoss + DiceCE,
tube given vs built by the loss, against DiceCE alone), ``overlays`` (``evaluate --overlays`` against ``evaluate``),
``memory`` (peak RSS per case), ``betti-matching`` (ours vs Betti-Matching-3D), ``evaluate-betti-matching``
(``evaluate_case`` with and without the Betti matching error), ``labels`` (1 vs 1,000 labels), ``postprocess``
(the neuron bundle's gap bridging + small-piece removal vs the removal alone). Ratios are taken within the same
run.

Example:
    python -m benchmarks                       # everything, default sizes (a few minutes)
    python -m benchmarks --only topology --gudhi-max-size 256   # gudhi at 256^3: ~4 min, ~11 GB
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _section_topology(args: argparse.Namespace) -> dict:
    from benchmarks.topology import benchmark_betti, benchmark_persistence, benchmark_persistence_batch

    betti = benchmark_betti(tuple(args.betti_sizes), gudhi_max_size=args.gudhi_max_size)
    print("\n## betti_numbers vs gudhi (Betti numbers read off gudhi's persistence of the same mask)")
    print(_table(betti, ["size", "betti", "ours_s", "gudhi_s", "speedup", "exact"]))
    persistence = benchmark_persistence(tuple(args.persistence_sizes))
    print("\n## compute_persistence vs raw cripser.computePH_T (same array, best of 2)")
    print(_table(persistence, ["size", "pairs", "cripser_s", "ours_s", "ratio"]))
    batch = benchmark_persistence_batch()
    print(f"\n## compute_persistence_batch on a thread pool ({os.cpu_count()} cores)")
    print(_table([batch], list(batch)))
    return {"betti": betti, "persistence": persistence, "persistence_batch": batch}


def _print_dict(title: str, result: dict) -> None:
    print(f"\n## {title}")
    for key, value in result.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{key}:")
            print(_table(value, list(value[0].keys())))
        else:
            print(f"{key}: {_fmt(value)}")


def _section_supervoxel(args: argparse.Namespace) -> dict:
    from benchmarks.supervoxel import benchmark_supervoxel

    result = benchmark_supervoxel(shape=tuple(args.supervoxel_shape))
    _print_dict(f"SupervoxelLoss forward+backward on {tuple(args.supervoxel_shape)}", result)
    return result


def _section_persistence_losses(args: argparse.Namespace) -> dict:
    from benchmarks.persistence_losses import benchmark_persistence_losses

    result = benchmark_persistence_losses()
    _print_dict("Persistence losses (Hu matching, SATLoss, Betti prior)", result)
    return result


def _section_skeleton_recall(args: argparse.Namespace) -> dict:
    from benchmarks.skeleton_recall import benchmark_skeleton_recall

    result = benchmark_skeleton_recall(shape=tuple(args.skeleton_recall_shape))
    _print_dict(
        f"SkeletonRecallLoss forward+backward on {tuple(args.skeleton_recall_shape)}: alone vs the authors' loss "
        "(tube given), and + DiceCELoss vs DiceCELoss alone",
        result,
    )
    return result


def _section_overlays(args: argparse.Namespace) -> dict:
    from benchmarks.overlays import benchmark_overlays

    result = benchmark_overlays(size=args.overlays_size, clock=args.overlays_clock)
    print(
        f"\n## evaluate --overlays vs evaluate_case ({args.overlays_size}^3 neuron cases, serial, best of 7 interleaved rounds, "
        f"{args.overlays_clock} clock)"
    )
    columns = ["case", "error_fraction", "evaluate_s", "overlays_s", "ratio", "errors_s", "errors_no_loops_s"]
    regions = ["split_regions", "merge_regions", "missing_loop_regions", "extra_loop_regions"]
    print(_table(result["cases"], columns + regions))
    print(f"overhead of the overlay step over evaluate_case: {result['overhead']:.1%} (goal <= 25%)")
    print(
        f"evaluate_folders (NIfTI read included) without / with --overlays: {result['folders_evaluate_s']:.3f} s / "
        f"{result['folders_overlays_s']:.3f} s, overhead {result['overhead_end_to_end']:.1%} (goal <= 25%)"
    )
    print(
        f"evaluate_folders --betti-matching without / with --overlays (the unmatched features drawn): "
        f"{result['folders_matching_evaluate_s']:.3f} s / {result['folders_matching_overlays_s']:.3f} s, overhead "
        f"{result['overhead_matching_end_to_end']:.1%}"
    )
    return result


def _section_memory(args: argparse.Namespace) -> list[dict]:
    from benchmarks.memory import benchmark_memory

    rows = benchmark_memory(size=args.memory_size)
    print("\n## Peak memory (RSS, each case in a fresh process; baseline = importing the package)")
    print(_table(rows, ["case", "shape", "peak_mb", "above_baseline_mb", "op_extra_mb", "seconds"]))
    return rows


def _section_chunked(args: argparse.Namespace) -> dict:
    from benchmarks.chunked import benchmark_chunked

    result = benchmark_chunked(args.chunked_time_size, args.chunked_memory_size, args.chunked_chunks, workers=2)
    _print_dict("Chunked topology (dask): exactness, time vs in-memory, peak RSS on a Zarr volume", result["exact"])
    print(_table([result["time"]], list(result["time"])))
    print(_table([result["memory"]], list(result["memory"])))
    return result


def _section_betti_matching(args: argparse.Namespace) -> list[dict]:
    from benchmarks.betti_matching import COLUMNS, benchmark_betti_matching

    rows = benchmark_betti_matching()
    print("\n## betti_matching vs Betti-Matching-3D (26-connectivity; best of 2 interleaved rounds; peak RSS above the")
    print("## resident size before the call, each in a fresh process; 192^3 and 256^3: ours alone)")
    print(_table(rows, COLUMNS))
    return rows


def _section_evaluate_betti_matching(args: argparse.Namespace) -> dict:
    from benchmarks.evaluate_betti_matching import COLUMNS, benchmark_evaluate_betti_matching

    result = benchmark_evaluate_betti_matching(size=args.overlays_size, clock=args.overlays_clock)
    print(
        f"\n## evaluate_case with vs without betti_matching=True ({args.overlays_size}^3 neuron cases, serial, best of "
        f"5 interleaved rounds, {args.overlays_clock} clock)"
    )
    print(_table(result["cases"], COLUMNS))
    overhead = result["overhead"]
    print(f"overhead of the Betti matching error over evaluate_case: {overhead:.1%} (a default column: <= 25%)")
    return result


def _section_postprocess(args: argparse.Namespace) -> list:
    from benchmarks.postprocess import COLUMNS, benchmark_postprocess

    rows = benchmark_postprocess(size=args.postprocess_size)
    print(
        f"\n## TopologyPostprocess(max_gap=6, min_size=128) (the neuron bundle's) vs min_size=128 alone "
        f"({args.postprocess_size}^3, best of 3 interleaved rounds)"
    )
    print(_table(rows, COLUMNS))
    return rows


def _section_labels(args: argparse.Namespace) -> dict:
    from benchmarks.labels import benchmark_labels

    result = benchmark_labels(size=args.labels_size, labels=args.labels_count)
    print(
        f"\n## many labels: 1 label vs {result['labels']} labels of one {result['size']}^3 volume (each operation in a "
        f"fresh process, best of 2; Zarr chunks {result['chunks']}^3; goal: <= 2 GB and <= 10x the one-label time)"
    )
    print(_table(result["rows"], ["operation", "labels", "seconds", "ratio", "peak_mb", "above_import_mb"]))
    return result


SECTIONS = {
    "topology": _section_topology,
    "supervoxel": _section_supervoxel,
    "persistence_losses": _section_persistence_losses,
    "skeleton_recall": _section_skeleton_recall,
    "overlays": _section_overlays,
    "memory": _section_memory,
    "chunked": _section_chunked,
    "betti-matching": _section_betti_matching,
    "evaluate-betti-matching": _section_evaluate_betti_matching,
    "labels": _section_labels,
    "postprocess": _section_postprocess,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run only these sections")
    parser.add_argument("--betti-sizes", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--gudhi-max-size", type=int, default=128, help="largest size given to gudhi (256: ~11 GB)")
    parser.add_argument("--persistence-sizes", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--supervoxel-shape", nargs="+", type=int, default=[2, 1, 128, 128, 128])
    parser.add_argument("--skeleton-recall-shape", nargs="+", type=int, default=[2, 2, 48, 48, 48])
    parser.add_argument("--memory-size", type=int, default=256, help="side of the size^3 memory cases")
    parser.add_argument("--overlays-size", type=int, default=128, help="side of the size^3 --overlays cases")
    parser.add_argument(
        "--overlays-clock",
        choices=["wall", "cpu"],
        default="wall",
        help="clock of the overlays section (cpu: this process's CPU time, steadier on a shared machine)",
    )
    parser.add_argument("--chunked-time-size", type=int, default=512, help="side of the chunked vs in-memory mask")
    parser.add_argument("--chunked-memory-size", type=int, default=1024, help="side of the Zarr mask (peak RSS)")
    parser.add_argument("--chunked-chunks", type=int, default=128, help="chunk side for the chunked section")
    parser.add_argument("--labels-size", type=int, default=128, help="side of the many-labels volume")
    parser.add_argument("--labels-count", type=int, default=1000, help="instance labels of the many-labels volume")
    parser.add_argument("--postprocess-size", type=int, default=128, help="side of the post-processing cases")
    parser.add_argument("--json", help="also write all results to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"# monai_topo benchmarks  ({time.strftime('%Y-%m-%d %H:%M')})")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}"
    )
    results = {}
    for name in args.only or list(SECTIONS):
        start = time.perf_counter()
        results[name] = SECTIONS[name](args)
        print(f"({name}: {time.perf_counter() - start:.1f} s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

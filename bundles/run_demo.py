#!/usr/bin/env python
"""End-to-end demo of a monai_topo bundle: train on the built-in data, evaluate, print the topology metrics.

It runs exactly what a user would type (``python -m monai.bundle run ...``) with the bundle's configs as installed
with the package (:func:`monai_topo.bundles.path`), in two subprocesses:

1. training with ``configs/train.json`` (the built-in synthetic volumes are generated into the empty data folder
   on first run; DiceCE plus the bundle's topological loss after a warm-up; validation every few epochs), then
2. evaluation with ``configs/train.json`` + ``configs/evaluate.json`` (final checkpoint, test split, per-case CSVs
   from ``MetricsSaver`` and NIfTI predictions),

and prints the mean over the test cases of Dice, Betti error per dimension, clDice, split/merge counts, ...

Usage (from the repository root, in the project's environment)::

    python bundles/run_demo.py                       # neuron bundle, outputs in demo_output/neuron_topology_segmentation
    python bundles/run_demo.py --bundle placenta
    python bundles/run_demo.py --epochs 5            # a quicker, weaker model
    python bundles/run_demo.py -- --device "\\$torch.device('cuda:0')"   # anything after -- goes to monai.bundle run

The full logs are written next to the outputs (``train.log``, ``evaluate.log``).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from pathlib import Path

from monai_topo.bundles import BUNDLES
from monai_topo.bundles import path as bundle_path
from monai_topo.experiments.compare import stream_process

REPO = Path(__file__).resolve().parents[1]

#: metric name in the bundle -> (label in the table, number format); the order is the table's order
METRIC_LABELS = {
    "val_mean_dice": ("Dice", "{:.3f}"),
    "val_cldice": ("clDice (centerline Dice)", "{:.3f}"),
    "val_betti_error": ("Betti error, total", "{:.2f}"),
    "val_betti_error_b0": ("Betti error b0 (components)", "{:.2f}"),
    "val_betti_error_b1": ("Betti error b1 (tunnels/loops)", "{:.2f}"),
    "val_betti_error_b2": ("Betti error b2 (cavities)", "{:.2f}"),
    "val_euler_error": ("Euler characteristic error", "{:.2f}"),
    "val_splits": ("splits (per case)", "{:.2f}"),
    "val_merges": ("merges (per case)", "{:.2f}"),
    "val_hd95": ("Hausdorff distance 95% (voxels)", "{:.2f}"),
}

_ITER = re.compile(r"Epoch: (\d+)/(\d+), Iter: (\d+)/(\d+) -- (.*)")
_EPOCH_DONE = re.compile(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete\. Time taken: ([\d:.]+)")
_VAL = re.compile(r"Epoch\[(\d+)\] Metrics -- (.*)")
_KV = re.compile(r"(\w+): (-?[\d.]+|nan|inf)")
_SHOW = re.compile(
    r"generating|wrote .*dataset\.json|using the datalist|Got new best|saved final checkpoint|Restored all variables"
    r"|Traceback|Error|ERROR"
)


def _hms(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def _say(message: str = "") -> None:
    print(message, flush=True)


def _clock_to_seconds(text: str) -> float:
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _short(line: str) -> str:
    """Drop the logging timestamp and logger name of a bundle log line."""
    parts = line.split(" - ", 3)
    return parts[-1] if len(parts) == 4 else line


def run_bundle(stage: str, cmd: list[str], log_file: Path, cwd: Path) -> float:
    """Run ``python -m monai.bundle run ...``, log everything to ``log_file``, print a readable digest."""
    _say(f"[{stage}] $ {' '.join(cmd[1:])}")
    _say(f"[{stage}] full log: {log_file}")
    start = time.perf_counter()
    last_terms: dict[str, str] = {}
    tail: list[str] = []

    def digest(line: str) -> None:
        nonlocal last_terms, tail
        line = line.rstrip("\n")
        tail = (tail + [line])[-40:]
        if m := _ITER.search(line):
            last_terms = dict(_KV.findall(m.group(5)))
            last_terms["_epochs"] = m.group(2)
        elif m := _EPOCH_DONE.search(line):
            loss = last_terms.get("train_loss", "?")
            extra = ""
            if "train_loss_topology" in last_terms:
                extra = f" (base {last_terms.get('train_loss_base')}, topology {last_terms['train_loss_topology']})"
            elapsed = time.perf_counter() - start
            _say(
                f"[{stage}] epoch {m.group(1)}/{last_terms.get('_epochs', '?')} done in "
                f"{_clock_to_seconds(m.group(2)):.1f} s, loss {loss}{extra}   [{_hms(elapsed)} elapsed]"
            )
        elif m := _VAL.search(line):
            values = dict(_KV.findall(m.group(2)))
            shown = ", ".join(
                f"{METRIC_LABELS[k][0].split(' (')[0]} {float(v):.3g}" for k, v in values.items() if k in METRIC_LABELS
            )
            _say(f"[{stage}] metrics after epoch {m.group(1)}: {shown}")
        elif _SHOW.search(line):
            _say(f"[{stage}] {_short(line)}")

    returncode = stream_process(cmd, cwd, log_file, digest)
    elapsed = time.perf_counter() - start
    if returncode != 0:
        _say(f"[{stage}] FAILED (exit code {returncode}); last lines of {log_file}:")
        for line in tail:
            _say("    " + line)
        sys.exit(returncode)
    _say(f"[{stage}] finished in {_hms(elapsed)}")
    return elapsed


def read_raw_csv(path: Path) -> dict[str, float]:
    """``{case file name: value}`` from a ``MetricsSaver`` ``<metric>_raw.csv`` (first class column)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return {Path(r[0]).name: float(r[1]) for r in rows[1:] if r}


def summarise(eval_dir: Path) -> None:
    per_metric = {}
    for name in METRIC_LABELS:
        path = eval_dir / f"{name}_raw.csv"
        if path.is_file():
            per_metric[name] = read_raw_csv(path)
    if not per_metric:
        _say(f"no metric CSVs found in {eval_dir}")
        return
    cases = sorted(next(iter(per_metric.values())))
    width = max(len(METRIC_LABELS[n][0]) for n in per_metric)
    _say("")
    _say(f"Test-set metrics, mean over {len(cases)} case(s) (min .. max), from {eval_dir}/<metric>_raw.csv:")
    _say(f"  {'metric':<{width}}  {'mean':>8}   {'min .. max':>17}")
    _say(f"  {'-' * width}  {'-' * 8}   {'-' * 17}")
    for name, values in per_metric.items():
        label, fmt = METRIC_LABELS[name]
        finite = [v for v in values.values() if math.isfinite(v)]
        if not finite:
            _say(f"  {label:<{width}}  {'n/a':>8}")
            continue
        mean = sum(finite) / len(finite)
        span = f"{fmt.format(min(finite))} .. {fmt.format(max(finite))}"
        _say(f"  {label:<{width}}  {fmt.format(mean):>8}   {span:>17}")
    combined = eval_dir / "metrics_per_case.csv"
    with open(combined, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", *per_metric])
        for case in cases:
            writer.writerow([case, *(per_metric[n].get(case, float("nan")) for n in per_metric)])
    _say("")
    _say(f"Per case (also in {combined}):")
    header = "  case" + "".join(f"  {n.replace('val_', ''):>14}" for n in per_metric)
    _say(header)
    for case in cases:
        cells = "".join(
            f"  {METRIC_LABELS[n][1].format(per_metric[n].get(case, float('nan'))):>14}" for n in per_metric
        )
        _say(f"  {case.split('.nii')[0]}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train and evaluate a monai_topo bundle on its built-in data, then print the topology metrics.",
        epilog="Arguments after '--' are passed to both 'python -m monai.bundle run' calls (config overrides).",
    )
    parser.add_argument("--bundle", choices=sorted(BUNDLES), default="neuron", help="which bundle (default: neuron)")
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="bundle_root for the run (default: demo_output/<bundle name>)"
    )
    parser.add_argument("--dataset-dir", type=Path, default=None, help="data folder (default: <output-dir>/data)")
    parser.add_argument("--epochs", type=int, default=None, help="override the bundle's number of epochs")
    parser.add_argument("--skip-train", action="store_true", help="evaluate the existing models/model_final.pt only")
    parser.add_argument("overrides", nargs="*", help="extra 'monai.bundle run' arguments (after --)")
    args = parser.parse_args(argv)

    bundle_dir = bundle_path(args.bundle)  # as installed with the package (the run writes to --output-dir)
    root = (args.output_dir or REPO / "demo_output" / BUNDLES[args.bundle]).resolve()
    data = (args.dataset_dir or root / "data").resolve()
    root.mkdir(parents=True, exist_ok=True)
    common = [
        "--meta_file", str(bundle_dir / "configs" / "metadata.json"),
        "--logging_file", str(bundle_dir / "configs" / "logging.conf"),
        "--bundle_root", str(root),
        "--dataset_dir", str(data),
    ]  # fmt: skip
    if args.epochs is not None:
        common += ["--epochs", str(args.epochs)]
    common += args.overrides
    train_cfg = str(bundle_dir / "configs" / "train.json")
    eval_cfg = str(bundle_dir / "configs" / "evaluate.json")
    base = [sys.executable, "-m", "monai.bundle", "run"]

    _say(f"monai_topo demo: bundle {bundle_dir.name}")
    _say(f"  outputs (bundle_root): {root}")
    _say(f"  data:                  {data}" + ("" if data.exists() else "  (empty: the built-in data is generated)"))
    _say("")
    t0 = time.perf_counter()
    times = {}
    if not args.skip_train:
        _say("== 1/2 training ==")
        times["training"] = run_bundle(
            "train", base + ["--config_file", train_cfg] + common, root / "train.log", bundle_dir
        )
        _say("")
    _say("== 2/2 evaluation on the test split ==")
    times["evaluation"] = run_bundle(
        "evaluate",
        base + ["--config_file", f"['{train_cfg}','{eval_cfg}']"] + common,
        root / "evaluate.log",
        bundle_dir,
    )
    eval_dirs = [
        root / "eval" / split for split in ("test", "validation") if (root / "eval" / split / "metrics.csv").is_file()
    ]
    eval_dir = eval_dirs[0] if eval_dirs else root / "eval" / "test"
    summarise(eval_dir)
    _say("")
    _say("Outputs:")
    _say(f"  checkpoints:          {root / 'models'} (model_final.pt = last epoch, evaluated; model.pt = best Dice)")
    _say(f"  predictions (NIfTI):  {eval_dir / 'predictions'}")
    _say(f"  per-case metrics CSV: {eval_dir / 'metrics_per_case.csv'} (all metrics, one row per case)")
    _say(f"                        {eval_dir}/<metric>_raw.csv (MetricsSaver), *_summary.csv, means in metrics.csv")
    _say(f"  TensorBoard logs:     {root / 'eval'}  (tensorboard --logdir {root / 'eval'})")
    _say("  " + ", ".join(f"{k} {_hms(v)}" for k, v in times.items()) + f"; total {_hms(time.perf_counter() - t0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

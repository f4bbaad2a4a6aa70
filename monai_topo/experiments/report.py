"""The files and tables of a comparison: per-case, per-run, per-seed, summary, paired differences, forest plot."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monai_topo.experiments.configurations import Configuration
from monai_topo.experiments.scoring import METRICS
from monai_topo.experiments.statistics import Interval, bootstrap_mean_ci

__all__ = ["Comparison", "format_tables", "summarise", "write_plot", "write_report"]

#: the metrics of the forest plot
PLOTTED = ("dice", "betti_error", "betti_error_b0", "betti_error_b1", "splits_merges", "volume_ratio", "surface_distance")


@dataclass
class Comparison:
    """What :func:`~monai_topo.experiments.run_comparison` measured.

    Attributes:
        configurations: the configurations, baseline first.
        seeds: the training seeds.
        rows: one dict per (configuration, seed, test case) with the :data:`~monai_topo.experiments.METRICS`.
        validation_rows: the same on the validation split (what a configuration may be chosen on).
        runs: one dict per (configuration, seed): status, post-processing used, timing, error.
        summary: ``{configuration: {metric: Interval}}`` (mean and 95% CI over seeds and cases, test split).
        validation: ``{configuration: {metric: mean}}`` on the validation split.
        paired: ``{configuration: {metric: Interval}}`` of the per-case difference configuration - baseline.
        out_dir: where the files are.
    """

    configurations: list[Configuration]
    seeds: list[int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    validation_rows: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, Interval]] = field(default_factory=dict)
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    paired: dict[str, dict[str, Interval]] = field(default_factory=dict)
    out_dir: Path = Path(".")

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The runs that did not finish."""
        return [r for r in self.runs if r["status"] != "ok"]


def _grid(rows: Sequence[dict[str, Any]], seeds: Sequence[int], name: str, metric: str, cases: Sequence[str]):
    """``(seeds, cases)`` values of one configuration (NaN for failed runs)."""
    grid = np.full((len(seeds), len(cases)), np.nan)
    index = {c: j for j, c in enumerate(cases)}
    seed_index = {s: i for i, s in enumerate(seeds)}
    for row in rows:
        if row["configuration"] == name and row["case"] in index and row["seed"] in seed_index:
            grid[seed_index[row["seed"]], index[row["case"]]] = row[metric]
    return grid


def _step_overhead(result: Comparison, name: str) -> float:
    """Median step time of ``name`` while its term is on, over the baseline's median in the same epochs."""
    base_name = result.configurations[0].name
    by_key = {(r["configuration"], r["seed"]): r for r in result.runs if r["status"] == "ok"}
    ratios = []
    for seed in result.seeds:
        run, base = by_key.get((name, seed)), by_key.get((base_name, seed))
        if run is None or base is None or not run.get("steps") or not base.get("steps"):
            continue
        active = {s["epoch"] for s in run["steps"] if s.get("active")}
        epochs = active or {s["epoch"] for s in run["steps"]}
        mine = [s["seconds"] for s in run["steps"] if s["epoch"] in epochs]
        theirs = [s["seconds"] for s in base["steps"] if s["epoch"] in epochs]
        if mine and theirs:
            ratios.append(float(np.median(mine) / np.median(theirs)))
    return float(np.mean(ratios)) if ratios else float("nan")


def summarise(result: Comparison, confidence: float = 0.95) -> None:
    """Fill ``rows``, ``summary``, ``validation`` and ``paired`` from ``runs``."""
    ok = [r for r in result.runs if r["status"] == "ok"]
    result.rows = [{"configuration": r["configuration"], "seed": r["seed"], **row} for r in ok for row in r["cases"]]
    result.validation_rows = [
        {"configuration": r["configuration"], "seed": r["seed"], **row} for r in ok for row in r.get("validation", [])
    ]
    cases = sorted({row["case"] for row in result.rows})
    base = result.configurations[0].name
    finished = {r["configuration"] for r in ok}
    for configuration in result.configurations:
        name = configuration.name
        if name not in finished:  # every run failed: listed in runs.csv and the FAILED lines, not in the tables
            continue
        grids = {m: _grid(result.rows, result.seeds, name, m, cases) for m in METRICS}
        result.summary[name] = {m: bootstrap_mean_ci(g, confidence) for m, g in grids.items()}
        validation = [row for row in result.validation_rows if row["configuration"] == name]
        result.validation[name] = {
            m: float(np.nanmean([row[m] for row in validation])) if validation else float("nan") for m in METRICS
        }
        if name != base and base in finished:
            result.paired[name] = {
                m: bootstrap_mean_ci(grids[m] - _grid(result.rows, result.seeds, base, m, cases), confidence)
                for m in METRICS
            }


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _run_costs(result: Comparison, name: str) -> tuple[float, float]:
    runs = [r for r in result.runs if r["configuration"] == name and r["status"] == "ok"]
    per_epoch = float(np.mean([r["seconds_per_epoch"] for r in runs])) if runs else float("nan")
    return per_epoch, _step_overhead(result, name)


def _per_seed(result: Comparison) -> list[dict[str, Any]]:
    """Mean test metrics per (configuration, seed), and the Dice difference to the baseline's same seed."""
    base = result.configurations[0].name
    table = []
    means: dict[tuple[str, int], dict[str, float]] = {}
    for configuration in result.configurations:
        for seed in result.seeds:
            rows = [r for r in result.rows if r["configuration"] == configuration.name and r["seed"] == seed]
            if rows:
                means[configuration.name, seed] = {m: float(np.nanmean([r[m] for r in rows])) for m in METRICS}
    for (name, seed), values in means.items():
        reference = means.get((base, seed))
        dice_difference = values["dice"] - reference["dice"] if reference else float("nan")
        table.append({"configuration": name, "seed": seed, **values, "dice_vs_baseline": dice_difference})
    return table


def write_report(result: Comparison, show: bool = True) -> None:
    """Write ``per_case.csv``, ``validation.csv``, ``runs.csv``, ``per_seed.csv``, ``summary.csv``, ``paired.csv``
    and ``comparison.png`` to ``result.out_dir``; print the tables when ``show``."""
    out = result.out_dir
    metrics = list(METRICS)
    for file_name, rows in (("per_case.csv", result.rows), ("validation.csv", result.validation_rows)):
        with open(out / file_name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["configuration", "seed", "case", *metrics])
            for row in rows:
                writer.writerow([row["configuration"], row["seed"], row["case"], *(row[m] for m in metrics)])
    with open(out / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "seed", "status", "run_dir", "checkpoint", "postprocess", "train_seconds",
                         "seconds_per_epoch", "step_seconds", "error"])  # fmt: skip
        for r in result.runs:
            post = json.dumps(r["postprocess"], sort_keys=True) if "postprocess" in r else ""
            writer.writerow([r["configuration"], r["seed"], r["status"], r.get("run_dir", ""), r.get("checkpoint", ""),
                             post, r.get("train_seconds", ""), r.get("seconds_per_epoch", ""),
                             r.get("step_seconds", ""), r.get("error", "")])  # fmt: skip
    per_seed = _per_seed(result)
    with open(out / "per_seed.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "seed", *metrics, "dice_vs_baseline"])
        for row in per_seed:
            writer.writerow([row["configuration"], row["seed"], *(row[m] for m in metrics), row["dice_vs_baseline"]])
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "metric", "mean", "ci_low", "ci_high", "n_seeds", "n_cases",
                         "validation_mean"])  # fmt: skip
        for name, per_metric in result.summary.items():
            for metric, ci in per_metric.items():
                writer.writerow([name, metric, ci.mean, ci.low, ci.high, ci.n_seeds, ci.n_cases,
                                 result.validation.get(name, {}).get(metric, "")])  # fmt: skip
            per_epoch, overhead = _run_costs(result, name)
            writer.writerow([name, "seconds_per_epoch", per_epoch, "", "", "", "", ""])
            writer.writerow([name, "step_time_vs_baseline", overhead, "", "", "", "", ""])
    base = result.configurations[0].name
    with open(out / "paired.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "baseline", "metric", "baseline_mean", "mean_difference", "ci_low",
                         "ci_high", "relative_change", "ci_excludes_zero", "n_seeds", "n_cases"])  # fmt: skip
        for name, per_metric in result.paired.items():
            for metric, ci in per_metric.items():
                ref = result.summary[base][metric].mean
                rel = ci.mean / ref if ref and math.isfinite(ref) else float("nan")
                writer.writerow([name, base, metric, ref, ci.mean, ci.low, ci.high, rel, ci.excludes_zero(),
                                 ci.n_seeds, ci.n_cases])  # fmt: skip
    if show:
        print(format_tables(result), flush=True)
    if result.paired:
        write_plot(result, out / "comparison.png")


def format_tables(result: Comparison) -> str:
    """The summary, the validation means, the per-seed Dice and the paired differences as text tables."""
    lines = []
    names = list(result.summary)
    n_cases = max((ci.n_cases for per in result.summary.values() for ci in per.values()), default=0)
    lines.append(
        f"\nTest split: {n_cases} case(s) x {len(result.seeds)} seed(s); mean [95% CI, bootstrap over seeds and cases]"
    )
    width = max([len(n) for n in names] + [22])
    lines.append(f"  {'metric':<20}" + "".join(f"  {n:>{width}}" for n in names))
    for metric, (label, _) in METRICS.items():
        cells = []
        for name in names:
            ci = result.summary[name][metric]
            cells.append(f"{_fmt(ci.mean)} [{_fmt(ci.low)}, {_fmt(ci.high)}]")
        lines.append(f"  {label:<20}" + "".join(f"  {c:>{width}}" for c in cells))
    costs = [_run_costs(result, n) for n in names]
    lines.append(f"  {'s / epoch':<20}" + "".join(f"  {_fmt(c[0]):>{width}}" for c in costs))
    lines.append(f"  {'step time vs base':<20}" + "".join(f"  {_fmt(c[1]):>{width}}" for c in costs))
    if any(result.validation.values()):
        lines.append("\nValidation split, mean over seeds and cases (what to choose a configuration on):")
        for metric in ("dice", "betti_error", "splits_merges", "volume_ratio"):
            label = METRICS[metric][0]
            cells = [_fmt(result.validation.get(n, {}).get(metric, float("nan"))) for n in names]
            lines.append(f"  {label:<20}" + "".join(f"  {c:>{width}}" for c in cells))
    posts = {}
    for r in result.runs:
        if r["status"] == "ok" and r.get("postprocess"):
            posts.setdefault(r["configuration"], []).append(json.dumps(r["postprocess"], sort_keys=True))
    for name, values in posts.items():
        lines.append(f"  post-processing of {name}: " + "; ".join(sorted(set(values))))
    base = result.configurations[0].name
    per_seed = [r for r in _per_seed(result) if r["configuration"] != base]
    if per_seed:
        lines.append(f"\nDice difference to {base} per seed (mean over the test cases):")
        for name in [n for n in names if n != base]:
            cells = [f"seed {r['seed']}: {r['dice_vs_baseline']:+.3f}" for r in per_seed if r["configuration"] == name]
            lines.append(f"  {name:<20}  " + ", ".join(cells))
    for name, per_metric in result.paired.items():
        lines.append(f"\n{name} - {base}, paired per (seed, case): mean difference [95% CI], relative to {base}")
        for metric, (label, higher_better) in METRICS.items():
            ci = per_metric[metric]
            ref = result.summary[base][metric].mean
            rel = f"{100 * ci.mean / ref:+.0f}%" if ref and math.isfinite(ref) and math.isfinite(ci.mean) else ""
            verdict = ""
            if ci.excludes_zero() and higher_better is not None:
                verdict = "better" if (ci.mean > 0) == higher_better else "worse"
            lines.append(f"  {label:<20} {_fmt(ci.mean):>8} [{_fmt(ci.low)}, {_fmt(ci.high)}] {rel:>6} {verdict}")
    for r in result.failed:
        lines.append(f"FAILED: {r['configuration']} seed {r['seed']}: {r.get('error', '')[:300]}")
    return "\n".join(lines)


def write_plot(result: Comparison, path: Path) -> None:
    """A forest plot: per metric, each configuration's paired difference to the baseline with its CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.paired)
    base = result.configurations[0].name
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(2.5 * len(PLOTTED), 0.55 * len(names) + 1.9), sharey=True)
    for ax, metric in zip(axes, PLOTTED, strict=True):
        label, higher_better = METRICS[metric]
        for i, name in enumerate(names):
            ci = result.paired[name][metric]
            if not math.isfinite(ci.mean):
                continue
            colour = "tab:gray"
            if ci.excludes_zero() and higher_better is not None:
                colour = "tab:green" if (ci.mean > 0) == higher_better else "tab:red"
            ax.errorbar(ci.mean, i, xerr=[[ci.mean - ci.low], [ci.high - ci.mean]], fmt="o", color=colour, capsize=3)
        ax.axvline(0, color="k", lw=0.8)
        better = {True: "higher is better", False: "lower is better", None: "the trade"}[higher_better]
        ax.set_title(f"{label}\n({better})", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].set_ylim(-0.7, len(names) - 0.3)
    fig.suptitle(
        f"Paired difference to '{base}' on the test split (mean, 95% CI over {len(result.seeds)} seeds x cases)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

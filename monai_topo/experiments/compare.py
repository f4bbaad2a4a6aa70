"""Compare loss configurations on one bundle: same data, same budget, several seeds, a held-out test split.

For every configuration and seed the bundle is trained exactly as a user would run it
(``python -m monai.bundle run --config_file [train.json, overrides]`` in a subprocess), its best-validation
checkpoint is evaluated on the **test** list of the datalist with the bundle's ``evaluate.json`` (no run trains or
selects a checkpoint on it), and every test prediction is scored against its label with the functional metrics of
:mod:`monai_topo.metrics` (as ``monai-topo evaluate`` does). Training step times come from
:class:`~monai_topo.experiments.StepTimer`.

Outputs in ``out_dir``: ``runs/<configuration>/seed_<s>/`` (logs, checkpoints, predictions, ``result.json``),
``per_case.csv``, ``runs.csv``, ``summary.csv`` (mean and 95% CI per metric and configuration), ``paired.csv``
(per-case differences against the first configuration with a bootstrap CI) and ``comparison.png``.
A finished run (its ``result.json`` exists) is not run again, so an interrupted comparison resumes where it
stopped; a failed run is reported and the others go on.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monai_topo.data.writers import write_json_atomic
from monai_topo.experiments.configurations import Configuration, resolve_configurations
from monai_topo.experiments.statistics import Interval, bootstrap_mean_ci
from monai_topo.experiments.timing import read_step_times

__all__ = ["BUNDLES", "METRICS", "Comparison", "find_bundle", "run_comparison"]

logger = logging.getLogger(__name__)

#: short names of the bundles shipped in the repository's ``bundles/`` folder
BUNDLES = {"neuron": "neuron_topology_segmentation", "placenta": "placenta_topology_segmentation"}

#: per-case metric -> (label, True when higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "dice": ("Dice", True),
    "cldice": ("clDice", True),
    "betti_error": ("Betti error (sum)", False),
    "betti_error_b0": ("Betti error b0", False),
    "betti_error_b1": ("Betti error b1", False),
    "betti_error_b2": ("Betti error b2", False),
    "splits": ("splits", False),
    "merges": ("merges", False),
    "splits_merges": ("splits + merges", False),
}
_EPOCH_DONE = re.compile(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete")
_RESULT = "result.json"


def find_bundle(bundle: str | os.PathLike) -> Path:
    """A bundle folder from a path or a short name (``neuron``, ``placenta``, or a folder name in ``bundles/``).

    Raises:
        ValueError: when no folder with ``configs/train.json`` and ``configs/evaluate.json`` is found.
    """
    candidates = [Path(bundle)]
    name = BUNDLES.get(str(bundle), str(bundle))
    roots = [Path.cwd() / "bundles", Path(__file__).resolve().parents[2] / "bundles"]
    candidates += [root / name for root in roots]
    for path in candidates:
        if (path / "configs" / "train.json").is_file() and (path / "configs" / "evaluate.json").is_file():
            return path.resolve()
    raise ValueError(
        f"no bundle {bundle!r}: give a bundle folder (with configs/train.json and configs/evaluate.json) or one "
        f"of {sorted(BUNDLES)} (looked in {', '.join(str(r) for r in roots)})."
    )


@dataclass
class Comparison:
    """What :func:`run_comparison` measured.

    Attributes:
        configurations: the configurations, baseline first.
        seeds: the training seeds.
        rows: one dict per (configuration, seed, test case) with the :data:`METRICS`.
        runs: one dict per run: configuration, seed, status, timing, error.
        summary: ``{configuration: {metric: Interval}}`` (mean and 95% CI over seeds and cases).
        paired: ``{configuration: {metric: Interval}}`` of the per-case difference configuration - baseline.
        out_dir: where the files are.
    """

    configurations: list[Configuration]
    seeds: list[int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, Interval]] = field(default_factory=dict)
    paired: dict[str, dict[str, Interval]] = field(default_factory=dict)
    out_dir: Path = Path(".")

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The runs that did not finish."""
        return [r for r in self.runs if r["status"] != "ok"]


def _config_list(paths: Sequence[Path]) -> str:
    return json.dumps([str(p) for p in paths])


def stream_process(cmd: list[str], cwd: Path, log_file: Path, on_line: Any = None) -> int:
    """Run ``cmd`` in ``cwd``, write its output (stdout and stderr) to ``log_file`` line by line as it comes, call
    ``on_line`` on each line, and return the exit code."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (
        open(log_file, "w", buffering=1) as log,
        subprocess.Popen(
            cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        ) as proc,
    ):
        for line in proc.stdout:  # type: ignore[union-attr]
            log.write(line)
            if on_line is not None:
                on_line(line)
        return proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _test_cases(dataset_dir: Path) -> list[tuple[str, Path]]:
    """``(case name, label path)`` of the datalist's test list."""
    datalist = dataset_dir / "dataset.json"
    try:
        data = json.loads(datalist.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the datalist {datalist}: {err}") from err
    test = data.get("test") or []
    if not test:
        raise ValueError(
            f"{datalist} has no 'test' list: a comparison needs held-out test cases that no run trains or selects "
            "on (built-in data has one; for your images/ + labels/ remove dataset.json and set --override "
            "num_test=N, or add a 'test' list)."
        )
    cases = []
    for entry in test:
        label = Path(entry["label"]) if isinstance(entry, dict) else Path(entry)
        label = label if label.is_absolute() else dataset_dir / label
        name = label.name
        for suffix in (".nii.gz", ".nii"):
            name = name.removesuffix(suffix)
        cases.append((name, label))
    return cases


def _score_run(pred_dir: Path, cases: Sequence[tuple[str, Path]]) -> list[dict[str, Any]]:
    """Per-case metrics of the predictions ``<case>_seg.nii.gz`` in ``pred_dir`` (mean over foreground labels)."""
    from monai_topo.cli.betti import read_label_volume
    from monai_topo.cli.evaluate import evaluate_case

    rows = []
    for name, label_path in cases:
        matches = sorted(pred_dir.glob(f"{name}_seg.nii*"))
        if not matches:
            raise ValueError(f"no prediction {name}_seg.nii.gz in {pred_dir} for the test case {label_path}")
        pred, _ = read_label_volume(matches[0])
        target, _ = read_label_volume(label_path)
        labels = sorted(int(v) for v in np.unique(target) if v != 0) or [1]
        case_rows = evaluate_case(pred, target, labels=labels)
        row: dict[str, Any] = {"case": name}
        for key in ("dice", "cldice", "betti_error_b0", "betti_error_b1", "betti_error_b2", "splits", "merges"):
            values = [float(r[key]) for r in case_rows if r.get(key) is not None]
            row[key] = float(np.mean(values)) if values else float("nan")
        row["betti_error"] = sum(row[f"betti_error_b{k}"] for k in range(3) if math.isfinite(row[f"betti_error_b{k}"]))
        row["splits_merges"] = row["splits"] + row["merges"]
        rows.append(row)
    return rows


def _last_validation(run_dir: Path) -> dict[str, float]:
    """The bundle's validation metrics after the last epoch (``eval/validation/metrics.csv``), ``{}`` if absent.

    These are what a configuration may be chosen on: the validation split, never the test split.
    """
    path = run_dir / "eval" / "validation" / "metrics.csv"
    try:
        with open(path, newline="") as handle:
            return {row[0]: float(row[1]) for row in csv.reader(handle) if len(row) >= 2}
    except (OSError, ValueError):
        return {}


def _timing(steps_file: Path) -> dict[str, Any]:
    record = read_step_times(steps_file)
    steps, epochs = record["steps"], record.get("epochs", [])
    return {
        "seconds_per_epoch": float(np.mean([e["seconds"] for e in epochs])) if epochs else float("nan"),
        "step_seconds": float(np.median([s["seconds"] for s in steps])) if steps else float("nan"),
        "steps": steps,
    }


#: which checkpoint of a run is evaluated on the test split
CHECKPOINTS = {"final": "model_final.pt", "best": "model.pt"}


def _bundle_command(bundle_dir: Path, run_dir: Path, files: Sequence[Path]) -> list[str]:
    configs = bundle_dir / "configs"
    return [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", _config_list(files),
        "--bundle_root", str(run_dir),
        "--meta_file", str(configs / "metadata.json"),
        "--logging_file", str(configs / "logging.conf"),
    ]  # fmt: skip


def _train(
    bundle_dir: Path, configuration: Configuration, seed: int, run_dir: Path, base: Mapping[str, Any], epoch_bar: Any
) -> dict[str, Any]:
    """Train one configuration with one seed (``python -m monai.bundle run``); returns its timing."""
    configs = bundle_dir / "configs"
    run_dir.mkdir(parents=True, exist_ok=True)
    train_cfg = json.loads((configs / "train.json").read_text())
    steps_file = run_dir / "steps.json"
    train_overrides = {
        **base,
        "imports": list(train_cfg.get("imports", [])) + ["$import monai_topo.experiments"],
        "initialize": list(train_cfg.get("initialize", []))
        + [f"$monai_topo.experiments.StepTimer({str(steps_file)!r}, @loss).attach(@train#trainer)"],
    }
    write_json_atomic(train_overrides, run_dir / "train_overrides.json")

    def on_line(line: str) -> None:
        match = _EPOCH_DONE.search(line)
        if epoch_bar is not None and match:
            epoch_bar.update(int(match.group(1)) - epoch_bar.n)

    start = time.perf_counter()
    files = [configs / "train.json", run_dir / "train_overrides.json"]
    code = stream_process(_bundle_command(bundle_dir, run_dir, files), bundle_dir, run_dir / "train.log", on_line)
    if code != 0:
        raise RuntimeError(
            f"training exited with code {code}; last lines of {run_dir / 'train.log'}:\n" + _tail(run_dir / "train.log")
        )
    return {"train_seconds": time.perf_counter() - start, **_timing(steps_file)}


def _evaluate(
    bundle_dir: Path, run_dir: Path, base: Mapping[str, Any], checkpoint: str, dataset_dir: Path
) -> dict[str, Any]:
    """Evaluate a trained run's checkpoint on the test split with the bundle's evaluate.json, then score it."""
    configs = bundle_dir / "configs"
    eval_overrides = {**base, "ckpt_file": f"$@ckpt_dir + '/{CHECKPOINTS[checkpoint]}'"}
    write_json_atomic(eval_overrides, run_dir / "eval_overrides.json")
    start = time.perf_counter()
    files = [configs / "train.json", configs / "evaluate.json", run_dir / "eval_overrides.json"]
    code = stream_process(_bundle_command(bundle_dir, run_dir, files), bundle_dir, run_dir / "evaluate.log")
    if code != 0:
        raise RuntimeError(
            f"evaluation exited with code {code}; last lines of {run_dir / 'evaluate.log'}:\n"
            + _tail(run_dir / "evaluate.log")
        )
    rows = _score_run(run_dir / "eval" / "test" / "predictions", _test_cases(dataset_dir))
    return {"checkpoint": checkpoint, "eval_seconds": time.perf_counter() - start, "cases": rows}


def _ensure_data(bundle_dir: Path, dataset_dir: Path, common: Mapping[str, Any]) -> None:
    """Make the bundle's data (its own ``datalist_file`` expression) once, before any run."""
    if (dataset_dir / "dataset.json").is_file():
        return
    from monai.bundle import ConfigParser

    import monai_topo.data  # noqa: F401 - the bundle's expression calls monai_topo.data.ensure_dataset

    parser = ConfigParser(globals={"monai_topo": "monai_topo", "os": "os", "glob": "glob"})
    parser.read_config(str(bundle_dir / "configs" / "train.json"))
    for key, value in {**common, "dataset_dir": str(dataset_dir), "bundle_root": str(bundle_dir)}.items():
        parser[key] = value
    logger.info("preparing the data in %s with the bundle's own ensure_dataset call", dataset_dir)
    parser.get_parsed_content("datalist_file")


def run_comparison(
    bundle: str | os.PathLike,
    configurations: Sequence[str | Configuration] = ("dicece", "bundle"),
    seeds: Sequence[int] = (0, 1, 2),
    out_dir: str | os.PathLike = "compare_output",
    dataset_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike | None = None,
    progress: bool = True,
    confidence: float = 0.95,
    checkpoint: str = "final",
) -> Comparison:
    """Train every configuration with every seed on one bundle, evaluate on the test split, compare to the first.

    Args:
        bundle: a bundle folder, or ``"neuron"`` / ``"placenta"`` for the repository's bundles.
        configurations: preset names (see :data:`~monai_topo.experiments.PRESETS`) or :class:`Configuration`
            objects; the first is the baseline of the paired differences.
        seeds: training seeds (the bundle's ``seed`` key: determinism, crops, patches). The data stay the same.
        out_dir: output folder (runs, CSVs, plot); an existing one is resumed.
        dataset_dir: the data: a folder with ``images/`` + ``labels/`` or a datalist, or empty / missing for the
            built-in data (default ``out_dir/data``). It must end up with a ``test`` list.
        overrides: bundle overrides for every run (the budget), e.g. ``{"epochs": 40}``.
        config_file: more configurations from a JSON / YAML file (after ``configurations``).
        progress: show progress bars (runs, and epochs of the current run).
        confidence: coverage of the intervals.
        checkpoint: ``"final"`` (default): the weights after the last epoch, the same budget for every run and no
            selection at all; ``"best"``: the bundle's best-validation-Dice checkpoint (``model.pt``). With a
            warm-up, ``"best"`` can pick a checkpoint from before the topological term was switched on (a term
            that costs a little Dice is then never evaluated), which is why it is not the default.

    Returns:
        a :class:`Comparison`; the CSVs and the plot are written to ``out_dir``.

    Raises:
        ValueError: for an unknown configuration or bundle, or data without a test list, before any training.

    Example:
        >>> result = run_comparison("neuron", ["dicece", "supervoxel"], seeds=[0, 1, 2])  # doctest: +SKIP
        >>> result.paired["supervoxel"]["betti_error"]  # doctest: +SKIP
        Interval(mean=-1.2, low=-2.0, high=-0.4, n_seeds=3, n_cases=8)
    """
    from tqdm import tqdm

    configs = resolve_configurations(configurations, config_file)
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {checkpoint!r}.")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one, got {seeds}.")
    bundle_dir = find_bundle(bundle)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = Path(dataset_dir).expanduser().resolve() if dataset_dir is not None else out / "data"
    common = dict(overrides or {})
    epochs = int(common.get("epochs", json.loads((bundle_dir / "configs" / "train.json").read_text())["epochs"]))
    _ensure_data(bundle_dir, data, common)
    cases = _test_cases(data)  # fails before any training when there is no test split
    logger.info(
        "comparing %s on %s: %d seed(s), %d test case(s), %d epochs per run, output %s",
        ", ".join(c.name for c in configs),
        bundle_dir.name,
        len(seeds),
        len(cases),
        epochs,
        out,
    )
    result = Comparison(configs, seeds, out_dir=out)
    todo = [(c, s) for c in configs for s in seeds]
    run_bar = tqdm(todo, desc="runs", unit="run", disable=not progress, position=0)
    for configuration, seed in run_bar:
        run_dir = out / "runs" / configuration.name / f"seed_{seed}"
        done = run_dir / _RESULT
        run_bar.set_postfix_str(f"{configuration.name} seed {seed}")
        base = {**common, **configuration.overrides, "seed": seed, "dataset_dir": str(data)}
        record: dict[str, Any] | None = None
        if done.is_file():
            record = json.loads(done.read_text())
            if record.get("overrides") != configuration.overrides:
                logger.warning(
                    "%s seed %d: its overrides changed since it ran; training again", configuration.name, seed
                )
                record = None
            elif record.get("checkpoint", "best") == checkpoint:
                logger.info("%s seed %d: finished earlier, skipped (%s)", configuration.name, seed, done)
                record.setdefault("validation", _last_validation(run_dir))
                result.runs.append(record)
                continue
        epoch_bar = tqdm(total=epochs, desc=f"  {configuration.name} s{seed}", unit="epoch", leave=False,
                         disable=not progress or record is not None, position=1)  # fmt: skip
        try:
            if record is None:
                record = {
                    "configuration": configuration.name,
                    "seed": seed,
                    "overrides": configuration.overrides,
                    **_train(bundle_dir, configuration, seed, run_dir, base, epoch_bar),
                }
            else:
                logger.info(
                    "%s seed %d: trained earlier, evaluating its %s checkpoint", configuration.name, seed, checkpoint
                )
            record.update(_evaluate(bundle_dir, run_dir, base, checkpoint, data), status="ok")
            record["validation"] = _last_validation(run_dir)
        except Exception as err:  # noqa: BLE001 - a failed run is reported, the others go on
            logger.error("%s seed %d FAILED: %s", configuration.name, seed, err)
            result.runs.append(
                {"configuration": configuration.name, "seed": seed, "status": "failed", "error": str(err)}
            )
            continue
        finally:
            epoch_bar.close()
        write_json_atomic(record, done)
        result.runs.append(record)
    _summarise(result, confidence)
    write_report(result)
    return result


def _grid(result: Comparison, name: str, metric: str, cases: Sequence[str]) -> np.ndarray:
    """``(seeds, cases)`` values of one configuration (NaN for failed runs)."""
    grid = np.full((len(result.seeds), len(cases)), np.nan)
    index = {c: j for j, c in enumerate(cases)}
    seed_index = {s: i for i, s in enumerate(result.seeds)}
    for row in result.rows:
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


def _summarise(result: Comparison, confidence: float) -> None:
    result.rows = [
        {"configuration": r["configuration"], "seed": r["seed"], **row}
        for r in result.runs
        if r["status"] == "ok"
        for row in r["cases"]
    ]
    cases = sorted({row["case"] for row in result.rows})
    base = result.configurations[0].name
    finished = {r["configuration"] for r in result.runs if r["status"] == "ok"}
    for configuration in result.configurations:
        name = configuration.name
        if name not in finished:  # every run failed: listed in runs.csv and the FAILED lines, not in the tables
            continue
        result.summary[name] = {m: bootstrap_mean_ci(_grid(result, name, m, cases), confidence) for m in METRICS}
        if name != base and base in finished:
            result.paired[name] = {
                m: bootstrap_mean_ci(_grid(result, name, m, cases) - _grid(result, base, m, cases), confidence)
                for m in METRICS
            }


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}g}"


def _run_costs(result: Comparison, name: str) -> tuple[float, float]:
    runs = [r for r in result.runs if r["configuration"] == name and r["status"] == "ok"]
    per_epoch = float(np.mean([r["seconds_per_epoch"] for r in runs])) if runs else float("nan")
    return per_epoch, _step_overhead(result, name)


def write_report(result: Comparison) -> None:
    """Write ``per_case.csv``, ``runs.csv``, ``summary.csv``, ``paired.csv``, ``comparison.png`` and print tables."""
    out = result.out_dir
    metrics = list(METRICS)
    with open(out / "per_case.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "seed", "case", *metrics])
        for row in result.rows:
            writer.writerow([row["configuration"], row["seed"], row["case"], *(row[m] for m in metrics)])
    val_keys = sorted({k for r in result.runs for k in r.get("validation", {})})
    with open(out / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "seed", "status", "checkpoint", "train_seconds", "seconds_per_epoch",
                         "step_seconds", *val_keys, "error"])  # fmt: skip
        for r in result.runs:
            validation = r.get("validation", {})
            writer.writerow([r["configuration"], r["seed"], r["status"], r.get("checkpoint", ""),
                             r.get("train_seconds", ""), r.get("seconds_per_epoch", ""), r.get("step_seconds", ""),
                             *(validation.get(k, "") for k in val_keys), r.get("error", "")])  # fmt: skip
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "metric", "mean", "ci_low", "ci_high", "n_seeds", "n_cases"])
        for name, per_metric in result.summary.items():
            for metric, ci in per_metric.items():
                writer.writerow([name, metric, ci.mean, ci.low, ci.high, ci.n_seeds, ci.n_cases])
            per_epoch, overhead = _run_costs(result, name)
            writer.writerow([name, "seconds_per_epoch", per_epoch, "", "", "", ""])
            writer.writerow([name, "step_time_vs_baseline", overhead, "", "", "", ""])
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
    print(format_tables(result), flush=True)
    if result.paired:
        write_plot(result, out / "comparison.png")


def format_tables(result: Comparison) -> str:
    """The summary and the paired differences as text tables."""
    lines = []
    names = list(result.summary)
    n_cases = max((ci.n_cases for per in result.summary.values() for ci in per.values()), default=0)
    lines.append(
        f"\nTest split: {n_cases} case(s) x {len(result.seeds)} seed(s); mean [95% CI, bootstrap over seeds and cases]"
    )
    width = max([len(n) for n in names] + [14])
    header = f"  {'metric':<18}" + "".join(f"  {n:>{max(width, 22)}}" for n in names)
    lines.append(header)
    for metric, (label, _) in METRICS.items():
        cells = []
        for name in names:
            ci = result.summary[name][metric]
            cells.append(f"{_fmt(ci.mean)} [{_fmt(ci.low)}, {_fmt(ci.high)}]")
        lines.append(f"  {label:<18}" + "".join(f"  {c:>{max(width, 22)}}" for c in cells))
    costs = [_run_costs(result, n) for n in names]
    val_keys = sorted({k for r in result.runs for k in r.get("validation", {})})
    if val_keys:
        lines.append("  validation split after the last epoch, mean over seeds (for choosing a configuration):")
    for key in val_keys:
        cells = []
        for name in names:
            values = [r["validation"][key] for r in result.runs
                      if r["configuration"] == name and r["status"] == "ok" and key in r.get("validation", {})]  # fmt: skip
            cells.append(_fmt(float(np.mean(values))) if values else "n/a")
        lines.append(f"  {key:<18}" + "".join(f"  {c:>{max(width, 22)}}" for c in cells))
    lines.append(f"  {'s / epoch':<18}" + "".join(f"  {_fmt(c[0]):>{max(width, 22)}}" for c in costs))
    lines.append(f"  {'step time vs base':<18}" + "".join(f"  {_fmt(c[1]):>{max(width, 22)}}" for c in costs))
    base = result.configurations[0].name
    for name, per_metric in result.paired.items():
        lines.append(f"\n{name} - {base}, paired per (seed, case): mean difference [95% CI], relative to {base}")
        for metric, (label, higher_better) in METRICS.items():
            ci = per_metric[metric]
            ref = result.summary[base][metric].mean
            rel = f"{100 * ci.mean / ref:+.0f}%" if ref and math.isfinite(ref) and math.isfinite(ci.mean) else ""
            verdict = ""
            if ci.excludes_zero():
                verdict = "better" if (ci.mean > 0) == higher_better else "worse"
            lines.append(f"  {label:<18} {_fmt(ci.mean):>8} [{_fmt(ci.low)}, {_fmt(ci.high)}] {rel:>6} {verdict}")
    failed = [r for r in result.runs if r["status"] != "ok"]
    for r in failed:
        lines.append(f"FAILED: {r['configuration']} seed {r['seed']}: {r.get('error', '')[:300]}")
    return "\n".join(lines)


def write_plot(result: Comparison, path: Path) -> None:
    """A forest plot: per metric, each configuration's paired difference to the baseline with its CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["dice", "cldice", "betti_error", "betti_error_b0", "betti_error_b1", "splits", "merges"]
    names = list(result.paired)
    base = result.configurations[0].name
    fig, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown), 0.6 * len(names) + 1.8), sharey=True)
    for ax, metric in zip(axes, shown, strict=True):
        label, higher_better = METRICS[metric]
        for i, name in enumerate(names):
            ci = result.paired[name][metric]
            if not math.isfinite(ci.mean):
                continue
            good = (ci.mean > 0) == higher_better
            colour = ("tab:green" if good else "tab:red") if ci.excludes_zero() else "tab:gray"
            ax.errorbar(ci.mean, i, xerr=[[ci.mean - ci.low], [ci.high - ci.mean]], fmt="o", color=colour, capsize=3)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{label}\n({'higher' if higher_better else 'lower'} is better)", fontsize=9)
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

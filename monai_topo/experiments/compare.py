"""Compare loss configurations on one bundle: same data, same budget, several seeds, a held-out test split.

For every training configuration and seed the bundle is trained exactly as a user would run it
(``python -m monai.bundle run --config_file [train.json, overrides]`` in a subprocess). The chosen checkpoint
(``final`` by default) is run with the bundle's ``evaluate.json`` on the datalist's **validation** and **test** lists
with post-processing off, which saves the network's raw label maps. Each configuration's post-processing
(:class:`~monai_topo.transforms.TopologyPostprocess`; ``min_size="auto"`` is chosen on the validation split) is then
applied to them and every prediction is scored against its label (:func:`~monai_topo.experiments.score_case`).
No run trains on the test split or selects anything on it. Configurations that differ only in post-processing
share their training runs. Training step times come from :class:`~monai_topo.experiments.StepTimer`.

Outputs in ``out_dir``: ``runs/<training>/seed_<s>/`` (logs, checkpoints, raw predictions, ``run.json``),
``per_case.csv``, ``validation.csv``, ``runs.csv``, ``per_seed.csv``, ``summary.csv`` (mean and 95% CI per metric and
configuration), ``paired.csv`` (per-case differences against the first configuration with a bootstrap CI) and
``comparison.png``.

A run is keyed by everything that determines it: the bundle's config files, the data (datalist and files), every
override, the seed. A finished run with the same key is not trained again, so an interrupted comparison resumes
where it stopped; a run folder whose key differs stops the comparison before any training with a message saying
what differs. A failed run is reported and the others go on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import monai_topo.data  # noqa: F401 - the bundles' datalist expression calls monai_topo.data.ensure_dataset
from monai_topo.bundles import BUNDLES
from monai_topo.bundles import path as bundle_path
from monai_topo.data.writers import write_json_atomic
from monai_topo.experiments.configurations import AUTO, Configuration, resolve_configurations
from monai_topo.experiments.report import Comparison, summarise, write_report
from monai_topo.experiments.scoring import choose_min_size, score_predictions
from monai_topo.experiments.timing import read_step_times
from monai_topo.io import case_name
from monai_topo.transforms.postprocess import check_postprocess_options

__all__ = ["CHECKPOINTS", "configuration_postprocess", "find_bundle", "run_comparison"]

logger = logging.getLogger(__name__)

#: which checkpoint of a run is evaluated
CHECKPOINTS = {"final": "model_final.pt", "best": "model.pt"}

_EPOCH_DONE = re.compile(r"SupervisedTrainer - INFO - Epoch\[(\d+)\] Complete")
_RUN = "run.json"


def _is_bundle(path: Path) -> bool:
    return (path / "configs" / "train.json").is_file() and (path / "configs" / "evaluate.json").is_file()


def find_bundle(bundle: str | os.PathLike) -> Path:
    """A bundle folder from a path, or a bundle that ships with the package by name (``neuron``, ``placenta``, or
    its folder name; :func:`monai_topo.bundles.path`).

    Raises:
        ValueError: when ``bundle`` is neither a folder with ``configs/train.json`` and ``configs/evaluate.json`` nor
            the name of a shipped bundle.
    """
    if _is_bundle(Path(bundle)):
        return Path(bundle).resolve()
    if str(bundle) in BUNDLES or str(bundle) in BUNDLES.values():
        return bundle_path(str(bundle)).resolve()
    raise ValueError(
        f"no bundle {bundle!r}: give a bundle folder (with configs/train.json and configs/evaluate.json) or one "
        f"of {sorted(BUNDLES)} (the bundles that ship with monai_topo)."
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Linux: the child gets SIGTERM when the process that started it dies, however it dies."""
    try:
        import ctypes
        import signal as _signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(_signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stream_process(cmd: list[str], cwd: Path, log_file: Path, on_line: Any = None) -> int:
    """Run ``cmd`` in ``cwd``, write its output (stdout and stderr) to ``log_file`` line by line as it comes, call
    ``on_line`` on each line, and return the exit code.

    The child never outlives this call: when the caller is interrupted (``KeyboardInterrupt``, or SIGTERM turned
    into one by :func:`run_comparison`) it is terminated (killed after 10 s), and on Linux it also gets SIGTERM when
    this process dies by any other means.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    with open(log_file, "w", buffering=1) as log:
        proc = subprocess.Popen(
            cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1,
            preexec_fn=preexec,
        )  # fmt: skip
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                log.write(line)
                if on_line is not None:
                    on_line(line)
            return proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _split_cases(dataset_dir: Path, split: str) -> list[tuple[str, Path]]:
    """``(case name, label path)`` of one list of the datalist (``[]`` when absent)."""
    datalist = dataset_dir / "dataset.json"
    try:
        data = json.loads(datalist.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the datalist {datalist}: {err}") from err
    cases = []
    for entry in data.get(split) or []:
        label = Path(entry["label"]) if isinstance(entry, dict) else Path(entry)
        label = label if label.is_absolute() else dataset_dir / label
        cases.append((case_name(label) or label.name, label))
    return cases


def _test_cases(dataset_dir: Path) -> list[tuple[str, Path]]:
    cases = _split_cases(dataset_dir, "test")
    if not cases:
        raise ValueError(
            f"{dataset_dir / 'dataset.json'} has no 'test' list: a comparison needs held-out test cases that no run "
            "trains or selects on (built-in data has one; for your images/ + labels/ remove dataset.json and set "
            "--override num_test=N, or add a 'test' list)."
        )
    return cases


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _bundle_digest(bundle_dir: Path) -> str:
    """Digest of the bundle's config files (what a run executes)."""
    digest = hashlib.sha256()
    for path in sorted((bundle_dir / "configs").glob("*")):
        if path.is_file() and path.suffix in (".json", ".yaml", ".yml", ".conf"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _data_digest(dataset_dir: Path) -> str:
    """Digest of the datalist and of every file it lists (size and first MiB), so changed data is noticed."""
    datalist = dataset_dir / "dataset.json"
    digest = hashlib.sha256(datalist.read_bytes())
    data = json.loads(datalist.read_text())
    paths = set()
    for split in ("training", "validation", "test"):
        for entry in data.get(split) or []:
            for value in entry.values() if isinstance(entry, dict) else [entry]:
                if isinstance(value, str):
                    paths.add(value)
    for value in sorted(paths):
        path = Path(value) if Path(value).is_absolute() else dataset_dir / value
        try:
            with open(path, "rb") as handle:
                digest.update(value.encode() + str(path.stat().st_size).encode() + handle.read(1 << 20))
        except OSError:
            digest.update(value.encode() + b"missing")
    return digest.hexdigest()[:16]


def _differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two run keys."""
    lines = []
    unset = object()
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, unset), new.get(key, unset)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            lines += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            was, now = ("<unset>" if v is unset else json.dumps(v) for v in (a, b))
            lines.append(f"{prefix}{key}: was {was}, now {now}")
    return lines


def _bundle_command(bundle_dir: Path, run_dir: Path, files: Sequence[Path]) -> list[str]:
    configs = bundle_dir / "configs"
    return [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", json.dumps([str(p) for p in files]),
        "--bundle_root", str(run_dir),
        "--meta_file", str(configs / "metadata.json"),
        "--logging_file", str(configs / "logging.conf"),
    ]  # fmt: skip


def _timing(steps_file: Path) -> dict[str, Any]:
    record = read_step_times(steps_file)
    steps, epochs = record["steps"], record.get("epochs", [])
    return {
        "seconds_per_epoch": float(np.mean([e["seconds"] for e in epochs])) if epochs else float("nan"),
        "step_seconds": float(np.median([s["seconds"] for s in steps])) if steps else float("nan"),
        "steps": steps,
    }


def _train(bundle_dir: Path, run_dir: Path, base: Mapping[str, Any], epoch_bar: Any) -> dict[str, Any]:
    """Train one run (``python -m monai.bundle run``); returns its timing."""
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


def _predict(bundle_dir: Path, run_dir: Path, base: Mapping[str, Any], checkpoint: str, split: str) -> Path:
    """Raw label maps (post-processing off) of one split with the bundle's evaluate.json; returns their folder."""
    configs = bundle_dir / "configs"
    name = f"compare_{split}_{checkpoint}"
    overrides = {
        **base,
        "ckpt_file": f"$@ckpt_dir + '/{CHECKPOINTS[checkpoint]}'",
        "eval_split": split,
        "eval_dir": f"$os.path.join(@output_dir, {name!r})",
        "postprocess": {},
    }
    write_json_atomic(overrides, run_dir / f"{name}_overrides.json")
    files = [configs / "train.json", configs / "evaluate.json", run_dir / f"{name}_overrides.json"]
    log = run_dir / f"{name}.log"
    code = stream_process(_bundle_command(bundle_dir, run_dir, files), bundle_dir, log)
    if code != 0:
        raise RuntimeError(f"evaluation on the {split} split exited with code {code}; last lines of {log}:\n" + _tail(log))
    return run_dir / "eval" / name / "predictions"


def _ensure_data(bundle_dir: Path, dataset_dir: Path, common: Mapping[str, Any]) -> None:
    """Make the bundle's data (its own ``datalist_file`` expression) once, before any run."""
    if (dataset_dir / "dataset.json").is_file():
        return
    from monai.bundle import ConfigParser

    parser = ConfigParser(globals={"monai_topo": "monai_topo", "os": "os", "glob": "glob"})
    parser.read_config(str(bundle_dir / "configs" / "train.json"))
    for key, value in {**common, "dataset_dir": str(dataset_dir), "bundle_root": str(bundle_dir)}.items():
        parser[key] = value
    logger.info("preparing the data in %s with the bundle's own ensure_dataset call", dataset_dir)
    parser.get_parsed_content("datalist_file")


def bundle_postprocess(bundle_dir: Path) -> dict[str, Any]:
    """The post-processing a bundle ships: the ``postprocess`` key of its ``evaluate.json`` (``{}`` when absent)."""
    value = json.loads((bundle_dir / "configs" / "evaluate.json").read_text()).get("postprocess", {})
    return check_postprocess_options(value if isinstance(value, Mapping) else {})


def configuration_postprocess(configuration: Configuration, shipped: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration's post-processing options (``min_size`` may still be ``"auto"``).

    ``bundle`` (``postprocess=None``) gets what the bundle ships; ``NAME+post`` the bundle's MONAI steps with
    ``min_size="auto"`` and without its gap bridging (the practitioner's baseline); any other its own options.

    Example:
        >>> from monai_topo.experiments.configurations import resolve_configurations
        >>> shipped = {"max_gap": 6, "min_size": 128}
        >>> [configuration_postprocess(c, shipped) for c in resolve_configurations(["dicece", "dicece+post", "bundle"])]
        [{}, {'min_size': 'auto'}, {'max_gap': 6, 'min_size': 128}]
    """
    if configuration.postprocess is None:
        return dict(shipped)
    if configuration.postprocess == AUTO:  # the practitioner's baseline: MONAI's transforms, no gap bridging
        options = {k: v for k, v in shipped.items() if k != "max_gap"}
        if "min_size" in options or not options:
            options["min_size"] = "auto"
        return options
    return check_postprocess_options(configuration.postprocess)  # type: ignore[arg-type]


class _FolderLock:
    """An exclusive lock on a comparison's output folder (``.compare.lock``), so that two comparisons never train
    into the same run folders at once."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".compare.lock"
        self.handle: Any = None

    def __enter__(self) -> _FolderLock:
        import fcntl

        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "another process"
            self.handle.close()
            raise ValueError(
                f"{self.path.parent} is in use by another monai-topo compare ({owner}); wait for it to finish or use "
                "another --out."
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()}")
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


class _TerminateAsInterrupt:
    """SIGTERM raises ``KeyboardInterrupt`` in the main thread while active, so the training child is stopped."""

    def __enter__(self) -> _TerminateAsInterrupt:
        import signal
        import threading

        self.previous = None
        if threading.current_thread() is threading.main_thread():

            def interrupt(signum: int, frame: Any) -> None:
                raise KeyboardInterrupt(f"signal {signum}")

            self.previous = signal.signal(signal.SIGTERM, interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _setting(key: str, configuration: Configuration, common: Mapping[str, Any], train: Mapping[str, Any]) -> Any:
    for source in (configuration.overrides, common, train):
        if key in source:
            return source[key]
    return None


def _check_budget(configs: Sequence[Configuration], common: Mapping[str, Any], train: Mapping[str, Any]) -> int:
    """The number of epochs; a bad budget value or a term that never switches on is a ``ValueError`` naming it."""
    epochs = _setting("epochs", Configuration("budget"), common, train)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer (--override epochs=N), got {epochs!r}.")
    for configuration in configs:
        for key, kind in (("lambda_topology", (int, float)), ("topology_warmup", int)):
            value = _setting(key, configuration, common, train)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kind) or value < 0):
                raise ValueError(
                    f"configuration {configuration.name!r}: {key} must be a non-negative number, got {value!r}."
                )
        weight = _setting("lambda_topology", configuration, common, train)
        warmup = _setting("topology_warmup", configuration, common, train)
        if not weight and any(k.startswith("loss#topology_loss") for k in configuration.overrides):
            raise ValueError(
                f"configuration {configuration.name!r} sets a topological term (loss#topology_loss) but its weight "
                f"lambda_topology is {weight!r}, so it would train exactly like 'dicece' (the bundles ship 0). Add "
                '"lambda_topology": <weight> to its overrides.'
            )
        if weight and warmup is not None and warmup >= epochs:
            raise ValueError(
                f"configuration {configuration.name!r} would never switch its topological term on: topology_warmup="
                f"{warmup} >= epochs={epochs}, so it would train exactly like 'dicece'. Raise --override epochs=N or "
                "lower --override topology_warmup=N (or use --quick, which sets both)."
            )
    return int(epochs)


def _effective_overrides(overrides: Mapping[str, Any], train: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` without the top-level keys that equal the bundle's own value: configurations that train the
    same thing (``dicece`` and ``bundle`` of a bundle that ships ``lambda_topology`` 0) share their runs.

    Example:
        >>> _effective_overrides({"lambda_topology": 0, "epochs": 5}, {"lambda_topology": 0.0, "epochs": 80})
        {'epochs': 5}
    """
    return {k: v for k, v in overrides.items() if "#" in k or k not in train or train[k] != v}


def _training_name(configuration: Configuration) -> str:
    return configuration.name.removesuffix("+post") or configuration.name


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
        bundle: a bundle folder, or ``"neuron"`` / ``"placenta"`` for the bundles that ship with the package.
        configurations: preset names (see :data:`~monai_topo.experiments.PRESETS`; ``NAME+post`` adds the
            bundle's post-processing) or :class:`Configuration` objects; the first is the baseline of the paired
            differences.
        seeds: training seeds (the bundle's ``seed`` key: determinism, crops, patches). The data stay the same.
        out_dir: output folder (runs, CSVs, plot); an existing one is resumed.
        dataset_dir: the data: a folder with ``images/`` + ``labels/`` or a datalist, or empty / missing for the
            built-in data (default ``out_dir/data``). It must end up with a ``test`` list (and a ``validation``
            list for ``min_size="auto"``).
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
        ValueError: for an unknown configuration or bundle, a bad budget, a configuration whose term would never
            switch on (``topology_warmup >= epochs``), data without a test list, a run folder that was trained with
            other settings, or an output folder another comparison is using, before any training.
        KeyboardInterrupt: on Ctrl-C or SIGTERM; the training or evaluation child is stopped with it.

    Example:
        >>> result = run_comparison("neuron", ["dicece", "dicece+post", "bundle"], seeds=[0, 1, 2])  # doctest: +SKIP
        >>> result.paired["bundle"]["betti_error"]  # doctest: +SKIP
        Interval(mean=-1.2, low=-2.0, high=-0.4, n_seeds=3, n_cases=8)
    """
    configs = resolve_configurations(configurations, config_file)
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {checkpoint!r}.")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one, got {seeds}.")
    bundle_dir = find_bundle(bundle)
    common = dict(overrides or {})
    train = json.loads((bundle_dir / "configs" / "train.json").read_text())
    epochs = _check_budget(configs, common, train)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = Path(dataset_dir).expanduser().resolve() if dataset_dir is not None else out / "data"
    with _FolderLock(out), _TerminateAsInterrupt():
        return _compare(bundle_dir, train, configs, seeds, out, data, common, epochs, progress, confidence, checkpoint)


def _compare(
    bundle_dir: Path, train: Mapping[str, Any], configs: list[Configuration], seeds: list[int], out: Path,
    data: Path, common: dict[str, Any], epochs: int, progress: bool, confidence: float, checkpoint: str,
) -> Comparison:  # fmt: skip
    """:func:`run_comparison` once its arguments are checked and the output folder is locked."""
    from tqdm import tqdm

    _ensure_data(bundle_dir, data, common)
    cases = _test_cases(data)  # fails before any training when there is no test split
    validation_cases = _split_cases(data, "validation")
    shipped = bundle_postprocess(bundle_dir)
    posts = {c.name: configuration_postprocess(c, shipped) for c in configs}
    if not validation_cases and any(p.get("min_size") == "auto" for p in posts.values()):
        raise ValueError(f"{data / 'dataset.json'} has no 'validation' list to choose min_size='auto' on.")

    # one training per distinct training configuration x seed, keyed by everything that determines it
    bundle_key, data_key = _bundle_digest(bundle_dir), _data_digest(data)
    trainings: dict[str, str] = {}  # canonical overrides -> training folder name
    plan = []
    for configuration in configs:
        overrides = _effective_overrides(configuration.overrides, train)
        canonical = json.dumps(overrides, sort_keys=True)
        name = trainings.setdefault(canonical, _training_name(configuration))
        for seed in seeds:
            base = {**common, **copy.deepcopy(overrides), "seed": seed, "dataset_dir": str(data)}
            key = {"bundle": str(bundle_dir), "bundle_configs": bundle_key, "data": str(data), "data_files": data_key,
                   "overrides": base, "seed": seed}  # fmt: skip
            plan.append((configuration, seed, out / "runs" / name / f"seed_{seed}", base, key))
    for _, seed, run_dir, _, key in plan:  # stale runs stop the comparison before any training
        record_file = run_dir / _RUN
        if record_file.is_file():
            record = _read_record(record_file)
            if record.get("key") != key:
                differences = _differences(record.get("key", {}), key) or ["(the record has no key)"]
                raise ValueError(
                    f"{run_dir} was trained with other settings than this comparison's:\n  " + "\n  ".join(differences)
                    + f"\nUse another --out, or delete {run_dir} to train it again."
                )
    logger.info(
        "comparing %s on %s: %d seed(s), %d test case(s), %d epochs per run, output %s",
        ", ".join(c.name for c in configs), bundle_dir.name, len(seeds), len(cases), epochs, out,
    )  # fmt: skip

    result = Comparison(configs, seeds, out_dir=out)
    run_bar = tqdm(plan, desc="runs", unit="run", disable=not progress, position=0)
    for configuration, seed, run_dir, base, key in run_bar:
        run_bar.set_postfix_str(f"{configuration.name} seed {seed}")
        try:
            record = _trained(bundle_dir, run_dir, base, key, epochs, progress, configuration.name)
            preds = {
                split: _predictions(bundle_dir, run_dir, base, checkpoint, split, record)
                for split in ("validation", "test")
                if split == "test" or validation_cases
            }
            options = posts[configuration.name]
            chosen = None
            if options.get("min_size") == "auto":
                size, table = choose_min_size(preds["validation"], validation_cases, options)
                options = {**options, "min_size": size}
                chosen = table
            run = {
                "configuration": configuration.name,
                "seed": seed,
                "status": "ok",
                "run_dir": str(run_dir.relative_to(out)),
                "checkpoint": checkpoint,
                "postprocess": options,
                "min_size_choice": chosen,
                **{k: record[k] for k in ("train_seconds", "seconds_per_epoch", "step_seconds", "steps")},
                "cases": score_predictions(preds["test"], cases, options),
                "validation": score_predictions(preds["validation"], validation_cases, options)
                if "validation" in preds
                else [],
            }
        except Exception as err:  # noqa: BLE001 - a failed run is reported, the others go on
            logger.error("%s seed %d FAILED: %s", configuration.name, seed, err)
            result.runs.append(
                {"configuration": configuration.name, "seed": seed, "status": "failed", "error": str(err)}
            )
            continue
        result.runs.append(run)
    summarise(result, confidence)
    write_json_atomic({"runs": [{k: v for k, v in r.items() if k != "steps"} for r in result.runs]},
                      out / "results.json")  # fmt: skip
    write_report(result)
    return result


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the run record {path} ({err}); delete its folder to train it again.") from err
    if not isinstance(record, dict):
        raise ValueError(f"the run record {path} is not a JSON object; delete its folder to train it again.")
    return record


def _trained(
    bundle_dir: Path, run_dir: Path, base: Mapping[str, Any], key: Mapping[str, Any], epochs: int, progress: bool,
    label: str,
) -> dict[str, Any]:  # fmt: skip
    """The run's record, training it first unless a finished run with the same key is there."""
    from tqdm import tqdm

    record_file = run_dir / _RUN
    if record_file.is_file():
        record = _read_record(record_file)
        if record.get("key") == key and record.get("status") == "trained":
            logger.info("%s: trained already, reused (%s)", run_dir.relative_to(run_dir.parents[2]), run_dir)
            return record
    logger.info("%s seed %d: training %d epochs in %s", label, key["seed"], epochs, run_dir)
    epoch_bar = tqdm(total=epochs, desc=f"  {label} s{key['seed']}", unit="epoch", leave=False,
                     disable=not progress, position=1)  # fmt: skip
    try:
        timing = _train(bundle_dir, run_dir, base, epoch_bar)
    finally:
        epoch_bar.close()
    record = {"key": dict(key), "status": "trained", "evaluations": {}, **timing}
    write_json_atomic(record, record_file)
    return record


def _predictions(
    bundle_dir: Path, run_dir: Path, base: Mapping[str, Any], checkpoint: str, split: str, record: dict[str, Any]
) -> Path:
    """The raw predictions of one split and checkpoint, made once per run (noted in ``run.json``)."""
    name = f"{split}_{checkpoint}"
    folder = run_dir / "eval" / f"compare_{name}" / "predictions"
    evaluations = record.setdefault("evaluations", {})
    if evaluations.get(name) and folder.is_dir():
        return folder
    folder = _predict(bundle_dir, run_dir, base, checkpoint, split)
    evaluations[name] = True
    write_json_atomic(record, run_dir / _RUN)
    return folder

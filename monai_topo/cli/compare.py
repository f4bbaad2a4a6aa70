"""``monai-topo compare``: what a topological loss buys on a bundle, measured with seeds and a held-out test split.

Example::

    monai-topo compare --bundle neuron --configs dicece bundle --seeds 0 1 2 --out compare_neuron
    monai-topo compare --bundle placenta --configs dicece hu-patches supervoxel --override epochs=40
    monai-topo compare --bundle neuron --config-file my_losses.yaml --dataset-dir my_data/

See :mod:`monai_topo.experiments.compare` for the protocol and the output files.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from monai_topo.experiments import PRESETS, run_comparison

__all__ = ["parse_override", "register", "run"]

logger = logging.getLogger(__name__)


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a JSON value (a bare word is a string): ``epochs=40``, ``roi_size=[32,32,32]``.

    Example:
        >>> parse_override("epochs=40"), parse_override("loss#warmup=0"), parse_override("dataset_kind=neuron")
        (('epochs', 40), ('loss#warmup', 0), ('dataset_kind', 'neuron'))
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--override expects KEY=VALUE (a bundle config key), got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


#: ``--quick``: a smoke test of a few minutes on the built-in data (overrides given explicitly win)
QUICK = {"epochs": 20, "topology_warmup": 5, "val_interval": 5}


def run(args: argparse.Namespace) -> int:
    """Run the comparison; exit code 1 when a run failed, 2 for bad arguments, 130 when interrupted."""
    overrides = dict(args.override or [])
    if getattr(args, "quick", False):
        overrides = {**QUICK, **overrides}
        logger.warning(
            "--quick: %s epochs per run, a smoke test of the instrument and of your set-up, not evidence; "
            "run without --quick (and with more seeds) for numbers you can report.",
            overrides["epochs"],
        )
    try:
        result = run_comparison(
            args.bundle,
            configurations=args.configs,
            seeds=args.seeds,
            out_dir=args.out,
            dataset_dir=args.dataset_dir,
            overrides=overrides,
            config_file=args.config_file,
            progress=not args.no_progress,
            checkpoint=args.checkpoint,
        )
    except ValueError as err:
        logger.error("%s", err)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted: the running training / evaluation was stopped; run the same command to resume.")
        return 130
    print(f"\nwrote {result.out_dir}/per_case.csv, runs.csv, summary.csv, paired.csv, comparison.png", flush=True)
    if result.failed:
        logger.error("%d run(s) failed; run the same command again to retry them", len(result.failed))
        return 1
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` parser to ``subparsers``.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["compare", "--configs", "dicece", "supervoxel", "--seeds", "0", "1"])
        >>> args.bundle, args.configs, args.seeds
        ('neuron', ['dicece', 'supervoxel'], [0, 1])
    """
    presets = "; ".join(f"{c.name}: {c.description}" for c in PRESETS.values())
    parser = subparsers.add_parser(
        "compare",
        help="train a bundle under several loss configurations x seeds, compare on a held-out test split",
        description=(
            "Train one bundle under each loss configuration and seed with the same budget and data, evaluate every "
            "run's final weights (--checkpoint) on the datalist's test split (never trained or selected on), and "
            "write per-case metrics, mean and 95% CI per configuration, the paired per-case difference to the "
            "first configuration (bootstrap over seeds and cases) and a plot. Finished runs are skipped when the "
            "command is run again with the same settings. NAME+post adds the bundle's post-processing to preset "
            "NAME (e.g. dicece+post), its min_size chosen on the validation split. Presets: "
            + presets  # (argparse %-formats a description only when it holds "%(prog)": no escaping)
        ),
    )
    parser.add_argument("--bundle", default="neuron", help="neuron, placenta, or a bundle folder (default: neuron)")
    parser.add_argument(
        "--configs",
        nargs="*",
        default=None,
        metavar="NAME",
        help="preset names, the first is the baseline (default: dicece bundle, i.e. term off vs the bundle as shipped)",
    )
    parser.add_argument("--config-file", default=None, metavar="FILE", help="more configurations (JSON or YAML)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    parser.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default: compare_output, compare_quick with --quick)"
    )
    parser.add_argument(
        "--dataset-dir",
        "--dataset_dir",
        default=None,
        metavar="DIR",
        help="your data (images/ + labels/, or a datalist with a test list); default: built-in data in OUT/data",
    )
    parser.add_argument(
        "--override",
        action="append",
        type=parse_override,
        metavar="KEY=VALUE",
        help="bundle config override for every run (the budget), e.g. epochs=40; repeatable",
    )
    parser.add_argument(
        "--checkpoint",
        choices=["final", "best"],
        default="final",
        help="evaluate the weights after the last epoch (final, default: same budget, no selection) or the "
        "bundle's best-validation-Dice model.pt (best; with a warm-up it can be a checkpoint from before the term "
        "was on). Changing it re-evaluates finished runs without training them again.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few-minute smoke test: "
        + ", ".join(f"{k}={v}" for k, v in QUICK.items())
        + " (your --override values win); its output folder defaults to compare_quick",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_with_defaults)
    return parser


def _run_with_defaults(args: argparse.Namespace) -> int:
    if args.configs is not None and not args.configs and args.config_file is None:
        logger.error("--configs needs at least one configuration name (or give --config-file).")
        return 2
    if args.configs is None:
        args.configs = ["dicece", "bundle"] if args.config_file is None else []
    if args.out is None:
        args.out = "compare_quick" if args.quick else "compare_output"
    return run(args)

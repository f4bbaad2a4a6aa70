"""``monai-topo bundle NAME --out DIR``: a copy of a bundle that ships with the package, ready to run.

Example::

    monai-topo bundle neuron --out neuron_bundle
    cd neuron_bundle
    python -m monai.bundle run --config_file configs/train.json --bundle_root . --dataset_dir data
"""

from __future__ import annotations

import argparse
import logging

from monai_topo.bundles import BUNDLES, copy_bundle

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Copy the bundle and print its folder and the commands to run in it; exit code 1 when it cannot be copied."""
    try:
        out = copy_bundle(args.name, args.out)
    except (ValueError, OSError) as err:
        logger.error("%s", err)
        return 1
    print(out)
    print(
        f"\nTrain on the built-in data (generated in {out / 'data'} on the first run), then evaluate:\n"
        f"  cd {out}\n"
        "  python -m monai.bundle run --config_file configs/train.json --bundle_root . --dataset_dir data\n"
        "  python -m monai.bundle run --config_file \"['configs/train.json','configs/evaluate.json']\" "
        "--bundle_root . --dataset_dir data\n"
        f"More (your own data, inference, multi-GPU, resuming): {out / 'docs' / 'README.md'}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``bundle`` subcommand.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["bundle", "placenta", "--out", "b"])
        >>> args.name, args.out
        ('placenta', 'b')
    """
    names = sorted(BUNDLES) + sorted(BUNDLES.values())
    parser = subparsers.add_parser(
        "bundle",
        help="copy a MONAI bundle that ships with monai_topo to a folder, ready to train and evaluate",
        description="Copy one of the MONAI bundles installed with monai_topo (configs, docs, LICENSE) to OUT, a new "
        "or empty folder; then run MONAI's bundle commands there. Bundles: "
        + ", ".join(f"{short} ({full})" for short, full in BUNDLES.items()),
    )
    parser.add_argument("name", choices=names, metavar="NAME", help=f"which bundle: {', '.join(sorted(BUNDLES))}")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="folder of the copy (new or empty)")
    parser.set_defaults(func=run)
    return parser

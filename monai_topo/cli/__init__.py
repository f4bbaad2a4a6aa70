"""The ``monai-topo`` command line: ``betti``, ``evaluate``, ``make-dataset``, ``compare``, ``diagram`` and ``bundle``.

Each subcommand lives in its own module ``monai_topo.cli.<name>`` with a ``register(subparsers)`` function that adds
its parser and sets ``func`` (called with the parsed namespace, returns an exit code). The modules only turn
arguments into keyword calls of the library (:mod:`monai_topo.evaluation`, :mod:`monai_topo.experiments`,
:mod:`monai_topo.data`, :mod:`monai_topo.bundles`, :mod:`monai_topo.visualize`) and print what it returns.
"""

from __future__ import annotations

import argparse
import logging
import sys

from monai_topo import __version__
from monai_topo.cli import betti, bundle, compare, diagram, evaluate, make_dataset

__all__ = ["build_parser", "main"]

_COMMANDS = (betti, evaluate, make_dataset, compare, diagram, bundle)


def build_parser() -> argparse.ArgumentParser:
    """The ``monai-topo`` parser with every subcommand (parsing runs nothing: ``args.func(args)`` does).

    Example:
        >>> args = build_parser().parse_args(["betti", "mask.nii.gz"])
        >>> args.command, args.func.__module__
        ('betti', 'monai_topo.cli.betti')
    """
    parser = argparse.ArgumentParser(
        prog="monai-topo",
        description="Topology tools for segmentation: Betti numbers, evaluation with error overlays, persistence "
        "diagrams, built-in data, bundles, and compare (what a topological loss term buys).",
    )
    parser.add_argument("--version", action="version", version=f"monai_topo {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``monai-topo`` command line (``monai-topo --help`` lists the subcommands)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

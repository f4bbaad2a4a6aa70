"""The ``monai-topo`` command line: ``betti``, ``evaluate``, ``make-dataset``, ``compare`` and ``diagram``.

Each subcommand lives in its own module ``monai_topo.cli.<name>`` with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed namespace, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main"]

_COMMANDS = ("betti", "evaluate", "make_dataset", "compare", "diagram")


def main(argv: list[str] | None = None) -> int:
    """Run the ``monai-topo`` command line (``monai-topo --help`` lists the subcommands)."""
    from monai_topo import __version__

    parser = argparse.ArgumentParser(
        prog="monai-topo", description="Topology tools for segmentation: Betti numbers, evaluation, example data."
    )
    parser.add_argument("--version", action="version", version=f"monai_topo {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"monai_topo.cli.{name}").register(subparsers)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Options shared by several ``monai-topo`` subcommands."""

from __future__ import annotations

import argparse

from monai_topo.topology.validation import CONNECTIVITIES

__all__ = ["add_connectivity_argument"]


def add_connectivity_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--connectivity`` (foreground connectivity, one convention for the whole package)."""
    parser.add_argument(
        "--connectivity",
        type=int,
        choices=sorted(c for pair in CONNECTIVITIES.values() for c in pair),
        default=None,
        help="foreground connectivity: 8 (2D) / 26 (3D) T-construction, the default; or 4 / 6 V-construction",
    )

"""Run a subcommand through its own ``register`` (independent of the other subcommands) and write NIfTI files."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

import nibabel as nib
import numpy as np


def run_command(module: ModuleType, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monai-topo")
    module.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine), str(path))
    return path

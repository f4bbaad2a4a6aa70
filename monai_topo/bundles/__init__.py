"""The MONAI bundles that ship with monai_topo, installed with the package: where they are, a copy to run, and the
helpers their configs call.

- :func:`path`: the installed folder of a bundle (``"neuron"``, ``"placenta"`` or the full name); read it, do not
  run in it (training writes ``models/`` and ``eval/`` next to the configs).
- :func:`copy_bundle`: a copy of a bundle in a folder of your own, what ``monai-topo bundle NAME --out DIR`` makes;
  then ``cd DIR && python -m monai.bundle run --config_file configs/train.json --bundle_root . --dataset_dir data``.
- :func:`latest_checkpoint`: the newest ``checkpoint_epoch=N.pt`` of a run, the bundles' ``@latest_ckpt``.

Example:
    >>> sorted(BUNDLES)
    ['neuron', 'placenta']
    >>> (path("neuron") / "configs" / "train.json").is_file()
    True
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from importlib.resources import files
from pathlib import Path

__all__ = ["BUNDLES", "copy_bundle", "latest_checkpoint", "path"]

#: short name -> folder name of the bundles that ship with the package
BUNDLES = {"neuron": "neuron_topology_segmentation", "placenta": "placenta_topology_segmentation"}

_CHECKPOINT = re.compile(r"checkpoint_epoch=(\d+)\.pt")


def path(name: str) -> Path:
    """The installed folder of the bundle ``name`` (a short name of :data:`BUNDLES` or its folder name).

    Raises:
        ValueError: for an unknown name (the message lists the bundles).

    Example:
        >>> path("placenta").name
        'placenta_topology_segmentation'
    """
    folder = BUNDLES.get(name, name)
    if folder not in BUNDLES.values():
        known = ", ".join(f"{short} ({full})" for short, full in BUNDLES.items())
        raise ValueError(f"no bundle {name!r} ships with monai_topo; the bundles are: {known}.")
    return Path(str(files(__name__).joinpath(folder)))


def copy_bundle(name: str, out_dir: str | os.PathLike) -> Path:
    """Copy the bundle ``name`` to ``out_dir`` (created; it must not hold anything yet) and return its path.

    The copy is a complete bundle (``configs/``, ``docs/``, ``models/``, ``LICENSE``): run MONAI's bundle commands
    in it, and train or evaluate with your own data through ``--dataset_dir``.

    Raises:
        ValueError: for an unknown name, or an ``out_dir`` that is a file or a folder that is not empty.

    Example:
        >>> import tempfile
        >>> out = copy_bundle("neuron", Path(tempfile.mkdtemp()) / "neuron")
        >>> sorted(p.name for p in out.iterdir())
        ['LICENSE', 'configs', 'docs', 'models']
    """
    source = path(name)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty folder; give a new or empty folder.")
    shutil.copytree(source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return out


def latest_checkpoint(ckpt_dir: str | os.PathLike) -> str:
    """The ``checkpoint_epoch=N.pt`` in ``ckpt_dir`` with the highest ``N`` (what ``CheckpointSaver`` writes every
    epoch), or ``""`` when there is none, so that ``--resume_ckpt @latest_ckpt`` starts afresh.

    The bundles' ``train.json`` defines ``"latest_ckpt": "$monai_topo.bundles.latest_checkpoint(@ckpt_dir)"``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> latest_checkpoint(folder)
        ''
        >>> for epoch in (2, 10, 9):
        ...     _ = (folder / f"checkpoint_epoch={epoch}.pt").write_bytes(b"")
        >>> Path(latest_checkpoint(folder)).name
        'checkpoint_epoch=10.pt'
    """
    found = []
    for candidate in glob.glob(os.path.join(glob.escape(str(ckpt_dir)), "checkpoint_epoch=*.pt")):
        match = _CHECKPOINT.fullmatch(os.path.basename(candidate))
        if match:
            found.append((int(match.group(1)), candidate))
    return max(found)[1] if found else ""

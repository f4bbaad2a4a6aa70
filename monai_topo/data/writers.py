"""Write the built-in synthetic datasets to disk: NIfTI volumes and a MONAI (Decathlon-style) datalist.

Layout of ``out_dir``::

    dataset.json                 # the datalist, with metadata
    images/case_000.nii.gz       # float32 image, voxel size in the header
    labels/case_000.nii.gz       # uint8 binary label
    instances/case_000.nii.gz    # uint16 instance label (neurons only)

``dataset.json`` has the lists ``"training"``, ``"validation"`` and ``"test"`` of
``{"image", "label", ["instance"], "betti", "seed"}`` entries (paths relative to ``out_dir``), readable with
``monai.data.load_decathlon_datalist(path, data_list_key="training")``. ``"betti"`` holds the Betti numbers
``[b0, b1, b2]`` of the label as written, measured with :func:`monai_topo.topology.betti_numbers` (26-connected
foreground). Every case is reproducible on its own: ``make_neuron_volume(size, seed=entry["seed"])``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from tqdm.auto import tqdm

from monai_topo import __version__
from monai_topo.data.neuron import make_neuron_volume
from monai_topo.data.placenta import PLACENTA_TOPOLOGY, make_placenta_volume
from monai_topo.data.synthesis import case_seed, resolve_shape
from monai_topo.topology import betti_numbers

__all__ = [
    "DATASET_KINDS",
    "DATALIST_NAME",
    "make_neuron_dataset",
    "make_placenta_dataset",
    "make_dataset",
    "save_nifti",
    "split_counts",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

#: File name of the datalist inside a dataset folder.
DATALIST_NAME = "dataset.json"
#: Built-in dataset kinds, for :func:`make_dataset` and :func:`monai_topo.data.ensure_dataset`.
DATASET_KINDS = ("neuron", "placenta")

_NEURON_SPACING = (1.0, 1.0, 2.0)
_PLACENTA_SPACING = (1.0, 1.0, 1.0)


def save_nifti(array: np.ndarray, path: str | os.PathLike, spacing: Sequence[float], units: str = "mm") -> Path:
    """Save a 3D array as NIfTI-1 with the voxel size in the affine and the header zooms.

    The affine is ``diag(spacing, 1)`` (RAS, origin at the first voxel), so MONAI's ``LoadImage`` reads
    ``pixdim`` = ``spacing``. Compressed files (``.nii.gz``) are byte-identical for identical arrays
    (nibabel writes gzip with mtime 0).

    Args:
        array: the 3D array, written with its own dtype.
        path: the output file (``.nii`` or ``.nii.gz``); parent folders are created.
        spacing: voxel size along the three axes.
        units: spatial unit in the header: ``"mm"`` or ``"micron"``.

    Returns:
        the path written.

    Example:
        >>> import tempfile
        >>> out = save_nifti(np.zeros((4, 4, 4), np.uint8), Path(tempfile.mkdtemp()) / "x.nii.gz", (1, 1, 2))
        >>> tuple(float(z) for z in nib.load(out).header.get_zooms())
        (1.0, 1.0, 2.0)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*(float(s) for s in spacing), 1.0])
    image = nib.Nifti1Image(np.asarray(array), affine)
    image.header.set_xyzt_units(xyz=units)
    image.header.set_zooms(tuple(float(s) for s in spacing))
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, str(path))
    return path


def write_json_atomic(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write JSON to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _count(value: int | float | None, n: int, name: str, minimum: int) -> tuple[int, bool]:
    """A count from a count or a fraction of ``n``; ``(count, given as a count)``."""
    if value is None:
        value = 0.2
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number of cases or a fraction in (0, 1), got {value!r}.")
    if isinstance(value, (int, np.integer)) or float(value).is_integer() and float(value) >= 1:
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}.")
        return int(value), True
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number of cases or a fraction in (0, 1), got {value!r}.")
    return max(minimum if n >= minimum + 1 else 0, int(round(float(value) * n))), False


def split_counts(
    num_volumes: int, num_validation: int | float | None = None, num_test: int | float | None = None
) -> tuple[int, int, int]:
    """Numbers of (training, validation, test) cases.

    ``num_validation`` / ``num_test``: a number of cases (an integer), a fraction of the cases (a float in
    ``[0, 1)``, rounded; at least one validation case from 2 cases on and one test case from 3 on), or ``None`` for a
    fifth. Fractions never leave less than one training case (the test, then the validation share shrinks); counts
    are taken as given.

    Raises:
        ValueError: when counts leave no training case (naming the fix), or a value is negative or not a number.

    Example:
        >>> split_counts(12), split_counts(3), split_counts(4, num_test=0)
        ((8, 2, 2), (1, 1, 1), (3, 1, 0))
        >>> split_counts(28, 0.15, 0.3), split_counts(5, 0.15, 0.3), split_counts(2, 0.15, 0.3)
        ((16, 4, 8), (2, 1, 2), (1, 1, 0))
    """
    n = int(num_volumes)
    n_val, val_fixed = _count(num_validation, n, "num_validation", 1)
    n_test, test_fixed = _count(num_test, n, "num_test", 1 if n >= 3 else 0)
    if not test_fixed:
        n_test = max(0, min(n_test, n - n_val - 1))
    if not val_fixed:
        n_val = max(0, min(n_val, n - n_test - 1))
    if n - n_val - n_test < 1:
        raise ValueError(
            f"{n} case(s) cannot be split into >= 1 training, {n_val} validation and {n_test} test case(s): give "
            "fractions instead of counts (e.g. num_validation=0.2, num_test=0.2), smaller counts, or more cases."
        )
    return n - n_val - n_test, n_val, n_test


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    datalist = out_dir / DATALIST_NAME
    if datalist.exists() and not overwrite:
        raise FileExistsError(f"{datalist} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    for sub in ("images", "labels", "instances"):
        for old in sorted((out_dir / sub).glob("case_*.nii.gz")) if overwrite else []:
            old.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_dataset(
    kind: str,
    out_dir: str | os.PathLike,
    num_volumes: int,
    size: int | Sequence[int],
    seed: int,
    num_validation: int | float | None,
    num_test: int | float | None,
    overwrite: bool,
    progress: bool,
    volume_kwargs: dict[str, Any],
) -> Path:
    out = Path(out_dir)
    shape = resolve_shape(size)
    n_train, n_val, n_test = split_counts(num_volumes, num_validation, num_test)
    _prepare_out_dir(out, overwrite)
    is_neuron = kind == "neuron"
    generate: Callable[..., Any] = make_neuron_volume if is_neuron else make_placenta_volume
    spacing = tuple(float(s) for s in volume_kwargs.get("spacing", _NEURON_SPACING if is_neuron else _PLACENTA_SPACING))
    volume_kwargs = {**volume_kwargs, "spacing": spacing}
    units = "micron" if is_neuron else "mm"
    logger.info(
        "writing %d synthetic %s volumes of shape %s (seed %d) to %s", num_volumes, kind, shape, seed, out.resolve()
    )
    start = time.perf_counter()
    entries = []
    for index in tqdm(range(num_volumes), desc=f"{kind} volumes", unit="vol", disable=not progress):
        name = f"case_{index:03d}.nii.gz"
        seed_i = case_seed(seed, index)
        volume = generate(shape, seed=seed_i, **volume_kwargs)
        save_nifti(volume.image, out / "images" / name, spacing, units)
        label_path = save_nifti(volume.label, out / "labels" / name, spacing, units)
        entry: dict[str, Any] = {"image": f"images/{name}", "label": f"labels/{name}"}
        if is_neuron:
            save_nifti(volume.instances, out / "instances" / name, spacing, units)
            entry["instance"] = f"instances/{name}"
            entry["num_instances"] = int(volume.instances.max())
        written = np.asarray(nib.load(str(label_path)).dataobj)  # measure what a reader will see
        entry["betti"] = [int(b) for b in betti_numbers(written)]
        entry["seed"] = seed_i
        entries.append(entry)
        logger.debug("%s: betti %s", name, entry["betti"])

    if is_neuron:
        description = (
            "Synthetic neuron-like fluorescence microscopy: 2-4 branching trees per volume (radius 1-3 um, "
            "dim thin branches with short signal dropouts that the label traces through, crossings and touches "
            "between trees), anisotropic PSF blur (axial 3x lateral), uneven background, Poisson and Gaussian "
            "noise at a signal-to-noise ratio that varies per volume. Each tree is a tree (no loop of its own); "
            "loops in the binary label come from trees crossing or touching."
        )
        topology: dict[str, Any] = {
            "betti": None,
            "connectivity": 26,
            "note": "varies per case (trees cross and touch); see each case's 'betti'",
        }
        labels = {"0": "background", "1": "neurite"}
        modality = {"0": "fluorescence microscopy (synthetic)"}
    else:
        description = (
            "Synthetic placenta-like 3D ultrasound: a curved thick disc lining a fluid-filled uterus, with "
            "Rayleigh speckle, depth attenuation, acoustic shadowing behind a bone-like reflector and blurry "
            "boundaries. Every label is a topological ball (Betti numbers 1, 0, 0); axis 0 is depth."
        )
        topology = {"betti": list(PLACENTA_TOPOLOGY), "connectivity": 26, "note": "every case"}
        labels = {"0": "background", "1": "placenta"}
        modality = {"0": "3D ultrasound (synthetic)"}
    datalist: dict[str, Any] = {
        "name": f"monai_topo synthetic {kind}",
        "description": description,
        "reference": f"generated by monai_topo.data.make_{kind}_dataset (monai_topo {__version__})",
        "licence": "CC0-1.0 (synthetic data)",
        "tensorImageSize": "3D",
        "kind": kind,
        "modality": modality,
        "labels": labels,
        "spacing": list(spacing),
        "spacing_units": units,
        "size": size if isinstance(size, (int, np.integer)) else list(shape),
        "shape": list(shape),
        "seed": int(seed),
        "num_volumes": int(num_volumes),
        "numTraining": n_train,
        "numValidation": n_val,
        "numTest": n_test,
        "label_topology": topology,
        "generator": {
            "function": f"monai_topo.data.make_{kind}_volume",
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in volume_kwargs.items()},
            "monai_topo_version": __version__,
        },
        "training": entries[:n_train],
        "validation": entries[n_train : n_train + n_val],
        "test": entries[n_train + n_val :],
    }
    path = write_json_atomic(datalist, out / DATALIST_NAME)
    elapsed = time.perf_counter() - start
    logger.info("wrote %s (%d training, %d validation, %d test) in %.1f s", path, n_train, n_val, n_test, elapsed)
    return path


def make_neuron_dataset(
    out_dir: str | os.PathLike,
    num_volumes: int = 12,
    size: int | Sequence[int] = 96,
    seed: int = 0,
    num_validation: int | float | None = None,
    num_test: int | float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **volume_kwargs: Any,
) -> Path:
    """Generate the built-in neuron dataset (see :func:`monai_topo.data.make_neuron_volume`) into ``out_dir``.

    Args:
        out_dir: output folder, created if needed.
        num_volumes: number of volumes; by default a fifth (at least one) go to validation and to test.
        size: grid size of every volume (int for a cube, or ``(nx, ny, nz)``); 64-96 suits CPU training.
        seed: dataset seed; case ``i`` uses ``case_seed(seed, i)``, so the same seed gives identical files.
        num_validation: number of validation cases (default ``max(1, num_volumes // 5)``).
        num_test: number of test cases (default ``max(1, num_volumes // 5)``). An empty ``"test"`` list cannot
            be read by ``load_decathlon_datalist(..., data_list_key="test")`` (MONAI indexes its first item).
        overwrite: replace an existing ``dataset.json`` (and its ``case_*.nii.gz``) instead of raising.
        progress: show a tqdm progress bar.
        volume_kwargs: passed on to :func:`make_neuron_volume` (e.g. ``spacing``, ``photons``).

    Returns:
        the path of ``dataset.json``.

    Raises:
        FileExistsError: when ``out_dir`` already has a ``dataset.json`` and ``overwrite`` is False.
        ValueError: for a bad split or bad volume options.

    Example:
        >>> import tempfile
        >>> path = make_neuron_dataset(tempfile.mkdtemp(), num_volumes=3, size=32, progress=False)
        >>> from monai.data import load_decathlon_datalist
        >>> len(load_decathlon_datalist(path, data_list_key="training"))
        1
    """
    return _write_dataset(
        "neuron", out_dir, num_volumes, size, seed, num_validation, num_test, overwrite, progress, volume_kwargs
    )


def make_placenta_dataset(
    out_dir: str | os.PathLike,
    num_volumes: int = 12,
    size: int | Sequence[int] = 96,
    seed: int = 0,
    num_validation: int | float | None = None,
    num_test: int | float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **volume_kwargs: Any,
) -> Path:
    """Generate the built-in placenta dataset (see :func:`monai_topo.data.make_placenta_volume`) into ``out_dir``.

    Every label has Betti numbers ``(1, 0, 0)``. Arguments, return value and errors are those of
    :func:`make_neuron_dataset` (there is no ``instances/`` folder).

    Example:
        >>> import tempfile, json
        >>> path = make_placenta_dataset(tempfile.mkdtemp(), num_volumes=3, size=32, progress=False)
        >>> [case["betti"] for case in json.loads(path.read_text())["training"]]
        [[1, 0, 0]]
    """
    return _write_dataset(
        "placenta", out_dir, num_volumes, size, seed, num_validation, num_test, overwrite, progress, volume_kwargs
    )


def make_dataset(kind: str, out_dir: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`make_neuron_dataset` or :func:`make_placenta_dataset` by name (``kind`` in :data:`DATASET_KINDS`).

    Raises:
        ValueError: for an unknown ``kind``.

    Example:
        >>> import tempfile
        >>> make_dataset("placenta", tempfile.mkdtemp(), num_volumes=3, size=32, progress=False).name
        'dataset.json'
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f"kind must be one of {DATASET_KINDS}, got {kind!r}.")
    writer = make_neuron_dataset if kind == "neuron" else make_placenta_dataset
    return writer(out_dir, **kwargs)

"""Find or make the data a bundle trains on: the user's folder, or the built-in synthetic dataset.

Bundles call :func:`ensure_dataset` from their config (with ``"$import monai_topo"`` among the config's
``imports``; ``"$import monai_topo.data"`` alone does not bind the name ``monai_topo``), e.g.::

    "datalist_path": "$monai_topo.data.ensure_dataset(@dataset_dir, 'neuron')",
    "train_datalist": "$monai.data.load_decathlon_datalist(@datalist_path, data_list_key='training')"
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from monai_topo.io import list_cases, pair_cases
from monai_topo.data.writers import DATALIST_NAME, DATASET_KINDS, make_dataset, split_counts, write_json_atomic

__all__ = ["ensure_dataset", "create_datalist"]

logger = logging.getLogger(__name__)

_EXPECTED = (
    "expected one of: a missing or empty folder (built-in {kind} data is generated there), a folder with a "
    "MONAI datalist 'dataset.json', or NIfTI files in 'images/' and 'labels/' with matching names "
    "(e.g. images/case_001.nii.gz + labels/case_001.nii.gz)"
)


def _visible_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _pair_images_and_labels(dataset_dir: Path) -> list[tuple[str, Path, Path]]:
    """Match ``images/X`` with ``labels/X`` (an image ``X_0000`` also matches a label ``X``, nnU-Net style)."""
    pairing = pair_cases(list_cases(dataset_dir / "images"), list_cases(dataset_dir / "labels"), postfix="0000")
    unmatched = [f"images/{path.name}" for path in pairing.only_first.values()]
    unmatched += [f"labels/{path.name}" for path in pairing.only_second.values()]
    unmatched += [
        " + ".join(path.name for path in paths) + " (one case, several files)" for paths in pairing.ambiguous.values()
    ]
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        raise ValueError(
            f"{dataset_dir}: every image in images/ needs a label with the same name in labels/ (and the other "
            f"way round); unmatched: {shown}."
        )
    return pairing.pairs


def create_datalist(
    dataset_dir: str | os.PathLike,
    num_validation: int | float | None = None,
    seed: int = 0,
    overwrite: bool = False,
    num_test: int | float | None = None,
) -> Path:
    """Write ``dataset.json`` for the user's own data in ``dataset_dir/images`` + ``dataset_dir/labels``.

    Images and labels are paired by file name (``images/X_0000.nii.gz`` also pairs with ``labels/X.nii.gz``).
    The cases are split into ``"training"``, ``"validation"`` and (with ``num_test``) ``"test"`` deterministically
    (a permutation of the sorted names drawn with ``seed``: validation first, then test). The test cases are held
    out: no bundle trains on them or selects a checkpoint on them (the bundles select on validation and their
    ``evaluate.json`` reports the test list). A single case is used for both training and validation.

    Args:
        dataset_dir: the folder holding ``images/`` and ``labels/``.
        num_validation: number of validation cases, or a fraction of the cases (default: a fifth, at least one when
            there are >= 2 cases; see :func:`monai_topo.data.writers.split_counts`).
        seed: seed of the split.
        overwrite: replace an existing ``dataset.json``.
        num_test: number of held-out test cases, or a fraction (default: a fifth, at least one when there are >= 3
            cases; 0: no ``"test"`` list).

    Returns:
        the path of ``dataset.json``.

    Raises:
        ValueError: when there are no pairs, unmatched files, or a bad ``num_validation`` / ``num_test``.
        FileExistsError: when ``dataset.json`` exists and ``overwrite`` is False.

    Example:
        >>> import tempfile
        >>> from monai_topo.data.writers import save_nifti
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("a", "b", "c"):
        ...     _ = save_nifti(np.zeros((4, 4, 4), np.float32), root / "images" / f"{name}.nii.gz", (1, 1, 1))
        ...     _ = save_nifti(np.zeros((4, 4, 4), np.uint8), root / "labels" / f"{name}.nii.gz", (1, 1, 1))
        >>> data = json.loads(create_datalist(root).read_text())
        >>> len(data["training"]), len(data["validation"]), len(data["test"])
        (1, 1, 1)
    """
    root = Path(dataset_dir)
    target = root / DATALIST_NAME
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it.")
    pairs = _pair_images_and_labels(root)
    if not pairs:
        raise ValueError(f"{root}: no NIfTI image/label pairs found in images/ and labels/.")
    n = len(pairs)
    if n == 1:
        n_val, n_test = 0, 0
    else:
        try:
            _, n_val, n_test = split_counts(n, num_validation, num_test)
        except ValueError as err:
            raise ValueError(f"{root}: {err}") from None
    order = np.random.default_rng(seed).permutation(n)
    val_index = set(order[:n_val].tolist())
    test_index = set(order[n_val : n_val + n_test].tolist())
    entries = [
        {"image": image.relative_to(root).as_posix(), "label": label.relative_to(root).as_posix()}
        for _, image, label in pairs
    ]
    training = [e for i, e in enumerate(entries) if i not in val_index and i not in test_index]
    validation = [e for i, e in enumerate(entries) if i in val_index]
    test = [e for i, e in enumerate(entries) if i in test_index]
    if n == 1:
        logger.warning("%s holds a single labelled case: it is used for both training and validation.", root)
        validation = list(training)
    datalist: dict[str, Any] = {
        "name": root.name,
        "description": "user data; datalist written by monai_topo.data.create_datalist",
        "tensorImageSize": "3D",
        "numTraining": len(training),
        "numValidation": len(validation),
        "seed": int(seed),
        "label_topology": None,
        "training": training,
        "validation": validation,
    }
    if test:
        datalist["numTest"] = len(test)
        datalist["test"] = test
    path = write_json_atomic(datalist, target)
    logger.info(
        "wrote %s for the user data in %s (%d training, %d validation, %d test)",
        path,
        root,
        len(training),
        len(validation),
        len(test),
    )
    return path


def _check_datalist(path: Path) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a readable JSON datalist: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("training"), list):
        raise ValueError(f"{path} is not a MONAI datalist: expected a JSON object with a 'training' list.")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (a hidden lock file), so that parallel ranks generate the data once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(folder / ".monai_topo.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_dataset(
    dataset_dir: str | os.PathLike,
    kind: str = "neuron",
    num_volumes: int = 12,
    size: int = 96,
    seed: int = 0,
    num_validation: int | float | None = None,
    num_test: int | float | None = None,
) -> Path:
    """The datalist of ``dataset_dir``: the user's, one written for the user's files, or built-in data made there.

    - missing or empty folder (hidden files aside): ``num_volumes`` built-in ``kind`` volumes of ``size``
      voxels per side are generated there (see :func:`monai_topo.data.make_dataset`; about a second each at
      size 96) and their ``dataset.json`` is returned;
    - a folder with ``dataset.json``: it is used as is (after checking it is a datalist);
    - NIfTI files in ``images/`` and ``labels/`` with matching names but no datalist: a ``dataset.json``
      is written for them (see :func:`create_datalist`, deterministic training/validation/test split);
    - anything else: ``ValueError``.

    Safe to call from several processes at once (e.g. torchrun ranks): they take a lock on the folder and
    only the first generates; the others then find its ``dataset.json``.

    Args:
        dataset_dir: the data folder.
        kind: built-in data to generate when the folder is empty: ``"neuron"`` or ``"placenta"``.
        num_volumes: number of built-in volumes (a fifth, at least one, for validation and for test).
        size: edge length of the built-in volumes.
        seed: seed of the built-in data and of the split of user data.
        num_validation: validation cases, a count or a fraction (default: a fifth, at least one).
        num_test: held-out test cases, a count or a fraction (default: a fifth, at least one; 0 for none). Every
            built-in case has its
            own generator seed, so test volumes are never seen in training.

    Returns:
        the absolute path of ``dataset.json``, for ``monai.data.load_decathlon_datalist``.

    Raises:
        ValueError: for an unknown ``kind``, a folder that matches none of the cases above, a broken
            ``dataset.json`` or unmatched image/label files.

    Example:
        >>> import tempfile
        >>> from monai.data import load_decathlon_datalist
        >>> path = ensure_dataset(Path(tempfile.mkdtemp()) / "data", "placenta", num_volumes=3, size=32)
        >>> len(load_decathlon_datalist(path, data_list_key="validation"))
        1
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f"kind must be one of {DATASET_KINDS}, got {kind!r}.")
    root = Path(dataset_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ValueError(f"dataset_dir {root} is a file, not a folder; {_EXPECTED.format(kind=kind)}.")
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        datalist = root / DATALIST_NAME
        if datalist.is_file():
            _check_datalist(datalist)
            logger.info("using the datalist %s", datalist)
            return datalist
        entries = _visible_entries(root)
        if not entries:
            logger.info(
                "no data found in %s: generating %d built-in %s volumes of size %d (seed %d) there",
                root,
                num_volumes,
                kind,
                size,
                seed,
            )
            return _generate_into(root, kind, num_volumes, size, seed, num_validation, num_test)
        if list_cases(root / "images") and (root / "labels").is_dir():
            logger.info("no dataset.json in %s: writing one for the images/ + labels/ found there", root)
            return create_datalist(root, num_validation=num_validation, seed=seed, num_test=num_test)
        shown = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "")
        raise ValueError(f"cannot use {root} as a dataset folder (it holds: {shown}); {_EXPECTED.format(kind=kind)}.")


def _generate_into(
    root: Path, kind: str, num_volumes: int, size: int, seed: int, num_validation: int | float | None, num_test: int | float | None
) -> Path:
    """Generate in a hidden temporary folder, then move it in place (``dataset.json`` last)."""
    staging = Path(tempfile.mkdtemp(prefix=".monai_topo-generating-", dir=root))
    try:
        make_dataset(
            kind,
            staging,
            num_volumes=num_volumes,
            size=size,
            seed=seed,
            num_validation=num_validation,
            num_test=num_test,
        )
        names = sorted(p.name for p in staging.iterdir() if p.name != DATALIST_NAME)
        for name in [*names, DATALIST_NAME]:
            os.replace(staging / name, root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / DATALIST_NAME

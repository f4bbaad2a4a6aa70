"""Case names and pairing files of two folders by case name: one implementation for the evaluation, the datasets,
the comparisons and the handlers.

A *case name* is a file name without its volume suffix (:data:`NIFTI_SUFFIXES`, and for the evaluation
:data:`VOLUME_SUFFIXES`, which adds ``.ome.zarr`` / ``.zarr``). Two folders are paired by case name; a file of
the first folder whose name ends with ``_<postfix>`` also pairs with the case name without it, so that

- a bundle's predictions ``<case>_seg.nii.gz`` (MONAI's ``SaveImaged(output_postfix="seg")``) pair with the labels
  ``<case>.nii.gz`` (``postfix="seg"``), and
- nnU-Net-style images ``<case>_0000.nii.gz`` pair with labels ``<case>.nii.gz`` (``postfix="0000"``).

An exact name always wins over a stripped one. No file is read here (pathlib only, cheap to import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "NIFTI_SUFFIXES",
    "VOLUME_SUFFIXES",
    "CasePairing",
    "case_name",
    "list_cases",
    "pair_cases",
]

#: NIfTI file endings, longest first
NIFTI_SUFFIXES = (".nii.gz", ".nii")
#: what the evaluation reads: NIfTI and (chunked) Zarr / OME-Zarr
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".ome.zarr", ".zarr")


def case_name(path: Path | str, suffixes: Iterable[str] = NIFTI_SUFFIXES) -> str | None:
    """The file name without its volume suffix (matched case-insensitively), or ``None`` for other files.

    Example:
        >>> case_name("labels/case_001.nii.gz"), case_name("a.NII"), case_name("notes.txt")
        ('case_001', 'a', None)
    """
    name = Path(path).name
    for suffix in suffixes:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def list_cases(
    folder: Path,
    suffixes: Iterable[str] = NIFTI_SUFFIXES,
    accept: Callable[[Path], bool] = Path.is_file,
) -> dict[str, list[Path]]:
    """The volumes of ``folder`` (not recursive, hidden entries skipped) by case name, sorted.

    Args:
        folder: the folder; a missing one has no cases.
        suffixes: the volume suffixes, longest first where one ends another (``.nii.gz`` before ``.nii``).
        accept: which entries count (default: regular files; the evaluation also accepts Zarr folders).

    Returns:
        ``{case name: [paths]}``; more than one path means the name is ambiguous (e.g. ``a.nii`` and ``a.nii.gz``).
    """
    cases: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return cases
    for path in sorted(folder.iterdir()):
        name = case_name(path, suffixes)
        if name is not None and not path.name.startswith(".") and accept(path):
            cases.setdefault(name, []).append(path)
    return cases


@dataclass
class CasePairing:
    """The result of :func:`pair_cases`.

    Attributes:
        pairs: ``(case, first path, second path)``, sorted by case.
        only_first: cases of the first folder without a partner (by case name: the name with ``_<postfix>``
            stripped where that paired, else the file's own name).
        only_second: cases of the second folder without a partner.
        ambiguous: cases with several files on one side, and those files.
    """

    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    only_first: dict[str, Path] = field(default_factory=dict)
    only_second: dict[str, Path] = field(default_factory=dict)
    ambiguous: dict[str, list[Path]] = field(default_factory=dict)


def pair_cases(first: dict[str, list[Path]], second: dict[str, list[Path]], postfix: str | None = None) -> CasePairing:
    """Pair two folders' cases (:func:`list_cases`) by name; ``<case>_<postfix>`` in ``first`` pairs with ``<case>``.

    Args:
        first: cases of the first folder (predictions, or images).
        second: cases of the second folder (labels).
        postfix: a name ending stripped from a first-folder case that has no exact partner (``"seg"``,
            ``"0000"``); ``None`` or ``""`` pairs exact names only.

    Example:
        >>> preds = {"a_seg": [Path("p/a_seg.nii.gz")]}
        >>> labels = {"a": [Path("l/a.nii.gz")], "b": [Path("l/b.nii")]}
        >>> p = pair_cases(preds, labels, "seg")
        >>> [c for c, _, _ in p.pairs], list(p.only_second)
        (['a'], ['b'])
    """
    by_case: dict[str, list[Path]] = {}
    for name, paths in first.items():
        key = name
        if postfix and name not in second and name.endswith(f"_{postfix}") and name[: -len(postfix) - 1] in second:
            key = name[: -len(postfix) - 1]
        by_case.setdefault(key, []).extend(paths)
    result = CasePairing()
    for case in sorted(set(by_case) | set(second)):
        mine, theirs = by_case.get(case, []), second.get(case, [])
        if len(mine) > 1 or len(theirs) > 1:
            result.ambiguous[case] = mine + theirs
        elif not theirs:
            result.only_first[case] = mine[0]
        elif not mine:
            result.only_second[case] = theirs[0]
        else:
            result.pairs.append((case, mine[0], theirs[0]))
    return result

"""The one check of an output path before any work: not an input, not something the next run would read as one,
and writable.

Every command that writes files (``evaluate --out / --plot / --overlays``, ``diagram --out``, the overlay handler)
asks :func:`output_problem` before it reads or computes anything, so a wrong path fails in a second instead of
after the whole evaluation, and never replaces an input: ``--out labels/case_001.nii.gz`` (a label),
``--overlays preds/`` (``<case>_errors.nii.gz`` among the predictions), ``diagram p.nii.gz --out p.nii.gz``.
Writability is tried, not guessed from permission bits: a probe file is created in the output's folder (``/proc``
refuses it), an existing special file gets a zero-length write (``/dev/full`` answers "No space left on device",
``/dev/null`` is fine). Nothing is written to an existing output by the check.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from monai_topo.io.cases import VOLUME_SUFFIXES, case_name
from monai_topo.io.volumes import is_zarr_path

__all__ = ["output_problem"]


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (symbolic links and hard links followed)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _input_problem(path: Path, folder: bool, inputs: Mapping[str, str | os.PathLike]) -> str | None:
    """Why ``path`` is, or would be read as, one of the ``inputs`` (files or folders of cases), or ``None``."""
    resolved = path.resolve()
    for name, value in inputs.items():
        source = Path(value)
        if _same(path, source):
            return f"{path} is an input ({name} {source}); refusing to overwrite it"
        base = source.resolve()
        if base in resolved.parents:  # somewhere inside an input folder or Zarr store
            if not source.is_dir() or is_zarr_path(source):
                return f"{path} is inside the input {source} ({name}); refusing to write there"
            top = resolved.relative_to(base).parts[0]
            if (base / top) != resolved and is_zarr_path(base / top):
                return f"{path} is inside the input {base / top} (a case of {name} {source}); refusing to write there"
            if resolved.parent == base and case_name(resolved, VOLUME_SUFFIXES) is not None:
                if resolved.exists():
                    return f"{path} is an input (a case of {name} {source}); refusing to overwrite it"
                what = "folder" if folder else "file"
                return f"{path} would be read as a case of {name} {source}; write the {what} elsewhere"
    return None


def _folder_problem(folder: Path) -> str | None:
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a regular file in the way, a read-only parent, /proc ...
        return f"cannot create the folder {folder} ({type(e).__name__}: {e})"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".monai-topo-probe-") as probe:
            probe.write(b"x")
            probe.flush()
    except OSError as e:
        return f"cannot write files in {folder} ({e.strerror or e})"
    return None


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a folder; give a file name"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder, so {path} cannot be created"
            break
    if not path.exists():
        return _folder_problem(path.parent)
    try:  # no truncation: a zero-length write at the end (a special file like /dev/full fails on it)
        special = not stat.S_ISREG(os.stat(path).st_mode)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_NONBLOCK if special else 0))
        try:
            if special:
                os.write(fd, b"")
        finally:
            os.close(fd)
    except OSError as e:
        return f"cannot write {path} ({e.strerror or e})"
    return None


def output_problem(
    path: str | os.PathLike,
    *,
    inputs: Mapping[str, str | os.PathLike] | None = None,
    folder: bool = False,
    formats: Collection[str] | None = None,
    outputs: Mapping[str, str | os.PathLike] | None = None,
) -> str | None:
    """Why ``path`` cannot be written as an output, or ``None``; its folder is created if missing.

    Args:
        path: the output file (or folder, with ``folder=True``).
        inputs: what the command reads, by the name a message gives it (``{"--label folder": "labels/"}``):
            files, Zarr stores and folders of cases. The output may not be one of them, lie inside an input file
            or store, or be a volume file directly in an input folder (the next run would read it as a case).
        folder: ``path`` is a folder the command writes files into.
        formats: the file name endings (without the dot, lower case) the writer supports, e.g. matplotlib's
            picture formats; ``None``: any.
        outputs: the command's other outputs by option name: ``path`` may not be one of them.

    Returns:
        a sentence for the user, or ``None`` when the output can be written.

    Example:
        >>> import tempfile
        >>> labels = Path(tempfile.mkdtemp())
        >>> output_problem(labels / "results.csv", inputs={"--label folder": labels}) is None
        True
        >>> print(output_problem(labels / "r.nii.gz", inputs={"--label folder": labels}))  # doctest: +ELLIPSIS
        /.../r.nii.gz would be read as a case of --label folder ...; write the file elsewhere
        >>> print(output_problem(labels / "r.txt", formats={"png", "pdf"}))
        cannot write a picture to 'r.txt': give a name ending in one of .pdf, .png
    """
    path = Path(path)
    problem = _input_problem(path, folder, inputs or {})
    if problem:
        return problem
    for option, other in (outputs or {}).items():
        if other is not None and _same(path, Path(other)):
            return f"{path} is also the {option} output; give each output its own name"
    if formats is not None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in formats:
            endings = ", ".join(f".{f}" for f in sorted(formats))
            return f"cannot write a picture to {path.name!r}: give a name ending in one of {endings}"
    return _folder_problem(path) if folder else _file_problem(path)

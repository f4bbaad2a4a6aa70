"""``monai-topo betti`` / ``evaluate`` on damaged files, mismatched pairs, empty folders and unwritable outputs.

Complements ``tests/cli`` (which covers a garbage ``.nii.gz``, a missing file, 4D / soft volumes, a missing partner,
a shape and an affine mismatch, and two empty folders) with: truncated ``.nii.gz`` / ``.nii`` files, header-only
and zero-byte files, a folder given as a file, damage on the label side, a 2D label for a 3D prediction, spacing
and float-noise affines, one empty folder of two, and outputs that cannot be written. Each failure must name the
file, ``evaluate`` must finish the other cases and list the failures at the end.
"""

from __future__ import annotations

import csv
import logging
import os

import numpy as np
import pytest

from monai_topo.cli import betti, evaluate
from tests.cli.cli_helpers import run_command, save_nifti


def _volume(seed: int = 0) -> np.ndarray:
    v = np.zeros((12, 12, 10), np.uint8)
    v[2:10, 2:10, 2:8] = 1
    v[5:7, 5:7, 2:8] = 0  # a tunnel: b = (1, 1, 0)
    v[np.random.default_rng(seed).random(v.shape) > 0.97] = 2
    return v


def _truncated(path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def _damage(kind: str, path) -> None:
    """Write a damaged NIfTI file of the given kind at ``path``."""
    if kind == "zero-bytes":
        path.write_bytes(b"")
        return
    save_nifti(path, _volume())
    if kind.startswith("truncated"):
        _truncated(path)
    elif kind == "header-only":
        _truncated(path, 0.02)


DAMAGE = [
    ("truncated", "case.nii.gz"),
    ("truncated", "case.nii"),
    ("header-only", "case.nii.gz"),
    ("zero-bytes", "case.nii.gz"),
]


# ----------------------------------------------------------------------------------------------------- betti
@pytest.mark.parametrize("kind, name", DAMAGE, ids=[f"{k}-{n}" for k, n in DAMAGE])
def test_betti_damaged_file(tmp_path, caplog, capsys, kind, name):
    path = tmp_path / name
    _damage(kind, path)
    with caplog.at_level(logging.ERROR):
        assert run_command(betti, ["betti", str(path)]) == 1
    assert str(path) in caplog.text and "cannot read NIfTI" in caplog.text
    assert "Traceback" not in caplog.text + capsys.readouterr().err


def test_betti_on_a_folder(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        assert run_command(betti, ["betti", str(tmp_path)]) == 1
    assert str(tmp_path) in caplog.text and "cannot read NIfTI" in caplog.text


# ----------------------------------------------------------------------------------------------------- evaluate
def _good_pair(pred, label, case: str = "good") -> None:
    save_nifti(pred / f"{case}.nii.gz", _volume(1))
    save_nifti(label / f"{case}.nii.gz", _volume(2))


def _evaluate(tmp_path, pred, label, *extra: str) -> tuple[int, str]:
    out = tmp_path / "out" / "results.csv"
    code = run_command(
        evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress", *extra]
    )
    return code, out


def _cases(out) -> set[str]:
    with open(out, newline="") as f:
        return {row["case"] for row in csv.DictReader(f)}


def _failure_line(printed: str, case: str) -> str:
    failed = printed[printed.index("failed cases:") :]
    return next(line for line in failed.splitlines() if line.strip().startswith(f"{case}:"))


@pytest.mark.parametrize("side", ["pred", "label"])
@pytest.mark.parametrize("kind, name", DAMAGE, ids=[f"{k}-{n}" for k, n in DAMAGE])
def test_evaluate_damaged_file_fails_only_its_case(tmp_path, capsys, caplog, kind, name, side):
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label)
    folders = {"pred": pred, "label": label}
    _damage(kind, folders[side] / name)
    other = label if side == "pred" else pred
    save_nifti(other / "case.nii.gz", _volume())
    with caplog.at_level(logging.ERROR):
        code, out = _evaluate(tmp_path, pred, label)
    assert code == 1
    assert _cases(out) == {"good"}  # the other case finished
    printed = capsys.readouterr().out
    line = _failure_line(printed, "case")
    assert "cannot read NIfTI" in line and name in line  # names the file
    assert "1 case(s) evaluated, 1 failed." in printed
    assert "case case: " in caplog.text


def test_evaluate_2d_label_for_3d_prediction(tmp_path, capsys):
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label)
    save_nifti(pred / "flat.nii.gz", _volume())
    save_nifti(label / "flat.nii.gz", _volume()[:, :, :1])  # H x W x 1: read as 2D
    code, out = _evaluate(tmp_path, pred, label)
    assert code == 1 and _cases(out) == {"good"}
    line = _failure_line(capsys.readouterr().out, "flat")
    assert "shape mismatch" in line and "flat.nii.gz" in line and "(12, 12, 10)" in line and "(12, 12)" in line


@pytest.mark.parametrize(
    "affine, ok",
    [
        (np.diag([1.0, 1.0, 2.5, 1.0]), False),  # different spacing
        (np.eye(4) + 1e-7, True),  # float noise of a resampling round trip: the same grid
        (np.diag([-1.0, -1.0, 1.0, 1.0]), False),  # flipped orientation (RAS vs LPS)
    ],
    ids=["spacing", "float-noise", "orientation"],
)
def test_evaluate_affines(tmp_path, capsys, affine, ok):
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label)
    save_nifti(pred / "grid.nii.gz", _volume(), affine=affine)
    save_nifti(label / "grid.nii.gz", _volume())
    code, out = _evaluate(tmp_path, pred, label)
    printed = capsys.readouterr().out
    if ok:
        assert code == 0 and _cases(out) == {"good", "grid"}
    else:
        assert code == 1 and _cases(out) == {"good"}
        line = _failure_line(printed, "grid")
        assert "affine mismatch" in line and "grid.nii.gz" in line


@pytest.mark.parametrize("empty", ["pred", "label"])
def test_evaluate_one_empty_folder(tmp_path, capsys, empty):
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label, "a")
    _good_pair(pred, label, "b")
    for path in (pred if empty == "pred" else label).iterdir():
        path.unlink()
    code, out = _evaluate(tmp_path, pred, label)
    assert code == 1 and _cases(out) == set()
    printed = capsys.readouterr().out
    reason = "missing prediction" if empty == "pred" else "missing label"
    for case in ("a", "b"):
        assert reason in _failure_line(printed, case)
    assert "0 case(s) evaluated, 2 failed." in printed


# ----------------------------------------------------------------------------------------------------- outputs
def _unwritable(tmp_path, how: str, name: str = "results.csv"):
    """An output path that cannot be written, or ``None`` where this machine cannot make one (root + chmod)."""
    if how == "under-a-file":
        blocker = tmp_path / "blocker"
        blocker.write_text("a regular file")
        return blocker / "sub" / name
    if how == "is-a-folder":
        folder = tmp_path / name
        folder.mkdir()
        return folder
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores the mode bits: chmod cannot make a folder unwritable here
        folder.chmod(0o755)
        return None
    return folder / name


@pytest.mark.parametrize("option", ["--out", "--plot"])
@pytest.mark.parametrize("how", ["under-a-file", "is-a-folder", "read-only-folder"])
def test_evaluate_unwritable_output_fails_before_evaluating(tmp_path, caplog, capsys, monkeypatch, option, how):
    target = _unwritable(tmp_path, how, "results.png" if option == "--plot" else "results.csv")
    if target is None:
        pytest.skip("running as root: chmod does not make a folder unwritable (the other cells cover the check)")
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label)
    calls = []
    monkeypatch.setattr(evaluate, "evaluate_folders", lambda *a, **k: calls.append(a) or ([], []))
    out = tmp_path / "ok" / "results.csv"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--no-progress"]
    argv += ["--out", str(target)] if option == "--out" else ["--out", str(out), "--plot", str(target)]
    with caplog.at_level(logging.ERROR):
        assert run_command(evaluate, argv) == 2
    assert calls == []  # nothing was evaluated
    assert option in caplog.text and "nothing was evaluated" in caplog.text
    assert (target.parent.name if how == "under-a-file" else target.name) in caplog.text
    assert "Traceback" not in capsys.readouterr().err


def test_evaluate_write_error_at_the_end_still_reports(tmp_path, caplog, capsys, monkeypatch):
    """The output was writable at the start but the write fails (disk full, removed folder): summary, exit 2."""
    pred, label = tmp_path / "pred", tmp_path / "label"
    _good_pair(pred, label)
    save_nifti(pred / "orphan.nii.gz", _volume())

    def disk_full(rows, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluate, "write_csv", disk_full)
    with caplog.at_level(logging.ERROR):
        code, out = _evaluate(tmp_path, pred, label)
    assert code == 2
    printed = capsys.readouterr().out
    assert "mean per label" in printed and "1 case(s) evaluated, 1 failed." in printed
    assert "missing label" in _failure_line(printed, "orphan")
    assert "cannot write" in caplog.text and "No space left on device" in caplog.text and str(out) in caplog.text

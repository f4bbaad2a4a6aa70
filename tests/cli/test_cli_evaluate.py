from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from monai_topo.cli import evaluate
from monai_topo.evaluation.report import COLUMNS
from tests.cli.cli_helpers import run_command, save_nifti


def _target_3d() -> np.ndarray:
    """Label 1: a tube along the last axis; label 2: two parallel tubes one voxel apart."""
    v = np.zeros((12, 12, 16), np.uint8)
    v[2:5, 2:5, 1:15] = 1
    v[7:9, 7:10, 1:15] = 2
    v[10:12, 7:10, 1:15] = 2
    return v


def _faulty_3d() -> np.ndarray:
    """Label 1 broken (a split), label 2 bridged (a merge)."""
    v = _target_3d()
    v[2:5, 2:5, 8] = 0
    v[9, 7:10, 7] = 2
    return v


def _ring_2d() -> np.ndarray:
    v = np.zeros((10, 10, 1), np.uint8)
    v[1:9, 1:9] = 1
    v[4:6, 4:6] = 0
    return v


def _disk_2d() -> np.ndarray:
    v = np.zeros((10, 10, 1), np.uint8)
    v[1:9, 1:9] = 1
    return v


@pytest.fixture()
def folders(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "perfect.nii.gz", _target_3d())
    save_nifti(label / "perfect.nii.gz", _target_3d())
    save_nifti(pred / "faulty.nii", _faulty_3d())  # .nii pairs with .nii.gz
    save_nifti(label / "faulty.nii.gz", _target_3d())
    save_nifti(pred / "flat.nii.gz", _ring_2d())
    save_nifti(label / "flat.nii.gz", _disk_2d())
    return pred, label


def _read_csv(path):
    with open(path, newline="") as f:
        return {(r["case"], int(r["label"])): r for r in csv.DictReader(f)}


def test_all_cases_pass(folders, tmp_path, capsys):
    pred, label = folders
    out, plot = tmp_path / "res" / "results.csv", tmp_path / "res" / "results.png"
    code = run_command(
        evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--plot", str(plot)]
    )
    assert code == 0
    rows = _read_csv(out)
    assert set(rows) == {("perfect", 1), ("perfect", 2), ("faulty", 1), ("faulty", 2), ("flat", 1)}
    header = out.read_text().splitlines()[0].split(",")
    assert header == COLUMNS

    perfect = rows[("perfect", 2)]
    assert float(perfect["dice"]) == 1.0 and float(perfect["cldice"]) == 1.0
    assert [perfect[f"betti_error_b{k}"] for k in range(3)] == ["0", "0", "0"]
    assert [perfect[f"label_b{k}"] for k in range(3)] == ["2", "0", "0"]

    split = rows[("faulty", 1)]
    assert (split["splits"], split["merges"]) == ("1", "0")
    assert [split[f"pred_b{k}"] for k in range(3)] == ["2", "0", "0"]
    assert [split[f"label_b{k}"] for k in range(3)] == ["1", "0", "0"]
    assert split["betti_error_b0"] == "1" and 0 < float(split["dice"]) < 1 and 0 < float(split["cldice"]) < 1

    merge = rows[("faulty", 2)]
    assert (merge["splits"], merge["merges"]) == ("0", "1")
    assert (merge["pred_b0"], merge["label_b0"], merge["betti_error_b0"]) == ("1", "2", "1")

    flat = rows[("flat", 1)]  # an H x W x 1 file is 2D: no b2
    assert (flat["pred_b0"], flat["pred_b1"], flat["label_b1"], flat["betti_error_b1"]) == ("1", "1", "0", "1")
    assert flat["pred_b2"] == flat["label_b2"] == flat["betti_error_b2"] == ""

    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "mean per label" in printed and "3 case(s) evaluated, 0 failed." in printed


def test_failures_are_reported_and_others_finish(folders, tmp_path, capsys, caplog):
    pred, label = folders
    (pred / "corrupt.nii.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    save_nifti(label / "corrupt.nii.gz", _target_3d())
    save_nifti(pred / "orphan.nii.gz", _target_3d())  # no label
    save_nifti(label / "lonely.nii.gz", _target_3d())  # no prediction
    save_nifti(pred / "small.nii.gz", _target_3d()[:10])
    save_nifti(label / "small.nii.gz", _target_3d())
    shifted = np.eye(4)
    shifted[0, 3] = 5.0
    save_nifti(pred / "moved.nii.gz", _target_3d(), affine=shifted)
    save_nifti(label / "moved.nii.gz", _target_3d())
    (pred / "notes.txt").write_text("ignored: not NIfTI")

    out = tmp_path / "results.csv"
    with caplog.at_level(logging.ERROR):
        code = run_command(
            evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress"]
        )
    assert code == 1
    rows = _read_csv(out)
    assert {case for case, _ in rows} == {"perfect", "faulty", "flat"}  # the good cases all finished

    printed = capsys.readouterr().out
    failed = printed[printed.index("failed cases:") :]
    expected = {
        "corrupt": "cannot read NIfTI",
        "orphan": "missing label",
        "lonely": "missing prediction",
        "small": "shape mismatch",
        "moved": "affine mismatch",
    }
    for case, reason in expected.items():
        line = next(line for line in failed.splitlines() if line.strip().startswith(f"{case}:"))
        assert reason in line
        assert f"case {case}: " in caplog.text  # logged by name as it happens
    assert "3 case(s) evaluated, 5 failed." in printed
    assert "notes" not in printed


def test_labels_and_connectivity(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    target = np.zeros((6, 6, 6), np.uint8)
    target[1:4, 1:4, 1:4] = 1
    target[4, 4, 4] = 2
    prediction = target.copy()
    prediction[1:4, 1:4, 1:4] = 0
    prediction[1, 1, 1] = prediction[2, 2, 2] = prediction[3, 3, 3] = 1  # a diagonal of corner-touching voxels
    save_nifti(pred / "diag.nii.gz", prediction)
    save_nifti(label / "diag.nii.gz", target)
    for connectivity, b0 in (("26", "1"), ("6", "3")):
        out = tmp_path / f"c{connectivity}.csv"
        argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--label-values", "1"]
        assert run_command(evaluate, argv + ["--connectivity", connectivity, "--no-progress"]) == 0
        rows = _read_csv(out)
        assert set(rows) == {("diag", 1)}
        assert rows[("diag", 1)]["pred_b0"] == b0
        assert rows[("diag", 1)]["splits"] == str(int(b0) - 1)


def test_wrong_connectivity_fails_cases(folders, tmp_path, capsys):
    pred, label = folders
    out = tmp_path / "results.csv"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--connectivity", "4"]
    assert run_command(evaluate, argv + ["--no-progress"]) == 1
    rows = _read_csv(out)
    assert set(rows) == {("flat", 1)}  # 4 is a 2D connectivity: the 3D cases fail with a clear message
    assert "not supported in 3D" in capsys.readouterr().out


def test_ill_opts(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        code = run_command(
            evaluate,
            ["evaluate", "--pred", str(tmp_path / "nope"), "--label", str(tmp_path), "--out", str(tmp_path / "r.csv")],
        )
    assert code == 2 and "is not a folder" in caplog.text
    with pytest.raises(SystemExit):
        run_command(evaluate, ["evaluate", "--pred", str(tmp_path), "--label", str(tmp_path)])  # --out missing


def test_empty_folders(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "l").mkdir()
    out = tmp_path / "r.csv"
    argv = ["evaluate", "--pred", str(tmp_path / "p"), "--label", str(tmp_path / "l"), "--out", str(out)]
    assert run_command(evaluate, argv + ["--plot", str(tmp_path / "r.png")]) == 0
    assert out.read_text().strip() == ",".join(COLUMNS)
    assert not (tmp_path / "r.png").exists()

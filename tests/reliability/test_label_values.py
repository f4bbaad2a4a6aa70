"""Label values that cannot be labels, and label values that do not match (issue 18.5).

- A float label map whose values are integers too large for the label type (``1e20``) was cast to int64 and
  printed as ``-9223372036854775808``: it is refused naming the file, in memory and chunk by chunk, by ``betti``
  and by ``evaluate``.
- Labels 0/255 against predictions 0/1 give Dice 0 with exit code 0: the case gets a warning that names both
  sets of values.
"""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from monai_topo.cli import betti, evaluate
from monai_topo.io import VolumeError, open_volume, read_label_volume
from tests.cli.cli_helpers import run_command, save_nifti


def _blocks(value: float = 1, dtype=np.float64) -> np.ndarray:
    v = np.zeros((8, 8, 6), dtype)
    v[1:4, 1:4, 1:4] = 1
    v[5:7, 5:7, 2:5] = value
    return v


def _save_zarr(path, data):
    import zarr

    zarr.create_array(str(path), data=data, chunks=(4, 4, 3))
    return path


@pytest.mark.parametrize(
    "value, dtype",
    [(1e20, np.float64), (-1e19, np.float64), (2.0**53 + 2, np.float64), (2.0**24 + 2, np.float32)],
    ids=["1e20", "-1e19", "2^53+2-float64", "2^24+2-float32"],
)
def test_unrepresentable_float_labels_are_refused(tmp_path, value, dtype):
    path = save_nifti(tmp_path / "big.nii.gz", _blocks(value, dtype))
    with pytest.raises(VolumeError, match="big.nii.gz.*cannot be told apart|big.nii.gz.*too large"):
        read_label_volume(path)
    store = _save_zarr(tmp_path / "big.zarr", _blocks(value, dtype))
    with pytest.raises(VolumeError, match="big.zarr"):
        open_volume(store).compute()


def test_representable_float_labels_still_read(tmp_path):
    path = save_nifti(tmp_path / "ok.nii.gz", _blocks(70000.0, np.float32))
    labels, _ = read_label_volume(path)
    assert labels.dtype.kind == "i" and sorted(np.unique(labels).tolist()) == [0, 1, 70000]
    store = _save_zarr(tmp_path / "ok.zarr", _blocks(70000.0, np.float32))
    assert sorted(np.unique(open_volume(store).compute()).tolist()) == [0, 1, 70000]


@pytest.mark.parametrize("chunked", [False, True], ids=["nifti", "zarr"])
def test_betti_refuses_1e20_instead_of_printing_int64_min(tmp_path, caplog, capsys, chunked):
    data = _blocks(1e20)
    path = _save_zarr(tmp_path / "v.zarr", data) if chunked else save_nifti(tmp_path / "v.nii.gz", data)
    with caplog.at_level(logging.ERROR):
        code = run_command(betti, ["betti", str(path)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "-9223372036854775808" not in printed and "100000000000000000000" not in printed
    assert str(path) in caplog.text and "1e+20" in caplog.text


def test_evaluate_fails_the_case_with_1e20(tmp_path, capsys):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "a.nii.gz", _blocks(1e20))
    save_nifti(label / "a.nii.gz", _blocks(2.0))
    out = tmp_path / "r.csv"
    code = run_command(evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1 and "-9223372036854775808" not in out.read_text()
    assert "a.nii.gz" in printed[printed.index("failed cases:") :]
def _scaled_pair(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    tube = np.zeros((10, 10, 6), np.uint8)
    tube[2:8, 4:6, 1:5] = 1
    save_nifti(pred / "scaled.nii.gz", tube)  # 0 / 1
    save_nifti(label / "scaled.nii.gz", tube * 255)  # 0 / 255: the same object, other value
    save_nifti(pred / "fine.nii.gz", tube)
    save_nifti(label / "fine.nii.gz", tube)
    return pred, label


@pytest.mark.parametrize("extra", [[], ["--chunks", "5"]], ids=["in-memory", "chunked"])
def test_disjoint_label_values_warn(tmp_path, caplog, extra):
    pred, label = _scaled_pair(tmp_path)
    out = tmp_path / "r.csv"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress", *extra]
    with caplog.at_level(logging.WARNING):
        assert run_command(evaluate, argv) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    scaled = [m for m in warnings if "scaled" in m]
    assert len(scaled) == 1, warnings
    assert "[1]" in scaled[0] and "[255]" in scaled[0] and "no label value in common" in scaled[0]
    assert not [m for m in warnings if "fine" in m]
    with open(out, newline="") as f:
        dice = {(r["case"], r["label"]): float(r["dice"]) for r in csv.DictReader(f)}
    assert dice[("scaled", "1")] == 0.0 and dice[("scaled", "255")] == 0.0 and dice[("fine", "1")] == 1.0

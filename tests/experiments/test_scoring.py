"""Scoring of a comparison: the trade metrics by hand, post-processing applied, min_size chosen on validation."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from monai_topo.experiments import METRICS, choose_min_size, score_case, score_predictions


def _tube() -> np.ndarray:
    target = np.zeros((16, 16, 16), np.uint8)
    target[2:14, 7:9, 7:9] = 1  # 48 voxels
    return target


def test_trade_metrics_by_hand():
    target = _tube()
    pred = target.copy()
    pred[2:5, 7:9, 7:9] = 0  # 12 false negatives
    pred[0, 0, 0:3] = 1  # 3 false positives, one island
    row = score_case(pred, target)
    assert row["volume_ratio"] == pytest.approx((48 - 12 + 3) / 48)
    assert row["fp_volume"] == pytest.approx(3 / 48) and row["fn_volume"] == pytest.approx(12 / 48)
    assert row["betti_error_b0"] == 1 and row["splits"] == 0
    assert row["surface_distance"] > 0
    cleaned = score_case(pred, target, {"min_size": 3})
    assert cleaned["betti_error_b0"] == 0 and cleaned["fp_volume"] == 0
    assert cleaned["dice"] > row["dice"]


def test_betti_matching_error_sees_a_moved_piece():
    """Two labels: label 1's tube moved sideways (Betti error 0, two unmatched components), label 2 exact; the case's
    value is the mean over the labels, and every metric of METRICS is scored."""
    target = _tube()
    target[2:14, 12:14, 12:14] = 2
    pred = target.copy()
    pred[pred == 1] = 0
    pred[2:14, 2:4, 2:4] = 1
    row = score_case(pred, target)
    assert set(METRICS) <= set(row)
    assert row["betti_error"] == 0
    assert row["betti_matching_error"] == 1.0 and row["betti_matching_error_b0"] == 1.0  # (2 + 0) / 2 labels
    assert row["betti_matching_error_b1"] == 0 and row["betti_matching_error_b2"] == 0
    assert score_case(target, target)["betti_matching_error"] == 0


def test_empty_prediction_has_no_surface_distance():
    row = score_case(np.zeros((16, 16, 16), np.uint8), _tube())
    assert math.isnan(row["surface_distance"]) and row["volume_ratio"] == 0 and row["fn_volume"] == 1


def _write(folder, name, array):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
    return path


def test_choose_min_size_removes_islands_not_real_pieces(tmp_path):
    cases = []
    for i in range(2):
        target = _tube()
        target[2:4, 1:3, 1:3] = 1  # a small real object of 8 voxels
        pred = target.copy()
        pred[12, 0, 0] = pred[0, 14, 14] = pred[14, 0, 15] = 1  # three one-voxel islands
        label = _write(tmp_path / "labels", f"case{i}.nii.gz", target)
        _write(tmp_path / "preds", f"case{i}_seg.nii.gz", pred)
        cases.append((f"case{i}", label))
    size, table = choose_min_size(tmp_path / "preds", cases, candidates=(0, 1, 4, 8, 16))
    assert size == 1  # removes the islands (Betti error 3 -> 0); 8 and 16 would remove the real object too
    assert [r["min_size"] for r in table] == [0, 1, 4, 8, 16]
    assert table[0]["topological_errors"] == 3 and table[1]["topological_errors"] == 0
    assert table[-1]["topological_errors"] > 0
    rows = score_predictions(tmp_path / "preds", cases, {"min_size": size})
    assert [r["case"] for r in rows] == ["case0", "case1"] and all(r["betti_error"] == 0 for r in rows)


def test_choose_min_size_respects_the_dice_tolerance(tmp_path):
    target = _tube()
    pred = target.copy()
    pred[7, 7:9, 7:9] = 0  # a break: removing the shorter piece "fixes" the split at a Dice cost
    label = _write(tmp_path / "labels", "c.nii.gz", target)
    _write(tmp_path / "preds", "c_seg.nii.gz", pred)
    size, table = choose_min_size(tmp_path / "preds", [("c", label)], candidates=(0, 32))
    assert table[1]["topological_errors"] < table[0]["topological_errors"] and size == 0
    size, _ = choose_min_size(tmp_path / "preds", [("c", label)], candidates=(0, 32), max_dice_loss=1.0)
    assert size == 32
    with pytest.raises(ValueError, match="validation"):
        choose_min_size(tmp_path / "preds", [])

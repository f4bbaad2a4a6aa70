"""Pairing by case name (``monai_topo.io``) and ``monai-topo evaluate`` on a bundle's own predictions."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from monai_topo.cli import evaluate
from monai_topo.io import case_name, list_cases, pair_cases
from tests.cli.cli_helpers import run_command, save_nifti


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.nii.gz", "a"),
        ("a.NII.GZ", "a"),
        ("a.nii", "a"),
        ("a_seg.nii.gz", "a_seg"),
        (".nii.gz", None),
        ("a.txt", None),
    ],
)
def test_case_name(name, expected):
    assert case_name(name) == expected


def test_pairing_rules(tmp_path):
    preds = list_cases(_touch(tmp_path / "p", "a_seg.nii.gz", "b.nii.gz", "c_seg.nii", "c_seg.nii.gz", ".x.nii.gz"))
    labels = list_cases(_touch(tmp_path / "l", "a.nii.gz", "b.nii.gz", "c.nii.gz", "d.nii.gz", "notes.txt"))
    assert sorted(preds) == ["a_seg", "b", "c_seg"] and len(preds["c_seg"]) == 2  # hidden files skipped
    got = pair_cases(preds, labels, "seg")
    assert [case for case, _, _ in got.pairs] == ["a", "b"]  # a_seg -> a (postfix), b exact
    assert list(got.ambiguous) == ["c"] and len(got.ambiguous["c"]) == 3
    assert list(got.only_second) == ["d"] and not got.only_first
    exact = pair_cases(preds, labels, None)  # no postfix: a_seg has no partner
    assert "a_seg" in exact.only_first and "a" in exact.only_second


def test_exact_name_wins_over_the_stripped_one(tmp_path):
    preds = list_cases(_touch(tmp_path / "p", "x_seg.nii.gz"))
    labels = list_cases(_touch(tmp_path / "l", "x_seg.nii.gz", "x.nii.gz"))
    got = pair_cases(preds, labels, "seg")
    assert [case for case, _, _ in got.pairs] == ["x_seg"] and list(got.only_second) == ["x"]


def _ring(shape=(10, 10, 4)):
    v = np.zeros(shape, np.uint8)
    v[1:9, 1:9] = 1
    v[4:6, 4:6] = 0
    return v


@pytest.fixture()
def bundle_folders(tmp_path):
    """A bundle's evaluation output (``<case>_seg.nii.gz``) and a labels folder that also holds training cases."""
    pred, label = tmp_path / "predictions", tmp_path / "labels"
    for case in ("case_010", "case_011"):
        save_nifti(pred / f"{case}_seg.nii.gz", _ring())
    for case in ("case_001", "case_002", "case_010", "case_011"):  # 001, 002: training cases, never predicted
        save_nifti(label / f"{case}.nii.gz", _ring())
    return pred, label


def _argv(pred, label, out, *extra):
    return ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress", *extra]


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_reads_a_bundles_predictions_with_only_predicted(bundle_folders, tmp_path, capsys):
    pred, label = bundle_folders
    out = tmp_path / "r.csv"
    argv = _argv(pred, label, out)
    assert run_command(evaluate, argv + ["--only-predicted"]) == 0
    rows = _read(out)
    assert sorted(r["case"] for r in rows) == ["case_010", "case_011"]  # paired through the "_seg" postfix
    assert all(r["betti_error_b0"] == "0" and r["dice"] == "1" for r in rows)
    assert "2 case(s) evaluated, 0 failed" in capsys.readouterr().out


def test_evaluate_without_only_predicted_reports_the_missing_predictions(bundle_folders, tmp_path, capsys, caplog):
    pred, label = bundle_folders
    out = tmp_path / "r.csv"
    argv = _argv(pred, label, out)
    with caplog.at_level(logging.ERROR):
        assert run_command(evaluate, argv) == 1
    printed = capsys.readouterr().out
    assert "2 case(s) evaluated, 2 failed" in printed and "case_001: missing prediction" in printed
    assert len(_read(out)) == 2


def test_evaluate_pred_postfix_option(bundle_folders, tmp_path):
    pred, label = bundle_folders
    out = tmp_path / "r.csv"
    argv = _argv(pred, label, out, "--only-predicted")
    assert run_command(evaluate, argv + ["--pred-postfix", ""]) == 1  # exact names only: nothing pairs
    assert run_command(evaluate, argv + ["--pred-postfix", "seg"]) == 0


def test_label_values_option_and_its_old_name(bundle_folders, tmp_path, caplog):
    pred, label = bundle_folders
    out = tmp_path / "r.csv"
    argv = _argv(pred, label, out, "--only-predicted")
    assert run_command(evaluate, argv + ["--label-values", "1"]) == 0
    assert {r["label"] for r in _read(out)} == {"1"}
    with caplog.at_level(logging.WARNING):
        assert run_command(evaluate, argv + ["--labels", "1"]) == 0
    assert "--labels is deprecated" in caplog.text


def test_each_mask_labelled_once_per_case(monkeypatch):
    """Betti numbers, Betti errors and splits / merges come from one labelling of each label's masks."""
    from monai_topo.evaluation import case, labels

    calls = []
    original = labels.label_mask  # (each label is measured by monai_topo.evaluation.labels, on its box)
    monkeypatch.setattr(labels, "label_mask", lambda *a, **k: calls.append(1) or original(*a, **k))
    rows = case.evaluate_case(_ring(), np.ones((10, 10, 4), np.uint8))
    assert len(calls) == 2  # prediction and label of the one label, once each
    assert rows[0]["betti_error_b1"] == 1 and rows[0]["pred_b1"] == 1 and rows[0]["label_b1"] == 0

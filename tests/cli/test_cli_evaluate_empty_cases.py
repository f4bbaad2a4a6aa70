"""``evaluate``: a bad ``--workers`` is an argument error, and a case with nothing in it is scored once, clearly
(issue 18.8).

``--workers -1`` used to fail every case with the same message instead of the argument. A case whose prediction
and label are both empty was left out of the means with two contradictory overlay warnings ("every target
object is a missed object", "every predicted object is spurious") next to "nothing to evaluate", while
``--label-values`` scored the same case as a correct empty prediction. Now one rule: a case whose prediction and
label are both empty is a correct empty prediction of the run's labels (``--label-values``, else every label found
in the other cases): Dice 1, clDice 1, no topological error, as the library scores a label absent from both; one
message says so.
"""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest

from monai_topo.cli import evaluate
from tests.cli.cli_helpers import run_command, save_nifti


def _folders(tmp_path, with_empty: bool = True, chunked: bool = False):
    pred, label = tmp_path / "pred", tmp_path / "label"
    full = np.zeros((8, 8, 8), np.uint8)
    full[2:5, 2:5, 2:5] = 1
    full[6, 6, 1:7] = 2
    broken = full.copy()
    broken[3, 3, 2:5] = 0
    save_nifti(pred / "full.nii.gz", broken)
    save_nifti(label / "full.nii.gz", full)
    if with_empty:
        save_nifti(pred / "empty.nii.gz", np.zeros_like(full))
        save_nifti(label / "empty.nii.gz", np.zeros_like(full))
    return pred, label


def _rows(path):
    with open(path, newline="") as f:
        return {(r["case"], int(r["label"])): r for r in csv.DictReader(f)}


@pytest.mark.parametrize("value", ["-1", "-5", "1.5", "many"])
def test_workers_must_be_a_positive_int(tmp_path, capsys, value):
    pred, label = _folders(tmp_path, with_empty=False)
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    with pytest.raises(SystemExit) as raised:
        run_command(evaluate, argv + ["--workers", value])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "--workers" in err and value in err
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("overlays", [False, True], ids=["plain", "overlays"])
@pytest.mark.parametrize("extra", [[], ["--chunks", "4"]], ids=["in-memory", "chunked"])
def test_both_empty_case_is_a_correct_empty_prediction(tmp_path, caplog, capsys, overlays, extra):
    if overlays and extra:
        pytest.skip("no overlays on the chunked path")
    pred, label = _folders(tmp_path)
    out = tmp_path / "r.csv"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress", *extra]
    argv += ["--overlays", str(tmp_path / "ov")] if overlays else []
    with caplog.at_level(logging.INFO):
        assert run_command(evaluate, argv) == 0
    rows = _rows(out)
    assert sorted(rows) == [("empty", 1), ("empty", 2), ("full", 1), ("full", 2)]
    for label_value in (1, 2):
        row = rows[("empty", label_value)]
        assert float(row["dice"]) == 1.0
        assert [row[f"betti_error_b{k}"] for k in range(3)] == ["0", "0", "0"]
        assert row["splits"] == row["merges"] == "0"
        assert row["cldice"] == ("nan" if extra else "1")
        if overlays:
            assert row["missed_object_regions"] == row["spurious_object_regions"] == "0"
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("case empty")]
    assert len(messages) == 1, messages  # one message for the case, and it says what was done
    assert "both empty" in messages[0] and "Dice 1" in messages[0] and "1, 2" in messages[0]
    assert "missed object" not in caplog.text and "spurious" not in caplog.text
    printed = capsys.readouterr().out
    assert "2 case(s) evaluated, 0 failed." in printed
    table = printed[printed.index("mean per label:") :].splitlines()
    assert [line.split()[:2] for line in table[2:4]] == [["1", "2"], ["2", "2"]]  # 2 cases per label


def test_label_values_give_the_same_rows(tmp_path):
    pred, label = _folders(tmp_path)
    default, explicit = tmp_path / "default.csv", tmp_path / "explicit.csv"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--no-progress"]
    assert run_command(evaluate, argv + ["--out", str(default)]) == 0
    assert run_command(evaluate, argv + ["--out", str(explicit), "--label-values", "1", "2"]) == 0
    assert _rows(default) == _rows(explicit)


def test_only_empty_cases_have_nothing_to_score(tmp_path, caplog, capsys):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "empty.nii.gz", np.zeros((6, 6, 6), np.uint8))
    save_nifti(label / "empty.nii.gz", np.zeros((6, 6, 6), np.uint8))
    out = tmp_path / "r.csv"
    with caplog.at_level(logging.WARNING):
        code = run_command(evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out)])
    assert code == 0 and len(_rows(out)) == 0
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("case empty")]
    assert len(messages) == 1 and "both empty" in messages[0] and "--label-values" in messages[0]

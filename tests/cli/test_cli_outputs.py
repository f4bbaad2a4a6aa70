"""Outputs are checked once, before any work: never an input, never read as one, and writable (issue 18.3, 18.7).

- ``evaluate --out labels/case.nii.gz`` replaced a label with CSV text, ``diagram p.nii.gz --out p.nii.gz`` its
  input, ``--overlays`` on the prediction folder wrote ``<case>_errors.nii.gz`` among the predictions: each is
  refused (exit code 2) before anything is evaluated, and the inputs are unchanged.
- ``--plot r.txt`` crashed in matplotlib after the whole evaluation; ``--out`` under ``/proc`` or on ``/dev/full``
  failed only at the end: all found before the first case.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from monai_topo.cli import diagram, evaluate
from tests.cli.cli_helpers import run_command, save_nifti


def _tube() -> np.ndarray:
    v = np.zeros((10, 10, 6), np.uint8)
    v[2:8, 4:6, 1:5] = 1
    return v


@pytest.fixture
def folders(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "case_001.nii.gz", _tube())
    save_nifti(label / "case_001.nii.gz", _tube())
    return pred, label


def _snapshot(*folders: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(monkeypatch, caplog, argv: list[str], option: str, *words: str) -> None:
    """``evaluate argv`` exits 2 naming ``option`` and ``words``, before evaluating anything."""
    calls = []
    monkeypatch.setattr(evaluate, "evaluate_folders", lambda *a, **k: calls.append(a) or ([], []))
    with caplog.at_level(logging.ERROR):
        assert run_command(evaluate, ["evaluate", *argv, "--no-progress"]) == 2
    assert calls == []  # nothing was evaluated
    assert option in caplog.text and "nothing was evaluated" in caplog.text
    for word in words:
        assert word in caplog.text


# ---------------------------------------------------------------------------------------------- 18.3: inputs
def test_out_on_a_label_file_is_refused(folders, tmp_path, monkeypatch, caplog):
    pred, label = folders
    before = _snapshot(pred, label)
    target = label / "case_001.nii.gz"
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(target)]
    _refused(monkeypatch, caplog, argv, "--out", str(target), "is an input")
    assert _snapshot(pred, label) == before


def test_out_that_would_be_read_as_a_case_is_refused(folders, monkeypatch, caplog):
    pred, label = folders
    target = pred / "results.nii.gz"  # not there yet, but the next run would read it as a prediction
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(target)]
    _refused(monkeypatch, caplog, argv, "--out", "would be read as a case")
    assert not target.exists()


def test_a_csv_next_to_the_predictions_is_fine(folders):
    pred, label = folders
    out = pred / "results.csv"  # not a volume: never read as a case
    assert run_command(evaluate, ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out)]) == 0
    assert out.read_text().startswith("case,label,dice")


def test_plot_on_an_input_is_refused_even_through_a_symlink(folders, tmp_path, monkeypatch, caplog):
    pred, label = folders
    link = tmp_path / "alias"
    link.symlink_to(label, target_is_directory=True)
    before = _snapshot(pred, label)
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    _refused(monkeypatch, caplog, argv + ["--plot", str(link / "case_001.nii.gz")], "--plot", "is an input")
    assert _snapshot(pred, label) == before


@pytest.mark.parametrize("which", ["pred", "label"])
def test_overlays_in_an_input_folder_are_refused(folders, monkeypatch, caplog, tmp_path, which):
    pred, label = folders
    save_nifti(pred / "case_002_errors.nii.gz", _tube())  # a prediction whose name an overlay would take
    save_nifti(label / "case_002_errors.nii.gz", _tube())
    before = _snapshot(pred, label)
    overlays = pred if which == "pred" else label
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    _refused(monkeypatch, caplog, argv + ["--overlays", str(overlays)], "--overlays", f"--{which}")
    assert _snapshot(pred, label) == before


def test_overlays_refused_by_the_library_too(folders):
    from monai_topo.evaluation import evaluate_folders

    pred, label = folders
    before = _snapshot(pred, label)
    with pytest.raises(ValueError, match="overlays"):
        evaluate_folders(pred, label, progress=False, overlays=pred)
    assert _snapshot(pred, label) == before


def test_out_and_plot_on_the_same_file_are_refused(folders, tmp_path, monkeypatch, caplog):
    pred, label = folders
    same = tmp_path / "r.png"
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(same), "--plot", str(same)]
    _refused(monkeypatch, caplog, argv, "--plot", "--out")


@pytest.mark.parametrize("which", ["file", "label"])
def test_diagram_out_on_its_input_is_refused(tmp_path, caplog, which):
    prob = save_nifti(tmp_path / "p.nii.gz", np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    label = save_nifti(tmp_path / "l.nii.gz", (np.arange(64).reshape(8, 8) % 3 == 0).astype(np.uint8))
    before = _snapshot(tmp_path)
    out = prob if which == "file" else label
    with caplog.at_level(logging.ERROR):
        code = run_command(diagram, ["diagram", str(prob), "--label", str(label), "--out", str(out)])
    assert code == 2 and "--out" in caplog.text and "is an input" in caplog.text
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------ 18.7: checked up front
def test_plot_format_is_checked_before_evaluating(folders, tmp_path, monkeypatch, caplog):
    pred, label = folders
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    _refused(monkeypatch, caplog, argv + ["--plot", str(tmp_path / "r.txt")], "--plot", "txt", "png")
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "r.txt").exists()


def test_plot_in_a_format_matplotlib_writes(folders, tmp_path):
    pred, label = folders
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    assert run_command(evaluate, argv + ["--plot", str(tmp_path / "r.svg"), "--no-progress"]) == 0
    assert (tmp_path / "r.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("option", ["--out", "--plot", "--overlays"])
def test_outputs_under_proc_fail_before_evaluating(folders, tmp_path, monkeypatch, caplog, option):
    pred, label = folders
    name = {"--out": "r.csv", "--plot": "r.png", "--overlays": "overlays"}[option]
    argv = ["--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    argv += ["--out" if option == "--out" else option, f"/proc/{name}"]  # (a second --out wins)
    _refused(monkeypatch, caplog, argv, option, "/proc")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_out_on_dev_full_fails_before_evaluating(folders, monkeypatch, caplog):
    pred, label = folders
    argv = ["--pred", str(pred), "--label", str(label), "--out", "/dev/full"]
    _refused(monkeypatch, caplog, argv, "--out", "/dev/full", "No space left")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_is_a_fine_output(folders):
    pred, label = folders
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", "/dev/null", "--no-progress"]
    assert run_command(evaluate, argv) == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_diagram_on_dev_full_fails_before_computing(tmp_path, caplog, monkeypatch):
    prob = save_nifti(tmp_path / "p.nii.gz", np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    calls = []
    monkeypatch.setattr(diagram, "read_probability_map", lambda *a, **k: calls.append(a))
    with caplog.at_level(logging.ERROR):
        assert run_command(diagram, ["diagram", str(prob), "--out", "/dev/full"]) == 2
    assert calls == [] and "/dev/full" in caplog.text and "No space left" in caplog.text

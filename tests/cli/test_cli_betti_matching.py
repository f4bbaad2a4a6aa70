"""The Betti matching error in the evaluation: ``evaluate_case(betti_matching=True)``, ``monai-topo evaluate
--betti-matching`` (in memory; NaN chunk by chunk) and the unmatched features drawn by ``--overlays``."""

from __future__ import annotations

import csv
import logging

import nibabel as nib
import numpy as np
import pytest
from matplotlib.image import imread

from monai_topo.cli import evaluate
from monai_topo.evaluation import evaluate_case
from monai_topo.evaluation.case import BETTI_MATCHING_COLUMNS
from monai_topo.evaluation.report import COLUMNS, summarise
from monai_topo.topology import betti_matching, betti_matching_error, topological_errors
from monai_topo.visualize import render_error_overlay
from monai_topo.visualize.overlay import UNMATCHED_COLORS
from tests.cli.cli_helpers import run_command, save_nifti


def _label() -> np.ndarray:
    """Label 1: a cube; label 2: a solid torus (a square ring extruded along the last axis)."""
    v = np.zeros((14, 14, 12), np.uint8)
    v[1:4, 1:4, 1:4] = 1
    v[6:13, 6:13, 2:10] = 2
    v[8:11, 8:11, 2:10] = 0
    return v


def _moved() -> np.ndarray:
    """The cube moved to the far corner (Betti error 0, two unmatched components); the torus kept."""
    v = _label()
    v[v == 1] = 0
    v[10:13, 1:4, 8:11] = 1
    return v


def _ring_2d() -> np.ndarray:
    v = np.zeros((12, 12), np.uint8)
    v[1:6, 1:6] = 1
    v[3, 3] = 0
    return v


def test_evaluate_case_columns():
    rows = {r["label"]: r for r in evaluate_case(_moved(), _label(), betti_matching=True, num_workers=1)}
    moved, torus = rows[1], rows[2]
    assert [moved[f"betti_error_b{k}"] for k in range(3)] == [0, 0, 0]
    assert [moved[c] for c in BETTI_MATCHING_COLUMNS] == [2, 2, 0, 0]
    assert [torus[c] for c in BETTI_MATCHING_COLUMNS] == [0, 0, 0, 0]
    plain = evaluate_case(_moved(), _label(), num_workers=1)
    assert not any(c in plain[0] for c in BETTI_MATCHING_COLUMNS)  # off by default
    assert [{k: v for k, v in r.items() if k not in BETTI_MATCHING_COLUMNS} for r in rows.values()] == plain
    # threads over the labels give the same rows; the values are the core's, with the connectivity passed on
    assert evaluate_case(_moved(), _label(), betti_matching=True, num_workers=2) == list(rows.values())
    six = evaluate_case(_moved(), _label(), connectivity=6, betti_matching=True)[0]
    assert [six[f"betti_matching_error_b{k}"] for k in range(3)] == betti_matching_error(
        _moved() == 1, _label() == 1, 6
    ).tolist()


def test_evaluate_case_2d_leaves_b2_empty():
    filled = _ring_2d()
    filled[3, 3] = 1
    row = evaluate_case(filled, _ring_2d(), betti_matching=True)[0]
    assert (row["betti_matching_error"], row["betti_matching_error_b1"], row["betti_matching_error_b2"]) == (1, 1, None)


@pytest.fixture()
def folders(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "moved.nii.gz", _moved())
    save_nifti(label / "moved.nii.gz", _label())
    save_nifti(pred / "same.nii.gz", _label())
    save_nifti(label / "same.nii.gz", _label())
    return pred, label


def _evaluate(pred, label, out, *extra):
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--no-progress"]
    return run_command(evaluate, argv + ["--workers", "1", *extra])


def _read(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, {(r["case"], int(r["label"])): r for r in reader}


def test_cli_columns_only_on_request(folders, tmp_path, capsys):
    pred, label = folders
    assert _evaluate(pred, label, tmp_path / "plain.csv") == 0
    header, _ = _read(tmp_path / "plain.csv")
    assert header == COLUMNS
    assert "betti_matching_error" not in capsys.readouterr().out

    assert _evaluate(pred, label, tmp_path / "bm.csv", "--betti-matching") == 0
    header, rows = _read(tmp_path / "bm.csv")
    assert header == COLUMNS + list(BETTI_MATCHING_COLUMNS)
    assert [rows["moved", 1][c] for c in BETTI_MATCHING_COLUMNS] == ["2", "2", "0", "0"]
    assert rows["moved", 1]["betti_error_b0"] == "0"
    assert all(rows[case, k]["betti_matching_error"] == "0" for case, k in [("moved", 2), ("same", 1), ("same", 2)])
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("mean per label:")
    headers, label_1, label_2 = (line.split() for line in lines[at + 1 : at + 4])
    column = headers.index("betti_matching_error")  # the mean over the cases: 2 (moved) and 0 (same)
    assert (label_1[0], label_1[column]) == ("1", "1.0000") and (label_2[0], label_2[column]) == ("2", "0.0000")
    headers, table = summarise(evaluate_case(_moved(), _label(), betti_matching=True))
    assert [line[headers.index("betti_matching_error")] for line in table] == [2.0, 0.0]


def test_cli_chunked_cases_are_nan(folders, tmp_path, caplog):
    pred, label = folders
    with caplog.at_level(logging.WARNING):
        assert _evaluate(pred, label, tmp_path / "r.csv", "--betti-matching", "--chunks", "8") == 0
    assert "case moved: evaluated chunk by chunk; its Betti matching error is NaN" in caplog.text
    header, rows = _read(tmp_path / "r.csv")
    assert header == COLUMNS + list(BETTI_MATCHING_COLUMNS)
    assert all(row[c] == "nan" for row in rows.values() for c in BETTI_MATCHING_COLUMNS)
    assert rows["moved", 1]["betti_error_b0"] == "0"  # the rest is computed chunk by chunk as usual


def test_overlays_mark_the_unmatched_features(folders, tmp_path):
    pred, label = folders
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    assert _evaluate(pred, label, tmp_path / "a.csv", "--overlays", str(plain)) == 0
    assert _evaluate(pred, label, tmp_path / "b.csv", "--overlays", str(marked), "--betti-matching") == 0
    # the CSV: the matching columns first, then the overlay counts; the same values as without --overlays
    header, rows = _read(tmp_path / "b.csv")
    assert header[: len(COLUMNS) + 4] == COLUMNS + list(BETTI_MATCHING_COLUMNS)
    assert "split_regions" in header[len(COLUMNS) + 4 :]
    assert [rows["moved", 1][c] for c in BETTI_MATCHING_COLUMNS] == ["2", "2", "0", "0"]
    # the label map is unchanged
    for case in ("moved", "same"):
        a = np.asarray(nib.load(str(plain / f"{case}_errors.nii.gz")).dataobj)
        b = np.asarray(nib.load(str(marked / f"{case}_errors.nii.gz")).dataobj)
        np.testing.assert_array_equal(a, b)
    # the picture: the renderer's with the matchings of both labels, a cross on each unmatched birth / death voxel
    matchings = [betti_matching(_moved() == k, _label() == k) for k in (1, 2)]
    assert [m.unmatched_pred.tolist() for m in matchings] == [[1, 0, 0], [0, 0, 0]]
    assert not topological_errors(_moved() == 2, _label() == 2).any()  # the torus: no error, the cube's map shows
    errors = topological_errors(_moved() == 1, _label() == 1)
    png = imread(str(marked / "moved_errors.png"))[..., :3]
    image, layout = render_error_overlay(
        errors, _label() > 0, _moved() > 0, title="moved", matchings=matchings, notes=["splits", "merges"]
    )
    assert png.shape == image.shape  # (the notes under the legend: the case's splits / merges)
    for side, voxels in (
        ("prediction", np.concatenate([matchings[0].pred_births[0], matchings[0].pred_deaths[0]])),
        ("target", np.concatenate([matchings[0].target_births[0], matchings[0].target_deaths[0]])),
    ):
        assert len(voxels) == 2
        for voxel in voxels:
            for (top, left, scale), axis in zip(layout, range(3)):
                row, col = [c for a, c in enumerate(voxel) if a != axis]
                pixel = png[top + row * scale + scale // 2, left + col * scale + scale // 2]
                np.testing.assert_allclose(pixel, UNMATCHED_COLORS[side], atol=1 / 255, err_msg=f"{side} {axis}")
    # without matchings no panel has a cross colour (white is only the page around the panels)
    png_plain = imread(str(plain / "moved_errors.png"))[..., :3]
    for (top, left, scale), shape in zip(layout, [(14, 12), (14, 12), (14, 14)]):
        panel = png_plain[top : top + shape[0] * scale, left : left + shape[1] * scale]
        for colour in UNMATCHED_COLORS.values():
            assert not np.isclose(panel, colour, atol=1 / 255).all(axis=-1).any()


def test_render_rejects_matchings_of_other_masks():
    errors = np.zeros((6, 6, 6), np.uint8)
    flat = betti_matching(np.ones((6, 6), bool), np.zeros((6, 6), bool))
    with pytest.raises(ValueError, match="not of 3D masks"):
        render_error_overlay(errors, errors > 0, errors > 0, matchings=flat)
    bigger = betti_matching(np.pad(np.ones((2, 2, 2), bool), ((6, 0), (0, 0), (0, 0))), np.zeros((8, 2, 2), bool))
    with pytest.raises(ValueError, match="outside the image"):
        render_error_overlay(np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), matchings=bigger)


def test_legend_counts_the_unmatched_features():
    """The legend grows by two entries (prediction, target) and stays the same height otherwise."""
    here = np.zeros((8, 8), bool)
    here[1:3, 1:3] = True
    there = np.roll(here, 5, axis=(0, 1))
    errors = topological_errors(here, there)
    plain, _ = render_error_overlay(errors, there, here)
    marked, layout = render_error_overlay(errors, there, here, matchings=betti_matching(here, there))
    assert marked.shape[1] == plain.shape[1] and marked.shape[0] >= plain.shape[0]
    top, left, scale = layout[0]
    lime = (marked == np.round(np.array(UNMATCHED_COLORS["target"]) * 255)).all(axis=-1)  # uint8 RGB
    assert lime[top : top + 8 * scale, left : left + 8 * scale].any()  # the crosses on the panel
    assert lime[:, left + 8 * scale :].any()  # and the legend's swatch

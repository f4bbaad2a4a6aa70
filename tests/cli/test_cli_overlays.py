"""monai-topo evaluate --overlays: the error label map voxel by voxel, the picture at pixel level, CSV counts, bad input."""

from __future__ import annotations

import csv
import logging

import nibabel as nib
import numpy as np
import pytest
from matplotlib.image import imread

from monai_topo.cli import evaluate
from monai_topo.metrics import split_merge_counts
from monai_topo.topology import topological_errors
from monai_topo.visualize import render_error_overlay, split_merge_notes
from monai_topo.visualize.overlay import ERROR_COLORS
from tests.cli.cli_helpers import run_command, save_nifti

AFFINE = np.diag([2.0, 1.0, 1.5, 1.0])


def _label_3d() -> np.ndarray:
    v = np.zeros((12, 14, 20), np.uint8)
    v[2:4, 2:4, 1:19] = 1
    v[7:9, 2:4, 1:19] = 1
    return v


def _pred_3d() -> np.ndarray:
    v = _label_3d()
    v[2:4, 2:4, 6] = 0  # cut tube: split
    v[4:7, 2, 14] = 1  # bridge: merge
    v[10:12, 10:12, 3:5] = 1  # stray blob: spurious object
    return v


def _ring_2d() -> np.ndarray:
    v = np.zeros((12, 12, 1), np.uint8)
    v[2:10, 2:10] = 1
    v[5:7, 5:7] = 0
    return v


@pytest.fixture()
def evaluated(tmp_path):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "tubes.nii.gz", _pred_3d(), AFFINE)
    save_nifti(label / "tubes.nii.gz", _label_3d(), AFFINE)
    disk = _ring_2d()
    disk[5:7, 5:7] = 1  # the hole filled
    save_nifti(pred / "flat.nii.gz", disk)
    save_nifti(label / "flat.nii.gz", _ring_2d())
    out, overlays = tmp_path / "r.csv", tmp_path / "overlays"
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(out), "--overlays", str(overlays)]
    code = run_command(evaluate, argv + ["--no-progress", "--workers", "1"])
    return code, out, overlays


def test_label_map_voxel_by_voxel_with_label_grid(evaluated):
    code, _, overlays = evaluated
    assert code == 0
    image = nib.load(str(overlays / "tubes_errors.nii.gz"))
    np.testing.assert_allclose(image.affine, AFFINE)
    assert image.get_data_dtype() == np.uint8
    data = np.asarray(image.dataobj)
    np.testing.assert_array_equal(data, topological_errors(_pred_3d() > 0, _label_3d() > 0))
    assert (data[2:4, 2:4, 6] == 1).all() and (data[4:7, 2, 14] == 3).all() and (data[10:12, 10:12, 3:5] == 4).all()
    flat = np.asarray(nib.load(str(overlays / "flat_errors.nii.gz")).dataobj)
    assert flat.shape == (12, 12, 1) and (flat[5:7, 5:7, 0] == 7).all()  # the filled hole: a missing loop


def test_csv_counts(evaluated):
    _, out, _ = evaluated
    with open(out) as handle:
        rows = {r["case"]: r for r in csv.DictReader(handle)}
    tubes = rows["tubes"]
    columns = ("split_regions", "merge_regions", "spurious_object_regions", "missed_object_regions")
    assert tuple(tubes[c] for c in columns) == (
        "1",
        "1",
        "1",
        "0",
    )
    assert rows["flat"]["missing_loop_regions"] == "1" and rows["flat"]["split_regions"] == "0"


def test_png_colours_where_errors_project(evaluated):
    """Each class colour is in the picture at the pixels where its voxels project (axis by axis)."""
    _, _, overlays = evaluated
    png = imread(str(overlays / "tubes_errors.png"))[..., :3]
    errors = topological_errors(_pred_3d() > 0, _label_3d() > 0)
    notes = split_merge_notes(*split_merge_counts(_pred_3d() > 0, _label_3d() > 0))
    image, layout = render_error_overlay(errors, _label_3d() > 0, _pred_3d() > 0, counts={}, title="tubes", notes=notes)
    assert png.shape == image.shape  # the same picture as the renderer's
    for code, voxel in ((1, (2, 2, 6)), (3, (5, 2, 14)), (4, (10, 10, 3))):
        for (top, left, scale), axis in zip(layout, range(3)):
            row, col = [c for a, c in enumerate(voxel) if a != axis]
            pixel = png[top + row * scale + scale // 2, left + col * scale + scale // 2]
            np.testing.assert_allclose(pixel, ERROR_COLORS[code], atol=1 / 255, err_msg=f"code {code} axis {axis}")
    top, left, _ = layout[0]
    np.testing.assert_allclose(png[top, left], 0.0)  # background of the projection: black
    np.testing.assert_allclose(png[top - 1, left], 1.0)  # the page around it: white


def test_unwritable_overlays_folder(tmp_path, caplog):
    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "a.nii.gz", _pred_3d())
    save_nifti(label / "a.nii.gz", _label_3d())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    with caplog.at_level(logging.ERROR):
        code = run_command(evaluate, argv + ["--overlays", str(blocker / "sub"), "--no-progress"])
    assert code == 2
    assert "--overlays" in caplog.text and str(blocker) in caplog.text
    assert not (tmp_path / "r.csv").exists()


def test_bad_cases_named_others_complete(tmp_path, caplog):
    pred, label, overlays = tmp_path / "pred", tmp_path / "label", tmp_path / "ov"
    save_nifti(pred / "good.nii.gz", _pred_3d())
    save_nifti(label / "good.nii.gz", _label_3d())
    save_nifti(pred / "shape.nii.gz", _pred_3d()[:10])
    save_nifti(label / "shape.nii.gz", _label_3d())
    save_nifti(pred / "moved.nii.gz", _pred_3d(), AFFINE)
    save_nifti(label / "moved.nii.gz", _label_3d())
    save_nifti(pred / "empty.nii.gz", np.zeros_like(_label_3d()))
    save_nifti(label / "empty.nii.gz", _label_3d())
    argv = ["evaluate", "--pred", str(pred), "--label", str(label), "--out", str(tmp_path / "r.csv")]
    with caplog.at_level(logging.WARNING):
        code = run_command(evaluate, argv + ["--overlays", str(overlays), "--no-progress", "--workers", "1"])
    assert code == 1
    assert "shape.nii.gz" in caplog.text and "moved.nii.gz" in caplog.text
    assert "case empty: the prediction is empty" in caplog.text
    assert sorted(p.name for p in overlays.iterdir()) == [
        "empty_errors.nii.gz",
        "empty_errors.png",
        "good_errors.nii.gz",
        "good_errors.png",
    ]
    empty = np.asarray(nib.load(str(overlays / "empty_errors.nii.gz")).dataobj)
    assert set(np.unique(empty[_label_3d() > 0])) == {2}  # every tube: a missed object


def _overlays_in_child(pred_dir, label_dir, out_dir, queue):
    from monai_topo.evaluation import evaluate_folders

    rows, failures = evaluate_folders(pred_dir, label_dir, num_workers=1, progress=False, overlays=out_dir)
    queue.put((len(rows), len(failures)))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_overlays_in_a_forked_process_after_the_parent(tmp_path):
    """The NIfTI writer thread is the case's own: a process forked after the parent wrote overlays writes its own."""
    import multiprocessing

    from monai_topo.evaluation import evaluate_folders

    pred, label = tmp_path / "pred", tmp_path / "label"
    save_nifti(pred / "tubes.nii.gz", _pred_3d(), AFFINE)
    save_nifti(label / "tubes.nii.gz", _label_3d(), AFFINE)
    for folder in ("parent", "child"):
        (tmp_path / folder).mkdir()
    rows, failures = evaluate_folders(pred, label, num_workers=1, progress=False, overlays=tmp_path / "parent")
    assert len(rows) == 1 and not failures
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_overlays_in_child, args=(pred, label, tmp_path / "child", queue))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.terminate()
    assert child.exitcode == 0, "the forked evaluation did not finish"
    assert queue.get(timeout=5) == (1, 0)
    parent, child_dir = tmp_path / "parent", tmp_path / "child"
    assert (parent / "tubes_errors.png").read_bytes() == (child_dir / "tubes_errors.png").read_bytes()
    np.testing.assert_array_equal(
        np.asarray(nib.load(parent / "tubes_errors.nii.gz").dataobj),
        np.asarray(nib.load(child_dir / "tubes_errors.nii.gz").dataobj),
    )


def _two_splits_one_piece() -> tuple[np.ndarray, np.ndarray]:
    """A ring cut on two sides: 2 pieces (splits 1), 2 gaps (split regions 2)."""
    label = np.zeros((12, 12), np.uint8)
    label[2:10, 2:10] = 1
    label[4:8, 4:8] = 0
    pred = label.copy()
    pred[2:4, 5] = 0
    pred[8:10, 5] = 0
    return pred, label


def _gap_with_a_detour() -> tuple[np.ndarray, np.ndarray]:
    """A bar with a gap that the prediction goes around: 1 piece (splits 0), 1 gap (split regions 1)."""
    label = np.zeros((10, 12), np.uint8)
    label[5, 1:11] = 1
    pred = label.copy()
    pred[5, 5] = 0
    pred[4, 4:7] = 1
    return pred, label


def _junction_missed() -> tuple[np.ndarray, np.ndarray]:
    """A T whose junction is missed: 3 pieces (splits 2), 1 gap (split regions 1)."""
    label = np.zeros((12, 12), np.uint8)
    label[5, 1:11] = 1
    label[5:11, 5] = 1
    pred = label.copy()
    pred[5, 4:7] = 0
    pred[6, 5] = 0
    return pred, label


def test_split_regions_and_splits_are_two_counts_defined_in_the_csv_header_and_legend(tmp_path, monkeypatch):
    """Issue 18.13: the overlay's count of split *regions* (gaps, where to mend) and the ``splits`` metric (extra
    pieces per object) differ by definition; the CSV names them apart and the picture shows both."""
    import monai_topo.visualize.overlay as overlay

    drawn: list[str] = []
    draw = overlay._draw_text

    def record(canvas, xy, text, size=13):
        drawn.append(text)
        return draw(canvas, xy, text, size)

    monkeypatch.setattr(overlay, "_draw_text", record)
    pred_dir, label_dir = tmp_path / "pred", tmp_path / "label"
    cases = {"ring": _two_splits_one_piece(), "detour": _gap_with_a_detour(), "junction": _junction_missed()}
    for name, (pred, label) in cases.items():
        save_nifti(pred_dir / f"{name}.nii.gz", pred[..., None])
        save_nifti(label_dir / f"{name}.nii.gz", label[..., None])
    out, overlays = tmp_path / "r.csv", tmp_path / "overlays"
    argv = ["evaluate", "--pred", str(pred_dir), "--label", str(label_dir), "--out", str(out)]
    assert run_command(evaluate, argv + ["--overlays", str(overlays), "--no-progress", "--workers", "1"]) == 0
    with open(out) as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, {r["case"]: r for r in reader}
    assert "split_regions" in header and "merge_regions" in header and "extra_loop_regions" in header
    assert not [c for c in header if c.startswith("n_")]
    counts = {name: (int(rows[name]["split_regions"]), int(float(rows[name]["splits"]))) for name in cases}
    assert counts == {"ring": (2, 1), "detour": (1, 0), "junction": (1, 2)}
    text = " | ".join(drawn)
    assert "error regions per class" in text
    assert "splits (extra pieces):" in text and "merges (objects joined):" in text
    assert drawn.count("split:") == 3  # the legend entry of each case's picture

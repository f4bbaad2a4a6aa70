"""``monai-topo betti`` / ``evaluate`` on Zarr, OME-Zarr and chunked NIfTI: same numbers as in memory, clear errors."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from monai_topo.cli import betti, evaluate
from tests.cli.cli_helpers import run_command, save_nifti


def _target() -> np.ndarray:
    """Label 1: a tube crossing every chunk; label 2: a hollow box (a cavity); label 3: a ring (a loop)."""
    v = np.zeros((14, 15, 16), np.uint8)
    v[2:5, 2:5, 1:15] = 1
    v[7:13, 7:13, 2:8] = 2
    v[9:11, 9:11, 4:6] = 0
    v[6:12, 1:6, 10:14] = 3
    v[8:10, 1:6, 11:13] = 0
    return v


def _prediction() -> np.ndarray:
    v = _target()
    v[2:5, 2:5, 8] = 0  # label 1 split in two
    v[9:11, 9:11, 4:6] = 2  # label 2's cavity filled
    v[0, 14, 15] = 3  # a spurious voxel of label 3
    return v


def save_zarr(path: Path, data: np.ndarray, chunks: tuple[int, ...] | int = 5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks = (chunks,) * data.ndim if isinstance(chunks, int) else chunks
    array = zarr.open_array(str(path), mode="w", shape=data.shape, chunks=chunks, dtype=data.dtype)
    array[...] = data
    return path


def save_ome_zarr(path: Path, data: np.ndarray) -> Path:
    """Two levels (full and half resolution), stored as ``t, c, z, y, x`` with singleton t and c."""
    group = zarr.open_group(str(path), mode="w")
    for level, step in enumerate((1, 2)):
        level_data = data[::step, ::step, ::step][None, None]
        array = group.create_array(str(level), shape=level_data.shape, chunks=(1, 1, 4, 4, 4), dtype=data.dtype)
        array[...] = level_data
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}, {"path": "1"}]}]
    return path


def _chunk_files(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture
def folders(tmp_path):
    """The same two cases as NIfTI (in memory) and as Zarr (chunked)."""
    for kind, ext in (("nii", ".nii.gz"), ("zarr", ".zarr")):
        for case, shift in (("a", 0), ("b", 1)):
            pred, target = np.roll(_prediction(), shift, axis=0), np.roll(_target(), shift, axis=0)
            if kind == "nii":
                save_nifti(tmp_path / kind / "pred" / f"{case}{ext}", pred)
                save_nifti(tmp_path / kind / "label" / f"{case}{ext}", target)
            else:
                save_zarr(tmp_path / kind / "pred" / f"{case}{ext}", pred)
                save_zarr(tmp_path / kind / "label" / f"{case}{ext}", target)
    return tmp_path


def _evaluate(root: Path, kind: str, out: Path, *extra: str) -> int:
    argv = ["evaluate", "--pred", str(root / kind / "pred"), "--label", str(root / kind / "label"), "--out", str(out)]
    return run_command(evaluate, argv + ["--no-progress", *extra])


@pytest.mark.parametrize("connectivity", [[], pytest.param(["--connectivity", "6"], marks=pytest.mark.slow)])
def test_evaluate_zarr_equals_in_memory_nifti(folders, tmp_path, connectivity):
    assert _evaluate(folders, "nii", tmp_path / "nii.csv", *connectivity) == 0
    assert _evaluate(folders, "zarr", tmp_path / "zarr.csv", *connectivity) == 0
    assert _evaluate(folders, "nii", tmp_path / "nii_chunked.csv", "--chunks", "4", "6", "5", *connectivity) == 0
    expected = _rows(tmp_path / "nii.csv")
    for name in ("zarr.csv", "nii_chunked.csv"):
        got = _rows(tmp_path / name)
        assert [r["cldice"] for r in got] == ["nan"] * len(got)  # clDice is not computed chunk by chunk
        strip = [{k: v for k, v in r.items() if k != "cldice"} for r in expected]
        assert [{k: v for k, v in r.items() if k != "cldice"} for r in got] == strip
    by_label = {r["label"]: r for r in expected if r["case"] == "a"}
    assert (by_label["1"]["splits"], by_label["1"]["pred_b0"]) == ("1", "2")
    assert (by_label["2"]["label_b2"], by_label["2"]["pred_b2"]) == ("1", "0")
    assert by_label["3"]["label_b1"] == "1"


def test_betti_zarr_and_ome_zarr_levels(tmp_path, capsys):
    volume = _target()
    assert run_command(betti, ["betti", str(save_nifti(tmp_path / "t.nii.gz", volume))]) == 0
    in_memory = capsys.readouterr().out.splitlines()[1:]
    assert run_command(betti, ["betti", str(save_zarr(tmp_path / "t.zarr", volume, (3, 4, 5)))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "computed chunk by chunk" in out[0] and out[1:] == in_memory
    ome = save_ome_zarr(tmp_path / "t.ome.zarr", volume)
    assert run_command(betti, ["betti", str(ome)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == in_memory
    assert run_command(betti, ["betti", str(ome), "--level", "1", "--label", "1"]) == 0
    out = capsys.readouterr().out
    assert "shape (7, 8, 8)" in out


def test_corrupt_chunk_names_the_file(folders, tmp_path, caplog, capsys):
    store = folders / "zarr" / "pred" / "a.zarr"
    victim = _chunk_files(store)[3]
    victim.write_bytes(b"not a compressed chunk")
    with caplog.at_level(logging.ERROR):
        assert _evaluate(folders, "zarr", tmp_path / "out.csv") == 1
    out = capsys.readouterr().out
    assert "a: " in out and str(store) in out and "cannot read the region" in out
    assert {r["case"] for r in _rows(tmp_path / "out.csv")} == {"b"}  # the other case is complete
    with caplog.at_level(logging.ERROR):
        assert run_command(betti, ["betti", str(store)]) == 1
    assert str(store) in caplog.text and "cannot read" in caplog.text


def test_mismatched_chunk_grids_and_shapes(tmp_path, capsys):
    save_zarr(tmp_path / "pred" / "a.zarr", _prediction(), 5)
    save_zarr(tmp_path / "label" / "a.zarr", _target(), 4)
    save_zarr(tmp_path / "pred" / "b.zarr", _prediction()[:-1], 5)
    save_zarr(tmp_path / "label" / "b.zarr", _target(), 5)
    argv = ["evaluate", "--pred", str(tmp_path / "pred"), "--label", str(tmp_path / "label")]
    assert run_command(evaluate, argv + ["--out", str(tmp_path / "o.csv"), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "a: chunk grids differ: prediction a.zarr" in out and "--chunks" in out
    assert "b: shape mismatch: prediction b.zarr (13, 15, 16) vs label b.zarr (14, 15, 16)" in out
    assert run_command(evaluate, argv + ["--out", str(tmp_path / "o2.csv"), "--no-progress", "--chunks", "6"]) == 1
    assert {r["case"] for r in _rows(tmp_path / "o2.csv")} == {"a"}


def test_unwritable_output_writes_nothing(folders, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with caplog.at_level(logging.ERROR):
        assert _evaluate(folders, "zarr", blocker / "out.csv") == 2
    assert "nothing was evaluated" in caplog.text and not (blocker.is_dir())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p / "missing.zarr", "no such file"),
        (lambda p: (p / "empty.zarr").mkdir() or p / "empty.zarr", "cannot open as Zarr"),
        (lambda p: save_zarr(p / "four.zarr", np.zeros((2, 3, 4, 5), np.uint8)), "expected a 2D or 3D label map"),
        (lambda p: save_zarr(p / "float.zarr", np.full((4, 4), 0.5, np.float32)), "not a label map"),
        (lambda p: save_ome_zarr(p / "x.ome.zarr", np.zeros((4, 4, 4), np.uint8)), "level 5 does not exist"),
    ],
)
def test_bad_volumes(tmp_path, caplog, make, match):
    path = make(tmp_path)
    with caplog.at_level(logging.ERROR):
        code = run_command(betti, ["betti", str(path), "--level", "5" if "ome" in str(path) else "0"])
    assert code == 1 and match in caplog.text and str(path) in caplog.text


def test_open_volume_is_lazy_and_names_chunks(tmp_path):
    from monai_topo.io import open_volume
    from monai_topo.io.volumes import LARGE_VOLUME_VOXELS, wants_chunked

    nifti = save_nifti(tmp_path / "v.nii", _target())
    volume = open_volume(nifti, chunks=(4, 5, 6))
    assert volume.chunksize == (4, 5, 6) and (volume.compute() == _target()).all()
    assert not wants_chunked(nifti) and wants_chunked(nifti, chunks=8) and LARGE_VOLUME_VOXELS == 2**27
    with pytest.raises(ValueError, match="chunks must be a positive int"):
        open_volume(nifti, chunks=(4, 0, 1))
    assert os.path.exists(nifti)


def test_betti_on_a_cluster_via_scheduler_address(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    path = save_zarr(tmp_path / "t.zarr", _target())
    assert run_command(betti, ["betti", str(path)]) == 0
    local = capsys.readouterr().out
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        assert run_command(betti, ["betti", str(path), "--scheduler", cluster.scheduler_address]) == 0
    assert capsys.readouterr().out == local


def test_nifti_affine_mismatch_on_the_chunked_path(tmp_path, capsys):
    save_nifti(tmp_path / "pred" / "a.nii.gz", _prediction(), np.diag([2.0, 1.0, 1.0, 1.0]))
    save_nifti(tmp_path / "label" / "a.nii.gz", _target())
    argv = ["evaluate", "--pred", str(tmp_path / "pred"), "--label", str(tmp_path / "label"), "--chunks", "8"]
    assert run_command(evaluate, argv + ["--out", str(tmp_path / "o.csv"), "--no-progress"]) == 1
    assert "a: affine mismatch between prediction a.nii.gz and label a.nii.gz" in capsys.readouterr().out

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from monai_topo.cli import betti
from tests.cli.cli_helpers import run_command, save_nifti


def _volume() -> np.ndarray:
    """Label 1: a solid torus (1, 1, 0); label 2: a ball with a cavity (1, 0, 1); label 3: two corner voxels."""
    v = np.zeros((20, 12, 9), np.uint8)
    v[1:8, 1:8, 2:5] = 1
    v[3:6, 3:6, 2:5] = 0
    v[10:17, 2:9, 1:8] = 2
    v[13, 5, 4] = 0
    v[18, 1, 1] = v[19, 2, 2] = 3
    return v


def _table(text: str) -> dict[int, list[int]]:
    lines = text.strip().splitlines()
    header = lines.index(next(line for line in lines if line.split()[:2] == ["label", "voxels"]))
    return {int(line.split()[0]): [int(x) for x in line.split()[1:]] for line in lines[header + 1 :]}


# [argv options, expected {label: [voxels, b0, b1, b2, chi]}]
CASES = [
    ([], {1: [120, 1, 1, 0, 0], 2: [342, 1, 0, 1, 2], 3: [2, 1, 0, 0, 1]}),
    (["--connectivity", "26"], {1: [120, 1, 1, 0, 0], 2: [342, 1, 0, 1, 2], 3: [2, 1, 0, 0, 1]}),
    (["--connectivity", "6"], {1: [120, 1, 1, 0, 0], 2: [342, 1, 0, 1, 2], 3: [2, 2, 0, 0, 2]}),
    (["--label", "2"], {2: [342, 1, 0, 1, 2]}),
    (["--label", "3", "--label", "1", "--connectivity", "6"], {3: [2, 2, 0, 0, 2], 1: [120, 1, 1, 0, 0]}),
]


@pytest.mark.parametrize("options, expected", CASES)
def test_betti_table(tmp_path, capsys, options, expected):
    path = save_nifti(tmp_path / "seg.nii.gz", _volume())
    assert run_command(betti, ["betti", str(path), *options]) == 0
    out = capsys.readouterr().out
    assert "seg.nii.gz" in out and "3D" in out
    assert _table(out) == expected


def test_2d_file_and_missing_label(tmp_path, capsys, caplog):
    ring = np.ones((7, 7, 1), np.int16)  # H x W x 1: read as 2D
    ring[3, 3] = 0
    path = save_nifti(tmp_path / "ring.nii", ring)
    with caplog.at_level(logging.WARNING):
        assert run_command(betti, ["betti", str(path), "--label", "1", "--label", "4"]) == 0
    out = capsys.readouterr().out
    assert "2D" in out and "b2" not in out
    assert _table(out) == {1: [48, 1, 1, 0], 4: [0, 0, 0, 0]}
    assert "label 4 does not occur" in caplog.text


def test_empty_image(tmp_path, capsys):
    path = save_nifti(tmp_path / "empty.nii.gz", np.zeros((5, 5, 5), np.uint8))
    assert run_command(betti, ["betti", str(path)]) == 0
    assert "no foreground labels" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),  # missing file
        (b"\x1f\x8b\x08\x00 not really gzip", "cannot read"),  # corrupt
    ],
)
def test_unreadable_file(tmp_path, caplog, content, message):
    path = tmp_path / "broken.nii.gz"
    if content is not None:
        path.write_bytes(content)
    with caplog.at_level(logging.ERROR):
        assert run_command(betti, ["betti", str(path)]) == 1
    assert "broken.nii.gz" in caplog.text and message in caplog.text


def test_ill_opts(tmp_path, caplog):
    path = save_nifti(tmp_path / "seg.nii.gz", _volume())
    with caplog.at_level(logging.ERROR):
        assert run_command(betti, ["betti", str(path), "--connectivity", "8"]) == 1  # 2D connectivity, 3D image
    assert "not supported in 3D" in caplog.text
    with pytest.raises(SystemExit):
        run_command(betti, ["betti", str(path), "--connectivity", "5"])
    soft = save_nifti(tmp_path / "soft.nii.gz", np.full((4, 4, 4), 0.5, np.float32))
    assert run_command(betti, ["betti", str(soft)]) == 1
    assert "not a label map" in caplog.text
    four_d = save_nifti(tmp_path / "4d.nii.gz", np.zeros((4, 4, 4, 2), np.uint8))
    assert run_command(betti, ["betti", str(four_d)]) == 1
    assert "2D or 3D" in caplog.text


@pytest.mark.skipif(
    importlib.util.find_spec("monai_topo.cli.make_dataset") is None, reason="make_dataset not there yet"
)
def test_through_main(tmp_path, capsys):
    from monai_topo.cli import main

    path = save_nifti(tmp_path / "seg.nii.gz", _volume())
    assert main(["betti", str(path), "--label", "2"]) == 0
    assert _table(capsys.readouterr().out) == {2: [342, 1, 0, 1, 2]}

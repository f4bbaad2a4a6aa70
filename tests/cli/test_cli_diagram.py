"""monai-topo diagram: the picture, the matchings drawn as segments, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.image import imread

from monai_topo.cli import diagram
from monai_topo.visualize import plot_persistence_diagram
from tests.cli.cli_helpers import run_command, save_nifti


def _ring_probabilities() -> np.ndarray:
    """A ring of high probability whose hole is weak (0.4), plus a faint blob elsewhere."""
    p = np.full((16, 16), 0.05)
    p[3:11, 3:11] = 0.9
    p[5:9, 5:9] = 0.4
    p[13, 13] = 0.3
    return p


def _ring_label() -> np.ndarray:
    m = np.zeros((16, 16), np.uint8)
    m[3:11, 3:11] = 1
    m[5:9, 5:9] = 0
    return m


def test_hu_segments_go_to_the_corner():
    fig = plot_persistence_diagram(_ring_probabilities(), _ring_label() > 0, matchings=("hu",))
    h1 = fig.axes[1]
    segments = [seg for c in h1.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    ends = {tuple(np.round(seg[-1], 6)) for seg in segments}
    assert (1.0, 0.0) in ends  # the ring's loop (0.9, 0.4) is matched to the label's loop
    h0 = fig.axes[0]
    segments0 = [seg for c in h0.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    to_diagonal = [seg for seg in segments0 if np.isclose(seg[-1][0], seg[-1][1])]
    assert any(np.allclose(seg[0], (0.3, 0.05)) for seg in to_diagonal)  # the faint blob goes to the diagonal


def test_diagram_alone_and_both_matchings():
    assert len(plot_persistence_diagram(_ring_probabilities()).axes) == 2
    assert len(plot_persistence_diagram(_ring_probabilities(), _ring_label() > 0).axes) == 4
    with pytest.raises(ValueError, match="matchings"):
        plot_persistence_diagram(_ring_probabilities(), _ring_label() > 0, matchings=("betti",))


def test_cli_writes_png(tmp_path):
    prob = save_nifti(tmp_path / "prob.nii.gz", _ring_probabilities()[..., None].astype(np.float32))
    label = save_nifti(tmp_path / "label.nii.gz", _ring_label()[..., None])
    out = tmp_path / "pics" / "diagram.png"
    assert run_command(diagram, ["diagram", str(prob), "--label", str(label), "--out", str(out)]) == 0
    picture = imread(str(out))
    assert picture.shape[0] > 400 and picture.shape[1] > 400
    assert run_command(diagram, ["diagram", str(prob), "--out", str(out), "--matching", "spatial"]) == 0


@pytest.mark.parametrize("problem", ["missing", "shape", "nan", "connectivity"])
def test_cli_bad_input_names_the_file(tmp_path, caplog, problem):
    values = _ring_probabilities()
    if problem == "nan":
        values[0, 0] = np.nan
    prob = save_nifti(tmp_path / "prob.nii.gz", values.astype(np.float32))
    label = save_nifti(tmp_path / "label.nii.gz", _ring_label()[:12] if problem == "shape" else _ring_label())
    argv = ["diagram", str(prob if problem != "missing" else tmp_path / "nope.nii.gz"), "--label", str(label)]
    argv += ["--out", str(tmp_path / "d.png")] + (["--connectivity", "6"] if problem == "connectivity" else [])
    with caplog.at_level(logging.ERROR):
        assert run_command(diagram, argv) == 1
    expected = {"missing": "nope.nii.gz", "shape": "shape mismatch", "nan": "prob.nii.gz", "connectivity": "6"}
    assert expected[problem] in caplog.text


def test_cli_out_is_a_folder(tmp_path):
    prob = save_nifti(tmp_path / "prob.nii.gz", _ring_probabilities().astype(np.float32))
    assert run_command(diagram, ["diagram", str(prob), "--out", str(tmp_path)]) == 2

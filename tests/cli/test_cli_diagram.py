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


def _legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_legend_names_and_counts_the_segments():
    """Issue 18.12: each panel's legend says what the red and grey segments are, with their numbers."""
    fig = plot_persistence_diagram(_ring_probabilities(), _ring_label() > 0, max_diagonal_segments=1)
    hu_h0, hu_h1, spatial_h0, spatial_h1 = fig.axes
    assert "matched -> (1, 0): 1" in _legend(hu_h1)  # the ring's loop goes to the corner
    assert "matched -> (1, 0): 1" in _legend(hu_h0) and "unmatched -> diagonal: 1" in _legend(hu_h0)
    assert "matched -> target point: 1" in _legend(spatial_h1)
    h0 = _legend(spatial_h0)
    assert any(t.startswith("unmatched -> diagonal: ") for t in h0), h0
    segments = [c for c in spatial_h0.collections if isinstance(c, LineCollection)]
    assert {c.get_label().split(":")[0] for c in segments} == {"matched -> target point", "unmatched -> diagonal"}
    # of many segments to the diagonal only the longest are drawn, and the legend says so
    noisy = np.random.default_rng(0).random((12, 12)) * 0.4 + _ring_probabilities()[2:14, 2:14] * 0.6
    text = _legend(plot_persistence_diagram(noisy, noisy > 0.5, max_diagonal_segments=3, matchings=("hu",)).axes[0])
    assert any(t.startswith("unmatched -> diagonal: ") and t.endswith("(3 longest drawn)") for t in text), text


def test_label_map_warns_and_values_outside_0_1_are_refused():
    with pytest.warns(UserWarning, match="only 0 and 1.*save_probabilities"):
        plot_persistence_diagram(_ring_label().astype(np.float64))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*label map.*save_probabilities"):
        plot_persistence_diagram(_ring_label() * 2.0)
    with pytest.raises(ValueError, match=r"\[-3, 2\].*logits"):
        plot_persistence_diagram(np.linspace(-3, 2, 64).reshape(8, 8))
    with pytest.raises(ValueError, match="target must be binary or soft"):
        plot_persistence_diagram(_ring_probabilities(), _ring_label() * 3)
    rounded = _ring_probabilities()
    rounded[0, 0] = 1 + 1e-9  # stored rounding: clipped, no error
    assert len(plot_persistence_diagram(rounded).axes) == 2


def test_cli_label_map_warns_and_out_of_range_is_an_error(tmp_path, caplog):
    label = save_nifti(tmp_path / "label.nii.gz", _ring_label())
    with caplog.at_level(logging.WARNING):
        assert run_command(diagram, ["diagram", str(label), "--out", str(tmp_path / "d.png")]) == 0
    assert "label.nii.gz" in caplog.text and "only 0 and 1" in caplog.text and "_prob.nii.gz" in caplog.text
    caplog.clear()
    labels = save_nifti(tmp_path / "labels.nii.gz", (_ring_label() * 2).astype(np.uint8))
    with caplog.at_level(logging.ERROR):
        assert run_command(diagram, ["diagram", str(labels), "--out", str(tmp_path / "e.png")]) == 1
    assert "labels.nii.gz" in caplog.text and "[0, 2]" in caplog.text
    assert not (tmp_path / "e.png").exists()


def test_help_says_where_the_probability_map_comes_from(capsys):
    from monai_topo.cli import main

    with pytest.raises(SystemExit):
        main(["diagram", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "save_probabilities" in text and "<case>_prob.nii.gz" in text and "[0, 1]" in text

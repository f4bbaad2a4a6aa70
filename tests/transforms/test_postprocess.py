"""TopologyPostprocess(d): MONAI's RemoveSmallObjects / KeepLargestConnectedComponent / FillHoles with our
connectivity, checked by exact Betti numbers and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.topology import betti_numbers
from monai_topo.transforms import TopologyPostprocess, TopologyPostprocessd
from monai_topo.transforms.postprocess import check_postprocess_options


def _scene() -> torch.Tensor:
    """A hollow cube (one cavity), a 3^3 cube, one voxel in a corner, and two diagonal voxels."""
    x = torch.zeros(1, 14, 14, 14, dtype=torch.uint8)
    x[0, 1:6, 1:6, 1:6] = 1
    x[0, 2:5, 2:5, 2:5] = 0
    x[0, 8:11, 8:11, 8:11] = 1
    x[0, 0, 13, 0] = 1
    x[0, 12, 1, 1] = x[0, 13, 2, 2] = 1  # 26-connected, not 6-connected
    return x


@pytest.mark.parametrize(
    "options, connectivity, expected_betti, expected_sum",
    [
        ({}, None, [4, 0, 1], 98 + 27 + 1 + 2),
        ({"min_size": 1}, None, [3, 0, 1], 98 + 27 + 2),  # the single voxel goes, the diagonal pair stays
        ({"min_size": 1}, 6, [2, 0, 1], 98 + 27),  # 6-connected: the pair is two single voxels
        ({"min_size": 27}, None, [1, 0, 1], 98),
        ({"keep_largest": True}, None, [1, 0, 1], 98),
        ({"fill_holes": True}, None, [4, 0, 0], 125 + 27 + 1 + 2),
        ({"keep_largest": True, "fill_holes": True}, None, [1, 0, 0], 125),
    ],
)
def test_postprocess(options, connectivity, expected_betti, expected_sum):
    x = _scene()
    before = x.clone()
    y = TopologyPostprocess(**options, connectivity=connectivity)(x)
    assert torch.equal(x, before)  # the input is never written (MONAI's KeepLargest / FillHoles work in place)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert betti_numbers(y[0].numpy() > 0, connectivity=connectivity).tolist() == expected_betti
    assert int(y.sum()) == expected_sum


def test_numpy_2d_and_labels_kept():
    x = np.zeros((1, 9, 9), np.int64)
    x[0, 1:4, 1:4] = 2
    x[0, 2, 2] = 0  # a ring of label 2 with a hole
    x[0, 6:8, 6:8] = 1
    x[0, 8, 0] = 1
    y = TopologyPostprocess(min_size=1, fill_holes=True)(x)
    assert isinstance(y, np.ndarray)
    assert y[0, 2, 2] == 2 and y[0, 8, 0] == 0 and int((y == 1).sum()) == 4


def test_dictionary_version_and_noop():
    data = {"pred": _scene(), "label": _scene()}
    out = TopologyPostprocessd("pred", keep_largest=True)(data)
    assert int(out["pred"].sum()) == 98 and torch.equal(out["label"], _scene())
    assert TopologyPostprocess()(data["pred"]) is data["pred"]  # nothing asked: unchanged


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_size": -1}, "non-negative"),
        ({"min_size": 2.5}, "non-negative"),
        ({"keep_largest": "yes"}, "true or false"),
        ({"min_sizes": 3}, "unknown post-processing option"),
        ({"max_gap": -2}, "max_gap"),
        ({"max_gap": True}, "max_gap"),
        ({"max_gap": "6"}, "max_gap"),
        ({"max_gap": float("inf")}, "max_gap"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        check_postprocess_options(options)


def test_bad_input_and_auto():
    with pytest.raises(ValueError, match="1 H W"):
        TopologyPostprocess(min_size=3)(torch.zeros(2, 4, 4, 4))
    with pytest.raises(ValueError, match="validation"):
        TopologyPostprocess(min_size="auto")


def test_max_gap_bridges_before_the_small_pieces_go():
    x = torch.zeros(1, 3, 3, 24, dtype=torch.uint8)
    x[0, 1, 1, :10] = 1
    x[0, 1, 1, 12:16] = 1  # a 4-voxel fragment past a break of 2 voxels (3 apart)
    x[0, 1, 1, 21] = 1  # a lone voxel 6 past the fragment
    removed = TopologyPostprocess(min_size=4)(x)
    assert int(removed.sum()) == 10  # the fragment is removed with the island
    bridged = TopologyPostprocess(max_gap=3, min_size=4)(x)
    assert int(bridged.sum()) == 16 and bridged[0, 1, 1, 21] == 0  # the fragment is joined, the island is removed
    assert betti_numbers(bridged[0].numpy() > 0).tolist() == [1, 0, 0]
    assert TopologyPostprocess(max_gap=6)(x)[0, 1, 1, :22].all()  # the island too, 6 apart
    assert int(x.sum()) == 15  # the input is never written


def test_max_gap_dictionary_and_metatensor():
    from monai.data import MetaTensor

    x = MetaTensor(torch.zeros(1, 8, 8), meta={"filename_or_obj": "case.nii.gz"})
    x[0, 2, :3] = 1
    x[0, 2, 5:] = 1
    out = TopologyPostprocessd("pred", max_gap=3)({"pred": x})["pred"]
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "case.nii.gz"
    assert out[0, 2].tolist() == [1.0] * 8

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.metrics import CenterlineDiceMetric, centerline_dice, compute_centerline_dice
from monai_topo.metrics.centerline_dice import skeleton
from tests.error_messages import names_an_option
from tests.metrics.metric_shapes import batch, item, ring_2d, tube_2d, tube_3d


def _broken(mask: np.ndarray, index: int) -> np.ndarray:
    out = mask.copy()
    out[..., index] = False
    return out


def _line_3d() -> np.ndarray:
    m = np.zeros((5, 5, 9), bool)
    m[2, 2, 1:8] = True  # a one-voxel line is its own skeleton
    return m


EMPTY_2D = np.zeros((7, 13), bool)
SHIFTED = np.roll(tube_2d(), 4, axis=0)  # disjoint from tube_2d

# [params, inputs (y_pred, y), expected (B, C)]
CASES = [
    ({}, (batch(tube_2d()), batch(tube_2d())), [[1.0]]),
    ({}, (batch(ring_2d()), batch(ring_2d())), [[1.0]]),
    ({}, (batch(tube_3d()), batch(tube_3d())), [[1.0]]),
    # skeleton of the target tube: 10 pixels (9 on the centre row, 1 end pixel), one is cut -> tsens 9/10, tprec 1
    ({}, (batch(_broken(tube_2d(), 6)), batch(tube_2d())), [[18 / 19]]),
    # 3D tube: skeleton of 8 voxels on the axis, one cut -> tsens 7/8
    ({}, (batch(_broken(tube_3d(), 6)), batch(tube_3d())), [[2 * (7 / 8) / (1 + 7 / 8)]]),
    ({}, (batch(_broken(_line_3d(), 4)), batch(_line_3d())), [[12 / 13]]),
    # the same with the roles swapped: tprec 9/10, tsens 1
    ({}, (batch(tube_2d()), batch(_broken(tube_2d(), 6))), [[18 / 19]]),
    # empty cases
    ({}, (batch(EMPTY_2D), batch(EMPTY_2D)), [[1.0]]),
    ({}, (batch(tube_2d()), batch(EMPTY_2D)), [[0.0]]),
    ({}, (batch(EMPTY_2D), batch(tube_2d())), [[0.0]]),
    ({}, (batch(SHIFTED), batch(tube_2d())), [[0.0]]),  # skeletons miss each other completely
    ({"ignore_empty": True}, (batch(EMPTY_2D), batch(EMPTY_2D)), [[np.nan]]),
    ({"ignore_empty": True}, (batch(tube_2d()), batch(EMPTY_2D)), [[np.nan]]),
    ({"ignore_empty": True}, (batch(EMPTY_2D), batch(tube_2d())), [[0.0]]),
    # a 2x2x2 cube thins away completely: the mask serves as its own skeleton
    ({}, (batch(np.pad(np.ones((2, 2, 2), bool), 2)), batch(np.pad(np.ones((2, 2, 2), bool), 2))), [[1.0]]),
    # batches and channels
    ({}, (batch(tube_2d(), EMPTY_2D), batch(tube_2d(), tube_2d())), [[1.0], [0.0]]),
    ({"include_background": False}, (item(~tube_2d(), tube_2d()), item(~tube_2d(), tube_2d())), [[1.0]]),
]


@pytest.mark.parametrize("params, inputs, expected", CASES)
def test_value(params, inputs, expected):
    y_pred, y = inputs
    result = CenterlineDiceMetric(**params, reduction="none")(y_pred, y)
    assert result.dtype == torch.float32 and result.shape == (y_pred.shape[0], len(expected[0]))
    np.testing.assert_allclose(result.numpy(), np.array(expected, dtype=np.float32), rtol=1e-6)
    np.testing.assert_allclose(compute_centerline_dice(y_pred, y, **params).numpy(), expected, rtol=1e-6)


def test_skeleton_properties():
    for mask in (tube_2d(), tube_3d(), ring_2d()):
        skel = skeleton(mask)
        assert skel.dtype == bool and skel.any() and not (skel & ~mask).any()
    assert not skeleton(np.zeros((4, 4), bool)).any()


def test_symmetric_in_its_arguments():
    rng = np.random.default_rng(1)
    a = rng.random((16, 16)) > 0.4
    b = rng.random((16, 16)) > 0.4
    assert centerline_dice(a, b) == pytest.approx(centerline_dice(b, a))


def test_aggregate():
    metric = CenterlineDiceMetric(ignore_empty=True, get_not_nans=True, reduction="mean_batch")
    metric(batch(tube_2d(), EMPTY_2D), batch(tube_2d(), EMPTY_2D))
    metric(batch(SHIFTED), batch(tube_2d()))
    value, not_nans = metric.aggregate()
    assert value.tolist() == [0.5] and not_nans.tolist() == [2.0]


@pytest.mark.parametrize(
    "y_pred, y, match",
    [
        (torch.zeros(1, 7, 13), torch.zeros(1, 7, 13), "B C H W"),
        (torch.zeros(1, 1, 7, 13), torch.zeros(1, 1, 13, 7), "same shapes"),
        (torch.zeros(1, 1, 7, 13), None, "ground truth"),
    ],
)
def test_ill_shape(y_pred, y, match):
    with pytest.raises(ValueError, match=match):
        CenterlineDiceMetric()(y_pred, y)


@pytest.mark.parametrize("params", [{"reduction": "max"}, {"num_workers": -2}])
def test_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        CenterlineDiceMetric(**params)

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.metrics import EulerCharacteristicErrorMetric, compute_euler_characteristic_error
from tests.error_messages import names_an_option
from tests.metrics.metric_shapes import (
    ball_3d,
    ball_with_cavity_3d,
    batch,
    box_3d,
    corner_pair_3d,
    diagonal_pair_2d,
    disk_2d,
    item,
    ring_2d,
    single_square_2d,
    solid_torus_3d,
    two_balls_3d,
    two_squares_2d,
)

# [params, inputs (y_pred, y), expected (B, C)]; chi = b0 - b1 + b2
CASES = [
    ({}, (batch(ring_2d()), batch(disk_2d())), [[1.0]]),  # chi 0 vs 1
    ({}, (batch(two_squares_2d()), batch(disk_2d())), [[1.0]]),  # chi 2 vs 1
    ({}, (batch(two_squares_2d()), batch(ring_2d())), [[2.0]]),  # chi 2 vs 0
    ({}, (batch(solid_torus_3d()), batch(box_3d())), [[1.0]]),  # chi 0 vs 1
    ({}, (batch(ball_with_cavity_3d()), batch(ball_3d())), [[1.0]]),  # chi 2 vs 1
    ({}, (batch(two_balls_3d()), batch(ball_with_cavity_3d())), [[0.0]]),  # chi 2 vs 2: the errors cancel
    ({"connectivity": 8}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[0.0]]),
    ({"connectivity": 4}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[1.0]]),
    ({"connectivity": 26}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[0.0]]),
    ({"connectivity": 6}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[1.0]]),
    ({}, (batch(ring_2d(), disk_2d()), batch(disk_2d(), disk_2d())), [[1.0], [0.0]]),
    ({"include_background": False}, (item(ring_2d(), ring_2d()), item(disk_2d(), disk_2d())), [[1.0]]),
    ({}, (batch(ring_2d()), batch(np.zeros((9, 9), bool))), [[0.0]]),  # chi of a ring is 0, like empty
    ({"ignore_empty": True}, (batch(ring_2d()), batch(np.zeros((9, 9), bool))), [[np.nan]]),
]


@pytest.mark.parametrize("params, inputs, expected", CASES)
def test_value(params, inputs, expected):
    y_pred, y = inputs
    result = EulerCharacteristicErrorMetric(**params)(y_pred, y)
    assert result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), np.array(expected, dtype=np.float32))
    np.testing.assert_allclose(compute_euler_characteristic_error(y_pred, y, **params).numpy(), expected)


def test_aggregate_with_nans():
    metric = EulerCharacteristicErrorMetric(ignore_empty=True, get_not_nans=True)
    empty = np.zeros((9, 9), bool)
    metric(batch(ring_2d(), two_squares_2d(), ring_2d()), batch(disk_2d(), ring_2d(), empty))
    value, not_nans = metric.aggregate()
    assert value.item() == pytest.approx(1.5) and not_nans.item() == 2
    value, not_nans = metric.aggregate("sum")
    assert value.item() == pytest.approx(3.0) and not_nans.item() == 2
    raw, mask = metric.aggregate("none")
    assert torch.isnan(raw[2, 0]) and mask[:, 0].tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "y_pred, y, match",
    [
        (torch.zeros(9, 9), torch.zeros(9, 9), "B C H W"),
        (torch.zeros(1, 1, 9, 9), torch.zeros(1, 2, 9, 9), "same shapes"),
        (torch.zeros(1, 1, 9, 9), None, "ground truth"),
    ],
)
def test_ill_shape(y_pred, y, match):
    with pytest.raises(ValueError, match=match):
        EulerCharacteristicErrorMetric()(y_pred, y)


@pytest.mark.parametrize("params", [{"connectivity": 18}, {"reduction": "avg"}, {"num_workers": 1.5}])
def test_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        EulerCharacteristicErrorMetric(**params)


def test_ill_connectivity_for_dimension():
    with pytest.raises(ValueError, match="not supported in 3D"):
        compute_euler_characteristic_error(batch(ball_3d()), batch(ball_3d()), connectivity=4)

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_topo.metrics import (
    BettiErrorMetric,
    compute_betti_error,
    compute_betti_error_per_dim,
    compute_euler_characteristic_error,
)
from monai_topo.metrics.betti_error import compute_betti_numbers
from monai_topo.topology import betti_numbers
from monai_topo.topology.betti import patch_slices
from tests.error_messages import names_an_option
from tests.metrics.metric_shapes import (
    ILL_SHAPES,
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

# [params, inputs (y_pred, y), expected (B, C)]
CASES = [
    ({}, (batch(ring_2d()), batch(disk_2d())), [[1.0]]),
    ({"dims": 1}, (batch(ring_2d()), batch(disk_2d())), [[1.0]]),
    ({"dims": 0}, (batch(ring_2d()), batch(disk_2d())), [[0.0]]),
    ({}, (batch(two_squares_2d()), batch(disk_2d())), [[1.0]]),
    ({"dims": 0}, (batch(disk_2d()), batch(two_squares_2d())), [[1.0]]),
    ({}, (batch(ring_2d()), batch(two_squares_2d())), [[2.0]]),
    ({}, (batch(solid_torus_3d()), batch(box_3d())), [[1.0]]),
    ({"dims": 1}, (batch(solid_torus_3d()), batch(box_3d())), [[1.0]]),
    ({"dims": 2}, (batch(solid_torus_3d()), batch(box_3d())), [[0.0]]),
    ({"dims": 2}, (batch(ball_with_cavity_3d()), batch(ball_3d())), [[1.0]]),
    ({"dims": 1}, (batch(ball_with_cavity_3d()), batch(ball_3d())), [[0.0]]),
    ({}, (batch(two_balls_3d()), batch(ball_with_cavity_3d())), [[2.0]]),
    # both connectivities: the diagonal pair is one component (8/26) or two (4/6)
    ({"connectivity": None}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[0.0]]),
    ({"connectivity": 8}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[0.0]]),
    ({"connectivity": 4}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[1.0]]),
    ({"connectivity": 26}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[0.0]]),
    ({"connectivity": 6}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[1.0]]),
    # batch of two, identical and different
    ({}, (batch(ring_2d(), ring_2d()), batch(ring_2d(), disk_2d())), [[0.0], [1.0]]),
    # channels, with and without background
    ({}, (item(disk_2d(), ring_2d()), item(disk_2d(), disk_2d())), [[0.0, 1.0]]),
    ({"include_background": False}, (item(disk_2d(), ring_2d()), item(disk_2d(), disk_2d())), [[1.0]]),
    # empty target: defined (every predicted component is an error) unless ignore_empty
    ({}, (batch(two_squares_2d()), batch(np.zeros((9, 9), bool))), [[2.0]]),
    ({"ignore_empty": True}, (batch(two_squares_2d()), batch(np.zeros((9, 9), bool))), [[np.nan]]),
    ({}, (batch(np.zeros((9, 9), bool)), batch(np.zeros((9, 9), bool))), [[0.0]]),
]


def _blob(shape, where):
    m = np.zeros(shape, bool)
    m[where] = True
    return m


# Hu et al.'s protocol: equal counts overall, but in different places
PATCH_PRED = _blob((8, 8), (slice(5, 7), slice(5, 7)))
PATCH_TRUE = _blob((8, 8), (slice(1, 3), slice(1, 3)))
CUBE = _blob((10, 10, 10), (slice(1, 9),) * 3)
CUBE_CAVITY = CUBE.copy()
CUBE_CAVITY[2, 2, 2] = False  # enclosed in the first of the 8 tiles of size 5
PATCH_CASES = [
    ({}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[0.0]]),
    ({"patch_size": 4}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[0.5]]),  # 2 of 4 tiles wrong by one component
    ({"patch_size": (4, 8)}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[1.0]]),
    ({"patch_size": 8}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[0.0]]),  # one patch = the whole image
    ({"patch_size": 32}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[0.0]]),  # clipped to the image
    ({"patch_size": 4, "dim": 1}, (batch(PATCH_PRED), batch(PATCH_TRUE)), [[0.0]]),
    # 3D tiles: a cavity in one of 8 octants
    ({"patch_size": 5, "dim": 2}, (batch(CUBE_CAVITY), batch(CUBE)), [[0.125]]),
    ({"patch_size": 5, "dim": 0}, (batch(CUBE_CAVITY), batch(CUBE)), [[0.0]]),
]


@pytest.mark.parametrize("params, inputs, expected", CASES + PATCH_CASES)
def test_value(params, inputs, expected):
    y_pred, y = inputs
    metric = BettiErrorMetric(**params, reduction="none")
    result = metric(y_pred, y)
    assert result.shape == y_pred.shape[:1] + (len(expected[0]),)
    assert result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), np.array(expected, dtype=np.float32))
    functional = compute_betti_error(y_pred, y, **params)
    np.testing.assert_allclose(functional.numpy(), np.array(expected, dtype=np.float32))


def test_random_patches_match_manual_windows():
    rng = np.random.default_rng(3)
    pred = rng.random((2, 1, 20, 20)) > 0.5
    true = rng.random((2, 1, 20, 20)) > 0.5
    result = compute_betti_error(torch.as_tensor(pred), torch.as_tensor(true), patch_size=7, num_patches=5, seed=11)
    windows = patch_slices((20, 20), 7, 5, 11)
    for b in range(2):
        expected = np.mean([np.abs(betti_numbers(pred[b, 0][w]) - betti_numbers(true[b, 0][w])).sum() for w in windows])
        assert result[b, 0].item() == pytest.approx(expected)
    again = compute_betti_error(torch.as_tensor(pred), torch.as_tensor(true), patch_size=7, num_patches=5, seed=11)
    assert torch.equal(result, again)


def test_per_dim_and_numbers():
    y_pred, y = (
        batch(solid_torus_3d()[:, :, :5], two_balls_3d()[:, :, 2:7]),
        batch(ball_with_cavity_3d()[:, :, 2:7], ball_3d()[:, :, 2:7]),
    )
    per_dim = compute_betti_error_per_dim(y_pred, y)
    np.testing.assert_array_equal(per_dim.numpy(), [[[0, 1, 1]], [[1, 0, 0]]])
    pred_b, true_b = compute_betti_numbers(y_pred, y)
    assert pred_b.dtype == torch.int64
    np.testing.assert_array_equal(pred_b.numpy(), [[[1, 1, 0]], [[2, 0, 0]]])
    np.testing.assert_array_equal(true_b.numpy(), [[[1, 0, 1]], [[1, 0, 0]]])
    for k in range(3):
        np.testing.assert_array_equal(compute_betti_error(y_pred, y, dims=k).numpy(), per_dim[..., k].numpy())


def test_list_input_and_accumulation():
    metric = BettiErrorMetric(get_not_nans=True)
    metric([torch.as_tensor(ring_2d()[None]).float()], [torch.as_tensor(disk_2d()[None]).float()])
    metric(batch(two_squares_2d(), disk_2d()), batch(disk_2d(), disk_2d()))
    assert metric.get_buffer().shape == (3, 1)
    value, not_nans = metric.aggregate()
    assert value.item() == pytest.approx(2 / 3)
    assert not_nans.item() == 3
    metric.reset()
    with pytest.raises(ValueError, match="call the metric on some data first"):
        metric.aggregate()


def test_numpy_input_and_threads():
    rng = np.random.default_rng(0)
    pred = rng.random((3, 2, 12, 12, 6)) > 0.6
    true = rng.random((3, 2, 12, 12, 6)) > 0.6
    serial = compute_betti_error(pred, true, num_workers=0)
    threaded = compute_betti_error(pred, true, num_workers=2)
    assert torch.equal(serial, threaded)
    assert serial.shape == (3, 2)


def test_non_binary_warns_and_thresholds():
    soft = torch.as_tensor(ring_2d()[None, None] * 0.8 + 0.1, dtype=torch.float32)
    with pytest.warns(UserWarning, match="binarized"):
        result = compute_betti_error(soft, batch(disk_2d()))
    assert result.item() == 1.0


def test_single_channel_without_background_warns():
    with pytest.warns(UserWarning, match="single channel"):
        result = compute_betti_error(batch(ring_2d()), batch(disk_2d()), include_background=False)
    assert result.shape == (1, 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_result_on_input_device():
    result = BettiErrorMetric()(batch(ring_2d()).cuda(), batch(disk_2d()).cuda())
    assert result.device.type == "cuda"
    assert result.item() == 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(7, 8), (5, 6, 4)]), st.sampled_from([None, "V"]))
def test_euler_error_bounded_by_betti_error(seed, shape, construction):
    rng = np.random.default_rng(seed)
    pred = torch.as_tensor(rng.random((1, 1) + shape) > 0.5)
    true = torch.as_tensor(rng.random((1, 1) + shape) > 0.5)
    connectivity = None if construction is None else {2: 4, 3: 6}[len(shape)]
    per_dim = compute_betti_error_per_dim(pred, true, connectivity=connectivity)
    total = compute_betti_error(pred, true, connectivity=connectivity)
    assert total.item() == pytest.approx(per_dim.sum().item())
    assert compute_euler_characteristic_error(pred, true, connectivity=connectivity).item() <= total.item()


@pytest.mark.parametrize("y_pred, y, match", ILL_SHAPES)
def test_ill_shape(y_pred, y, match):
    with pytest.raises(ValueError, match=match):
        BettiErrorMetric()(y_pred, y)


@pytest.mark.parametrize(
    "params",
    [
        {"dims": 3},
        {"dims": -1},
        {"dims": 1.0},
        {"connectivity": 5},
        {"connectivity": True},
        {"patch_size": 0},
        {"patch_size": (4, 0)},
        {"num_patches": 3},  # needs patch_size
        {"patch_size": 4, "num_patches": 0},
        {"reduction": "median"},
        {"num_workers": -1},
    ],
)
def test_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        BettiErrorMetric(**params)


@pytest.mark.parametrize(
    "params, y_pred",
    [
        ({"dims": 2}, batch(ring_2d())),  # no b2 in 2D
        ({"connectivity": 26}, batch(ring_2d())),  # a 3D connectivity on 2D images
        ({"connectivity": 8}, batch(ball_3d())),
        ({"patch_size": (4, 4, 4)}, batch(ring_2d())),  # patch rank mismatch
    ],
)
def test_ill_opts_for_input(params, y_pred):
    with pytest.raises(ValueError, match=names_an_option(params)):
        compute_betti_error(y_pred, y_pred.clone(), **params)


def test_ill_type():
    with pytest.raises(TypeError, match="must be a torch.Tensor or a numpy array"):
        compute_betti_error([[1, 0]], [[1, 0]])

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_topo.metrics import (
    BettiMatchingErrorMetric,
    compute_betti_error_per_dim,
    compute_betti_matching_error,
    compute_betti_matching_error_per_dim,
)
from monai_topo.topology import betti_matching_error
from tests.error_messages import names_an_option
from tests.topology.test_betti_matching import REFERENCE, reference_matching
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


def _mask(shape, *boxes, holes=()):
    """A mask of the given boxes (tuples of slices) with the ``holes`` boxes removed."""
    m = np.zeros(shape, bool)
    for box in boxes:
        m[box] = True
    for box in holes:
        m[box] = False
    return m


# Betti error 0, Betti matching error not: the same features in other places. In each pair the union of the two
# masks (the comparison image's foreground) lacks the moved feature, so neither side's copy has an image to match.
S = slice
# two squares, the hole in the first (pred) or the second (target): b = (2, 1) both, the loops unmatched
LOOP_HERE = _mask((12, 12), (S(1, 5), S(1, 5)), (S(7, 11), S(7, 11)), holes=[(S(2, 4), S(2, 4))])
LOOP_THERE = _mask((12, 12), (S(1, 5), S(1, 5)), (S(7, 11), S(7, 11)), holes=[(S(8, 10), S(8, 10))])
# one square here, the same square there: b = (1, 0) both, the components unmatched
SQUARE_HERE = _mask((8, 8), (S(1, 3), S(1, 3)))
SQUARE_THERE = _mask((8, 8), (S(5, 7), S(5, 7)))
# 3D: a cube replaced by a cube elsewhere; a tunnel through one of two bars or the other; a cavity moved in a cube
CUBE_HERE = _mask((10, 10, 10), (S(1, 4), S(1, 4), S(1, 4)))
CUBE_THERE = _mask((10, 10, 10), (S(6, 9), S(6, 9), S(6, 9)))
BARS = [(S(1, 6), S(1, 6), S(1, 9)), (S(1, 6), S(7, 12), S(1, 9))]
TUNNEL_HERE = _mask((7, 13, 10), *BARS, holes=[(S(2, 5), S(2, 5), S(1, 9))])  # b1 = 1 in the first bar
TUNNEL_THERE = _mask((7, 13, 10), *BARS, holes=[(S(2, 5), S(8, 11), S(1, 9))])  # in the second
CAVITY_HERE = _mask((12, 12, 12), (S(1, 11),) * 3, holes=[(S(3, 4),) * 3])
CAVITY_THERE = _mask((12, 12, 12), (S(1, 11),) * 3, holes=[(S(8, 9),) * 3])

MOVED = [
    ({}, (LOOP_HERE, LOOP_THERE), [0, 2]),
    ({"connectivity": 4}, (LOOP_HERE, LOOP_THERE), [0, 2]),
    ({}, (SQUARE_HERE, SQUARE_THERE), [2, 0]),
    ({}, (CUBE_HERE, CUBE_THERE), [2, 0, 0]),
    ({}, (TUNNEL_HERE, TUNNEL_THERE), [0, 2, 0]),
    ({"connectivity": 6}, (TUNNEL_HERE, TUNNEL_THERE), [0, 2, 0]),
    ({}, (CAVITY_HERE, CAVITY_THERE), [0, 0, 2]),
    ({"connectivity": 6}, (CAVITY_HERE, CAVITY_THERE), [0, 0, 2]),
    # 6/4-connectivity: finite pairs only, so one component per mask (the first, never dying) is not a feature
    ({"connectivity": 4}, (SQUARE_HERE, SQUARE_THERE), [0, 0]),
    ({"connectivity": 6}, (CUBE_HERE, CUBE_THERE), [0, 0, 0]),
]


@pytest.mark.parametrize("params, masks, expected", MOVED)
def test_moved_features_betti_error_zero_matching_error_not(params, masks, expected):
    y_pred, y = batch(masks[0]), batch(masks[1])
    assert compute_betti_error_per_dim(y_pred, y, **params).sum().item() == 0.0
    per_dim = compute_betti_matching_error_per_dim(y_pred, y, **params)
    assert per_dim.tolist() == [[expected]]
    assert BettiMatchingErrorMetric(**params)(y_pred, y).tolist() == [[float(sum(expected))]]
    for k in range(len(expected)):
        assert compute_betti_matching_error(y_pred, y, dims=k, **params).item() == expected[k]
    # nothing is unmatched when a mask is compared with itself
    assert BettiMatchingErrorMetric(**params)(y_pred, y_pred).tolist() == [[0.0]]
    if REFERENCE is not None:  # Betti-Matching-3D counts the same (pip install --no-deps topolosses==0.2.0)
        connectivity = params.get("connectivity") or {2: 8, 3: 26}[masks[0].ndim]
        reference = reference_matching(masks[0], masks[1], connectivity)
        assert [len(un_pred) + len(un_target) for _, un_pred, un_target in reference] == expected


# [params, inputs (y_pred, y), expected (B, C)]: where nothing moved, the features that differ in number
CASES = [
    ({}, (batch(ring_2d()), batch(disk_2d())), [[1.0]]),  # the ring's hole has no partner
    ({"dims": 0}, (batch(ring_2d()), batch(disk_2d())), [[0.0]]),
    ({"dims": 1}, (batch(ring_2d()), batch(disk_2d())), [[1.0]]),
    ({}, (batch(solid_torus_3d()), batch(box_3d())), [[1.0]]),
    ({"dims": 2}, (batch(ball_with_cavity_3d()), batch(ball_3d())), [[1.0]]),
    ({"dims": (0, 1)}, (batch(ball_with_cavity_3d()), batch(ball_3d())), [[0.0]]),
    # the disk covers both squares: one square is matched to the disk, the other is not
    ({"dims": 0}, (batch(two_squares_2d()), batch(disk_2d())), [[1.0]]),
    # both connectivities: the diagonal pair is one component (8/26) or two (4/6: one finite pair, unmatched)
    ({"connectivity": 8}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[0.0]]),
    ({"connectivity": 4}, (batch(diagonal_pair_2d()), batch(single_square_2d())), [[1.0]]),
    ({"connectivity": 26}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[0.0]]),
    ({"connectivity": 6}, (batch(corner_pair_3d()), batch(ball_3d()[2:7, 2:7, 2:7])), [[1.0]]),
    # batch of two, identical and moved
    ({}, (batch(CUBE_HERE, CUBE_HERE), batch(CUBE_HERE, CUBE_THERE)), [[0.0], [2.0]]),
    # channels, with and without background
    ({}, (item(SQUARE_HERE, SQUARE_THERE), item(SQUARE_HERE, SQUARE_HERE)), [[0.0, 2.0]]),
    ({"include_background": False}, (item(SQUARE_HERE, SQUARE_HERE), item(SQUARE_HERE, SQUARE_THERE)), [[2.0]]),
    # empty target: every predicted feature is unmatched, unless ignore_empty
    ({}, (batch(two_balls_3d()), batch(np.zeros((9, 9, 9), bool))), [[2.0]]),
    ({"ignore_empty": True}, (batch(two_balls_3d()), batch(np.zeros((9, 9, 9), bool))), [[np.nan]]),
    ({}, (batch(np.zeros((9, 9), bool)), batch(np.zeros((9, 9), bool))), [[0.0]]),
]


@pytest.mark.parametrize("params, inputs, expected", CASES)
def test_value(params, inputs, expected):
    y_pred, y = inputs
    metric = BettiMatchingErrorMetric(**params, reduction="none")
    result = metric(y_pred, y)
    assert result.shape == y_pred.shape[:1] + (len(expected[0]),)
    assert result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), np.array(expected, dtype=np.float32))
    functional = compute_betti_matching_error(y_pred, y, **params)
    np.testing.assert_allclose(functional.numpy(), np.array(expected, dtype=np.float32))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(9, 8), (6, 5, 7)]), st.booleans(), st.floats(0.3, 0.7))
def test_equals_the_core_and_bounds_the_betti_error(seed, shape, v_construction, density):
    """Per dimension, the metric is the core's matching error, never below the Betti error and of the same parity
    (``unmatched = n_pred + n_target - 2 * matched``)."""
    rng = np.random.default_rng(seed)
    pred = rng.random((2, 1) + shape) < density
    true = rng.random((2, 1) + shape) < density
    connectivity = {2: 4, 3: 6}[len(shape)] if v_construction else None
    per_dim = compute_betti_matching_error_per_dim(pred, true, connectivity=connectivity).numpy()
    for b in range(2):
        np.testing.assert_array_equal(per_dim[b, 0], betti_matching_error(pred[b, 0], true[b, 0], connectivity))
    betti = compute_betti_error_per_dim(pred, true, connectivity=connectivity).numpy()
    assert (per_dim >= betti).all()
    assert ((per_dim - betti) % 2 == 0).all()
    total = compute_betti_matching_error(pred, true, connectivity=connectivity).numpy()
    np.testing.assert_allclose(total, per_dim.sum(-1))


def test_list_input_and_accumulation():
    metric = BettiMatchingErrorMetric(get_not_nans=True)
    metric([torch.as_tensor(SQUARE_HERE[None]).float()], [torch.as_tensor(SQUARE_THERE[None]).float()])
    metric(batch(SQUARE_HERE, SQUARE_HERE), batch(SQUARE_HERE, SQUARE_THERE))
    assert metric.get_buffer().shape == (3, 1)
    value, not_nans = metric.aggregate()
    assert value.item() == pytest.approx(4 / 3)
    assert not_nans.item() == 3
    assert metric.aggregate("sum")[0].item() == 4.0
    metric.reset()
    with pytest.raises(ValueError, match="call the metric on some data first"):
        metric.aggregate()


def test_numpy_input_and_threads():
    rng = np.random.default_rng(0)
    pred = rng.random((3, 2, 10, 9, 6)) > 0.6
    true = rng.random((3, 2, 10, 9, 6)) > 0.6
    serial = compute_betti_matching_error(pred, true, num_workers=0)
    threaded = compute_betti_matching_error(pred, true, num_workers=2)
    assert torch.equal(serial, threaded)
    assert serial.shape == (3, 2)


def test_non_binary_warns_and_thresholds():
    soft = torch.as_tensor(SQUARE_HERE[None, None] * 0.8 + 0.1, dtype=torch.float32)
    with pytest.warns(UserWarning, match="binarized"):
        result = compute_betti_matching_error(soft, batch(SQUARE_THERE))
    assert result.item() == 2.0


def test_single_channel_without_background_warns():
    with pytest.warns(UserWarning, match="single channel"):
        result = compute_betti_matching_error(batch(SQUARE_HERE), batch(SQUARE_THERE), include_background=False)
    assert result.tolist() == [[2.0]]


def test_dask_input_is_refused():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="not computed chunk by chunk"):
        compute_betti_matching_error(da.zeros((1, 1, 8, 8)), da.zeros((1, 1, 8, 8)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_result_on_input_device():
    result = BettiMatchingErrorMetric()(batch(SQUARE_HERE).cuda(), batch(SQUARE_THERE).cuda())
    assert result.device.type == "cuda"
    assert result.item() == 2.0


@pytest.mark.parametrize("y_pred, y, match", ILL_SHAPES)
def test_ill_shape(y_pred, y, match):
    with pytest.raises(ValueError, match=match):
        BettiMatchingErrorMetric()(y_pred, y)


@pytest.mark.parametrize(
    "params",
    [
        {"dims": 3},
        {"dims": -1},
        {"dims": 1.0},
        {"dims": ()},
        {"connectivity": 5},
        {"connectivity": True},
        {"reduction": "median"},
        {"num_workers": -1},
    ],
)
def test_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        BettiMatchingErrorMetric(**params)


@pytest.mark.parametrize(
    "params, y_pred",
    [
        ({"dims": 2}, batch(ring_2d())),  # no b2 in 2D
        ({"connectivity": 26}, batch(ring_2d())),  # a 3D connectivity on 2D images
        ({"connectivity": 8}, batch(ball_3d())),
    ],
)
def test_ill_opts_for_input(params, y_pred):
    with pytest.raises(ValueError, match=names_an_option(params)):
        compute_betti_matching_error(y_pred, y_pred.clone(), **params)


def test_ill_type():
    with pytest.raises(TypeError, match="must be a torch.Tensor or a numpy array"):
        compute_betti_matching_error([[1, 0]], [[1, 0]])

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.metrics import ConnectivityErrorMetric, compute_connectivity_error, split_merge_counts
from tests.error_messages import names_an_option
from tests.metrics.metric_shapes import batch, item, tube_2d, tube_3d


def _cut(mask: np.ndarray, *indices: int) -> np.ndarray:
    out = mask.copy()
    for i in indices:
        out[..., i] = False
    return out


def _two_tubes_2d() -> np.ndarray:
    """Instances 1 and 2: parallel tubes, rows 1-2 and 5-6, two rows of background between them."""
    m = np.zeros((8, 12), np.int64)
    m[1:3, 1:11] = 1
    m[5:7, 1:11] = 2
    return m


def _bridged_2d() -> np.ndarray:
    """Both tubes, joined by a bridge at column 5: one predicted component over two instances."""
    m = _two_tubes_2d() > 0
    m[3:5, 5] = True
    return m


def _touching_instances_2d() -> np.ndarray:
    """One straight tube labelled as two touching instances (left 1, right 2)."""
    m = np.zeros((5, 12), np.int64)
    m[1:4, 1:6] = 1
    m[1:4, 6:11] = 2
    return m


def _diagonal_gap_2d() -> tuple[np.ndarray, np.ndarray]:
    """A one-pixel line and a prediction that steps diagonally around one pixel of it."""
    target = np.zeros((5, 9), bool)
    target[2, 1:8] = True
    pred = target.copy()
    pred[2, 4] = False
    pred[1, 4] = True  # touches the line at (2,3) and (2,5) only through corners
    return pred, target


def _three_instances_3d() -> tuple[np.ndarray, np.ndarray]:
    target = np.zeros((9, 5, 5), np.int64)
    target[1:3, 1:4, 1:4] = 3
    target[4:6, 1:4, 1:4] = 7
    target[7:9, 1:4, 1:4] = 1000000
    pred = np.zeros((9, 5, 5), bool)
    pred[1:9, 2, 2] = True  # one rod through all three instances
    return pred, target


DIAG_PRED, DIAG_TRUE = _diagonal_gap_2d()
ROD, THREE = _three_instances_3d()

# [params, inputs (y_pred, y), expected (splits, merges), each (B, C)]
CASES = [
    ({}, (batch(tube_2d()), batch(tube_2d())), ([[0.0]], [[0.0]])),
    ({}, (batch(_cut(tube_2d(), 6)), batch(tube_2d())), ([[1.0]], [[0.0]])),  # broken tube -> split
    ({}, (batch(_cut(tube_2d(), 4, 8)), batch(tube_2d())), ([[2.0]], [[0.0]])),  # three pieces -> 2 splits
    ({}, (batch(_cut(tube_3d(), 6)), batch(tube_3d())), ([[1.0]], [[0.0]])),
    ({}, (batch(_bridged_2d()), batch(_two_tubes_2d() > 0)), ([[0.0]], [[1.0]])),  # bridge -> merge
    ({"instance_labels": True}, (batch(_bridged_2d()), batch(_two_tubes_2d())), ([[0.0]], [[1.0]])),
    # touching instances: only instance ids can tell them apart
    (
        {"instance_labels": True},
        (batch(_touching_instances_2d() > 0), batch(_touching_instances_2d())),
        ([[0.0]], [[1.0]]),
    ),
    ({}, (batch(_touching_instances_2d() > 0), batch(_touching_instances_2d() > 0)), ([[0.0]], [[0.0]])),
    # split and merge at once: each tube broken, and the left halves bridged
    (
        {"instance_labels": True},
        (batch(_cut(_bridged_2d(), 8)), batch(_two_tubes_2d())),
        ([[2.0]], [[1.0]]),
    ),
    # 3D, instance ids far apart: one rod over three instances -> 2 merges
    ({"instance_labels": True}, (batch(ROD), batch(THREE)), ([[0.0]], [[2.0]])),
    ({"instance_labels": True}, (batch(ROD.astype(np.float32)), batch(THREE.astype(np.float32))), ([[0.0]], [[2.0]])),
    # both connectivities
    ({"connectivity": 8}, (batch(DIAG_PRED), batch(DIAG_TRUE)), ([[0.0]], [[0.0]])),
    ({"connectivity": 4}, (batch(DIAG_PRED), batch(DIAG_TRUE)), ([[1.0]], [[0.0]])),
    ({"connectivity": 6}, (batch(_cut(tube_3d(), 6)), batch(tube_3d())), ([[1.0]], [[0.0]])),
    # no overlap, empty inputs
    ({}, (batch(np.roll(tube_2d(), 3, axis=0)), batch(tube_2d())), ([[0.0]], [[0.0]])),
    ({}, (batch(np.zeros((7, 13), bool)), batch(np.zeros((7, 13), bool))), ([[0.0]], [[0.0]])),
    ({"ignore_empty": True}, (batch(tube_2d()), batch(np.zeros((7, 13), bool))), ([[np.nan]], [[np.nan]])),
    # batch and channels
    (
        {},
        (batch(_cut(tube_2d(), 6), tube_2d()), batch(tube_2d(), tube_2d())),
        ([[1.0], [0.0]], [[0.0], [0.0]]),
    ),
    (
        {"include_background": False},
        (item(tube_2d(), _cut(tube_2d(), 6)), item(tube_2d(), tube_2d())),
        ([[1.0]], [[0.0]]),
    ),
]


@pytest.mark.parametrize("params, inputs, expected", CASES)
def test_value(params, inputs, expected):
    y_pred, y = inputs
    splits, merges = compute_connectivity_error(y_pred, y, **params)
    assert splits.dtype == torch.float32 and splits.shape == merges.shape == (y_pred.shape[0], len(expected[0][0]))
    np.testing.assert_allclose(splits.numpy(), expected[0])
    np.testing.assert_allclose(merges.numpy(), expected[1])
    for kind, value in (("splits", expected[0]), ("merges", expected[1])):
        np.testing.assert_allclose(ConnectivityErrorMetric(kind=kind, **params)(y_pred, y).numpy(), value)
    total = ConnectivityErrorMetric(**params)(y_pred, y)
    np.testing.assert_allclose(total.numpy(), np.add(expected[0], expected[1]))


def test_pure_function():
    assert split_merge_counts(_cut(tube_2d(), 6), tube_2d()) == (1, 0)
    assert split_merge_counts(ROD, THREE, instance_labels=True) == (0, 2)
    assert split_merge_counts(ROD, THREE > 0) == (0, 2)  # binary: the three blocks are separate components
    assert split_merge_counts(ROD, THREE > 0, connectivity=6) == (0, 2)
    assert split_merge_counts(_cut(tube_2d(), 6), tube_2d(), connectivity=4) == (1, 0)


def test_instance_label_map_in_pieces_is_one_object():
    target = np.zeros((5, 12), np.int64)
    target[2, 1:5] = 4
    target[2, 7:11] = 4  # same id, two pieces
    pred = np.zeros((5, 12), bool)
    pred[2, 1:11] = True
    assert split_merge_counts(pred, target, instance_labels=True) == (0, 0)
    assert split_merge_counts(pred, target > 0) == (0, 1)


def test_aggregate():
    metric = ConnectivityErrorMetric(kind="splits", ignore_empty=True, get_not_nans=True)
    metric(batch(_cut(tube_2d(), 4, 8), np.zeros((7, 13), bool)), batch(tube_2d(), np.zeros((7, 13), bool)))
    metric(batch(tube_2d()), batch(tube_2d()))
    value, not_nans = metric.aggregate()
    assert value.item() == pytest.approx(1.0) and not_nans.item() == 2


@pytest.mark.parametrize(
    "y_pred, y, params, match",
    [
        (torch.zeros(1, 7, 13), torch.zeros(1, 7, 13), {}, "B C H W"),
        (torch.zeros(1, 1, 7, 13), torch.zeros(1, 1, 7, 12), {}, "same shapes"),
        (torch.zeros(1, 1, 7, 13), torch.zeros(1, 1, 7, 13) - 1, {"instance_labels": True}, "non-negative integer"),
        (torch.zeros(1, 1, 7, 13), torch.full((1, 1, 7, 13), 1.5), {"instance_labels": True}, "non-negative integer"),
        (torch.zeros(1, 1, 7, 13), None, {}, "ground truth"),
    ],
)
def test_ill_shape(y_pred, y, params, match):
    with pytest.raises(ValueError, match=match):
        ConnectivityErrorMetric(**params)(y_pred, y)


@pytest.mark.parametrize("params", [{"kind": "both"}, {"connectivity": 18}, {"reduction": "product"}])
def test_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        ConnectivityErrorMetric(**params)


def test_binary_target_warns_when_not_binary():
    with pytest.warns(UserWarning, match="y should be a binarized"):
        compute_connectivity_error(batch(tube_2d()), batch(tube_2d()) * 2)

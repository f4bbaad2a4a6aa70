"""skeleton / tubed_skeleton / tubed_skeletons: hand-counted tubes in 2D and 3D, options, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from monai_topo.metrics.centerline_dice import skeleton as skeleton_from_metrics
from monai_topo.topology import skeleton, tubed_skeleton
from monai_topo.topology.skeleton import tube_footprint, tubed_skeletons
from tests.metrics.metric_shapes import tube_2d, tube_3d  # 3-wide straight tubes (clDice tests)


def line_2d() -> np.ndarray:
    m = np.zeros((7, 7), bool)
    m[3, 1:6] = True
    return m


TUBE_CASES = [  # [mask, kwargs, expected number of tube voxels]
    # a one-pixel line is its own skeleton, and the tube stays inside it
    [line_2d(), {}, 5],
    # unrestricted, the city-block ball of radius 2: rows 1 and 5: 5 each, rows 2 and 4: 7, row 3: 7 (the 9
    # columns -1..7 clipped to the image) = 31
    [line_2d(), {"restrict_to_mask": False}, 31],
    [line_2d(), {"radius": 0, "restrict_to_mask": False}, 5],
    # 3-pixel-wide tube (33 pixels; skeleton: row 3, columns 1..9, and (2, 10)): every pixel within city-block
    # distance 2 of the skeleton except the corner (4, 11): 32
    [tube_2d(), {}, 32],
    # unrestricted, rows 0..5: 1 + 11 + 13 + 12 + 11 + 9 = 57
    [tube_2d(), {"restrict_to_mask": False}, 57],
    # 3D radius 1: 8 axis voxels x 5 (axis + 4 face neighbours in the slice) + 2 ends (z = 1, 10) = 42
    [tube_3d(), {"radius": 1}, 42],
    # 3D radius 2: full 3x3 slices z = 2..9 (corners at distance 2) = 72, + 5 at z = 1 and 5 at z = 10 = 82
    [tube_3d(), {}, 82],
    [tube_3d(), {"radius": 0}, 8],
]


@pytest.mark.parametrize("mask, kwargs, expected", TUBE_CASES)
def test_tube_size(mask, kwargs, expected):
    tube = tubed_skeleton(mask, **kwargs)
    assert tube.dtype == bool and tube.shape == mask.shape
    assert int(tube.sum()) == expected
    assert (skeleton(mask) <= tube).all()  # the tube contains the skeleton
    if kwargs.get("restrict_to_mask", True):
        assert not (tube & ~mask).any()


def test_skeleton_moved_not_copied():
    assert skeleton_from_metrics is skeleton


@pytest.mark.parametrize("ndim, radius, expected", [(2, 1, 5), (2, 2, 13), (3, 1, 7), (3, 2, 25), (3, 0, 1)])
def test_footprint(ndim, radius, expected):
    assert int(tube_footprint(ndim, radius).sum()) == expected


def test_edge_cases():
    assert not tubed_skeleton(np.zeros((4, 4))).any()  # empty mask -> empty tube
    assert tubed_skeleton(np.ones((1, 1, 1))).all()  # a single voxel is its own skeleton
    full = np.ones((12, 12), bool)
    assert 0 < tubed_skeleton(full).sum() < full.sum()
    # scikit-image's 3D thinning removes a solid cube completely: the mask is its own skeleton (never empty)
    assert tubed_skeleton(np.ones((6, 6, 6), bool)).all()
    assert tubed_skeleton(np.ones((2, 2, 2), np.uint8)).all()  # thins away completely: the mask is kept


@pytest.mark.parametrize("num_workers", [None, 0, 1, 3])
def test_stack_matches_items(num_workers):
    masks = np.zeros((2, 3, 7, 7, 12), bool)
    masks[0, 1] = tube_3d()
    masks[1, 2, 2, 2, 3:9] = True
    out = tubed_skeletons(masks, spatial_dims=3, num_workers=num_workers)
    assert out.shape == masks.shape and out.dtype == bool
    for b, c in np.ndindex(2, 3):
        np.testing.assert_array_equal(out[b, c], tubed_skeleton(masks[b, c]))


BAD_CASES = [  # [callable, exception, message]
    [lambda: tubed_skeleton(np.full((4, 4), 2)), ValueError, "binary"],
    [lambda: tubed_skeleton(np.full((4, 4), np.nan)), ValueError, "NaN"],
    [lambda: tubed_skeleton(np.zeros(4)), ValueError, "2D or 3D"],
    [lambda: tubed_skeleton(np.zeros((4, 4)), radius=-1), ValueError, "radius"],
    [lambda: tubed_skeleton(np.zeros((4, 4)), radius=1.5), ValueError, "radius"],
    [lambda: tube_footprint(4), ValueError, "2D and 3D"],
    [lambda: tubed_skeletons(np.zeros((2, 4, 4)), spatial_dims=4), ValueError, "spatial_dims"],
    [lambda: tubed_skeletons(np.zeros((2, 4, 4)), spatial_dims=2, num_workers=-1), ValueError, "num_workers"],
    [lambda: tubed_skeletons(np.full((2, 4, 4), 0.5), spatial_dims=2), ValueError, "binary"],
    [lambda: tubed_skeletons(np.zeros((4,)), spatial_dims=2), ValueError, "at least 2"],
]


@pytest.mark.parametrize("fn, error, match", BAD_CASES)
def test_bad_inputs(fn, error, match):
    with pytest.raises(error, match=match):
        fn()

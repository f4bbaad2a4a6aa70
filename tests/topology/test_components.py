"""label_sparse_components: the same components (and labels) as cc3d's labelling of the whole array."""

from __future__ import annotations

import numpy as np
import pytest

from monai_topo.topology import label_components
from monai_topo.topology.components import label_sparse_components


@pytest.mark.parametrize(
    "shape,connectivity",
    [((9, 10, 11), 6), ((9, 10, 11), 26), ((1, 7, 9), 26), ((12, 13), 4), ((12, 13), 8), ((1, 15), 8)],
)
def test_same_labels_as_cc3d(shape, connectivity):
    rng = np.random.default_rng(len(shape) * 100 + connectivity)
    for _ in range(40):
        values = np.where(rng.random(shape) < rng.uniform(0.05, 0.6), rng.integers(1, 4, shape), 0).astype(np.uint8)
        index = np.flatnonzero(values)
        labels, n = label_sparse_components(index, values.ravel()[index], shape, connectivity)
        expected, n_expected = label_components(values, connectivity)
        assert n == n_expected
        np.testing.assert_array_equal(labels, expected.ravel()[index])


def test_hand_case_values_apart_and_no_wrap():
    # (0, 3) and (1, 0) are neighbours in memory, not in the image; (1, 1) and (1, 2) touch but differ in value
    values = np.array([[0, 0, 0, 5], [5, 5, 7, 0]])
    index = np.flatnonzero(values)
    labels, n = label_sparse_components(index, values.ravel()[index], values.shape, 8)
    assert n == 3
    assert labels.tolist() == [1, 2, 2, 3]


def test_empty():
    labels, n = label_sparse_components(np.zeros(0, np.int64), np.zeros(0, np.uint8), (4, 4, 4), 26)
    assert n == 0 and labels.shape == (0,)

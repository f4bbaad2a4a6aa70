"""label_mask / MaskLabelling: one labelling of a mask gives the same Betti numbers, split / merge counts and error
map as the functions that label the mask themselves; a labelling that does not fit is refused."""

from __future__ import annotations

import numpy as np
import pytest

from monai_topo.metrics import split_merge_counts
from monai_topo.metrics.connectivity_error import split_merge_from_labels
from monai_topo.topology import (
    MaskLabelling,
    betti_numbers,
    critical_components,
    critical_supervoxels,
    label_components,
    label_mask,
    topological_errors,
)
from monai_topo.topology.connectivity import foreground_connectivity
from monai_topo.topology.labelling import border_labels


def _random_pairs(seed: int, count: int = 24):
    rng = np.random.default_rng(seed)
    for i in range(count):
        ndim = 2 + i % 2
        shape = tuple(rng.integers(3, 12 if ndim == 3 else 30, ndim))
        target = rng.random(shape) < rng.uniform(0.2, 0.8)
        pred = target ^ (rng.random(shape) < rng.uniform(0.02, 0.4))
        connectivity = [None, 4 if ndim == 2 else 6, 8 if ndim == 2 else 26][i % 3]
        yield pred, target, connectivity


def _shell():
    shell = np.ones((5, 5, 5), bool)
    shell[2, 2, 2] = False
    return shell


@pytest.mark.parametrize(
    "mask, expected",
    [
        (np.ones((4, 4), bool), [1, 0]),  # no background at all
        (np.zeros((4, 4), bool), [0, 0]),  # no foreground
        (np.pad(np.ones((3, 3), bool), 1) & ~np.pad(np.pad(np.ones((1, 1), bool), 1), 1), [1, 1]),  # a ring
        (_shell(), [1, 0, 1]),
    ],
)
def test_betti_of_hand_cases(mask, expected):
    labelling = label_mask(mask)
    assert isinstance(labelling, MaskLabelling)
    assert labelling.betti().tolist() == expected == betti_numbers(mask).tolist()


@pytest.mark.parametrize("seed", [0, 1])
def test_same_measures_as_labelling_again(seed):
    for pred, target, connectivity in _random_pairs(seed):
        p, t = label_mask(pred, connectivity), label_mask(target, connectivity)
        np.testing.assert_array_equal(p.betti(), betti_numbers(pred, connectivity))
        np.testing.assert_array_equal(t.betti(), betti_numbers(target, connectivity))
        assert split_merge_from_labels(p.components, t.components) == split_merge_counts(pred, target, connectivity)
        np.testing.assert_array_equal(
            topological_errors(pred, target, connectivity, pred_labelling=p, target_labelling=t),
            topological_errors(pred, target, connectivity),
        )


@pytest.mark.parametrize("seed", [2])
def test_critical_supervoxels_are_those_of_critical_components(seed):
    for pred, target, connectivity in _random_pairs(seed):
        found = critical_supervoxels(pred, target, connectivity)
        critical = found.critical[found.error_labels]
        critical_fn, critical_fp = critical_components(pred, target, connectivity)
        np.testing.assert_array_equal(critical & ~pred, critical_fn)
        np.testing.assert_array_equal(critical & pred, critical_fp)
        np.testing.assert_array_equal(found.error_labels != 0, pred != target)
        # the kept components of a binary target: the components of prediction & target (same partition)
        kept, _ = label_components(pred & target, foreground_connectivity(connectivity, pred.ndim))
        if (pred != target).any():
            pairs = np.unique(np.stack([found.kept_labels.ravel(), kept.ravel()]), axis=1)
            assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def test_border_labels():
    labels = np.zeros((4, 5, 6), np.uint32)
    labels[0, 1, 1], labels[2, 2, 2], labels[3, 4, 5] = 7, 8, 9
    assert border_labels(labels).tolist() == [7, 9]


def test_ill_labellings():
    target = np.zeros((6, 8), bool)
    target[2:4, 1:7] = True
    pred = target.copy()
    pred[2:4, 4] = False
    with pytest.raises(ValueError, match="pred_labelling is of a mask of shape"):
        topological_errors(pred, target, pred_labelling=label_mask(target[:5]))
    with pytest.raises(ValueError, match="target_labelling was labelled with connectivity 4"):
        topological_errors(pred, target, target_labelling=label_mask(target, 4))
    with pytest.raises(ValueError, match="target_labelling is the labelling of a binary target"):
        topological_errors(pred, target.astype(np.uint8) * 2, target_labelling=label_mask(target))
    with pytest.raises(ValueError, match="must be binary"):
        label_mask(np.full((3, 3), 2))

"""``label_pieces``: every label's pieces at once, checked against a plain per-label labelling (scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from monai_topo.topology.objects import label_pieces


def _brute_force(pred: np.ndarray, target: np.ndarray) -> set[tuple[int, frozenset, frozenset]]:
    """Per label k, the 26 / 8-connected components of (pred == k) | (target == k), labelled one label at a time:
    (k, the prediction's voxels, the target's voxels) of each piece."""
    out = set()
    structure = np.ones((3,) * pred.ndim, bool)
    for k in np.union1d(np.unique(pred), np.unique(target)):
        if k == 0:
            continue
        labels, n = ndimage.label((pred == k) | (target == k), structure)
        for i in range(1, n + 1):
            piece = labels == i
            out.add(
                (
                    int(k),
                    frozenset(map(tuple, np.argwhere(piece & (pred == k)).tolist())),
                    frozenset(map(tuple, np.argwhere(piece & (target == k)).tolist())),
                )
            )
    return out


def _found(pred: np.ndarray, target: np.ndarray) -> set[tuple[int, frozenset, frozenset]]:
    pieces = label_pieces(pred, target)
    whole = tuple(slice(0, n) for n in pred.shape)
    out = set()
    for i, box in enumerate(pieces.boxes):
        p, t = pieces.masks(i, whole)
        voxels = np.argwhere(p | t)
        # the box is tight
        assert [(s.start, s.stop) for s in box] == list(zip(voxels.min(0).tolist(), (voxels.max(0) + 1).tolist()))
        assert (pred[p] == pieces.values[i]).all() and (target[t] == pieces.values[i]).all()
        # a single voxel of one map only is a stray voxel
        assert pieces.stray[i] == (1 if p.sum() == 1 and not t.any() else 2 if t.sum() == 1 and not p.any() else 0)
        out.add(
            (int(pieces.values[i]), frozenset(map(tuple, np.argwhere(p).tolist())), frozenset(map(tuple, np.argwhere(t).tolist())))
        )
    assert len(out) == len(pieces)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_pieces_equal_a_labelling_per_label(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(2, 12, size=2 if seed % 4 == 0 else 3).tolist())
    k = int(rng.integers(1, 6))
    target = np.where(rng.random(shape) < rng.uniform(0.05, 0.7), rng.integers(1, k + 1, shape), 0)
    pred = target.copy()
    flip = rng.random(shape) < rng.uniform(0.0, 0.5)
    pred[flip] = rng.integers(0, k + 1, int(flip.sum()))
    assert _found(pred, target) == _brute_force(pred, target)


def test_pieces_hand_cases():
    # a prediction voxel touching (not overlapping) a target voxel of its label joins it; of another label it does not
    pred = np.zeros((3, 6), np.int32)
    target = np.zeros((3, 6), np.int32)
    pred[0, 0], target[1, 1] = 4, 4  # diagonal neighbours: one piece
    pred[0, 4], target[1, 5] = 2, 3  # neighbours of different labels: two pieces
    pieces = label_pieces(pred, target)
    assert sorted(pieces.values.tolist()) == [2, 3, 4]
    assert pieces.stray.tolist().count(0) == 1  # the label-4 piece has two voxels
    # empty maps, bools and floats
    assert len(label_pieces(np.zeros((4, 4)), np.zeros((4, 4)))) == 0
    assert len(label_pieces(np.eye(4, dtype=bool), np.zeros((4, 4), bool))) == 1
    assert label_pieces(np.array([[1.0, 0, 2.0]]), np.array([[0, 0, 2.0]])).values.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="shape mismatch"):
        label_pieces(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2D or 3D"):
        label_pieces(np.zeros(3), np.zeros(3))

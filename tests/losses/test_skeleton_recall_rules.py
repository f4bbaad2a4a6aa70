"""SkeletonRecallLoss as documented (issue 18.15): the paper's setting in MONAI terms equals the authors' loss, the
empty-skeleton fallback applies per mask (and fires on large 3D objects), per-class tubes equal the paper's
union-then-class tube when the classes are more than 2 voxels apart, and a given tube is checked cheaply."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.morphology import skeletonize
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.skeleton_recall import reference_skeleton_recall
from monai_topo.losses import SkeletonRecallLoss
from monai_topo.topology import skeleton, tubed_skeleton
from monai_topo.topology.skeleton import tube_footprint
from monai_topo.transforms import SkeletonTube


def _docstring_namespace(obj: object) -> dict:
    """Run the ``>>>`` examples of ``obj``'s docstring; returns the names they define."""
    namespace: dict = {"SkeletonRecallLoss": SkeletonRecallLoss, "torch": torch}
    for example in doctest.DocTestParser().get_examples(obj.__doc__):
        exec(compile(example.source, "<docstring>", "single"), namespace)  # noqa: S102 - our own docstring
    return namespace


def _nnunet_dice_ce_skeleton_recall(logits, label, tube_labels, batch_dice):
    """``DC_SkelREC_and_CE_loss`` of the authors' nnU-Net trainer (weights 1, smooth 1e-5, background left out of
    Dice and skeleton recall), written out: -dice + ce - recall."""
    smooth, axes = 1e-5, tuple(range(2, logits.ndim))
    p = torch.softmax(logits, 1)
    onehot = torch.nn.functional.one_hot(label[:, 0].long(), logits.shape[1]).movedim(-1, 1).float()
    p_fg, y_fg = p[:, 1:], onehot[:, 1:]
    intersect, sum_pred, sum_gt = (p_fg * y_fg).sum(axes), p_fg.sum(axes), y_fg.sum(axes)
    if batch_dice:
        intersect, sum_pred, sum_gt = intersect.sum(0), sum_pred.sum(0), sum_gt.sum(0)
    dice = ((2 * intersect + smooth) / torch.clip(sum_gt + sum_pred + smooth, 1e-8)).mean()
    ce = torch.nn.functional.cross_entropy(logits, label[:, 0].long())
    tube = torch.nn.functional.one_hot(tube_labels[:, 0].long(), logits.shape[1]).movedim(-1, 1)[:, 1:].float()
    inside, size = (p_fg * tube).sum(axes), tube.sum(axes)
    if batch_dice:
        inside, size = inside.sum(0), size.sum(0)
    recall = ((inside + smooth) / torch.clip(size + smooth, 1e-8)).mean()
    return -dice + ce - recall


def test_papers_setting_in_the_docstring_is_the_authors_loss():
    """The docstring's ``paper`` loss is the authors' Dice + CE + skeleton recall (+ 2: ours are 1 - x, theirs -x)."""
    paper = _docstring_namespace(SkeletonRecallLoss)["paper"]
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 12, 12, 12, generator=gen)
    label = torch.zeros(2, 1, 12, 12, 12)
    label[:, :, 2:5, 2:5, 1:11] = 1
    label[0, :, 7:10, 6:9, 1:11] = 2
    tube = SkeletonTube(num_classes=3)
    skeleton_tubes = torch.stack([tube(item) for item in label])  # B 2 spatial: one channel per foreground class
    tube_labels = (skeleton_tubes * torch.tensor([1.0, 2.0]).view(1, 2, 1, 1, 1)).sum(1, keepdim=True)
    expected = _nnunet_dice_ce_skeleton_recall(logits, label, tube_labels, batch_dice=paper.topology_loss.batch)
    assert float(paper(logits, label)) == pytest.approx(float(expected) + 2.0, abs=1e-5)
    # the docstring's setting is nnU-Net's batch_dice=True (2D, and 3D full resolution with a low-resolution stage)
    assert paper.topology_loss.batch and paper.base_loss.dice.batch


def _box(shape: tuple[int, ...], side: tuple[int, ...], pad: int = 2) -> np.ndarray:
    mask = np.zeros(tuple(s + 2 * pad for s in shape), bool)
    mask[tuple(slice(pad, pad + s) for s in side)] = True
    return mask


def test_empty_skeleton_fallback_is_per_mask_and_fires_on_large_objects():
    # scikit-image's 3D thinning removes these completely: even-sided boxes of any length, an even cube, a full patch
    for mask in (_box((6, 6, 40), (6, 6, 40)), _box((4, 4, 40), (4, 4, 40)), _box((8, 8, 8), (8, 8, 8))):
        assert not skeletonize(mask).any()
        assert np.array_equal(tubed_skeleton(mask), mask)  # the whole mask is the tube
    full = np.ones((16, 16, 16), bool)
    assert not skeletonize(full).any() and tubed_skeleton(full).all()
    # an odd-sided box keeps a skeleton: its tube is the city-block ball around the axis, 13 of 25 per slice
    odd = _box((5, 5, 40), (5, 5, 40))
    assert 0 < tubed_skeleton(odd).sum() < odd.sum()
    # per mask, not per object: next to a line that keeps its skeleton, the vanished box gets no tube at all
    both = _box((6, 6, 40), (6, 6, 40), pad=3)
    line = np.zeros_like(both)
    line[0, 0, 5:40] = True
    both |= line
    tube = tubed_skeleton(both)
    assert tube[line].all() and not tube[both & ~line].any()
    # the loss: one sample x class item whose mask vanishes is the soft recall on the whole mask
    loss = SkeletonRecallLoss(sigmoid=False, smooth=0.0)
    p = torch.rand((1, 1) + full.shape, generator=torch.Generator().manual_seed(0))
    assert float(loss(p, torch.ones_like(p))) == pytest.approx(1 - float(p.mean()), abs=1e-6)


def test_docstrings_state_the_fallback_and_the_class_rule():
    for doc in (tubed_skeleton.__doc__, skeleton.__doc__, SkeletonRecallLoss.__doc__):
        text = " ".join(doc.split())
        assert "per mask" in text and "not per object" in text, doc[:80]
    text = " ".join(SkeletonRecallLoss.__doc__.split())
    assert "even" in text and "entirely foreground" in text
    assert "more than 2 voxels apart" in text and "classes that do not touch" not in text
    assert "include_background=False, batch=True" in text


def _papers_tube(label: np.ndarray) -> np.ndarray:
    """The authors' transform: skeleton of the union of the classes, dilated (radius 2), times the label."""
    skel = skeletonize(label > 0) > 0
    return ndimage.binary_dilation(skel, tube_footprint(label.ndim, 2)) * label


def _our_tube(label: np.ndarray, num_classes: int) -> np.ndarray:
    tubes = np.asarray(SkeletonTube(num_classes=num_classes, include_background=True)(label[None].astype(np.float32)))
    return sum(k * (tubes[k] > 0) for k in range(1, num_classes))


@pytest.mark.parametrize("ndim", [2, 3])
def test_per_class_tubes_equal_the_papers_when_classes_are_more_than_2_voxels_apart(ndim):
    rng = np.random.default_rng(ndim)
    shape = (40, 40) if ndim == 2 else (20, 20, 20)
    agree = {2: 0, 3: 0}
    for _ in range(12):
        first, second = (ndimage.gaussian_filter(rng.standard_normal(shape), 2) > 0.15 for _ in range(2))
        for gap in (2, 3):  # Chebyshev distance between the classes >= gap
            kept = second & ~ndimage.binary_dilation(first, np.ones((2 * gap - 1,) * ndim, bool))
            label = np.where(first, 1, np.where(kept, 2, 0))
            if not all(skeletonize(label == k).any() for k in (1, 2)):
                continue  # a class that thins away completely: the fallback, which the paper does not have
            same = np.array_equal(_papers_tube(label), _our_tube(label, 3))
            agree[gap] += same
            assert same or gap == 2
    assert agree[3] >= 8 and agree[2] < agree[3]  # 2 voxels apart is not enough: some differ


class _FullSizeOps(TorchDispatchMode):
    """Counts the operations (views excluded) that read a tensor of at least ``size`` elements."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.ops = size, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        tensors = [a for a in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
        if not func.is_view and any(t.numel() >= self.size for t in tensors):
            self.ops.append(func.__name__)
        return func(*args, **(kwargs or {}))


def test_a_given_tube_is_checked_once_cheaply():
    """With the tube given, the forward reads the big tensors about as often as the authors' loss: the logits'
    checks (finite, range) and the tube's (range, 0/1) are a few reductions; the label is not one-hot encoded."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 2, 16, 16, 16, generator=gen)
    label = (torch.rand(2, 1, 16, 16, 16, generator=gen) > 0.7).float()
    tube = SkeletonTube(num_classes=2)
    skel = torch.stack([tube(item) for item in label])
    size = skel.numel()
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
    with _FullSizeOps(size) as ours:
        value = loss(logits, label, skeleton=skel)
    with _FullSizeOps(size) as reference:
        expected = reference_skeleton_recall(logits, skel.long())
    assert float(value) == pytest.approx(1 + float(expected), abs=1e-6)
    assert len(ours.ops) <= len(reference.ops) + 4, (ours.ops, reference.ops)

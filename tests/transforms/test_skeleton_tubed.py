"""SkeletonTube / SkeletonTubed: channels of label maps and one-hot labels, 2D/3D, MetaTensor, the loss's input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, EnsureTyped

from monai_topo.losses import SkeletonRecallLoss
from monai_topo.topology import tubed_skeleton
from monai_topo.transforms import SkeletonTube, SkeletonTubed
from tests.metrics.metric_shapes import tube_2d, tube_3d  # tubes of 32 / 82 voxels (tests/topology/test_skeleton.py)


def label_map_2d() -> np.ndarray:
    """Class 1: a 3-wide bar (tube: 20 pixels); class 2: a one-pixel line (its own tube, 5 pixels) below it."""
    m = np.zeros((1, 7, 9), np.float32)
    m[0, 1:4, 1:8] = 1
    m[0, 5, 2:7] = 2
    return m


CASES = [  # [options, label, expected tube voxels per output channel]
    [{"num_classes": 3}, label_map_2d(), [20, 5]],
    [{"num_classes": 3, "include_background": True}, label_map_2d(), [None, 20, 5]],
    [{"num_classes": 4}, label_map_2d(), [20, 5, 0]],  # an absent class: an empty channel
    [{}, tube_2d()[None].astype(np.float32), [32]],  # binary one-channel mask
    [{"include_background": True}, tube_2d()[None], [32]],
    [{}, np.stack([~tube_2d(), tube_2d()]).astype(np.uint8), [32]],  # one-hot: background dropped
    [{"num_classes": 2}, np.stack([~tube_2d(), tube_2d()]).astype(np.float32), [32]],
    [{"num_classes": 2}, tube_3d()[None].astype(np.float32), [82]],
    [{"num_classes": 2, "tube_radius": 1}, tube_3d()[None].astype(np.float32), [42]],
    [{"num_classes": 2, "restrict_to_mask": False}, tube_2d()[None].astype(np.float32), [57]],
]


@pytest.mark.parametrize("options, label, expected", CASES)
@pytest.mark.parametrize("kind", ["numpy", "torch", "meta"])
def test_channels(options, label, expected, kind):
    if kind == "torch":
        label = torch.as_tensor(label)
    elif kind == "meta":
        label = MetaTensor(torch.as_tensor(label), affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    tube = SkeletonTube(**options)(label)
    assert type(tube) is type(label)
    assert tube.shape == (len(expected),) + tuple(label.shape[1:])
    assert tube.dtype in (torch.float32, np.float32)
    counts = [int(c.sum()) for c in tube]
    for count, want in zip(counts, expected):
        if want is not None:
            assert count == want
    if kind == "meta":
        assert torch.equal(tube.affine, label.affine)


def test_dictionary_and_pipeline():
    label = MetaTensor(torch.as_tensor(label_map_2d()))
    data = {"image": torch.rand(1, 7, 9), "label": label}
    out = Compose([SkeletonTubed("label", num_classes=3), EnsureTyped(["image", "label", "label_skel"])])(data)
    assert set(out) == {"image", "label", "label_skel"}
    assert isinstance(out["label_skel"], MetaTensor) and out["label_skel"].shape == (2, 7, 9)
    np.testing.assert_array_equal(out["label_skel"][0].numpy(), tubed_skeleton(label_map_2d()[0] == 1))
    out = SkeletonTubed(["label"], output_key_postfix="tube", num_classes=3, dtype=torch.uint8)(data)
    assert out["label_tube"].dtype == torch.uint8
    assert SkeletonTubed("missing", allow_missing_keys=True)(data).keys() == data.keys()


def test_the_loss_accepts_it_and_matches_its_own_tube():
    """The transform's tube, batched, gives the loss the value it computes from the label itself."""
    labels = torch.stack([torch.as_tensor(label_map_2d()), torch.as_tensor(np.flip(label_map_2d(), 2).copy())])
    logits = torch.randn(2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    skel = torch.stack([SkeletonTubed("label", num_classes=3)({"label": lab})["label_skel"] for lab in labels])
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
    assert torch.allclose(loss(logits, labels, skeleton=skel), loss(logits, labels))


BAD = [  # [options, label, message]
    [{"num_classes": 3}, np.full((1, 5, 5), 3.0), "integer class labels in"],
    [{"num_classes": 3}, np.full((1, 5, 5), 0.5), "integer class labels"],
    [{}, np.full((1, 5, 5), 2.0), "set num_classes"],
    [{"num_classes": 3}, np.zeros((2, 5, 5)), "does not fit a label with 2 channels"],
    [{}, np.zeros((5, 5)), "channel-first 2D or 3D"],
    [{}, np.zeros((1, 2, 3, 4, 5)), "channel-first 2D or 3D"],
    [{}, np.zeros((1, 0, 5)), "empty"],
    [{}, np.full((1, 5, 5), np.nan), "NaN"],
]


@pytest.mark.parametrize("options, label, match", BAD)
def test_bad_labels(options, label, match):
    with pytest.raises(ValueError, match=match):
        SkeletonTube(**options)(label)


@pytest.mark.parametrize(
    "options, match",
    [
        [{"num_classes": 0}, "num_classes"],
        [{"num_classes": 2.0}, "num_classes"],
        [{"tube_radius": -1}, "tube_radius"],
        [{"num_workers": -1}, "num_workers"],
        [{"output_key_postfix": ""}, "output_key_postfix"],
    ],
)
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        SkeletonTubed("label", **options)

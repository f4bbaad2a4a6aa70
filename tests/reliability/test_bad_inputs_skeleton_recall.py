"""The bad-input row of SkeletonRecallLoss (kept apart from the main matrix in ``test_bad_inputs.py``).

Each case either raises a ``ValueError`` / ``TypeError`` whose message names the problem, or gives a finite value in
[0, 1] with a finite gradient, the same as on a plain float32 contiguous copy of the same data. Never a NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.losses import DiceCELoss

from monai_topo.losses import SkeletonRecallLoss, TopologyAwareLoss

SHAPE = (2, 1, 8, 8, 8)


def _logits(shape=SHAPE, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _target(shape=SHAPE, seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed + 1)) > 0.6).float()


def _nan(x):
    x = x.clone()
    x.view(-1)[3] = float("nan")
    return x


def _inf(x):
    x = x.clone()
    x.view(-1)[5] = -float("inf")
    return x


RAISES = [  # [loss options, input, target, forward kwargs, exception, message]
    [{}, _nan(_logits()), _target(), {}, ValueError, "NaN or infinite"],
    [{}, _inf(_logits()), _target(), {}, ValueError, "NaN or infinite"],
    [{}, _logits(), _nan(_target()), {}, ValueError, "NaN or infinite"],
    [{}, _logits().long(), _target(), {}, TypeError, "floating-point"],
    [{}, _logits()[:, :, 0, 0], _target()[:, :, 0, 0], {}, ValueError, "B C H W"],
    [{}, _logits(), _target((2, 1, 8, 8, 7)), {}, ValueError, "does not match"],
    [{}, _logits(), _target((2, 1, 8, 8)), {}, ValueError, "same number of dimensions"],
    [{}, _logits(), _target((2, 2, 8, 8, 8)), {}, ValueError, "different shape"],
    [{}, _logits((0, 1, 8, 8, 8)), _target((0, 1, 8, 8, 8)), {}, ValueError, "empty"],
    [{"sigmoid": False}, _logits(), _target(), {}, ValueError, r"probabilities in \[0, 1\]"],
    [{"other_act": lambda x: 2 * x}, _logits(), _target(), {}, ValueError, r"other_act produced"],
    [{}, _logits(), _target() * 0.5, {}, ValueError, "binary target"],
    [{}, _logits(), _target() * 2, {}, ValueError, "binary target"],
    [{"softmax": True, "to_onehot_y": True}, _logits((2, 3, 8, 8, 8)), _target() * 3, {}, ValueError, "labels in"],
    [{}, _logits(), _target(), {"skeleton": _target((2, 1, 8, 8, 7))}, ValueError, "skeleton must have the shape"],
    [{}, _logits(), _target(), {"skeleton": _target()[:, 0]}, ValueError, "skeleton must have the shape"],
    [
        {"softmax": True, "to_onehot_y": True, "include_background": False},
        _logits((2, 3, 8, 8, 8)),
        _target(),
        {"skeleton": _target((2, 3, 8, 8, 8))},  # background not removed: 3 channels instead of 2
        ValueError,
        "include_background",
    ],
    [{}, _logits(), _target(), {"skeleton": _target() * 0.5}, ValueError, "skeleton must be a binary"],
    [{}, _logits(), _target(), {"skeleton": _nan(_target())}, ValueError, "skeleton must be a binary"],
    [{}, _logits(), _target(), {"skeleton": _target().tolist()}, TypeError, "skeleton must be a torch.Tensor"],
]


@pytest.mark.parametrize("options, x, y, kwargs, error, match", RAISES)
def test_raises(options, x, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        SkeletonRecallLoss(**options)(x, y, **kwargs)


@pytest.mark.parametrize(
    "options, error, match",
    [
        [{"smooth": -1.0}, ValueError, "smooth"],
        [{"smooth": float("nan")}, ValueError, "smooth"],
        [{"tube_radius": -1}, ValueError, "tube_radius"],
        [{"tube_radius": 1.5}, ValueError, "tube_radius"],
        [{"num_workers": -1}, ValueError, "num_workers"],
        [{"sigmoid": True, "softmax": True}, ValueError, "Incompatible"],
        [{"other_act": "softmax"}, TypeError, "callable"],
        [{"reduction": "median"}, ValueError, "median"],
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        SkeletonRecallLoss(**options)


def test_nan_rejected_by_topology_aware_loss_during_warmup():
    loss = TopologyAwareLoss(DiceCELoss(sigmoid=True), SkeletonRecallLoss(), warmup=5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        loss(_nan(_logits()), _target())


def _noncontiguous(x):
    return x.transpose(2, 4).contiguous().transpose(2, 4)


OK = [  # [name, input, target, expected value or None]
    ["empty mask", _logits(), torch.zeros(SHAPE), 0.0],
    ["full mask", _logits(), torch.ones(SHAPE), None],
    ["perfect", torch.where(_target() > 0, 30.0, -30.0), _target(), 0.0],
    ["1x1x1", _logits((1, 1, 1, 1, 1)), torch.ones(1, 1, 1, 1, 1), None],
    ["1x1x1 empty", _logits((1, 1, 1, 1, 1)), torch.zeros(1, 1, 1, 1, 1), 0.0],
    ["1x1 2D", _logits((1, 1, 1, 1)), torch.ones(1, 1, 1, 1), None],
    ["float64", _logits().double(), _target().double(), None],
    ["float16", _logits().half(), _target().half(), None],
    ["bfloat16", _logits().bfloat16(), _target(), None],
    ["bool target", _logits(), _target().bool(), None],
    ["non-contiguous", _noncontiguous(_logits()), _noncontiguous(_target()), None],
    ["MetaTensor", MetaTensor(_logits()), MetaTensor(_target()), None],
    ["huge logits", _logits() * 1e30, _target(), None],
]


@pytest.mark.parametrize("name, x, y, expected", OK, ids=[row[0] for row in OK])
def test_ok(name, x, y, expected):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = x.clone().requires_grad_(True)
        value = SkeletonRecallLoss()(x, y)
        value.backward()
    assert len(caught) <= 2, [str(w.message) for w in caught]
    value = value.detach()
    assert value.ndim == 0 and torch.isfinite(value) and -1e-6 <= float(value) <= 1.0 + 1e-6
    assert torch.isfinite(x.grad).all()
    if expected is not None:
        assert float(value) == pytest.approx(expected, abs=1e-6)
    # the same value as on a plain float32 contiguous CPU copy
    plain_x = torch.as_tensor(np.ascontiguousarray(x.detach().float().numpy()))
    plain_y = torch.as_tensor(np.ascontiguousarray(torch.as_tensor(y).float().numpy()))
    reference = SkeletonRecallLoss()(plain_x, plain_y)
    tol = 1e-2 if x.dtype in (torch.float16, torch.bfloat16) else 1e-6
    assert float(value) == pytest.approx(float(reference), abs=tol)
    # deterministic: the same inputs give the same value twice
    assert float(SkeletonRecallLoss()(x.detach(), y)) == float(value)

"""SkeletonRecallLoss: hand-computed values (2D, 3D, multi-class), activations, empty tubes, reductions, gradients,
TopologyAwareLoss in a SupervisedTrainer, and the toy problem of a cut ring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, MetaTensor
from monai.engines import SupervisedTrainer
from monai.losses import DiceCELoss
from monai.networks.nets import UNet

from monai_topo.losses import SkeletonRecallLoss, TopologyAwareLoss
from monai_topo.topology import betti_numbers, tubed_skeleton
from tests.losses.toy_problems import (
    as_batch,
    check_cuda_matches_cpu,
    optimise_logits,
    ring_problem_2d,
    ring_problem_3d,
)
from tests.metrics.metric_shapes import tube_3d  # its tube: 82 voxels, 9 in each slice z = 2..9


def line_2d() -> np.ndarray:
    """A one-pixel line of 5 pixels: its own skeleton, and its own tube inside the mask."""
    m = np.zeros((7, 7), np.float32)
    m[3, 1:6] = 1
    return m


def b(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float32))[None, None]


def _line_probabilities() -> torch.Tensor:
    p = np.full((7, 7), 0.2, np.float32)
    p[3, 1:6] = [0.9, 0.9, 0.0, 0.9, 0.9]  # the line, cut in the middle
    return b(p)


def _cut_tube_probabilities() -> torch.Tensor:
    p = tube_3d().copy()
    p[:, :, 5] = 0.0  # one slice of the tube missed: 9 of its 82 tube voxels
    return b(p)


def _two_class() -> tuple[torch.Tensor, torch.Tensor]:
    """Label map (class 1: the line, class 2: a 2x2 block); probabilities: 0.5 on class 1, 1 on class 2."""
    label = line_2d().copy()
    label[5:7, 5:7] = 2
    p = np.zeros((3, 7, 7), np.float32)
    p[2] = label == 2
    p[1] = 0.5 * (1 - p[2])
    p[0] = 1 - p[1] - p[2]
    return torch.as_tensor(p)[None], b(label)


HAND_CASES = [  # [options, (input, target), expected]
    # 2D, tube built by the loss = the line: recall (4 * 0.9) / 5 = 0.72
    [{"sigmoid": False, "smooth": 0.0}, (_line_probabilities(), b(line_2d())), 0.28],
    # the same with smooth = 1: 1 - (3.6 + 1) / (5 + 1)
    [{"sigmoid": False, "smooth": 1.0}, (_line_probabilities(), b(line_2d())), 1 - 4.6 / 6],
    # logits in (the default): logit(p) gives the same value
    [{"smooth": 0.0}, (torch.logit(_line_probabilities(), eps=1e-7), b(line_2d())), 0.28],
    # 3D: 9 of 82 tube voxels missed
    [{"sigmoid": False, "smooth": 0.0}, (_cut_tube_probabilities(), b(tube_3d())), 9 / 82],
    [{"sigmoid": False, "smooth": 0.0}, (b(tube_3d()), b(tube_3d())), 0.0],  # perfect
    # multi-class label map, background excluded: class 1 recall 0.5, class 2 recall 1 -> mean (0.5 + 0) / 2
    [
        {"sigmoid": False, "to_onehot_y": True, "include_background": False, "smooth": 0.0},
        _two_class(),
        0.25,
    ],
    # empty target: no tube, loss 0 (never 0/0), with and without smooth
    [{"sigmoid": False, "smooth": 0.0}, (_line_probabilities(), b(np.zeros((7, 7)))), 0.0],
    [{}, (torch.randn(1, 1, 7, 7), b(np.zeros((7, 7)))), 0.0],
]


@pytest.mark.parametrize("options, inputs, expected", HAND_CASES)
def test_hand_values(options, inputs, expected):
    value = SkeletonRecallLoss(**options)(*inputs)
    assert value.shape == ()
    assert float(value) == pytest.approx(expected, abs=1e-5)


def test_softmax_equals_probabilities():
    logits = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(1))
    label = torch.stack([_two_class()[1][0]] * 2)
    kw = {"to_onehot_y": True, "include_background": False}
    with_softmax = SkeletonRecallLoss(softmax=True, **kw)(logits, label)
    on_probs = SkeletonRecallLoss(sigmoid=False, **kw)(torch.softmax(logits, 1), label)
    assert torch.allclose(with_softmax, on_probs)
    assert torch.allclose(SkeletonRecallLoss(other_act=lambda x: torch.softmax(x, 1), **kw)(logits, label), on_probs)


def test_passed_skeleton_is_used():
    """A given tube replaces the one built from the target (here: only the left half of the line)."""
    p, target = _line_probabilities(), b(line_2d())
    tube = torch.zeros_like(target)
    tube[..., 3, 1:3] = 1  # recall 0.9
    loss = SkeletonRecallLoss(sigmoid=False, smooth=0.0)
    assert float(loss(p, target, skeleton=tube)) == pytest.approx(0.1)
    assert float(loss(p, target, skeleton=tube.bool())) == pytest.approx(0.1)
    assert float(loss(p, target, skeleton=MetaTensor(tube))) == pytest.approx(0.1)
    built = loss.tube(target)
    assert built.dtype == torch.bool
    np.testing.assert_array_equal(built[0, 0].numpy(), tubed_skeleton(line_2d()))


@pytest.mark.parametrize(
    "options, shape",
    [
        [{"reduction": "none"}, (2, 2, 1, 1)],
        [{"reduction": "none", "batch": True}, (2, 1, 1)],
        [{"reduction": "mean"}, ()],
        [{"reduction": "sum"}, ()],
        [{"reduction": "sum", "batch": True}, ()],
    ],
)
def test_reduction_shapes(options, shape):
    p, label = _two_class()
    p2 = torch.cat([p, torch.flip(p, (3,))])
    label2 = torch.cat([label, torch.zeros_like(label)])  # the second sample has no foreground: both tubes empty
    loss = SkeletonRecallLoss(sigmoid=False, to_onehot_y=True, include_background=False, smooth=0.0, **options)
    value = loss(p2, label2)
    assert value.shape == shape and torch.isfinite(value).all()
    if options["reduction"] == "none" and not options.get("batch"):
        assert value.flatten().tolist() == pytest.approx([0.5, 0.0, 0.0, 0.0])  # empty items: 0
    elif options["reduction"] == "mean":
        assert float(value) == pytest.approx(0.5 / 4)  # mean over all 4 items, as DiceLoss
    elif options["reduction"] == "sum" and not options.get("batch"):
        assert float(value) == pytest.approx(0.5)


def test_empty_tube_gradient_is_zero_not_nan():
    x = torch.randn(1, 1, 7, 7, requires_grad=True)
    SkeletonRecallLoss(smooth=0.0)(x, torch.zeros(1, 1, 7, 7)).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_gradient_is_on_the_tube_only():
    x = torch.zeros(1, 1, 7, 7, requires_grad=True)
    SkeletonRecallLoss()(x, b(line_2d())).backward()
    on_tube = torch.as_tensor(tubed_skeleton(line_2d()))[None, None]
    assert (x.grad[on_tube] < 0).all() and (x.grad[~on_tube] == 0).all()  # raises the tube's probabilities


@pytest.mark.parametrize("given", [False, True])
def test_gradcheck(given):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    label = torch.randint(0, 3, (2, 1, 4, 5), generator=gen).double()
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
    skeleton = (
        loss.tube(torch.nn.functional.one_hot(label[:, 0].long(), 3).permute(0, 3, 1, 2)[:, 1:]) if given else None
    )
    assert torch.autograd.gradcheck(lambda v: loss(v, label, skeleton=skeleton), (x,))


def test_cuts_of_a_ring_are_repaired_2d():
    """Adam on the logits under the loss alone closes the cut of a ring (b1: 0 -> 1)."""
    p, y = ring_problem_2d(np.random.default_rng(0))
    assert betti_numbers(p > 0.5)[1] == 0
    assert optimise_logits(SkeletonRecallLoss(), p, y, steps=40)[1] == 1


def test_cuts_of_a_torus_are_repaired_3d():
    p, y = ring_problem_3d(np.random.default_rng(0))
    assert betti_numbers(p > 0.5)[1] == 0
    loss = SkeletonRecallLoss()
    tube = loss.tube(as_batch(y))  # built once, passed at each step
    assert optimise_logits(lambda x, t: loss(x, t, skeleton=tube), p, y, steps=40)[1] == 1


def test_topology_aware_loss_in_supervised_trainer():
    """Two iterations of a tiny 3D UNet, softmax over 2 classes: the loss builds the tube from the label itself."""
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,), num_res_units=0)
    label = torch.zeros(1, 16, 16, 16)
    label[0, 6:9, 6:9, 2:14] = 1
    gen = torch.Generator().manual_seed(0)
    data = [{"image": torch.rand(1, 16, 16, 16, generator=gen), "label": label} for _ in range(2)]
    loss = TopologyAwareLoss(
        DiceCELoss(softmax=True, to_onehot_y=True),
        SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False),
        lambda_topology=1.0,
    )
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=DataLoader(data, batch_size=1),
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3),
        loss_function=loss,
    )
    records = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: records.append(dict(loss.last_terms)))
    trainer.run()
    assert len(records) == 2
    for record in records:
        assert record["active"] and 0.0 < record["topology"] <= 1.0
        assert record["total"] == pytest.approx(record["base"] + record["topology"], rel=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("given", [False, True])
def test_cuda_matches_cpu(given):
    """On CUDA tensors the value and gradient stay on the GPU and equal the CPU ones (tube built or given)."""
    loss = SkeletonRecallLoss()
    if not given:
        check_cuda_matches_cpu(loss)
        return
    check_cuda_matches_cpu(lambda x, y: loss(x, y, skeleton=loss.tube(y)))

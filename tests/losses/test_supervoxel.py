"""SupervoxelLoss: hand-computed values, critical masks, gradients, options, optimisation of a broken tube."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_topo.losses import SupervoxelLoss
from monai_topo.topology import betti_numbers, label_components

L_A = math.log1p(math.exp(-2.0))  # BCE-with-logits of a confident correct voxel (|x| = 2)
L_B = math.log1p(math.exp(1.0))  # BCE-with-logits of an error with |x| = 1


def _gap_bar_logits():
    """3x5: target bar in row 1, logits +2 on the bar except a gap (-1) at (1, 2), -2 elsewhere."""
    target = torch.zeros(1, 1, 3, 5)
    target[0, 0, 1] = 1
    logits = torch.where(target > 0, 2.0, -2.0)
    logits[0, 0, 1, 2] = -1.0
    return logits, target


def _gap_and_blob_logits():
    """5x5: bar in row 2 with a gap (-1) at (2, 2), a spurious voxel (+1) at (0, 0)."""
    target = torch.zeros(1, 1, 5, 5)
    target[0, 0, 2] = 1
    logits = torch.where(target > 0, 2.0, -2.0)
    logits[0, 0, 2, 2] = -1.0
    logits[0, 0, 0, 0] = 1.0
    return logits, target


def _probabilities_3d():
    """3D tube along the last axis, probabilities 0.9 / 0.1, a gap of p = 0.2 (critical FN)."""
    target = torch.zeros(1, 1, 3, 3, 6)
    target[0, 0, 1, 1] = 1
    prob = torch.where(target > 0, 0.9, 0.1)
    prob[0, 0, 1, 1, 3] = 0.2
    return prob, target


TEST_CASES = [  # [params, (input, target), expected]
    [{}, _gap_bar_logits(), (0.5 * (14 * L_A + L_B) + 0.5 * 0.5 * L_B) / 15],
    [{"alpha": 0.0}, _gap_bar_logits(), (14 * L_A + L_B) / 15],
    [{"alpha": 1.0, "beta": 1.0}, _gap_bar_logits(), L_B / 15],
    [{"alpha": 1.0, "beta": 0.0}, _gap_bar_logits(), 0.0],
    [{"alpha": 0.4, "beta": 0.7}, _gap_and_blob_logits(), (0.6 * 23 * L_A + 0.88 * L_B + 0.72 * L_B) / 25],
    [{"alpha": 0.4, "beta": 0.7, "reduction": "sum"}, _gap_and_blob_logits(), 0.6 * 23 * L_A + 1.6 * L_B],
    [  # 53 voxels at -log(0.9) (weight 0.5), the gap at -log(0.2) (weight 0.5 + 0.5 * 0.5)
        {"sigmoid": False},
        _probabilities_3d(),
        (0.5 * 53 * -math.log(0.9) + 0.75 * -math.log(0.2)) / 54,
    ],
    [
        {"criterion": lambda x, y: (torch.sigmoid(x) - y) ** 2, "alpha": 1.0, "beta": 1.0},
        _gap_bar_logits(),
        (1 - 1 / (1 + math.exp(1.0))) ** 2 / 15,
    ],
]


@pytest.mark.parametrize("params, inputs, expected", TEST_CASES)
def test_value(params, inputs, expected):
    loss = SupervoxelLoss(**params)
    result = loss(*inputs)
    assert result.dtype == torch.float32 and result.ndim == 0
    np.testing.assert_allclose(result.item(), expected, rtol=1e-5, atol=1e-7)


def test_critical_masks_and_last_critical():
    logits, target = _gap_and_blob_logits()
    loss = SupervoxelLoss()
    fn, fp = loss.critical_masks(logits, target)
    assert fn.dtype == torch.bool and fn.shape == logits.shape
    assert torch.nonzero(fn).tolist() == [[0, 0, 2, 2]]
    assert torch.nonzero(fp).tolist() == [[0, 0, 0, 0]]
    loss(logits, target)
    assert torch.equal(loss.last_critical["fn"], fn) and torch.equal(loss.last_critical["fp"], fp)


def test_gradient_ratio_critical_vs_not():
    """A critical FN voxel gets (1 - a + a b) / (1 - a) times the gradient of a non-critical one with the same logit."""
    target = torch.zeros(1, 1, 7, 9)
    target[0, 0, 2:5, 1:8] = 1  # a thick bar
    target[0, 0, 3, 8] = 0
    logits = torch.where(target > 0, 3.0, -3.0)
    logits[0, 0, 2, 4] = -1.0  # a dent at the edge: not critical
    logits[0, 0, 2:5, 6] = -1.0  # a full cut across the bar: critical
    logits.requires_grad_(True)
    loss = SupervoxelLoss(alpha=0.5, beta=0.5)
    loss(logits, target).backward()
    fn, fp = loss.last_critical["fn"], loss.last_critical["fp"]
    assert fn[0, 0, 2:5, 6].all() and fn.sum() == 3 and not fp.any()
    grad = logits.grad[0, 0]
    assert torch.isfinite(logits.grad).all()
    np.testing.assert_allclose((grad[2, 6] / grad[2, 4]).item(), 0.75 / 0.5, rtol=1e-6)


def test_instance_labels_single_channel():
    """A bridge between two instances: critical as a merge; without it the prediction is correct."""
    target = torch.zeros(1, 1, 5, 7, 7)
    target[0, 0, 1, 3, :] = 1
    target[0, 0, 3, 3, :] = 2
    logits = torch.where(target > 0, 4.0, -4.0)
    logits[0, 0, 2, 3, 3] = 1.0
    loss = SupervoxelLoss()
    fn, fp = loss.critical_masks(logits, target)
    assert not fn.any() and torch.nonzero(fp).tolist() == [[0, 0, 2, 3, 3]]
    # a binary target of the same two bars: two components, still a merge
    fn, fp = loss.critical_masks(logits, (target > 0).float())
    assert torch.nonzero(fp).tolist() == [[0, 0, 2, 3, 3]]
    # instance_labels=False reads the instance map as binary: two components, still a merge
    fn, fp = SupervoxelLoss(instance_labels=False).critical_masks(logits, target)
    assert torch.nonzero(fp).tolist() == [[0, 0, 2, 3, 3]]
    # instance_labels=True on one id in two pieces: no merge
    fn, fp = SupervoxelLoss(instance_labels=True).critical_masks(logits, (target > 0).float())
    assert not fp.any()


def test_multichannel_softmax_onehot():
    """Three classes, softmax, to_onehot_y, background dropped: the broken class-2 bar is found in channel 1."""
    labels = torch.zeros(1, 1, 5, 9, dtype=torch.long)
    labels[0, 0, 1, 1:8] = 1
    labels[0, 0, 3, 1:8] = 2
    logits = torch.nn.functional.one_hot(labels[:, 0], 3).permute(0, 3, 1, 2).float() * 6.0
    logits[0, :, 3, 4] = torch.tensor([6.0, 0.0, 0.0])  # class-2 bar broken: predicted background
    loss = SupervoxelLoss(softmax=True, to_onehot_y=True, include_background=False, reduction="none")
    out = loss(logits, labels)
    assert out.shape == (1, 2, 5, 9)
    fn, fp = loss.last_critical["fn"], loss.last_critical["fp"]
    assert torch.nonzero(fn).tolist() == [[0, 1, 3, 4]] and not fp.any()
    assert torch.isfinite(out).all()


def test_soft_labels():
    """Soft labels go to the criterion unchanged; the detection sees them binarised at 0.5."""
    logits, target = _gap_and_blob_logits()
    soft = target * 0.8 + 0.1  # 0.1 / 0.9
    loss = SupervoxelLoss(alpha=0.0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, soft)
    np.testing.assert_allclose(loss(logits, soft).item(), expected.item(), rtol=1e-6)
    fn, fp = loss.critical_masks(logits, soft)
    assert torch.nonzero(fn).tolist() == [[0, 0, 2, 2]] and torch.nonzero(fp).tolist() == [[0, 0, 0, 0]]


def test_instance_ids_per_item():
    """Decided per sample: an item with values 0/1 is a binary mask (its two pieces are two objects) even when
    another item of the batch holds id 2; ``instance_labels=True`` reads id 1 in two pieces as one instance."""
    target = torch.zeros(2, 1, 5, 7)
    target[:, 0, 1, :] = 1
    target[:, 0, 3, :] = 1
    target[1, 0, 3, :] = 2
    logits = torch.where(target > 0, 4.0, -4.0)
    logits[:, 0, 2, 3] = 1.0  # a bridge in both items
    fn, fp = SupervoxelLoss().critical_masks(logits, target)
    assert fp[0, 0, 2, 3] and fp[1, 0, 2, 3]  # both bridges merge two objects
    alone = SupervoxelLoss().critical_masks(logits[:1], target[:1])[1]
    assert torch.equal(alone, fp[:1])  # batching does not change how item 0 is read
    fn, fp = SupervoxelLoss(instance_labels=True).critical_masks(logits, target)
    assert not fp[0].any() and fp[1, 0, 2, 3]


def test_reductions_consistent():
    logits, target = _gap_and_blob_logits()
    none = SupervoxelLoss(reduction="none")(logits, target)
    assert none.shape == logits.shape
    np.testing.assert_allclose(SupervoxelLoss()(logits, target).item(), none.mean().item(), rtol=1e-6)
    np.testing.assert_allclose(SupervoxelLoss(reduction="sum")(logits, target).item(), none.sum().item(), rtol=1e-6)
    mse = lambda x, y: (torch.sigmoid(x) - y) ** 2  # noqa: E731
    none = SupervoxelLoss(criterion=mse, reduction="none")(logits, target)
    np.testing.assert_allclose(SupervoxelLoss(criterion=mse)(logits, target).item(), none.mean().item(), rtol=1e-6)
    # nothing critical and alpha = 1: a zero that still backpropagates
    x = logits.clone().requires_grad_(True)
    zero = SupervoxelLoss(alpha=1.0, beta=0.0)(x, torch.ones_like(target) * (logits > 0))
    zero.backward()
    assert zero.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))


def test_workers_and_determinism():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 12, 12, 10, generator=gen)
    target = (torch.rand(3, 2, 12, 12, 10, generator=gen) > 0.6).float()
    serial = SupervoxelLoss(num_workers=1)
    parallel = SupervoxelLoss(num_workers=4)
    a, b, c = serial(logits, target), parallel(logits, target), parallel(logits, target)
    assert a.item() == b.item() == c.item()
    assert torch.equal(serial.last_critical["fp"], parallel.last_critical["fp"])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    logits, target = _gap_and_blob_logits()
    x = (logits * 20).to(dtype).requires_grad_(True)  # large logits: the criterion must run in float32
    out = SupervoxelLoss()(x, target)
    assert out.dtype == torch.float32
    out.backward()
    assert torch.isfinite(x.grad.float()).all()
    ref = SupervoxelLoss()(x.detach().float(), target)
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)


def test_gradient_finite_extreme():
    gen = torch.Generator().manual_seed(1)
    logits = (torch.randn(2, 1, 10, 10, 6, generator=gen) * 60).requires_grad_(True)
    target = (torch.rand(2, 1, 10, 10, 6, generator=gen) > 0.5).float()
    for loss in (SupervoxelLoss(), SupervoxelLoss(connectivity=6)):
        out = loss(logits, target)
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(logits.grad).all()
        logits.grad = None
    prob = torch.sigmoid(logits.detach()).requires_grad_(True)  # saturated probabilities 0 / 1
    out = SupervoxelLoss(sigmoid=False)(prob, target)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(prob.grad).all()


def _broken_tube(ndim):
    if ndim == 2:
        target = torch.zeros(1, 1, 12, 16)
        target[0, 0, 5:7, 2:14] = 1
        gap, blob = (slice(5, 7), slice(7, 9)), (slice(1, 3), slice(2, 4))
    else:
        target = torch.zeros(1, 1, 10, 10, 14)
        target[0, 0, 4:6, 4:6, 2:12] = 1
        gap, blob = (slice(4, 6), slice(4, 6), slice(6, 8)), (slice(0, 2), slice(0, 2), slice(1, 3))
    logits = torch.where(target > 0, 2.0, -2.0)
    logits[(0, 0) + gap] = -2.0
    logits[(0, 0) + blob] = 2.0
    return logits, target


def _n_critical(loss):
    mask = (loss.last_critical["fn"] | loss.last_critical["fp"])[0, 0].numpy()
    return label_components(mask, 26 if mask.ndim == 3 else 8)[1]


@pytest.mark.parametrize("ndim", [2, 3])
def test_optimisation_repairs_topology(ndim):
    logits, target = _broken_tube(ndim)
    params = logits.clone().requires_grad_(True)
    opt = torch.optim.Adam([params], lr=0.2)
    loss = SupervoxelLoss(alpha=0.8)
    loss(params, target)
    start = _n_critical(loss)
    assert start == 2  # the gap (FN) and the blob (FP)
    for _ in range(40):
        opt.zero_grad()
        value = loss(params, target)
        value.backward()
        opt.step()
    loss(params, target)
    assert _n_critical(loss) < start
    assert _n_critical(loss) == 0
    pred = (params.detach() > 0)[0, 0].numpy()
    assert betti_numbers(pred)[0] == betti_numbers(target[0, 0].numpy() > 0)[0] == 1


def test_ill_shape():
    loss = SupervoxelLoss()
    with pytest.raises(ValueError, match="does not match"):
        loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="B C H W"):
        loss(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="different shape"):
        loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="elementwise"):
        SupervoxelLoss(criterion=lambda x, y: (x - y).mean())(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        loss(torch.full((1, 1, 4, 4), float("nan")), torch.zeros(1, 1, 4, 4))


def test_ill_opts():
    with pytest.raises(ValueError, match="alpha"):
        SupervoxelLoss(alpha=1.5)
    with pytest.raises(ValueError, match="beta"):
        SupervoxelLoss(beta=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        SupervoxelLoss(threshold=1.0)
    with pytest.raises(ValueError, match="connectivity"):
        SupervoxelLoss(connectivity=18)
    with pytest.raises(TypeError, match="criterion must be None or callable"):
        SupervoxelLoss(criterion="bce")
    with pytest.raises(ValueError, match="Incompatible"):
        SupervoxelLoss(sigmoid=True, softmax=True)
    with pytest.raises(ValueError, match="num_workers"):
        SupervoxelLoss(num_workers=-1)
    with pytest.raises(ValueError, match="connectivity"):
        SupervoxelLoss(connectivity=8.0)
    with pytest.raises(ValueError, match="'max' is not a valid"):
        SupervoxelLoss(reduction="max")
    x, y = torch.randn(1, 1, 4, 4) * 3, torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SupervoxelLoss(sigmoid=False)(x, y)
    with pytest.raises(ValueError, match="non-integral"):
        SupervoxelLoss(instance_labels=True)(x, torch.full((1, 1, 4, 4), 0.3))
    with pytest.raises(ValueError, match="non-integral"):
        SupervoxelLoss()(x, torch.full((1, 1, 4, 4), 2.5))
    with pytest.raises(ValueError, match="non-negative"):
        SupervoxelLoss()(x, torch.full((1, 1, 4, 4), -1.0))
    with pytest.raises(ValueError, match="connectivity"):
        SupervoxelLoss(connectivity=6)(x, y)  # 6 is a 3D connectivity
    with pytest.warns(UserWarning, match="softmax"):
        SupervoxelLoss(softmax=True)(torch.rand(1, 1, 4, 4), y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda():
    logits, target = _gap_and_blob_logits()
    cpu = SupervoxelLoss()(logits, target)
    x = logits.cuda().requires_grad_(True)
    loss = SupervoxelLoss()
    out = loss(x, target.cuda())
    assert out.device.type == "cuda"
    out.backward()
    assert torch.isfinite(x.grad).all()
    np.testing.assert_allclose(out.item(), cpu.item(), rtol=1e-5)
    assert loss.last_critical["fn"].device.type == "cpu"


def test_benchmark_smoke():
    from benchmarks.supervoxel import benchmark_supervoxel

    result = benchmark_supervoxel((1, 1, 16, 16, 16), repeats=1, clock="cpu")
    for scenario in ("trained", "random"):
        row = result[scenario]
        assert set(row) >= {"supervoxel_fwd_bwd", "cc3d_x3", "dice_fwd_bwd", "softcldice_fwd_bwd", "numpy_peak_mib"}
        assert all(np.isfinite(v) and v >= 0 for v in row.values())
    with pytest.raises(ValueError, match="shape must be B 1 H W"):
        benchmark_supervoxel((1, 2, 8, 8), repeats=1)

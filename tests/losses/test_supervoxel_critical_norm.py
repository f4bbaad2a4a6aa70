"""SupervoxelLoss(critical_norm=...): the critical term averaged over all voxels (paper), over the critical mass, or
divided by the target's foreground volume."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_topo.losses import SupervoxelLoss


def _case():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 12, 12, 12, dtype=torch.float64)
    target = (torch.rand(2, 1, 12, 12, 12) > 0.7).float()
    return logits, target


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.8, 0.3), (0.2, 1.0)])
def test_critical_norm_matches_formula(alpha, beta):
    logits, target = _case()
    loss = SupervoxelLoss(alpha=alpha, beta=beta, critical_norm="critical")
    value = float(loss(logits, target))
    k = beta * loss.last_critical["fn"].double() + (1 - beta) * loss.last_critical["fp"].double()
    assert k.sum() > 0  # the random case has critical voxels, so the two modes differ
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    expected = (1 - alpha) * bce.mean() + alpha * (k * bce).sum() / k.sum()
    assert value == pytest.approx(float(expected), rel=1e-5)
    paper = float(SupervoxelLoss(alpha=alpha, beta=beta)(logits, target))
    assert paper == pytest.approx(float(((1 - alpha) * bce + alpha * k * bce).mean()), rel=1e-5)
    assert value > paper  # rare critical voxels weigh far more when averaged over themselves


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.8, 0.3), (0.2, 1.0)])
def test_foreground_norm_matches_formula_and_is_bounded(alpha, beta):
    logits, target = _case()
    loss = SupervoxelLoss(alpha=alpha, beta=beta, critical_norm="foreground")
    value = float(loss(logits, target))
    k = beta * loss.last_critical["fn"].double() + (1 - beta) * loss.last_critical["fp"].double()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    expected = (1 - alpha) * bce.mean() + alpha * (k * bce).sum() / target.sum()
    assert value == pytest.approx(float(expected), rel=1e-5)
    assert value - (1 - alpha) * float(bce.mean()) <= alpha * float(bce.max()) * float(k.sum() / target.sum()) + 1e-9
    critical = float(SupervoxelLoss(alpha=alpha, beta=beta, critical_norm="critical")(logits, target))
    assert (value < critical) == bool(k.sum() < target.sum())


def test_foreground_norm_empty_target_falls_back_to_voxels():
    logits, _ = _case()
    empty = torch.zeros_like(logits)
    a = SupervoxelLoss(critical_norm="foreground")(logits, empty)
    b = SupervoxelLoss()(logits, empty)
    assert torch.isfinite(a) and float(a) == pytest.approx(float(b))


@pytest.mark.parametrize("norm", ["critical", "foreground"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_critical_norm_reductions_agree_with_voxel_map(reduction, norm):
    logits, target = _case()
    value = SupervoxelLoss(critical_norm=norm, reduction=reduction)(logits, target)
    voxel_map = SupervoxelLoss(critical_norm=norm, reduction="none")(logits, target)
    expected = voxel_map.mean() if reduction == "mean" else voxel_map.sum()
    assert float(value) == pytest.approx(float(expected), rel=1e-5)


def test_critical_norm_without_critical_voxels_equals_paper():
    target = torch.zeros(1, 1, 8, 8, 8)
    target[0, 0, 2:6, 2:6, 2:6] = 1
    logits = (target * 8 - 4).requires_grad_()  # perfect prediction: no error, no critical voxel
    a = SupervoxelLoss(critical_norm="critical")(logits, target)
    b = SupervoxelLoss()(logits, target)
    assert float(a) == pytest.approx(float(b))
    a.backward()
    assert torch.isfinite(logits.grad).all()


def test_critical_norm_bad_option():
    with pytest.raises(ValueError, match="critical_norm must be one of"):
        SupervoxelLoss(critical_norm="batch")


def test_instance_or_binary_is_decided_per_sample():
    """A binary sample keeps its critical voxels when batched with an instance map (ids 1 and 2)."""
    binary = torch.zeros(1, 1, 12, 12, 12)
    binary[0, 0, 2:10, 5:7, 5:7] = 1
    logits_binary = binary * 8 - 4
    logits_binary[0, 0, 0:2, 0:2, 0:2] = 4  # a spurious object: critical false positive
    logits_binary[0, 0, 5, 5:7, 5:7] = -4  # a break: critical false negatives
    instances = torch.zeros(1, 1, 12, 12, 12)
    instances[0, 0, 2:10, 2:4, 2:4] = 1
    instances[0, 0, 2:10, 8:10, 2:4] = 2
    logits_instances = (instances > 0).float() * 8 - 4
    logits_instances[0, 0, 5, 4:8, 3] = 4  # joins the two instances: a merge
    loss = SupervoxelLoss()
    alone_fn, alone_fp = loss.critical_masks(logits_binary, binary)
    assert alone_fp.sum() == 8 and alone_fn.sum() == 4
    both_fn, both_fp = loss.critical_masks(torch.cat([logits_binary, logits_instances]), torch.cat([binary, instances]))
    assert torch.equal(both_fp[:1], alone_fp) and torch.equal(both_fn[:1], alone_fn)
    inst_fn, inst_fp = loss.critical_masks(logits_instances, instances)
    assert inst_fp.sum() > 0 and torch.equal(both_fp[1:], inst_fp)
    value_alone = float(loss(logits_binary, binary))
    batched = SupervoxelLoss(reduction="none")(torch.cat([logits_binary, logits_instances]), torch.cat([binary, instances]))
    assert float(batched[:1].mean()) == pytest.approx(value_alone, rel=1e-6)

"""One vocabulary for every loss: activation default, input/activation mismatch, ``reduction="none"`` shapes,
deprecated names, and the README's ``TopologyAwareLoss`` example with each loss swapped in, through the warm-up."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
from monai.losses import DiceCELoss, DiceLoss
from torch.nn.modules.loss import _Loss

from monai_topo import losses
from monai_topo.losses import (
    BettiPriorLoss,
    PersistenceMatchingLoss,
    SpatialAwareMatchingLoss,
    SupervoxelLoss,
    TopologyAwareLoss,
)
from monai_topo.losses.base import TopologyLoss

#: every exported loss that can be the topological term (TopologyAwareLoss is the wrapper)
ALL_LOSSES = sorted(
    (
        obj
        for name in losses.__all__
        if isinstance(obj := getattr(losses, name), type) and issubclass(obj, _Loss) and obj is not TopologyAwareLoss
    ),
    key=lambda cls: cls.__name__,
)
#: losses whose reduction="none" is a voxel map (documented); every other one is per item, as DiceLoss
VOXEL_MAP_LOSSES = {SupervoxelLoss}
OWN_LOSSES = [cls for cls in ALL_LOSSES if issubclass(cls, TopologyLoss)]
#: the losses built on connected components / persistence (SkeletonRecallLoss has no connectivity option)
CONNECTIVITY_LOSSES = [cls for cls in OWN_LOSSES if "connectivity" in inspect.signature(cls).parameters]


def _ids(classes):
    return [cls.__name__ for cls in classes]


def _data(spatial=(6, 6, 6), channels=1, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((batch, channels, *spatial), generator=g) * 3  # logits: values well outside [0, 1]
    target = (torch.rand((batch, channels, *spatial), generator=g) > 0.6).float()
    return logits, target


def test_every_loss_is_covered():
    assert {"BettiPriorLoss", "PersistenceMatchingLoss", "SpatialAwareMatchingLoss", "SupervoxelLoss"} <= set(
        _ids(ALL_LOSSES)
    )


@pytest.mark.parametrize("loss_cls", ALL_LOSSES, ids=_ids(ALL_LOSSES))
def test_activation_default_is_logits(loss_cls):
    assert loss_cls().sigmoid is True  # logits in: sigmoid unless softmax / other_act
    assert loss_cls(softmax=True).sigmoid is False
    assert loss_cls(other_act=torch.sigmoid).sigmoid is False
    assert loss_cls(sigmoid=False).sigmoid is False
    with pytest.raises(ValueError, match="Incompatible"):
        loss_cls(sigmoid=True, softmax=True)


@pytest.mark.parametrize("spatial", [(6, 6), (5, 6, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("loss_cls", ALL_LOSSES, ids=_ids(ALL_LOSSES))
def test_reduction_none_shape(loss_cls, spatial):
    logits, target = _data(spatial, channels=3)
    out = loss_cls(reduction="none")(logits, target)
    if loss_cls in VOXEL_MAP_LOSSES:
        assert out.shape == logits.shape  # the weighted voxel map
    else:
        assert (
            out.shape == DiceLoss(sigmoid=True, reduction="none")(logits, target).shape == (2, 3) + (1,) * len(spatial)
        )
    mean = loss_cls(reduction="mean")(logits, target)
    assert float(mean) == pytest.approx(float(out.mean()), rel=1e-5)


@pytest.mark.parametrize("loss_cls", OWN_LOSSES, ids=_ids(OWN_LOSSES))
def test_logits_where_probabilities_are_expected_raise(loss_cls):
    logits, target = _data()
    with pytest.raises(ValueError, match=r"sigmoid=False\) expects probabilities in \[0, 1\].*look like logits"):
        loss_cls(sigmoid=False)(logits, target)
    probabilities = torch.sigmoid(logits)
    with pytest.warns(UserWarning, match=r"expects logits, but the input lies in \[.*already probabilities"):
        loss_cls()(probabilities, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_cls(sigmoid=False)(probabilities, target)  # the right option: no warning, no error
        loss_cls()(torch.zeros_like(logits), target)  # constant logits are logits: no warning


@pytest.mark.parametrize("loss_cls", ALL_LOSSES, ids=_ids(ALL_LOSSES))
def test_readme_example_runs_through_and_past_the_warmup(loss_cls):
    """README "Use it": ``TopologyAwareLoss(DiceCELoss(sigmoid=True), <loss>(), warmup=2)`` with logits."""
    loss = TopologyAwareLoss(
        base_loss=DiceCELoss(sigmoid=True), topology_loss=loss_cls(), lambda_topology=1.0, warmup=2
    )
    logits, label = _data((8, 8, 8), batch=1)
    logits.requires_grad_(True)
    active = []
    for _ in range(4):
        value = loss(logits, label)
        value.backward()
        active.append(loss.last_terms["active"])
        assert torch.isfinite(value) and value.ndim == 0
    assert active == [False, False, True, True]
    assert loss.last_terms["topology"] > 0.0
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("loss_cls", OWN_LOSSES, ids=_ids(OWN_LOSSES))
def test_activation_mismatch_is_caught_on_the_first_call_during_warmup(loss_cls):
    loss = TopologyAwareLoss(DiceCELoss(sigmoid=True), loss_cls(sigmoid=False), warmup=1000)
    logits, label = _data()
    with pytest.raises(ValueError, match="look like logits"):
        loss(logits, label)
    assert loss.iteration == 0  # failed before counting


def test_first_call_checks_the_topological_target_and_prior():
    logits, _ = _data(channels=2)
    soft = torch.full_like(logits, 0.3)
    with pytest.raises(ValueError, match="binary"):
        TopologyAwareLoss(DiceLoss(sigmoid=True), PersistenceMatchingLoss(), warmup=50)(logits, soft)
    with pytest.raises(ValueError, match="per-channel priors"):
        TopologyAwareLoss(DiceLoss(sigmoid=True), BettiPriorLoss([(1, 0, 0)] * 3), warmup=50)(logits, soft)
    loss = TopologyAwareLoss(DiceLoss(sigmoid=True), SpatialAwareMatchingLoss(), warmup=50)
    loss(logits, soft)  # soft targets are fine for SATLoss; the check ran once, later calls do not repeat it
    assert loss._topology_inputs_checked


def test_reduction_none_terms_add_as_dice_or_raise():
    logits, target = _data(channels=3)
    both = TopologyAwareLoss(
        DiceLoss(sigmoid=True, reduction="none"), PersistenceMatchingLoss(reduction="none"), reduction="none"
    )(logits, target)
    assert both.shape == (2, 3, 1, 1, 1)  # was silently (2, 3, 1, 2, 3) with a (B, C) term
    voxel = TopologyAwareLoss(
        DiceLoss(sigmoid=True, reduction="none"), SupervoxelLoss(reduction="none"), reduction="none"
    )(logits, target)
    assert voxel.shape == logits.shape

    def per_item(input, target):  # a (B, C) term, e.g. a user's own loss
        return (input - target).abs().mean(dim=(2, 3, 4))

    with pytest.raises(ValueError, match=r"cannot add the base term of shape \(2, 3, 1, 1, 1\).*\(2, 3\)"):
        TopologyAwareLoss(DiceLoss(sigmoid=True, reduction="none"), per_item, reduction="none")(logits, target)


@pytest.mark.parametrize(
    "loss_cls, old, new, value",
    [
        (PersistenceMatchingLoss, "threshold", "min_persistence", 0.1),
        (SpatialAwareMatchingLoss, "threshold", "min_persistence", 0.1),
        (BettiPriorLoss, "threshold", "min_persistence", 0.1),
        (SupervoxelLoss, "instance_target", "instance_labels", True),
    ],
)
def test_old_names_work_with_a_deprecation_warning(loss_cls, old, new, value):
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated.*use '{new}'"):
        loss = loss_cls(**{old: value})
    assert getattr(loss, new) == value
    with pytest.raises(TypeError, match=f"pass '{new}' only"):
        loss_cls(**{old: value, new: value})


@pytest.mark.parametrize("loss_cls", CONNECTIVITY_LOSSES, ids=_ids(CONNECTIVITY_LOSSES))
@pytest.mark.parametrize("bad, match", [(8.0, "connectivity"), (True, "connectivity"), (18, "connectivity")])
def test_connectivity_is_validated_in_the_constructor(loss_cls, bad, match):
    with pytest.raises(ValueError, match=match):
        loss_cls(connectivity=bad)


@pytest.mark.parametrize("loss_cls", OWN_LOSSES, ids=_ids(OWN_LOSSES))
def test_num_workers_zero_is_serial(loss_cls):
    logits, target = _data()
    assert torch.equal(loss_cls(num_workers=0)(logits, target), loss_cls(num_workers=1)(logits, target))
    with pytest.raises(ValueError, match="num_workers"):
        loss_cls(num_workers=-1)


def test_first_call_checks_supervoxel_targets_during_warmup():
    logits, _ = _data()
    for bad, match in ((torch.full_like(logits, 1.5), "non-integral"), (torch.full_like(logits, -1.0), "non-negative")):
        with pytest.raises(ValueError, match=match):
            TopologyAwareLoss(DiceLoss(sigmoid=True), SupervoxelLoss(), warmup=50)(logits, bad)

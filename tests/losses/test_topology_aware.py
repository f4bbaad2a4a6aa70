"""TopologyAwareLoss: combination, warm-up counting, ignite attach, checkpoint resume, SupervisedTrainer."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.engines import SupervisedTrainer
from monai.losses import DiceCELoss, DiceLoss
from monai.networks.nets import UNet

from monai_topo.losses import SupervoxelLoss, TopologyAwareLoss


class CountingLoss(torch.nn.Module):
    """A stand-in topological term: mean absolute difference, counting its calls."""

    def __init__(self, requires_target: bool = True):
        super().__init__()
        self.calls = 0
        self.requires_target = requires_target

    def forward(self, pred, target=None):
        self.calls += 1
        return (pred - (target if target is not None else 0.0)).abs().mean()


def _inputs():
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 1, 6, 6, generator=gen, requires_grad=True)
    return pred, (torch.rand(2, 1, 6, 6, generator=gen) > 0.5).float()


TEST_CASES = [  # [params, inputs, expected total = mse + lambda * l1]
    [{"lambda_topology": 1.0}, _inputs(), 1.0],
    [{"lambda_topology": 0.25}, _inputs(), 0.25],
    [{"lambda_topology": 0.0}, _inputs(), 0.0],
]


@pytest.mark.parametrize("params, inputs, expected", TEST_CASES)
def test_value(params, inputs, expected):
    pred, target = inputs
    topo = CountingLoss()
    loss = TopologyAwareLoss(torch.nn.MSELoss(), topo, **params)
    total = loss(pred, target)
    mse = torch.nn.functional.mse_loss(pred, target)
    l1 = (pred - target).abs().mean()
    np.testing.assert_allclose(total.item(), (mse + expected * l1).item(), rtol=1e-6)
    assert loss.last_terms["base"] == pytest.approx(mse.item())
    assert loss.last_terms["total"] == pytest.approx(total.item())
    assert loss.last_terms["active"] is (expected > 0)
    assert topo.calls == (1 if expected > 0 else 0)  # a zero weight skips the term
    total.backward()
    assert torch.isfinite(pred.grad).all()


def test_warmup_iterations_and_counting():
    pred, target = _inputs()
    topo = CountingLoss()
    loss = TopologyAwareLoss(torch.nn.MSELoss(), topo, warmup=2)
    for expected_active in (False, False, True, True):
        assert loss.topology_active is expected_active
        loss(pred, target)
        assert loss.last_terms["active"] is expected_active
        if not expected_active:
            assert loss.last_terms["topology"] == 0.0
    assert topo.calls == 2 and loss.iteration == 4
    with torch.no_grad():  # validation calls do not count
        loss(pred, target)
    loss.eval()
    loss(pred, target)
    assert loss.iteration == 4
    loss.train()
    loss.set_iteration(0)
    assert not loss.topology_active


def test_warmup_epochs_set_epoch():
    pred, target = _inputs()
    loss = TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), warmup=1, warmup_unit="epochs")
    with pytest.warns(UserWarning, match="attach"):
        loss(pred, target)
    assert not loss.last_terms["active"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(pred, target)  # warns once only
    loss.set_epoch(1)
    loss(pred, target)
    assert loss.last_terms["active"]


def test_target_free_term():
    pred, target = _inputs()
    topo = CountingLoss(requires_target=False)
    loss = TopologyAwareLoss(torch.nn.MSELoss(), topo, lambda_topology=2.0)
    total = loss(pred, target)
    expected = torch.nn.functional.mse_loss(pred, target) + 2.0 * pred.abs().mean()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)


def test_reduction():
    pred, target = _inputs()
    base = DiceLoss(sigmoid=True, reduction="none")  # (B, C, 1, 1)
    topo = SupervoxelLoss(reduction="none")  # (B, C, H, W)
    mean = TopologyAwareLoss(base, topo)(pred, target)
    expected = base(pred, target).mean() + topo(pred, target).mean()
    np.testing.assert_allclose(mean.item(), expected.item(), rtol=1e-6)
    total = TopologyAwareLoss(base, topo, reduction="sum")(pred, target)
    np.testing.assert_allclose(total.item(), (base(pred, target).sum() + topo(pred, target).sum()).item(), rtol=1e-5)
    none = TopologyAwareLoss(base, topo, reduction="none")(pred, target)
    assert none.shape == pred.shape


def test_state_dict_resume():
    """The counters travel in state_dict (through torch.save / weights_only load), with the sub-losses' state."""
    pred, target = _inputs()

    def make():
        return TopologyAwareLoss(DiceLoss(sigmoid=True, weight=[2.0]), CountingLoss(), warmup=3)

    loss = make()
    for _ in range(3):
        loss(pred, target)
    loss.set_epoch(5)
    state = loss.state_dict()
    assert "_extra_state" in state and "base_loss.class_weight" in state
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    resumed = make()
    assert not resumed.topology_active
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.iteration == 3 and resumed.epoch == 5 and resumed.topology_active
    resumed(pred, target)
    assert resumed.last_terms["active"]


def _tiny_trainer(loss, max_epochs=1, n_items=2, handlers=None):
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=1, channels=(4, 8), strides=(2,), num_res_units=0)
    gen = torch.Generator().manual_seed(0)
    data = [
        {
            "image": torch.rand(1, 16, 16, 16, generator=gen),
            "label": (torch.rand(1, 16, 16, 16, generator=gen) > 0.7).float(),
        }
        for _ in range(n_items)
    ]
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=1),
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3),
        loss_function=loss,
        train_handlers=handlers,
    )


def test_supervised_trainer_iterations():
    """Two iterations of a tiny 3D UNet: the topological term is inactive (and 0) first, then active."""
    loss = TopologyAwareLoss(DiceCELoss(sigmoid=True), SupervoxelLoss(), warmup=1)
    trainer = _tiny_trainer(loss)
    records = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: records.append(dict(loss.last_terms)))
    trainer.run()
    assert len(records) == 2
    assert records[0]["active"] is False and records[0]["topology"] == 0.0
    assert records[0]["total"] == pytest.approx(records[0]["base"])
    assert records[1]["active"] is True and records[1]["topology"] > 0.0
    assert records[1]["total"] == pytest.approx(records[1]["base"] + records[1]["topology"], rel=1e-5)
    output = trainer.state.output[0] if isinstance(trainer.state.output, list) else trainer.state.output
    assert np.isfinite(float(output["loss"]))
    assert loss.iteration == 2


def test_supervised_trainer_epochs_attached():
    """Listed in train_handlers, the loss follows the trainer's epochs: epoch 1 without, epoch 2 with the term."""
    topo = CountingLoss()
    loss = TopologyAwareLoss(DiceCELoss(sigmoid=True), topo, warmup=1, warmup_unit="epochs")
    trainer = _tiny_trainer(loss, max_epochs=2, n_items=2, handlers=[loss])
    records = []
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: records.append((engine.state.epoch, loss.last_terms["active"]))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # attached: no "does not know the epoch" warning
        trainer.run()
    assert records == [(1, False), (1, False), (2, True), (2, True)]
    assert topo.calls == 2 and loss.epoch == 1 and loss.iteration == 3


def test_ill_opts():
    with pytest.raises(TypeError, match="base_loss must be a loss module or a callable"):
        TopologyAwareLoss("dice", CountingLoss())
    with pytest.raises(TypeError, match="topology_loss must be a loss module or a callable"):
        TopologyAwareLoss(torch.nn.MSELoss(), None)
    with pytest.raises(ValueError, match="lambda"):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), lambda_topology=-1)
    with pytest.raises(ValueError, match="warmup"):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), warmup=-1)
    with pytest.raises(ValueError, match="warmup"):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), warmup=1.5)
    with pytest.raises(ValueError, match="warmup_unit"):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), warmup_unit="steps")
    with pytest.raises(ValueError, match="'max' is not a valid"):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), reduction="max")
    loss = TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss())
    with pytest.raises(ValueError, match="epoch"):
        loss.set_epoch(-1)
    with pytest.raises(ValueError, match="iteration"):
        loss.set_iteration(2.5)


def test_ill_shape():
    loss = TopologyAwareLoss(DiceLoss(sigmoid=True), SupervoxelLoss())
    with pytest.raises(ValueError, match="does not match"):
        loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))


def test_with_betti_prior():
    """BettiPriorLoss declares requires_target = False: it is called with the prediction only."""
    from monai_topo.losses import BettiPriorLoss

    prior = BettiPriorLoss(betti=(1, 0), sigmoid=True)
    assert getattr(prior, "requires_target", True) is False
    pred, target = _inputs()
    loss = TopologyAwareLoss(DiceLoss(sigmoid=True), prior, lambda_topology=0.5)
    total = loss(pred, target)
    expected = DiceLoss(sigmoid=True)(pred, target) + 0.5 * prior(pred)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    total.backward()
    assert torch.isfinite(pred.grad).all()


def test_onehot_labels_through_a_compound_base_loss():
    """DiceCELoss keeps ``to_onehot_y`` on its ``.dice`` member: B 1 ... labels must still pass the input check."""
    from monai.losses import DiceCELoss

    from monai_topo.losses import BettiPriorLoss

    loss = TopologyAwareLoss(DiceCELoss(to_onehot_y=True, softmax=True), BettiPriorLoss((1, 0), softmax=True))
    logits = torch.randn(2, 3, 12, 12, requires_grad=True)
    labels = torch.randint(0, 3, (2, 1, 12, 12))
    value = loss(logits, labels)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="class labels"):
        loss(logits, labels + 3)


def test_ramp_rises_linearly_after_the_warmup():
    pred, target = _inputs()
    loss = TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), lambda_topology=2.0, warmup=2, ramp=4)
    weights = []
    for _ in range(8):
        weights.append(loss.current_weight)
        total = loss(pred, target)
        mse = torch.nn.functional.mse_loss(pred, target)
        l1 = (pred - target).abs().mean()
        np.testing.assert_allclose(total.item(), (mse + weights[-1] * l1).item(), rtol=1e-6)
        assert loss.last_terms["weight"] == pytest.approx(weights[-1])
    assert weights == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0])


def test_ramp_in_epochs():
    loss = TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), lambda_topology=1.0, warmup=1, warmup_unit="epochs",
                             ramp=2)  # fmt: skip
    expected = {0: 0.0, 1: 0.5, 2: 1.0, 5: 1.0}
    for epoch, weight in expected.items():
        loss.set_epoch(epoch)
        assert loss.current_weight == pytest.approx(weight)


def test_max_ratio_bounds_value_and_gradient():
    pred, target = _inputs()
    topo = CountingLoss()
    loss = TopologyAwareLoss(torch.nn.MSELoss(), topo, lambda_topology=100.0, max_ratio=0.5)
    total = loss(pred, target)
    mse = torch.nn.functional.mse_loss(pred, target)
    np.testing.assert_allclose(total.item(), 1.5 * mse.item(), rtol=1e-6)  # the term is bounded to half the base
    assert loss.last_terms["weight"] < 100.0
    total.backward()
    grad = pred.grad.clone()
    pred.grad = None
    scale = loss.last_terms["weight"]
    reference = torch.nn.functional.mse_loss(pred, target) + scale * (pred - target).abs().mean()
    reference.backward()
    torch.testing.assert_close(grad, pred.grad)
    # below the bound nothing changes
    small = TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), lambda_topology=1e-3, max_ratio=0.5)
    assert small(pred, target).item() == pytest.approx((mse + 1e-3 * (pred - target).abs().mean()).item(), rel=1e-6)
    assert small.last_terms["weight"] == pytest.approx(1e-3)


@pytest.mark.parametrize("params", [{"ramp": -1}, {"ramp": 1.5}, {"max_ratio": 0}, {"max_ratio": -2.0}])
def test_bad_ramp_and_ratio(params):
    with pytest.raises(ValueError):
        TopologyAwareLoss(torch.nn.MSELoss(), CountingLoss(), **params)

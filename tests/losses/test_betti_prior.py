"""BettiPriorLoss (Clough et al. 2020) and refine_with_betti_prior: hand values, gradients, optimisation, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.losses import BettiPriorLoss, TopologyAwareLoss, refine_with_betti_prior
from monai_topo.topology import betti_numbers
from tests.error_messages import names_an_option


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float64))[None, None]


def ring_and_spurious_2d():
    """A 3x3 ring of 0.9 with its hole filled (0.6) and a spurious voxel of 0.7; background 0.1.
    Bars: dim 0: (0.9, 0) essential, l = 0.9; (0.7, 0.1), l = 0.6. dim 1: (0.9, 0.6), l = 0.3."""
    p = np.full((7, 7), 0.1)
    p[1:4, 1:4] = 0.9
    p[2, 2] = 0.6
    p[5, 5] = 0.7
    return p


def broken_tube_3d():
    """Bars: dim 0: (0.9, 0) essential; (0.9, 0.3), l = 0.6."""
    p = np.full((5, 5, 9), 0.1)
    p[2, 2, 1:8] = 0.9
    p[2, 2, 4] = 0.3
    return p


def filled_ball_3d():
    """Bars: dim 0: (0.9, 0); dim 2: the cavity (0.9, 0.6), l = 0.3."""
    p = np.full((5, 5, 5), 0.1)
    p[1:4, 1:4, 1:4] = 0.9
    p[2, 2, 2] = 0.6
    return p


# [params, probabilities, expected]: L_k = sum_{i <= b_k} (1 - l_i)^2 + sum_{i > b_k} l_i^2
HAND_CASES = [
    [{"betti": (1, 1)}, ring_and_spurious_2d(), 0.01 + 0.36 + 0.49],
    [{"betti": (1, 0)}, ring_and_spurious_2d(), 0.01 + 0.36 + 0.09],
    [{"betti": (2, 0)}, ring_and_spurious_2d(), 0.01 + 0.16 + 0.09],
    [{"betti": (1, 1), "max_bars": 0}, ring_and_spurious_2d(), 0.01 + 0.49],
    [{"betti": (1, None)}, ring_and_spurious_2d(), 0.01 + 0.36],
    [{"betti": (3, 1)}, ring_and_spurious_2d(), 0.01 + 0.16 + 1.0 + 0.49],  # one wanted bar is missing: 1
    [{"betti": (1, 1), "min_persistence": 0.5}, ring_and_spurious_2d(), 0.01 + 0.36 + 1.0],  # the loop is ignored
    [{"betti": (1, 1), "essential_death": "min"}, ring_and_spurious_2d(), 0.04 + 0.36 + 0.49],
    [{"betti": (1, 0, 0)}, broken_tube_3d(), 0.01 + 0.36],
    [{"betti": (2, 0, 0)}, broken_tube_3d(), 0.01 + 0.16],
    [{}, broken_tube_3d(), 0.01 + 0.36],  # default prior: one simply connected object
    [{"betti": (1, 0, 1)}, filled_ball_3d(), 0.01 + 0.49],
    [{"betti": (1, 0, 0)}, filled_ball_3d(), 0.01 + 0.09],
    [{"betti": (1, 0, 0), "connectivity": 6}, filled_ball_3d(), 0.01 + 0.09],
]


@pytest.mark.parametrize("params, p, expected", HAND_CASES)
def test_hand_values(params, p, expected):
    assert float(BettiPriorLoss(sigmoid=False, **params)(_t(p))) == pytest.approx(expected, abs=1e-12)


def test_target_is_ignored_and_per_channel_priors():
    p = _t(ring_and_spurious_2d())
    loss = BettiPriorLoss((1, 1), sigmoid=False)
    assert float(loss(p, torch.rand(3))) == float(loss(p))
    two = torch.cat([p, p], 1)
    per_channel = BettiPriorLoss([(1, 1), (1, 0)], sigmoid=False, reduction="none")(two)
    assert per_channel.shape == (1, 2, 1, 1)
    assert per_channel[0].flatten().tolist() == pytest.approx([0.86, 0.46])
    # include_background=False drops channel 0 before the priors are assigned
    three = torch.cat([p, p, p], 1)
    out = BettiPriorLoss([(1, 1), (1, 0)], sigmoid=False, include_background=False, reduction="none")(three)
    assert out[0].flatten().tolist() == pytest.approx([0.86, 0.46])
    assert BettiPriorLoss.requires_target is False


def test_gradient_directions():
    x = _t(ring_and_spurious_2d()).requires_grad_(True)
    BettiPriorLoss((1, 1), sigmoid=False)(x).backward()
    g = x.grad[0, 0]
    assert float(g[5, 5]) == pytest.approx(2 * 0.6)  # the spurious component's birth is pushed down
    assert float(g[2, 2]) == pytest.approx(2 * 0.7)  # the hole is opened: its death pushed down
    assert int((g != 0).sum()) == 5  # essential birth, spurious birth/death, loop birth/death


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (1, 2, 4, 4, 3)])
@pytest.mark.parametrize("params", [{}, {"essential_death": "min", "max_bars": 2}])
def test_gradcheck(shape, params):
    rng = np.random.default_rng(0)
    values = np.linspace(-3, 3, int(np.prod(shape)))
    rng.shuffle(values)
    x = torch.tensor(values.reshape(shape), dtype=torch.float64, requires_grad=True)
    loss = BettiPriorLoss(sigmoid=True, **params)
    assert torch.autograd.gradcheck(loss, (x,), eps=1e-6, atol=1e-6)


def noisy_ring_2d(rng):
    p = np.full((16, 16), 0.1)
    p[3:13, 3:13] = 0.8
    p[5:11, 5:11] = 0.15
    p[3:5, 8] = 0.3  # broken ring
    p[13:15, 1:3] = 0.7  # spurious blob
    p[7:9, 7:9] = 0.65  # blob in the hole
    return np.clip(p + rng.normal(0, 0.03, p.shape), 0.01, 0.99), (1, 1)


def noisy_ball_3d(rng):
    p = np.full((12, 12, 12), 0.1)
    p[2:10, 2:10, 2:10] = 0.8
    p[2:10, 6, 6] = 0.35  # a tunnel through the ball
    p[0:2, 10:12, 0:2] = 0.7  # spurious blob
    return np.clip(p + rng.normal(0, 0.03, p.shape), 0.01, 0.99), (1, 0, 0)


@pytest.mark.parametrize("problem", [noisy_ring_2d, noisy_ball_3d])
def test_optimisation_reaches_prior(problem):
    p, prior = problem(np.random.default_rng(0))
    assert betti_numbers(p > 0.5).tolist() != list(prior)
    x = torch.logit(_t(p)).float().requires_grad_(True)
    loss_fn = BettiPriorLoss(prior, sigmoid=True)
    opt = torch.optim.Adam([x], lr=0.1)
    for _ in range(120):
        opt.zero_grad()
        loss_fn(x).backward()
        opt.step()
    assert betti_numbers((torch.sigmoid(x) > 0.5)[0, 0].numpy()).tolist() == list(prior)


@pytest.mark.parametrize("logits", [True, False])
def test_refine_with_betti_prior(logits):
    p, prior = noisy_ring_2d(np.random.default_rng(1))
    probs = torch.tensor(p, dtype=torch.float32)[None, None].repeat(2, 1, 1, 1)
    start = torch.logit(probs) if logits else probs
    refined = refine_with_betti_prior(start, prior, steps=150, lr=0.1, fidelity=0.01, logits=logits)
    assert refined.shape == start.shape and refined.dtype == start.dtype and not refined.requires_grad
    out = torch.sigmoid(refined) if logits else refined
    for b in range(2):
        assert betti_numbers((out[b, 0] > 0.5).numpy()).tolist() == list(prior)
    # the fidelity term keeps most voxels where they were
    assert float((out - probs).abs().median()) < 0.01
    # steps=0 returns the input representation unchanged
    same = refine_with_betti_prior(start, prior, steps=0, logits=logits)
    assert torch.allclose(same, start, atol=1e-5)


def test_refine_softmax_and_no_grad_context():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(0, 1, (1, 2, 10, 10)), dtype=torch.float32)
    with torch.no_grad():
        out = refine_with_betti_prior(x, (1, 0), steps=20, sigmoid=False, softmax=True, include_background=False)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.equal(out, x)


def test_in_a_supervised_wrapper():
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    wrapper = TopologyAwareLoss(torch.nn.BCEWithLogitsLoss(), BettiPriorLoss((1, 0), sigmoid=True), lambda_topology=0.1)
    wrapper(x, torch.zeros(2, 1, 8, 8)).backward()
    assert torch.isfinite(x.grad).all()


def test_no_features():
    z = torch.zeros(1, 1, 6, 6, 6, dtype=torch.float64, requires_grad=True)
    loss = BettiPriorLoss((0, 0, 0), sigmoid=False)(z)  # nothing wanted, nothing there
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(z.grad) == 0
    assert float(BettiPriorLoss((1, 0, 0), sigmoid=False)(z)) == 1.0  # one wanted component is missing
    ball = torch.zeros(1, 1, 6, 6, 6, dtype=torch.float64)
    ball[..., 1:5, 1:5, 1:5] = 1.0
    assert float(BettiPriorLoss((1, 0, 0), sigmoid=False)(ball)) == 0.0  # perfect


ILL_SHAPES = [
    [{}, torch.rand(2, 1, 8), "B C H W"],
    [{"betti": (1, 0, 0)}, torch.rand(1, 1, 8, 8), "entries per channel but the input is 2D"],
    [{"betti": (1, 0)}, torch.rand(1, 1, 8, 8, 8), "entries per channel but the input is 3D"],
    [{"betti": [(1, 0), (1, 1)]}, torch.rand(1, 3, 8, 8), "2 per-channel priors but the prediction has 3"],
    [{"betti": [(1, 0), (1, 1)], "include_background": False}, torch.rand(1, 2, 8, 8), "prediction has 1 channel"],
    [{}, torch.full((1, 1, 4, 4), float("nan")), "NaN or infinite"],
]


@pytest.mark.parametrize("params, x, match", ILL_SHAPES)
def test_ill_shape(params, x, match):
    with pytest.raises(ValueError, match=match):
        BettiPriorLoss(sigmoid=False, **params)(x)


ILL_OPTS = [
    [{"betti": (1, -1)}, ValueError],
    [{"betti": (1,)}, ValueError],
    [{"betti": (1, 0, 0, 0)}, ValueError],
    [{"betti": (1.5, 0)}, ValueError],
    [{"betti": "1,0"}, TypeError],
    [{"betti": [(1, 0), (1, 0, 0)]}, ValueError],
    [{"max_bars": -1}, ValueError],
    [{"sigmoid": True, "softmax": True}, ValueError],
    [{"other_act": 1}, TypeError],
    [{"reduction": "max"}, ValueError],
]


@pytest.mark.parametrize("params, error", ILL_OPTS)
def test_ill_opts(params, error):
    with pytest.raises(error, match=names_an_option(params)):
        BettiPriorLoss(**params)


@pytest.mark.parametrize(
    "params", [{"steps": -1}, {"lr": 0.0}, {"fidelity": -1.0}, {"sigmoid": False}, {"sigmoid": True, "softmax": True}]
)
def test_refine_ill_opts(params):
    with pytest.raises(ValueError, match=names_an_option(params)):
        refine_with_betti_prior(torch.zeros(1, 1, 4, 4), (1, 0), **params)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.normal(0, 2, (2, 1, 10, 10, 10)), dtype=torch.float32)
    loss = BettiPriorLoss((1, 0, 0), sigmoid=True)
    xc = x.cuda().requires_grad_(True)
    value = loss(xc)
    assert value.device.type == "cuda"
    value.backward()
    assert xc.grad.device.type == "cuda"
    xs = x.clone().requires_grad_(True)
    loss(xs).backward()
    assert torch.allclose(value.cpu(), loss(xs.detach()), atol=1e-5)
    assert torch.allclose(xc.grad.cpu(), xs.grad, atol=1e-5)

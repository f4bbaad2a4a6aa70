"""PersistenceMatchingLoss (Hu et al. 2019): hand-computed values, gradients, optimisation, MONAI options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_topo.losses import PersistenceMatchingLoss
from monai_topo.topology import betti_numbers
from tests.error_messages import names_an_option
from tests.losses.toy_problems import check_cuda_matches_cpu, optimise_logits, ring_problem_2d, ring_problem_3d


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float64))[None, None]


def ring_filled_2d():
    """5x5 ring of 0.9 whose hole (0.6) is filled, background 0.1; target: the ring (b = 1, 1)."""
    p = np.full((5, 5), 0.1)
    p[1:4, 1:4] = 0.9
    p[2, 2] = 0.6
    y = np.zeros((5, 5))
    y[1:4, 1:4] = 1
    y[2, 2] = 0
    return p, y


def spurious_2d():
    """A 3x3 block of 0.9 plus isolated spurious voxels of 0.7 and 0.4; target: the block."""
    p = np.full((7, 7), 0.1)
    p[1:4, 1:4] = 0.9
    p[5, 5] = 0.7
    p[1, 5] = 0.4
    y = np.zeros((7, 7))
    y[1:4, 1:4] = 1
    return p, y


def broken_tube_3d():
    """A straight tube of 0.9 with one voxel at 0.3; target: the whole tube (b = 1, 0, 0)."""
    p = np.full((5, 5, 9), 0.1)
    p[2, 2, 1:8] = 0.9
    p[2, 2, 4] = 0.3
    y = np.zeros((5, 5, 9))
    y[2, 2, 1:8] = 1
    return p, y


def ball_without_cavity_3d():
    """A 3^3 ball of 0.9 whose central cavity is filled (0.6); target: the hollow ball (b = 1, 0, 1)."""
    p = np.full((5, 5, 5), 0.1)
    p[1:4, 1:4, 1:4] = 0.9
    p[2, 2, 2] = 0.6
    y = np.zeros((5, 5, 5))
    y[1:4, 1:4, 1:4] = 1
    y[2, 2, 2] = 0
    return p, y


# [params, (probabilities, target), expected]: values worked out by hand from the diagrams
HAND_CASES = [
    # dim 0: essential (0.9, 0) matched -> 0.01; dim 1: (0.9, 0.6) matched -> 0.01 + 0.36
    [{}, ring_filled_2d(), 0.38],
    [{"dims": 1}, ring_filled_2d(), 0.37],
    [{"dims": (0,)}, ring_filled_2d(), 0.01],
    # the target has no hole: the loop is pushed to the diagonal, 0.3^2 / 2
    [{"dims": 1}, (ring_filled_2d()[0], np.pad(np.ones((3, 3)), 1)), 0.045],
    # essential matched 0.01; spurious (0.7, 0.1) -> 0.6^2 / 2 and (0.4, 0.1) -> 0.3^2 / 2
    [{}, spurious_2d(), 0.01 + 0.18 + 0.045],
    [{"min_persistence": 0.35}, spurious_2d(), 0.01 + 0.18],
    # the second segment (0.9, 0.3) is unmatched (the essential one is more persistent): 0.6^2 / 2
    [{}, broken_tube_3d(), 0.01 + 0.18],
    # essential_death="min": the essential point is (0.9, 0.1), matched -> 0.01 + 0.01
    [{"essential_death": "min"}, broken_tube_3d(), 0.02 + 0.18],
    # the cavity (0.9, 0.6) matched -> 0.37, essential 0.01
    [{}, ball_without_cavity_3d(), 0.38],
    [{"connectivity": 6}, ball_without_cavity_3d(), 0.38],
    [{"dims": (1, 2)}, ball_without_cavity_3d(), 0.37],
]


@pytest.mark.parametrize("params, data, expected", HAND_CASES)
def test_hand_values(params, data, expected):
    p, y = data
    loss = PersistenceMatchingLoss(sigmoid=False, **params)(_t(p), _t(y))
    assert float(loss) == pytest.approx(expected, abs=1e-12)


def test_hand_gradient_2d():
    p, y = ring_filled_2d()
    x = _t(p).requires_grad_(True)
    PersistenceMatchingLoss(sigmoid=False, dims=1)(x, _t(y)).backward()
    grad = x.grad[0, 0]
    assert float(grad[2, 2]) == pytest.approx(2 * 0.6)  # the hole voxel is pushed to 0
    assert float(grad.sum() - grad[2, 2]) == pytest.approx(2 * (0.9 - 1.0))  # one ring voxel pushed to 1
    assert int((grad != 0).sum()) == 2


def test_wasserstein_leaves_weak_features():
    # a faint component (0.2, 0.1) against a target component: the exact W2 matching leaves it (cost 0.005 + 0.5),
    # the persistence rule grows it (cost (0.8)^2 + 0.1^2)
    p = np.full((4, 4), 0.1)
    p[1, 1] = 0.2
    y = np.zeros((4, 4))
    y[1, 1] = 1
    hu = PersistenceMatchingLoss(sigmoid=False, dims=0, essential_death="min")
    w2 = PersistenceMatchingLoss(sigmoid=False, dims=0, essential_death="min", matching="wasserstein")
    assert float(hu(_t(p), _t(y))) == pytest.approx(0.65)
    assert float(w2(_t(p), _t(y))) == pytest.approx(0.005 + 0.5)


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (1, 2, 4, 4, 3)])
@pytest.mark.parametrize("params", [{}, {"matching": "wasserstein", "essential_death": "min"}, {"patch_size": 3}])
def test_gradcheck(shape, params):
    rng = np.random.default_rng(0)
    values = np.linspace(-3, 3, int(np.prod(shape)))  # well separated: the pairing is stable under eps
    rng.shuffle(values)
    x = torch.tensor(values.reshape(shape), dtype=torch.float64, requires_grad=True)
    y = torch.as_tensor(rng.random(shape) > 0.5, dtype=torch.float64)
    loss = PersistenceMatchingLoss(sigmoid=True, **params)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("problem", [ring_problem_2d, ring_problem_3d])
def test_optimisation_fixes_topology(problem):
    p, y = problem(np.random.default_rng(0))
    want = betti_numbers(y > 0.5).tolist()
    assert betti_numbers(p > 0.5).tolist() != want
    assert optimise_logits(PersistenceMatchingLoss(sigmoid=True), p, y) == want


def test_batch_invariance_and_reduction():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(0, 2, (3, 2, 10, 10)))
    y = torch.tensor(rng.random((3, 2, 10, 10)) > 0.6, dtype=torch.float64)
    loss_none = PersistenceMatchingLoss(sigmoid=True, reduction="none")(x, y)
    assert loss_none.shape == (3, 2, 1, 1)
    items = torch.stack(
        [PersistenceMatchingLoss(sigmoid=True, reduction="sum")(x[i : i + 1], y[i : i + 1]) for i in range(3)]
    )
    assert torch.allclose(loss_none.flatten(1).sum(1), items)
    mean = PersistenceMatchingLoss(sigmoid=True)(x, y)
    assert float(mean) == pytest.approx(float(loss_none.mean()))
    assert float(PersistenceMatchingLoss(sigmoid=True, reduction="sum")(x, y)) == pytest.approx(float(loss_none.sum()))
    serial = PersistenceMatchingLoss(sigmoid=True, reduction="none", num_workers=1)(x, y)
    assert torch.equal(serial, loss_none)


def test_tiles_and_patches():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(0, 2, (2, 1, 12, 12)))
    y = torch.tensor(rng.random((2, 1, 12, 12)) > 0.6, dtype=torch.float64)
    # tiling: the loss is the sum over tiles of each tile's loss
    tiled = PersistenceMatchingLoss(sigmoid=True, patch_size=6, reduction="none")(x, y)
    by_hand = sum(
        PersistenceMatchingLoss(sigmoid=True, reduction="none")(
            x[..., i : i + 6, j : j + 6], y[..., i : i + 6, j : j + 6]
        )
        for i in (0, 6)
        for j in (0, 6)
    )
    assert torch.allclose(tiled, by_hand)
    # random patches: reproducible for a seed, fresh at every call, restartable
    a = PersistenceMatchingLoss(sigmoid=True, patch_size=5, num_patches=3, seed=3)
    b = PersistenceMatchingLoss(sigmoid=True, patch_size=5, num_patches=3, seed=3)
    first = [float(a(x, y)) for _ in range(3)]
    assert first == [float(b(x, y)) for _ in range(3)]
    assert len(set(first)) > 1
    a.set_random_state(3)
    assert float(a(x, y)) == first[0]


def test_no_features_and_perfect_predictions_give_zero():
    z = torch.zeros(2, 1, 8, 8, 8, dtype=torch.float64, requires_grad=True)
    loss = PersistenceMatchingLoss(sigmoid=False)(z, torch.zeros_like(z))  # empty prediction, empty target
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(z.grad) == 0
    for _, y in (ring_filled_2d(), broken_tube_3d(), ball_without_cavity_3d()):
        target = _t(y)
        assert float(PersistenceMatchingLoss(sigmoid=False)(target.clone(), target)) == 0.0  # all correct
        for params in ({"patch_size": 3}, {"essential_death": "min"}):
            assert float(PersistenceMatchingLoss(sigmoid=False, **params)(target.clone(), target)) == pytest.approx(
                0.0, abs=1e-12
            )
    full = torch.ones(1, 1, 6, 6, dtype=torch.float64)  # a window entirely inside the object
    assert float(PersistenceMatchingLoss(sigmoid=False, patch_size=3)(full.clone(), full)) == 0.0
    assert float(PersistenceMatchingLoss(sigmoid=False, patch_size=3, essential_death="min")(full.clone(), full)) == 0.0


def test_multiclass_half_precision_and_activations():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(0, 2, (2, 3, 10, 10)), dtype=torch.float32)
    labels = torch.tensor(rng.integers(0, 3, (2, 1, 10, 10)))
    loss = PersistenceMatchingLoss(softmax=True, to_onehot_y=True, include_background=False, reduction="none")
    out = loss(x, labels)
    assert out.shape == (2, 2, 1, 1) and torch.isfinite(out).all()
    for dtype in (torch.float16, torch.bfloat16):
        xh = x.to(dtype).requires_grad_(True)
        val = loss(xh, labels)
        assert val.dtype == torch.float32
        assert torch.equal(val, loss(xh.detach().float(), labels))  # computed in float32
        val.sum().backward()
        assert xh.grad.dtype == dtype and torch.isfinite(xh.grad.float()).all()
    act = PersistenceMatchingLoss(other_act=torch.sigmoid, reduction="none")(
        x, (labels > 0).float().expand(-1, 3, -1, -1)
    )
    sig = PersistenceMatchingLoss(sigmoid=True, reduction="none")(x, (labels > 0).float().expand(-1, 3, -1, -1))
    assert torch.equal(act, sig)


def test_metatensor_inputs():
    from monai.data import MetaTensor

    rng = np.random.default_rng(7)
    x = torch.tensor(rng.normal(0, 2, (2, 1, 8, 8)))
    y = torch.tensor(rng.random((2, 1, 8, 8)) > 0.6, dtype=torch.float64)
    xm = MetaTensor(x.clone()).requires_grad_(True)
    value = PersistenceMatchingLoss(sigmoid=True)(xm, MetaTensor(y))
    assert type(value) is torch.Tensor
    value.backward()
    xs = x.clone().requires_grad_(True)
    PersistenceMatchingLoss(sigmoid=True)(xs, y).backward()
    assert float(value) == pytest.approx(float(PersistenceMatchingLoss(sigmoid=True)(x, y)))
    assert torch.allclose(torch.as_tensor(xm.grad), xs.grad)


def test_warnings():
    x = torch.randn(1, 1, 6, 6) * 3
    with pytest.raises(ValueError, match="probabilities"):  # logits without an activation: an error, not a warning
        PersistenceMatchingLoss(sigmoid=False)(x, torch.zeros_like(x))
    with pytest.warns(UserWarning, match="single channel"):
        PersistenceMatchingLoss(softmax=True)(x, torch.zeros_like(x))


# a binary target where the row is about something else (a soft one would raise "binary" first)
ILL_SHAPES = [
    [{}, torch.rand(2, 1, 8), torch.rand(2, 1, 8), "B C H W"],
    [{}, torch.rand(2, 1, 4, 4, 4, 4), torch.rand(2, 1, 4, 4, 4, 4), "B C H W"],
    [{}, torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 7), "does not match"],
    [{}, torch.rand(2, 2, 8, 8), torch.rand(2, 3, 8, 8), "different shape"],
    [{"dims": 2}, torch.rand(1, 1, 8, 8), (torch.rand(1, 1, 8, 8) > 0.5).float(), r"dims=\(2,\) is invalid for 2D"],
    [
        {"connectivity": 26},
        torch.rand(1, 1, 8, 8),
        (torch.rand(1, 1, 8, 8) > 0.5).float(),
        "connectivity=26 is not supported in 2D",
    ],
    [{"patch_size": (4, 4, 4)}, torch.rand(1, 1, 8, 8), (torch.rand(1, 1, 8, 8) > 0.5).float(), "patch_size"],
    [{"to_onehot_y": True}, torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8), "to_onehot_y=True needs"],
    [{}, torch.full((1, 1, 4, 4), float("nan")), torch.rand(1, 1, 4, 4), "NaN or infinite"],
]


@pytest.mark.parametrize("params, x, y, match", ILL_SHAPES)
def test_ill_shape(params, x, y, match):
    with pytest.raises(ValueError, match=match):
        PersistenceMatchingLoss(sigmoid=False, **params)(x, y)


def test_ill_target():
    with pytest.raises(ValueError, match="target"):
        PersistenceMatchingLoss(sigmoid=False)(torch.rand(1, 1, 4, 4), None)
    with pytest.raises(ValueError, match="binary"):  # soft targets: threshold first, or use SATLoss
        PersistenceMatchingLoss(sigmoid=False)(torch.rand(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.3))
    with pytest.raises(TypeError, match="target must be a torch.Tensor"):
        PersistenceMatchingLoss(sigmoid=False)(torch.rand(1, 1, 4, 4), np.zeros((1, 1, 4, 4)))


ILL_OPTS = [
    [{"sigmoid": True, "softmax": True}, ValueError],
    [{"other_act": "sigmoid"}, TypeError],
    [{"reduction": "median"}, ValueError],
    [{"dims": (0, 3)}, ValueError],
    [{"dims": ()}, ValueError],
    [{"connectivity": 5}, ValueError],
    [{"min_persistence": -0.1}, ValueError],
    [{"matching": "greedy"}, ValueError],
    [{"num_patches": 4}, ValueError],
    [{"patch_size": 0}, ValueError],
    [{"patch_size": 8, "num_patches": 0}, ValueError],
    [{"num_workers": -1}, ValueError],
    [{"essential_death": "inf"}, ValueError],
    [{"seed": 1.5}, ValueError],
]


@pytest.mark.parametrize("params, error", ILL_OPTS)
def test_ill_opts(params, error):
    with pytest.raises(error, match=names_an_option(params)):
        PersistenceMatchingLoss(**params)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    check_cuda_matches_cpu(PersistenceMatchingLoss(sigmoid=True))

"""SpatialAwareMatchingLoss (SATLoss): hand-computed values, gradients, optimisation, pruning, MONAI options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from monai_topo.losses import PersistenceMatchingLoss, SpatialAwareMatchingLoss
from monai_topo.topology import betti_numbers
from tests.error_messages import names_an_option
from tests.losses.toy_problems import check_cuda_matches_cpu, optimise_logits, ring_problem_2d, ring_problem_3d

SQRT_HALF = float(np.sqrt(0.5))


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float64))[None, None]


def ring_2d():
    """Prediction: ring whose hole is filled (0.6), with unique critical voxels: the essential component is born
    at (1, 1) (0.95), the loop at (3, 2) (0.85). Target: soft ring with the same critical voxels: essential
    (1.0, 0) at (1, 1), loop (0.9, 0) at (3, 2)."""
    p = np.full((5, 5), 0.1)
    p[1:4, 1:4] = 0.9
    p[1, 1], p[3, 2], p[2, 2] = 0.95, 0.85, 0.6
    y = np.zeros((5, 5))
    y[1:4, 1:4] = 0.95
    y[1, 1], y[3, 2], y[2, 2] = 1.0, 0.9, 0.0
    return p, y


def two_components_2d():
    """Target: components A (left) and B (right). Prediction: strong on B (0.9), weak on A (0.3)."""
    p = np.full((3, 9), 0.1)
    p[1, 7], p[1, 1] = 0.9, 0.3
    y = np.zeros((3, 9))
    y[1, 1] = y[1, 7] = 1.0
    return p, y


def hollow_ball_3d():
    """3D analogue of ``ring_2d``: a 3^3 ball whose cavity is filled (0.6); cavity born at (3, 2, 2)."""
    p = np.full((5, 5, 5), 0.1)
    p[1:4, 1:4, 1:4] = 0.9
    p[1, 1, 1], p[3, 2, 2], p[2, 2, 2] = 0.95, 0.85, 0.6
    y = np.zeros((5, 5, 5))
    y[1:4, 1:4, 1:4] = 0.95
    y[1, 1, 1], y[3, 2, 2], y[2, 2, 2] = 1.0, 0.9, 0.0
    return p, y


def broken_tube_3d():
    p = np.full((5, 5, 9), 0.1)
    p[2, 2, 1:8] = 0.9
    p[2, 2, 4] = 0.3
    y = np.zeros((5, 5, 9))
    y[2, 2, 1:8] = 1
    return p, y


RING = 0.05 * 0.05 + 0.05 * np.sqrt(0.05**2 + 0.6**2)  # co-located points: spatial factor clamped to 0.05
HAND_CASES = [
    [{}, ring_2d(), RING],
    [{"dims": 1}, ring_2d(), 0.05 * np.sqrt(0.05**2 + 0.6**2)],
    # S=(0.9, 0) at B, W=(0.3, 0.1) at A: S-B 0.05 * 0.1, W-A 0.05 * ||(0.3, 0.1) - (1, 0)||
    [{}, two_components_2d(), 0.005 + 0.05 * SQRT_HALF],
    # a spatial factor of at least 0.75 (distance A-B) makes crossing pairs expensive; min_factor=1 disables it:
    # then the cheapest plan pairs by persistence distance alone: 0.1 + sqrt(0.5)
    [{"min_factor": 1.0}, two_components_2d(), 0.1 + SQRT_HALF],
    [{}, hollow_ball_3d(), RING],
    [{"connectivity": 6}, hollow_ball_3d(), RING],
    # target b0 = 1 at the tube; the segment (0.9, 0.3) goes to the diagonal (0.6 / sqrt 2); the essential
    # (0.9, 0) is matched with the target's (1, 0) at a location inside the tube
    [{"dims": 0, "min_factor": 1.0, "max_factor": 1.0}, broken_tube_3d(), 0.1 + 0.6 * SQRT_HALF],
]


@pytest.mark.parametrize("params, data, expected", HAND_CASES)
def test_hand_values(params, data, expected):
    p, y = data
    loss = SpatialAwareMatchingLoss(sigmoid=False, **params)(_t(p), _t(y))
    assert float(loss) == pytest.approx(expected, abs=1e-12)


def test_spatial_matching_differs_from_hu():
    p, y = two_components_2d()
    x = _t(p).requires_grad_(True)
    SpatialAwareMatchingLoss(sigmoid=False)(x, _t(y)).backward()
    # the weak left component is grown (birth up), the strong right one is finished (birth up)
    assert float(x.grad[0, 0, 1, 1]) < 0 and float(x.grad[0, 0, 1, 7]) < 0
    assert float(PersistenceMatchingLoss(sigmoid=False)(_t(p), _t(y))) == pytest.approx(0.01 + 0.49 + 0.01)


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (1, 2, 4, 4, 3)])
@pytest.mark.parametrize("params", [{}, {"essential_death": "min", "prune_factor": None}, {"patch_size": 3}])
@pytest.mark.parametrize("soft_target", [False, True])
def test_gradcheck(shape, params, soft_target):
    rng = np.random.default_rng(0)
    values = np.linspace(-3, 3, int(np.prod(shape)))  # well separated: pairing and plan stable under eps
    rng.shuffle(values)
    x = torch.tensor(values.reshape(shape), dtype=torch.float64, requires_grad=True)
    y = torch.as_tensor(rng.random(shape) if soft_target else rng.random(shape) > 0.5, dtype=torch.float64)
    loss = SpatialAwareMatchingLoss(sigmoid=True, **params)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("problem", [ring_problem_2d, ring_problem_3d])
def test_optimisation_fixes_topology(problem):
    p, y = problem(np.random.default_rng(0))
    want = betti_numbers(y > 0.5).tolist()
    assert betti_numbers(p > 0.5).tolist() != want
    assert optimise_logits(SpatialAwareMatchingLoss(sigmoid=True), p, y) == want


def test_pruned_against_exact_ot():
    rng = np.random.default_rng(5)
    logits = torch.tensor(gaussian_filter(rng.normal(0, 1, (2, 1, 14, 14, 14)), (0, 0, 1, 1, 1)) * 6)
    y = np.zeros((2, 1, 14, 14, 14))
    y[:, :, 3:11, 3:11, 3:11] = 1
    y[:, :, 5:9, 5:9, 5:9] = 0
    y[:, :, 6, 6, 1:13] = 1  # a tunnel through the cavity
    y = torch.tensor(y)
    exact_fn = SpatialAwareMatchingLoss(sigmoid=True, prune_factor=None, reduction="none")
    exact = exact_fn(logits, y)
    n_points = exact_fn.last_num_points["points"]
    default_fn = SpatialAwareMatchingLoss(sigmoid=True, reduction="none")
    default = default_fn(logits, y)
    assert default_fn.last_num_points["points_in_ot"] < exact_fn.last_num_points["points_in_ot"] <= n_points
    assert torch.allclose(default, exact, atol=1e-9)  # candidate lists >= number of target points: exact
    # persistence-only pruning is an approximation: never below the exact value
    rough = SpatialAwareMatchingLoss(
        sigmoid=True, prune_factor=0.0, prune_min=2, candidates_per_target=0, reduction="none"
    )
    assert (rough(logits, y) >= exact - 1e-9).all()


def test_batch_invariance_and_reduction():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(0, 2, (3, 2, 10, 10)))
    y = torch.tensor(rng.random((3, 2, 10, 10)) > 0.6, dtype=torch.float64)
    loss_none = SpatialAwareMatchingLoss(sigmoid=True, reduction="none")(x, y)
    assert loss_none.shape == (3, 2, 1, 1)
    items = torch.stack(
        [SpatialAwareMatchingLoss(sigmoid=True, reduction="sum")(x[i : i + 1], y[i : i + 1]) for i in range(3)]
    )
    assert torch.allclose(loss_none.flatten(1).sum(1), items)
    assert float(SpatialAwareMatchingLoss(sigmoid=True)(x, y)) == pytest.approx(float(loss_none.mean()))
    assert torch.equal(SpatialAwareMatchingLoss(sigmoid=True, reduction="none", num_workers=1)(x, y), loss_none)


def test_patches_are_seeded():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(0, 2, (2, 1, 12, 12)))
    y = torch.tensor(rng.random((2, 1, 12, 12)) > 0.6, dtype=torch.float64)
    a = SpatialAwareMatchingLoss(sigmoid=True, patch_size=5, num_patches=3, seed=3)
    b = SpatialAwareMatchingLoss(sigmoid=True, patch_size=5, num_patches=3, seed=3)
    first = [float(a(x, y)) for _ in range(3)]
    assert first == [float(b(x, y)) for _ in range(3)] and len(set(first)) > 1


def test_no_features_and_perfect_predictions_give_zero():
    z = torch.zeros(2, 1, 6, 6, 6, dtype=torch.float64, requires_grad=True)
    loss = SpatialAwareMatchingLoss(sigmoid=False)(z, torch.zeros_like(z))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(z.grad) == 0
    for p, y in (ring_2d(), hollow_ball_3d(), broken_tube_3d()):
        for target in (_t(y), _t(p)):  # binary and soft targets
            assert float(SpatialAwareMatchingLoss(sigmoid=False)(target.clone(), target)) == pytest.approx(
                0.0, abs=1e-12
            )
            assert float(
                SpatialAwareMatchingLoss(sigmoid=False, patch_size=3)(target.clone(), target)
            ) == pytest.approx(0.0, abs=1e-12)
    full = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    assert float(SpatialAwareMatchingLoss(sigmoid=False, patch_size=3)(full.clone(), full)) == 0.0


def test_multiclass_and_half_precision():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(0, 2, (2, 3, 10, 10)), dtype=torch.float32)
    labels = torch.tensor(rng.integers(0, 3, (2, 1, 10, 10)))
    loss = SpatialAwareMatchingLoss(softmax=True, to_onehot_y=True, include_background=False, reduction="none")
    out = loss(x, labels)
    assert out.shape == (2, 2, 1, 1) and torch.isfinite(out).all()
    xh = x.to(torch.bfloat16).requires_grad_(True)
    val = loss(xh, labels)
    assert val.dtype == torch.float32 and torch.equal(val, loss(xh.detach().float(), labels))
    val.sum().backward()
    assert torch.isfinite(xh.grad.float()).all() and xh.grad.abs().sum() > 0


ILL_SHAPES = [
    [{}, torch.rand(2, 1, 8), torch.rand(2, 1, 8), "B C H W"],
    [{}, torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 7), "does not match"],
    [{}, torch.rand(2, 2, 8, 8), torch.rand(2, 3, 8, 8), "different shape"],
    [{"dims": (0, 2)}, torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), "is invalid for 2D"],
    [{"patch_size": (4, 4)}, torch.rand(1, 1, 8, 8, 8), torch.rand(1, 1, 8, 8, 8), "patch_size"],
    [{}, torch.rand(1, 1, 4, 4), torch.full((1, 1, 4, 4), float("inf")), "target contains NaN or infinite"],
]


@pytest.mark.parametrize("params, x, y, match", ILL_SHAPES)
def test_ill_shape(params, x, y, match):
    with pytest.raises(ValueError, match=match):
        SpatialAwareMatchingLoss(sigmoid=False, **params)(x, y)


ILL_OPTS = [
    [{"sigmoid": True, "other_act": torch.tanh}, ValueError],
    [{"other_act": 3}, TypeError],
    [{"prune_factor": -1.0}, ValueError],
    [{"prune_factor": float("inf")}, ValueError],
    [{"prune_min": -1}, ValueError],
    [{"candidates_per_target": 2.5}, ValueError],
    [{"min_factor": 0.5, "max_factor": 0.1}, ValueError],
    [{"min_factor": -0.1}, ValueError],
    [{"min_persistence": float("nan")}, ValueError],
    [{"dims": "all"}, ValueError],
    [{"essential_death": None}, ValueError],
]


@pytest.mark.parametrize("params, error", ILL_OPTS)
def test_ill_opts(params, error):
    with pytest.raises(error, match=names_an_option(params)):
        SpatialAwareMatchingLoss(**params)


def test_ill_target():
    with pytest.raises(ValueError, match="target"):
        SpatialAwareMatchingLoss(sigmoid=False)(torch.rand(1, 1, 4, 4), None)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):  # a label map is not a probability target
        SpatialAwareMatchingLoss(sigmoid=False)(torch.rand(1, 1, 4, 4), torch.full((1, 1, 4, 4), 2.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    check_cuda_matches_cpu(SpatialAwareMatchingLoss(sigmoid=True))

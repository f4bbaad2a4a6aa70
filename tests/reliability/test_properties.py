"""Property-based tests (hypothesis): the topology core against gudhi, and invariances of losses and metrics.

- ``compute_persistence`` gives gudhi's diagram, and ``betti_numbers`` gudhi's Betti numbers, on random 2D/3D
  volumes: shapes from 1 voxel thin to 14 x 14 / 8 x 8 x 8 (40 x 40 / 16 x 16 x 16 in the slow variants), smooth and noisy fields, few-level (tied) values, every
  density, both connectivities, both filtrations.
- Losses are invariant to the order of the batch, and the loss of a batch is the mean (``reduction="mean"``) /
  sum (``"sum"``) of the losses of its items: no patches, tiles, and, for seeded random patches, the first item
  (each call draws one patch seed per batch position from the loss's generator, so only position 0 of a batch sees
  the same windows as a batch of one; see ``PersistenceLossBase``).
- Flipping an axis leaves Betti numbers, the Euler characteristic and the Betti / Euler / split-merge errors
  unchanged.

The default suite runs a small sample (``DEFAULT_EXAMPLES`` volumes per property); the ``slow`` variants
(``--runslow``) compare ``SLOW_EXAMPLES`` >= 500 volumes each against gudhi. ``derandomize=True`` makes every run
draw the same examples.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monai.losses import DiceCELoss
from scipy.ndimage import gaussian_filter

from monai_topo.losses import (
    BettiPriorLoss,
    PersistenceMatchingLoss,
    SpatialAwareMatchingLoss,
    SupervoxelLoss,
    TopologyAwareLoss,
)
from monai_topo.metrics import (
    compute_betti_error,
    compute_betti_error_per_dim,
    compute_connectivity_error,
    compute_euler_characteristic_error,
)
from monai_topo.topology import betti_numbers, betti_numbers_from_diagram, compute_persistence, euler_characteristic
from tests.oracle import gudhi_betti, gudhi_pairs

DEFAULT_EXAMPLES = 300
SLOW_EXAMPLES = 1000
LOSS_EXAMPLES = 25


def _settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ----------------------------------------------------------------------------------------------------- strategies
KINDS = ("noise", "ties", "smooth", "smooth-noisy")


def _field(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    values = rng.random(shape)
    if kind == "ties":  # few distinct levels: many equal values, the hard case for critical-cell choices
        values = np.floor(values * rng.integers(2, 5)) / 4
    elif kind.startswith("smooth"):
        values = gaussian_filter(values, float(rng.uniform(0.7, 2.0)), mode="nearest")
        if kind == "smooth-noisy":
            values = values + rng.normal(0, 0.02, shape)
    return values


@st.composite
def images(draw, binary: bool = False, large: bool = False):
    """``(array, connectivity)``: a random 2D or 3D field (or binary mask) and a connectivity valid for it.

    Sides up to 14 (2D) / 8 (3D), or 40 / 16 with ``large`` (the slow variants).
    """
    ndim = draw(st.sampled_from((2, 3)))
    max_side = (40 if ndim == 2 else 16) if large else (14 if ndim == 2 else 8)
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=ndim, max_size=ndim)))
    kind = draw(st.sampled_from(KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = _field(rng, shape, kind)
    if binary:
        density = draw(st.sampled_from((0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)))
        values = values <= np.quantile(values, density)
    connectivity = draw(st.sampled_from((None, 8, 4) if ndim == 2 else (None, 26, 6)))
    return values, connectivity


# ----------------------------------------------------------------------------------------------------- vs gudhi
def _ours(dgm) -> list[tuple]:
    return sorted(
        (int(d), float(b), float("inf") if e else float(x))
        for d, b, x, e in zip(dgm.dims, dgm.births, dgm.deaths, dgm.essential)
    )


def _check_persistence(values: np.ndarray, connectivity: int | None, filtration: str) -> None:
    dgm = compute_persistence(values, filtration=filtration, connectivity=connectivity)
    assert _ours(dgm) == gudhi_pairs(values, connectivity, filtration)
    np.testing.assert_array_equal(values.flat[dgm.birth_index], dgm.births)  # critical voxels carry the values
    np.testing.assert_array_equal(values.flat[dgm.death_index], dgm.deaths)


def _check_betti(mask: np.ndarray, connectivity: int | None) -> None:
    expected = gudhi_betti(mask, connectivity)
    np.testing.assert_array_equal(betti_numbers(mask, connectivity), expected)
    dgm = compute_persistence(mask.astype(np.float64), connectivity=connectivity)
    np.testing.assert_array_equal(betti_numbers_from_diagram(dgm, 0.5), expected)
    assert euler_characteristic(mask, connectivity) == int(np.sum(expected * (-1) ** np.arange(mask.ndim)))


@_settings(DEFAULT_EXAMPLES)
@given(images(), st.sampled_from(("superlevel", "sublevel")))
def test_persistence_matches_gudhi(image, filtration):
    _check_persistence(image[0], image[1], filtration)


@_settings(DEFAULT_EXAMPLES)
@given(images(binary=True))
def test_betti_numbers_match_gudhi(image):
    _check_betti(*image)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(images(large=True), st.sampled_from(("superlevel", "sublevel")))
def test_persistence_matches_gudhi_many(image, filtration):
    _check_persistence(image[0], image[1], filtration)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(images(binary=True, large=True))
def test_betti_numbers_match_gudhi_many(image):
    _check_betti(*image)


# ----------------------------------------------------------------------------------------------------- flips
def _check_flip(pred: np.ndarray, true: np.ndarray, connectivity: int | None, axis: int) -> None:
    flip = np.ascontiguousarray(np.flip(pred, axis))
    np.testing.assert_array_equal(betti_numbers(flip, connectivity), betti_numbers(pred, connectivity))
    assert euler_characteristic(flip, connectivity) == euler_characteristic(pred, connectivity)
    y_pred, y = torch.as_tensor(pred[None, None]), torch.as_tensor(true[None, None])
    f_pred, f_y = torch.flip(y_pred, (axis + 2,)), torch.flip(y, (axis + 2,))
    for fn in (compute_betti_error, compute_betti_error_per_dim, compute_euler_characteristic_error):
        assert torch.equal(fn(f_pred, f_y, connectivity=connectivity), fn(y_pred, y, connectivity=connectivity))
    for a, b in zip(
        compute_connectivity_error(f_pred, f_y, connectivity=connectivity),
        compute_connectivity_error(y_pred, y, connectivity=connectivity),
    ):
        assert torch.equal(a, b)


@st.composite
def mask_pairs(draw, large: bool = False):
    pred, connectivity = draw(images(binary=True, large=large))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    true = _field(rng, pred.shape, draw(st.sampled_from(KINDS))) < draw(st.sampled_from((0.2, 0.5, 0.8)))
    return pred, true, connectivity, draw(st.integers(0, pred.ndim - 1))


@_settings(DEFAULT_EXAMPLES)
@given(mask_pairs())
def test_flip_leaves_betti_numbers_and_errors_unchanged(case):
    _check_flip(*case)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(mask_pairs(large=True))
def test_flip_leaves_betti_numbers_and_errors_unchanged_many(case):
    _check_flip(*case)


# ----------------------------------------------------------------------------------------------------- losses
LOSSES = {
    "SupervoxelLoss": lambda r: SupervoxelLoss(reduction=r),
    "PersistenceMatchingLoss": lambda r: PersistenceMatchingLoss(sigmoid=True, reduction=r),
    "PersistenceMatchingLoss-tiles": lambda r: PersistenceMatchingLoss(sigmoid=True, patch_size=3, reduction=r),
    "SpatialAwareMatchingLoss": lambda r: SpatialAwareMatchingLoss(sigmoid=True, reduction=r),
    "SpatialAwareMatchingLoss-tiles": lambda r: SpatialAwareMatchingLoss(sigmoid=True, patch_size=4, reduction=r),
    "BettiPriorLoss": lambda r: BettiPriorLoss(sigmoid=True, reduction=r),
    "TopologyAwareLoss": lambda r: TopologyAwareLoss(
        DiceCELoss(sigmoid=True), SupervoxelLoss(), lambda_topology=0.5, reduction=r
    ),
}
FLOAT32 = {"SupervoxelLoss", "TopologyAwareLoss"}
SUM_FREE = {"TopologyAwareLoss"}  # DiceCELoss returns a batch mean: its "sum" over a batch is not a sum of items


@st.composite
def batches(draw):
    """``(x, y)``: float64 logits and a binary target, ``B 1 ...`` with 1-4 items, 2D or 3D."""
    ndim = draw(st.sampled_from((2, 3)))
    batch = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(2, 10 if ndim == 2 else 6), min_size=ndim, max_size=ndim)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(KINDS))
    fields = np.stack([_field(rng, shape, kind) for _ in range(batch)])[:, None]
    x = torch.as_tensor((fields - fields.mean()) * rng.uniform(4, 20))
    y = torch.as_tensor(np.stack([_field(rng, shape, "smooth") for _ in range(batch)])[:, None] > 0.5).double()
    return x, y


def _check_batch_properties(name: str, x: torch.Tensor, y: torch.Tensor, perm: list[int]) -> None:
    make = LOSSES[name]
    items = [make("mean")(x[i : i + 1], y[i : i + 1]) for i in range(x.shape[0])]
    batch_mean = make("mean")(x, y)
    # SupervoxelLoss (also inside TopologyAwareLoss) computes in float32: summation order differs between a batch
    # and its items; the persistence losses gather float64 values at critical voxels
    tol = {"rtol": 1e-5, "atol": 1e-6} if name in FLOAT32 else {"rtol": 1e-9, "atol": 1e-12}
    torch.testing.assert_close(batch_mean, torch.stack(items).mean().to(batch_mean.dtype), **tol)
    permuted = make("mean")(x[perm], y[perm])
    torch.testing.assert_close(permuted, batch_mean, **tol)
    if name in SUM_FREE:
        return
    items = [make("sum")(x[i : i + 1], y[i : i + 1]) for i in range(x.shape[0])]
    torch.testing.assert_close(make("sum")(x, y), torch.stack(items).sum(), **tol)
    none, none_permuted = make("none")(x, y), make("none")(x[perm], y[perm])
    assert torch.equal(none_permuted, none[perm])  # per-item values move with their items, bit for bit


@pytest.mark.parametrize("name", list(LOSSES))
@_settings(LOSS_EXAMPLES)
@given(data=st.data())
def test_loss_batch_is_mean_and_sum_of_items_and_order_free(name, data):
    x, y = data.draw(batches())
    perm = data.draw(st.permutations(range(x.shape[0])))
    _check_batch_properties(name, x, y, list(perm))


@_settings(LOSS_EXAMPLES)
@given(batches(), st.integers(0, 2**31 - 1))
def test_random_patches_first_item_matches_a_batch_of_one(batch, seed):
    """Random patches: one seed per batch position per call, from the loss's generator (``seed``)."""
    x, y = batch
    for cls in (PersistenceMatchingLoss, SpatialAwareMatchingLoss):
        whole = cls(sigmoid=True, patch_size=3, num_patches=2, seed=seed, reduction="none")(x, y)
        first = cls(sigmoid=True, patch_size=3, num_patches=2, seed=seed, reduction="none")(x[:1], y[:1])
        assert torch.equal(whole[:1], first)
        again = cls(sigmoid=True, patch_size=3, num_patches=2, seed=seed, reduction="none")(x, y)
        assert torch.equal(whole, again)  # same seed, same patches

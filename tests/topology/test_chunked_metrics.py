"""The functional metrics accept dask arrays and give the in-memory values, chunk by chunk."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import torch

from monai_topo.metrics import compute_betti_error, compute_betti_error_per_dim, compute_connectivity_error
from monai_topo.metrics.connectivity_error import split_merge_counts


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pred = (rng.random((2, 2, 9, 8, 7)) < 0.5).astype(np.float32)
    target = (rng.random((2, 2, 9, 8, 7)) < 0.5).astype(np.float32)
    target[1, 1] = 0  # an empty target channel
    return pred, target


@pytest.mark.parametrize("connectivity", [None, 6])
@pytest.mark.parametrize("include_background", [True, False])
def test_metrics_on_dask_arrays_equal_in_memory(connectivity, include_background):
    pred, target = _pair()
    lazy_pred = da.from_array(pred, chunks=(1, 1, 4, 3, 5))
    lazy_target = da.from_array(target, chunks=(1, 1, 4, 3, 5))
    kwargs = {"include_background": include_background, "connectivity": connectivity}
    expected = compute_betti_error_per_dim(torch.from_numpy(pred), torch.from_numpy(target), **kwargs)
    assert torch.equal(compute_betti_error_per_dim(lazy_pred, lazy_target, **kwargs), expected)
    assert torch.equal(compute_betti_error(lazy_pred, target, **kwargs), expected.sum(-1))  # numpy partner
    for got, want in zip(
        compute_connectivity_error(lazy_pred, lazy_target, **kwargs),
        compute_connectivity_error(torch.from_numpy(pred), torch.from_numpy(target), **kwargs),
    ):
        assert torch.equal(got, want)


def test_ignore_empty_and_split_merge_counts():
    pred, target = _pair(1)
    lazy = da.from_array(pred, chunks=(1, 1, 5, 5, 5)), da.from_array(target, chunks=(1, 1, 5, 5, 5))
    values = compute_betti_error(*lazy, ignore_empty=True)
    assert torch.isnan(values[1, 1]) and not torch.isnan(values[0]).any()
    p, t = pred[0, 0] > 0, target[0, 0] > 0
    got = split_merge_counts(da.from_array(p, chunks=4), da.from_array(t, chunks=4))
    assert got == split_merge_counts(p, t)


def test_dask_inputs_reject_patches_and_bad_shapes():
    lazy = da.zeros((1, 1, 6, 6), chunks=3)
    with pytest.raises(ValueError, match="patch_size is not supported for dask arrays"):
        compute_betti_error(lazy, lazy, patch_size=3)
    with pytest.raises(ValueError, match="same shape"):
        compute_connectivity_error(lazy, da.zeros((1, 1, 6, 7), chunks=3))

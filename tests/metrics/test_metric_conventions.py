"""One vocabulary for the metrics: ``dims``, ``instance_labels``, MONAI's argument order, options checked once."""

from __future__ import annotations

import pytest
import torch

import monai_topo.metrics.betti_error as betti_module
from monai_topo.handlers import BettiError, BettiMatchingError, ConnectivityError
from monai_topo.metrics import (
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
    compute_betti_error,
    compute_betti_error_per_dim,
    compute_betti_matching_error,
)

METRICS = [
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
]


def _shell_and_ball():
    """A hollow 5^3 ball (b = 1, 0, 1) as prediction, a broken bar (b0 = 2) in channel 1 of the target."""
    pred = torch.zeros(1, 2, 7, 7, 7)
    pred[0, 0, 1:6, 1:6, 1:6] = 1
    pred[0, 0, 3, 3, 3] = 0
    target = torch.zeros_like(pred)
    target[0, 0, 1:6, 1:6, 1:6] = 1
    target[0, 1, 3, 3, 1:3] = 1
    target[0, 1, 3, 3, 4:6] = 1
    pred[0, 1, 3, 3, 1:6] = 1
    return pred, target


@pytest.mark.parametrize(
    "dims, expected",
    [(None, [[1.0, 1.0]]), (0, [[0.0, 1.0]]), (2, [[1.0, 0.0]]), ((0, 2), [[1.0, 1.0]]), ([1], [[0.0, 0.0]])],
)
def test_dims_selects_or_sums_homology_dimensions(dims, expected):
    pred, target = _shell_and_ball()
    assert BettiErrorMetric(dims=dims)(pred, target).tolist() == expected
    assert compute_betti_error(pred, target, dims=dims).tolist() == expected
    assert BettiError(dims=dims).metric_fn.dims == (dims if not isinstance(dims, list) else tuple(dims))
    # the Betti matching error selects the same way: here nothing moved, so it equals the Betti error
    assert BettiMatchingErrorMetric(dims=dims)(pred, target).tolist() == expected
    assert compute_betti_matching_error(pred, target, dims=dims).tolist() == expected
    assert BettiMatchingError(dims=dims).metric_fn.dims == (dims if not isinstance(dims, list) else tuple(dims))


@pytest.mark.parametrize("factory", [BettiErrorMetric, compute_betti_error, BettiError])
def test_dim_is_a_deprecated_alias_of_dims(factory):
    pred, target = _shell_and_ball()
    call = (
        (lambda: compute_betti_error(pred, target, dim=2))
        if factory is compute_betti_error
        else (lambda: factory(dim=2))
    )
    with pytest.warns(DeprecationWarning, match="'dim' is deprecated.*use 'dims'"):
        made = call()
    value = (
        made if factory is compute_betti_error else (made.metric_fn if factory is BettiError else made)(pred, target)
    )
    assert value.tolist() == [[1.0, 0.0]]
    with pytest.raises(TypeError, match="pass 'dims' only"):
        BettiErrorMetric(dim=1, dims=1)


@pytest.mark.parametrize("cls", [BettiErrorMetric, BettiMatchingErrorMetric])
@pytest.mark.parametrize("dims", [3, (), (0, 5), "0", True, 1.0])
def test_bad_dims(cls, dims):
    with pytest.raises(ValueError, match="dims must be"):
        cls(dims=dims)


@pytest.mark.parametrize("cls", [BettiErrorMetric, BettiMatchingErrorMetric])
def test_dims_beyond_the_image_dimension(cls):
    with pytest.raises(ValueError, match="dims=2 does not exist for 2D images"):
        cls(dims=2)(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4))


@pytest.mark.parametrize("cls", [ConnectivityErrorMetric, ConnectivityError])
def test_connectivity_error_takes_include_background_first(cls):
    metric = cls(False, "splits")
    fn = metric.metric_fn if cls is ConnectivityError else metric
    assert fn.include_background is False and fn.kind == "splits"
    with pytest.warns(DeprecationWarning, match="kind as the first argument is deprecated"):
        old = cls("merges", False)
    fn = old.metric_fn if cls is ConnectivityError else old
    assert fn.include_background is False and fn.kind == "merges"
    with pytest.raises(ValueError, match="kind must be one of"):
        cls(kind="everything")


@pytest.mark.parametrize("cls", [m for m in METRICS if m is not CenterlineDiceMetric])  # clDice: no connectivity
@pytest.mark.parametrize("bad", [8.0, True, 18, "26"])
def test_connectivity_checked_by_the_shared_helper(cls, bad):
    with pytest.raises(ValueError, match="connectivity must be None"):
        cls(connectivity=bad)


@pytest.mark.parametrize("cls", METRICS)
def test_num_workers_zero_is_serial_everywhere(cls):
    pred, target = _shell_and_ball()
    assert torch.equal(cls(num_workers=0)(pred, target), cls(num_workers=None)(pred, target))
    with pytest.raises(ValueError, match="num_workers must be None"):
        cls(num_workers=-1)


def test_options_are_validated_once_per_call_path(monkeypatch):
    """The constructor validates; calling the metric does not validate the options again (nor does the
    functional twin more than once)."""
    calls = []
    original = betti_module._check_options

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(betti_module, "_check_options", counting)
    pred, target = _shell_and_ball()
    metric = BettiErrorMetric(dims=0)
    assert len(calls) == 1
    for _ in range(3):
        metric(pred, target)
    assert len(calls) == 1
    compute_betti_error(pred, target, dims=0)
    assert len(calls) == 2
    compute_betti_error_per_dim(pred, target)
    assert len(calls) == 3

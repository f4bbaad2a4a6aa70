"""The bad-input matrix: every loss, metric and topology function against every kind of bad (or odd) input.

Each cell (row = an input, column = a function) asserts one of two outcomes, decided from the documented contracts:

- ``OK``: a finite value (and, for a loss, a finite gradient on the logits), the identical result when the same
  input is given twice (fresh objects, same patch seed), the same value as on a plain float32 contiguous CPU copy
  of the same data (dtype / layout / device rows), and known values where the answer is obvious (a perfect
  prediction costs 0, an empty pair has Betti error 0 ...);
- ``Raises``: a ``ValueError`` / ``TypeError`` whose message names the problem.

Never a crash, a silent NaN, or more than ``MAX_WARNINGS`` warnings. What reaches each column:

- losses: the logits ``x`` and the target ``y`` (``to_onehot_y`` / softmax configuration for the label rows);
- metrics: ``x`` binarised at 0 (non-finite values kept, dtype and layout of the row), and ``y``;
- ``compute_persistence`` / ``betti_numbers``: the first item's spatial array, of ``x`` (raw logits / binarised) or
  of ``y`` for the target rows, as numpy (a torch tensor for bfloat16, which numpy lacks).

Uniform contract this matrix pins down (fixed where the library disagreed):

- NaN / Inf logits -> ``ValueError`` in every loss, including ``TopologyAwareLoss`` during its warm-up;
- ``TopologyAwareLoss`` runs its topological term's input checks on the first call, also during the warm-up: an
  input or target that term rejects (logits where it expects probabilities, a non-binary target for
  ``PersistenceMatchingLoss``) fails at once, with the term's message;
- a soft target for a loss that needs a binary one (``PersistenceMatchingLoss``: Betti numbers of the target)
  -> ``ValueError``; ``SupervoxelLoss`` (soft labels for its criterion, detection at 0.5) and
  ``SpatialAwareMatchingLoss`` (diagram of the soft target) document soft targets in [0, 1] and reject values
  outside (``SupervoxelLoss`` reads a one-channel target with values above 1 as instance ids);
  ``BettiPriorLoss`` ignores the target;
- metrics warn once for non-binary inputs and threshold at 0.5 (MONAI's convention); any torch float dtype works.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from monai.losses import DiceCELoss

from monai_topo.losses import (
    BettiPriorLoss,
    PersistenceMatchingLoss,
    SpatialAwareMatchingLoss,
    SupervoxelLoss,
    TopologyAwareLoss,
)
from monai_topo.metrics import (
    BettiErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
    compute_betti_error_per_dim,
)
from monai_topo.topology import betti_numbers, compute_persistence

MAX_WARNINGS = 2
SHAPE = (2, 1, 8, 8, 8)


# ----------------------------------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One input: canonical float32 contiguous CPU ``x`` (logits) and ``y``, plus how the row presents them."""

    id: str
    make: Callable[[np.random.Generator], tuple[torch.Tensor, torch.Tensor]]
    onehot: bool = False  # losses use softmax + to_onehot_y; y holds class labels
    probabilities: bool = False  # losses have no activation: x must hold probabilities
    dtype: torch.dtype | None = None  # dtype of x (and of the metric inputs)
    layout: str | None = None  # "permuted" / "strided": non-contiguous views of the same values
    cuda: bool = False
    topology_source: str | None = "x"  # what the topology columns see: "x", "y", or None (not applicable)

    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.make(np.random.default_rng(zlib.crc32(self.id.encode())))

    @property
    def exotic(self) -> bool:
        """Whether this row only changes how the data is presented (its value must match the plain copy)."""
        return self.dtype is not None or self.layout is not None or self.cuda


def _rand(rng, shape=SHAPE, scale=3.0):
    return torch.as_tensor(rng.normal(0.0, scale, shape), dtype=torch.float32)


def _mask(rng, shape=SHAPE, p=0.5):
    return torch.as_tensor(rng.random(shape) < p, dtype=torch.float32)


def _with(value: float, where: tuple = (0, 0, 1, 2, 3)):
    def make(rng):
        x, y = _rand(rng), _mask(rng)
        x[where] = value
        return x, y

    return make


def _target_nan(rng):
    x, y = _rand(rng), _mask(rng)
    y[0, 0, 4, 4, 4] = float("nan")
    return x, y


def _constant_patch(rng):
    x, y = _rand(rng), _mask(rng)
    x[:, :, 2:6, 2:6, 2:6] = 1.5
    return x, y


def _soft_target(rng):
    """Values 0, 0.3 (a soft label) and 1."""
    x, y = _rand(rng), _mask(rng)
    return x, torch.where(_mask(rng, p=0.3) > 0, torch.full(SHAPE, 0.3), y)


def _labels(n_max: int):
    def make(rng):
        shape = (SHAPE[0], 2) + SHAPE[2:]
        labels = torch.as_tensor(rng.integers(0, n_max + 1, (SHAPE[0], 1) + SHAPE[2:]), dtype=torch.float32)
        return _rand(rng, shape), labels

    return make


def _shaped(shape):
    return lambda rng: (_rand(rng, shape), _mask(rng, shape))


ROWS = [
    Row("nan-logits", _with(float("nan"))),
    Row("posinf-logits", _with(float("inf"))),
    Row("neginf-logits", _with(float("-inf"))),
    Row("nan-target", _target_nan, topology_source="y"),
    Row("all-zero-pred", lambda rng: (torch.full(SHAPE, -100.0), torch.zeros(SHAPE))),
    Row("all-one-pred", lambda rng: (torch.full(SHAPE, 100.0), torch.ones(SHAPE))),
    Row("empty-target", lambda rng: (_rand(rng), torch.zeros(SHAPE)), topology_source="y"),
    Row("full-target", lambda rng: (_rand(rng), torch.ones(SHAPE)), topology_source="y"),
    Row("constant-logits", lambda rng: (torch.zeros(SHAPE), _mask(rng))),
    Row("constant-patch", _constant_patch),
    Row("1x1x1", _shaped((2, 1, 1, 1, 1))),
    Row("1x1x9", _shaped((2, 1, 1, 1, 9))),
    Row("1x7x7", _shaped((2, 1, 1, 7, 7))),
    Row("5x9x13", _shaped((2, 1, 5, 9, 13))),
    Row("2d-7x11", _shaped((2, 1, 7, 11))),
    Row("2d-1x9", _shaped((2, 1, 1, 9))),
    Row("soft-target", _soft_target, topology_source="y"),
    Row("logits-as-probabilities", _shaped(SHAPE), probabilities=True),
    Row("probabilities", lambda rng: (torch.rand(SHAPE, generator=torch.Generator().manual_seed(3)), _mask(rng)),
        probabilities=True),
    Row("target-label-2", lambda rng: (_rand(rng), 2 * _mask(rng)), topology_source="y"),
    Row("target-negative", lambda rng: (_rand(rng), _mask(rng) - _mask(rng, p=0.1)), topology_source="y"),
    Row("target-1.5", lambda rng: (_rand(rng), 1.5 * _mask(rng)), topology_source="y"),
    Row("labels-onehot", _labels(1), onehot=True),
    Row("labels-out-of-range", _labels(2), onehot=True, topology_source="y"),
    Row("wrong-dims-1d", _shaped((2, 1, 8))),
    Row("wrong-dims-4d", _shaped((2, 1, 4, 4, 4, 4))),
    Row("wrong-channels", lambda rng: (_rand(rng), _mask(rng, (2, 2) + SHAPE[2:])), topology_source=None),
    Row("mismatched-batch", lambda rng: (_rand(rng), _mask(rng, (1,) + SHAPE[1:])), topology_source=None),
    Row("mismatched-spatial", lambda rng: (_rand(rng), _mask(rng, SHAPE[:-1] + (7,))), topology_source=None),
    Row("empty-batch", _shaped((0,) + SHAPE[1:]), topology_source=None),
    Row("int64", _shaped(SHAPE), dtype=torch.int64),
    Row("float16", _shaped(SHAPE), dtype=torch.float16),
    Row("bfloat16", _shaped(SHAPE), dtype=torch.bfloat16),
    Row("float64", _shaped(SHAPE), dtype=torch.float64),
    Row("permuted", _shaped(SHAPE), layout="permuted"),
    Row("strided", _shaped(SHAPE), layout="strided"),
    Row("cuda", _shaped(SHAPE), cuda=True, topology_source=None),
]
ROW_BY_ID = {row.id: row for row in ROWS}


def _flip_spatial(t: torch.Tensor) -> torch.Tensor:
    """Reverse the order of the spatial axes (its own inverse): a non-contiguous view."""
    return t.permute(0, 1, *range(t.ndim - 1, 1, -1))


def _present(t: torch.Tensor, row: Row, dtype: torch.dtype | None, requires_grad: bool = False):
    """``(leaf, view)``: ``view`` has ``t``'s values in the row's dtype / layout / device; grads land on ``leaf``."""
    if dtype is not None:
        t = t.to(dtype)
    if row.cuda:
        t = t.cuda()
    if row.layout == "permuted":
        leaf = _flip_spatial(t).contiguous().detach().requires_grad_(requires_grad)
        view = _flip_spatial(leaf)
    elif row.layout == "strided":
        base = torch.zeros(t.shape[:-1] + (2 * t.shape[-1],), dtype=t.dtype, device=t.device)
        base[..., ::2] = t
        leaf = base.detach().requires_grad_(requires_grad)
        view = leaf[..., ::2]
    else:
        leaf = t.detach().clone().requires_grad_(requires_grad)
        return leaf, leaf
    assert not view.is_contiguous() and torch.equal(view.detach(), t)
    return leaf, view


def _binarise(x: torch.Tensor) -> torch.Tensor:
    """What a metric receives: ``x > 0`` as 0/1 floats, with NaN / Inf kept (a corrupt prediction)."""
    return torch.where(torch.isfinite(x), (x > 0).float(), x)


# ----------------------------------------------------------------------------------------------------- columns
def _act(row: Row) -> dict:
    if row.probabilities:
        return {"sigmoid": False}
    return {"softmax": True, "to_onehot_y": True} if row.onehot else {"sigmoid": True}


LOSSES: dict[str, Callable[[Row], torch.nn.Module]] = {
    "SupervoxelLoss": lambda r: SupervoxelLoss(**_act(r)),
    "PersistenceMatchingLoss": lambda r: PersistenceMatchingLoss(**_act(r)),
    "PersistenceMatchingLoss-patches": lambda r: PersistenceMatchingLoss(patch_size=4, num_patches=3, seed=5, **_act(r)),
    "SpatialAwareMatchingLoss": lambda r: SpatialAwareMatchingLoss(**_act(r)),
    "BettiPriorLoss": lambda r: BettiPriorLoss(**_act(r)),
    "TopologyAwareLoss-warmup": lambda r: TopologyAwareLoss(
        DiceCELoss(**_act(r)), PersistenceMatchingLoss(**_act(r)), lambda_topology=0.5, warmup=100
    ),
    "TopologyAwareLoss-active": lambda r: TopologyAwareLoss(
        DiceCELoss(**_act(r)), SupervoxelLoss(**_act(r)), lambda_topology=0.5
    ),
}

METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {}


def _metric_column(name: str, factory: Callable) -> None:
    def run(y_pred, y):
        metric = factory()
        values = metric(y_pred, y)
        return values, metric.aggregate()

    METRICS[name] = run


_metric_column("BettiErrorMetric", BettiErrorMetric)
_metric_column("EulerCharacteristicErrorMetric", EulerCharacteristicErrorMetric)
_metric_column("CenterlineDiceMetric", CenterlineDiceMetric)
_metric_column("ConnectivityErrorMetric", ConnectivityErrorMetric)
METRICS["compute_betti_error_per_dim"] = lambda y_pred, y: (compute_betti_error_per_dim(y_pred, y), None)

TOPOLOGY = ("compute_persistence", "betti_numbers")
COLUMNS = list(LOSSES) + list(METRICS) + list(TOPOLOGY)


def _group(column: str) -> str:
    return "loss" if column in LOSSES else "metric" if column in METRICS else "topology"


# ----------------------------------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Raises:
    error: type[Exception]
    match: str


@dataclass(frozen=True)
class Ok:
    warns: str | None = None  # a warning whose message contains this must be emitted


OK = Ok()
NONFINITE = Raises(ValueError, "NaN or infinite")
TARGET_LOSSES = [c for c in LOSSES if c != "BettiPriorLoss"]  # BettiPriorLoss ignores the target (documented)
# need a binary target: PersistenceMatchingLoss, and TopologyAwareLoss-warmup, whose first call runs its checks
HU_LOSSES = ["PersistenceMatchingLoss", "PersistenceMatchingLoss-patches", "TopologyAwareLoss-warmup"]


def _for(columns, outcome) -> dict:
    return {c: outcome for c in columns}


EXPECTED: dict[str, dict[str, Raises | Ok]] = {
    "nan-logits": {"loss": NONFINITE, "metric": NONFINITE, "topology": NONFINITE},
    "posinf-logits": {"loss": NONFINITE, "metric": NONFINITE, "topology": NONFINITE},
    "neginf-logits": {"loss": NONFINITE, "metric": NONFINITE, "topology": NONFINITE},
    "nan-target": {
        **_for(TARGET_LOSSES, Raises(ValueError, "target contains NaN or infinite")),
        "metric": Raises(ValueError, "y contains NaN or infinite"),
        "topology": NONFINITE,
    },
    "soft-target": {  # SupervoxelLoss: soft labels go to its criterion, detection at 0.5 (documented)
        **_for(HU_LOSSES, Raises(ValueError, "binary")),
        "metric": Ok(warns="binarized"),
        "betti_numbers": Raises(ValueError, "binary"),
    },
    "logits-as-probabilities": {"loss": Raises(ValueError, r"probabilities in \[0, 1\].*look like logits")},
    "target-label-2": {  # SupervoxelLoss reads a one-channel integer target as instance ids (documented)
        **_for(HU_LOSSES, Raises(ValueError, "binary")),
        "SpatialAwareMatchingLoss": Raises(ValueError, r"in \[0, 1\]"),
        "metric": Ok(warns="binarized"),
        "betti_numbers": Raises(ValueError, "binary"),
    },
    "target-negative": {
        **_for(["SupervoxelLoss", "TopologyAwareLoss-active"], Raises(ValueError, "non-negative")),
        **_for(HU_LOSSES, Raises(ValueError, "binary")),
        "SpatialAwareMatchingLoss": Raises(ValueError, r"in \[0, 1\]"),
        "metric": Ok(warns="binarized"),
        "betti_numbers": Raises(ValueError, "binary"),
    },
    "target-1.5": {  # neither a soft label nor an instance id
        **_for(["SupervoxelLoss", "TopologyAwareLoss-active"], Raises(ValueError, "non-integral")),
        **_for(HU_LOSSES, Raises(ValueError, "binary")),
        "SpatialAwareMatchingLoss": Raises(ValueError, r"in \[0, 1\]"),
        "metric": Ok(warns="binarized"),
        "betti_numbers": Raises(ValueError, "binary"),
    },
    "labels-out-of-range": {
        **_for(TARGET_LOSSES, Raises(ValueError, r"integer class labels in \[0, 1\]")),
        "metric": Ok(warns="binarized"),
        "betti_numbers": Raises(ValueError, "binary"),
    },
    "wrong-dims-1d": {"loss": Raises(ValueError, "B C H W"), "metric": Raises(ValueError, "B C H W"),
                      "topology": Raises(ValueError, "2D or 3D")},
    "wrong-dims-4d": {"loss": Raises(ValueError, "B C H W"), "metric": Raises(ValueError, "B C H W"),
                      "topology": Raises(ValueError, "2D or 3D")},
    "wrong-channels": {**_for(TARGET_LOSSES, Raises(ValueError, "different shape")),
                       "metric": Raises(ValueError, "same shapes")},
    "mismatched-batch": {**_for(TARGET_LOSSES, Raises(ValueError, "does not match")),
                         "metric": Raises(ValueError, "same shapes")},
    "mismatched-spatial": {**_for(TARGET_LOSSES, Raises(ValueError, "does not match")),
                           "metric": Raises(ValueError, "same shapes")},
    "empty-batch": {"loss": Raises(ValueError, "empty"), "metric": Raises(ValueError, "empty")},
    "int64": {"loss": Raises(TypeError, "floating-point")},
    "bfloat16": {"topology": Raises(TypeError, "numpy array")},
}


def expected(row: Row, column: str) -> Raises | Ok:
    table = EXPECTED.get(row.id, {})
    return table.get(column, table.get(_group(column), OK))


# known values: a perfect (empty or full) prediction
PERFECT = {"all-zero-pred", "all-one-pred"}
# rows whose metric values follow from the Betti numbers / Euler characteristic of the masks (core, oracle-tested)
KNOWN_METRIC_ROWS = {"constant-logits", "empty-target", "full-target", "soft-target"}


def _metric_by_hand(row: Row, column: str) -> np.ndarray | None:
    """The metric's ``(B, 1)`` (or ``(B, 1, 3)``) values from the masks' Betti numbers, for the known rows."""
    from monai_topo.topology import euler_characteristic

    x, y = row.data()
    pred, target = (x > 0).numpy()[:, 0], (y > 0.5).numpy()[:, 0]  # soft targets: thresholded at 0.5 (warned)
    out = []
    for p, t in zip(pred, target):
        bp, bt = betti_numbers(p), betti_numbers(t)
        if column == "compute_betti_error_per_dim":
            out.append([np.abs(bp - bt)])
        elif column == "BettiErrorMetric":
            out.append([np.abs(bp - bt).sum()])
        elif column == "EulerCharacteristicErrorMetric":
            out.append([abs(euler_characteristic(p) - euler_characteristic(t))])
        elif column == "CenterlineDiceMetric":  # only the empty / full cases here
            out.append([1.0 if not p.any() and not t.any() else 0.0 if not p.any() or not t.any() else np.nan])
        elif column == "ConnectivityErrorMetric":  # an empty side has no overlap: no split, no merge
            out.append([0.0 if not p.any() or not t.any() else np.nan])
    want = np.asarray(out, np.float64)
    return None if np.isnan(want).any() else want  # None: no value by hand (e.g. clDice of two random masks)


def _hu_constant(target: torch.Tensor) -> float:
    """Hu's loss on p = 0.5 everywhere: one essential point (0.5, 0); the other target points are missing."""
    costs = []
    for t in (target > 0.5).numpy()[:, 0]:
        b = betti_numbers(t)
        matched = 0.25 if b[0] >= 1 else 0.125  # (0.5 - 1)^2 + 0^2 matched, else (0.5 - 0)^2 / 2 to the diagonal
        costs.append(matched + (max(int(b[0]) - 1, 0) + int(b[1]) + int(b[2])) / 2.0)
    return float(np.mean(costs))


def _supervoxel_constant(target: torch.Tensor) -> float:
    """SupervoxelLoss on logits 0: nothing predicted, BCE = log 2 everywhere, every target component is a
    critical false negative (no kept neighbour): ``log 2 * ((1 - alpha) + alpha * beta * mean(y))``."""
    return float(np.log(2.0) * (0.5 + 0.25 * float((target > 0.5).float().mean())))


CONSTANT_LOGIT_LOSSES = {
    "PersistenceMatchingLoss": _hu_constant,
    "SupervoxelLoss": _supervoxel_constant,
    "TopologyAwareLoss-warmup": lambda target: float(DiceCELoss(sigmoid=True)(torch.zeros(SHAPE), target)),
}


def _check_known(row: Row, column: str, result: dict) -> None:
    group = _group(column)
    if row.id in PERFECT:
        if group == "loss":
            want = 1.0 if (column == "BettiPriorLoss" and row.id == "all-zero-pred") else 0.0  # b0 = 1 wanted
            assert float(result["value"]) == pytest.approx(want, abs=1e-6)
        elif group == "metric":
            want = 1.0 if column == "CenterlineDiceMetric" else 0.0
            np.testing.assert_array_equal(result["value"], np.full_like(result["value"], want))
        elif column == "betti_numbers":
            assert result["value"].tolist() == ([0, 0, 0] if row.id == "all-zero-pred" else [1, 0, 0])
    if column == "compute_persistence" and row.id in PERFECT | {"constant-logits", "empty-target", "full-target"}:
        (dim, birth, death, essential), = result["value"]  # a constant image: one essential class
        assert dim == 0 and essential and birth == death
    if column == "betti_numbers" and row.id == "1x1x1":  # one voxel: one component exactly when it is foreground
        x, _ = row.data()
        assert result["value"].tolist() == ([1, 0, 0] if float(x[0, 0, 0, 0, 0]) > 0 else [0, 0, 0])
    if group == "metric" and row.id in KNOWN_METRIC_ROWS and (want := _metric_by_hand(row, column)) is not None:
        np.testing.assert_allclose(result["value"], want, rtol=1e-6, atol=1e-6)
    if group == "loss" and row.id == "constant-logits" and column in CONSTANT_LOGIT_LOSSES:
        assert float(result["value"]) == pytest.approx(CONSTANT_LOGIT_LOSSES[column](row.data()[1]), rel=1e-5)
    if column == "betti_numbers" and row.id == "1x1x9":
        assert result["value"][1:].tolist() == [0, 0]  # a line has no loops or cavities


# ----------------------------------------------------------------------------------------------------- running
def _run(row: Row, column: str, plain: bool = False) -> dict:
    """Run one cell; ``plain`` gives the same values as float32, contiguous, on the CPU (the reference)."""
    x, y = row.data()
    if row.dtype is not None:
        x = x.to(row.dtype)
        if plain:
            x = x.float()
    present = Row("plain", row.make) if plain else row
    dtype = None if plain else row.dtype
    group = _group(column)
    if group == "loss":
        leaf, view = _present(x, present, None, requires_grad=x.is_floating_point())
        _, target = _present(y, present, None)
        value = LOSSES[column](row)(view, target)
        value.backward()
        grad = leaf.grad
        if grad is not None and present.layout == "permuted":  # the gradient of the view, in the view's layout
            grad = _flip_spatial(grad)
        elif grad is not None and present.layout == "strided":
            grad = grad[..., ::2]
        grad = None if grad is None else grad.float().cpu().numpy()
        return {"value": value.detach().float().cpu().numpy(), "grad": grad}
    if row.onehot:
        x, y = x[:, 1:2], (y if row.id == "labels-out-of-range" else (y == 1).float())
    pred = _binarise(x)
    if group == "metric":
        _, y_pred = _present(pred, present, dtype)
        _, target = _present(y, present, dtype)
        values, aggregate = METRICS[column](y_pred, target)
        assert values.device == y_pred.device
        out = {"value": values.cpu().numpy()}
        if aggregate is not None:
            out["aggregate"] = aggregate.cpu().numpy()
        return out
    source = {"x": x if column == "compute_persistence" else pred, "y": y}[row.topology_source]
    _, image = _present(source, present, dtype)
    array = image[0, 0].detach()
    array = array if array.dtype == torch.bfloat16 else array.numpy()
    if column == "compute_persistence":
        dgm = compute_persistence(array)
        pairs = zip(dgm.dims.tolist(), dgm.births.tolist(), dgm.deaths.tolist(), dgm.essential.tolist())
        return {"value": sorted(pairs)}
    return {"value": betti_numbers(array)}


def _assert_same(a: dict, b: dict, exact: bool, rtol: float = 0.0, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if a[key] is None or b[key] is None:
            assert a[key] is None and b[key] is None, key
        elif isinstance(a[key], list):
            if exact:
                assert a[key] == b[key], key
            else:
                np.testing.assert_allclose(np.array(a[key], float), np.array(b[key], float), rtol=rtol, atol=atol)
        elif exact:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol, err_msg=key)


def _tolerance(row: Row, column: str) -> dict:
    if _group(column) != "loss":
        return {"exact": True}
    if row.dtype in (torch.float16, torch.bfloat16):
        return {"exact": False, "rtol": 2e-2, "atol": 2e-3}  # MONAI's DiceCELoss computes in half precision
    return {"exact": False, "rtol": 1e-5, "atol": 1e-6}


CELLS = [
    pytest.param(row, column, id=f"{row.id}-{column}")
    for row in ROWS
    for column in COLUMNS
    if not (_group(column) == "topology" and row.topology_source is None)
]


@pytest.mark.parametrize("row, column", CELLS)
def test_bad_input(row: Row, column: str):
    if row.cuda and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    outcome = expected(row, column)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if isinstance(outcome, Raises):
            with pytest.raises(outcome.error, match=outcome.match):
                _run(row, column)
        else:
            first = _run(row, column)
            second = _run(row, column)
    assert len(caught) <= MAX_WARNINGS, [str(w.message) for w in caught]
    if isinstance(outcome, Raises):
        return
    if outcome.warns is not None:
        assert any(outcome.warns in str(w.message) for w in caught), [str(w.message) for w in caught]

    _assert_same(first, second, exact=True)  # deterministic
    for key, value in first.items():
        if key == "value" and column == "compute_persistence":
            assert all(np.isfinite([b, d]).all() for _, b, d, _ in value)
        elif value is not None:
            assert np.isfinite(value).all(), (key, value)
    if _group(column) == "loss":
        assert first["grad"] is not None, "the loss must be differentiable in its input"
    if row.exotic:
        _assert_same(first, _run(row, column, plain=True), **_tolerance(row, column))
    _check_known(row, column, first)


# ----------------------------------------------------------------------------------------------------- documented NaN
NAN_METRICS = {
    "BettiErrorMetric": BettiErrorMetric,
    "EulerCharacteristicErrorMetric": EulerCharacteristicErrorMetric,
    "CenterlineDiceMetric": CenterlineDiceMetric,
    "ConnectivityErrorMetric": ConnectivityErrorMetric,
}


@pytest.mark.parametrize("name", list(NAN_METRICS))
def test_empty_target_is_documented_nan(name):
    """``ignore_empty=True``: an empty target channel gives NaN, counted out of the aggregate (not a silent NaN)."""
    x, _ = ROW_BY_ID["empty-target"].data()
    y = torch.zeros(SHAPE)
    y[0, 0, 2:5, 2:5, 2:5] = 1  # item 0 has a target, item 1 is empty
    metric = NAN_METRICS[name](ignore_empty=True, get_not_nans=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = metric(_binarise(x), y)
        aggregate, not_nans = metric.aggregate()
    assert len(caught) == 0
    assert np.isfinite(values[0].numpy()).all() and np.isnan(values[1].numpy()).all()
    assert float(not_nans) == 1.0 and float(aggregate) == pytest.approx(float(values[0, 0]))
    per_dim = compute_betti_error_per_dim(_binarise(x), y, ignore_empty=True)
    assert np.isnan(per_dim[1].numpy()).all() and np.isfinite(per_dim[0].numpy()).all()

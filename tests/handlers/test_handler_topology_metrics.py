from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.handlers import MetricsSaver, from_engine

from monai_topo.handlers import (
    BettiError,
    BettiMatchingError,
    CenterlineDice,
    ConnectivityError,
    EulerCharacteristicError,
)
from monai_topo.metrics import (
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    CenterlineDiceMetric,
    ConnectivityErrorMetric,
    EulerCharacteristicErrorMetric,
)
from tests.metrics.metric_shapes import batch, disk_2d, ring_2d


def _broken_disk() -> np.ndarray:
    m = disk_2d()
    m[:, 4] = False  # two halves
    return m


# three cases in two iterations: (ring vs disk), (broken disk vs disk) | (disk vs disk)
BATCHES = [
    {"pred": batch(ring_2d(), _broken_disk()), "label": batch(disk_2d(), disk_2d()), "name": ["case0", "case1"]},
    {"pred": batch(disk_2d()), "label": batch(disk_2d()), "name": ["case2"]},
]

# [handler, expected per-case values (3 cases, one channel)]
CASES = [
    (lambda: BettiError(), [1.0, 1.0, 0.0]),
    (lambda: BettiError(dims=1), [1.0, 0.0, 0.0]),
    # 9 tiles of 3x3: the ring's hole empties the centre tile, the cut splits the 3 tiles of the middle column
    (lambda: BettiError(dims=0, patch_size=3), [1 / 9, 1 / 3, 0.0]),
    (lambda: BettiError(dims=0, patch_size=(9, 5)), [0.0, 0.0, 0.0]),  # the cut lies on the tile border
    (lambda: EulerCharacteristicError(), [1.0, 1.0, 0.0]),
    # nothing moved: the ring's hole and the second half have no partner, as for the Betti error
    (lambda: BettiMatchingError(), [1.0, 1.0, 0.0]),
    (lambda: BettiMatchingError(dims=0), [0.0, 1.0, 0.0]),
    (lambda: ConnectivityError(kind="splits"), [0.0, 1.0, 0.0]),
    (lambda: ConnectivityError(kind="merges"), [0.0, 0.0, 0.0]),
    (lambda: CenterlineDice(), None),  # compared with the metric itself
]


def _run(handler, name: str, batches=BATCHES, saver: MetricsSaver | None = None) -> Engine:
    engine = Engine(lambda e, batch: (batch["pred"], batch["label"]))
    handler.attach(engine, name)
    if saver is not None:
        saver.attach(engine)
    engine.run(batches, max_epochs=1)
    return engine


@pytest.mark.parametrize("make_handler, expected", CASES)
def test_engine(make_handler, expected):
    handler = make_handler()
    engine = _run(handler, "topo")
    details = engine.state.metric_details["topo"]
    assert details.shape == (3, 1)
    if expected is None:
        expected = CenterlineDiceMetric()(
            torch.cat([b["pred"] for b in BATCHES]), torch.cat([b["label"] for b in BATCHES])
        )
        expected = expected[:, 0].tolist()
    np.testing.assert_allclose(details[:, 0].numpy(), expected, rtol=1e-6)
    assert engine.state.metrics["topo"] == pytest.approx(float(np.mean(expected)))


def test_engine_with_output_transform_and_epochs():
    handler = BettiError(output_transform=from_engine(["pred", "label"]))
    engine = Engine(lambda e, batch: batch)
    handler.attach(engine, "betti")
    engine.run(BATCHES, max_epochs=2)  # reset between epochs: same value, not accumulated
    assert engine.state.metrics["betti"] == pytest.approx(2 / 3)
    assert engine.state.metric_details["betti"].shape == (3, 1)


def test_handlers_wrap_the_metrics():
    pairs = [
        (BettiError(dims=1, connectivity=4), BettiErrorMetric),
        (EulerCharacteristicError(), EulerCharacteristicErrorMetric),
        (BettiMatchingError(dims=(0, 2), connectivity=6, ignore_empty=True), BettiMatchingErrorMetric),
        (CenterlineDice(ignore_empty=True), CenterlineDiceMetric),
        (ConnectivityError(instance_labels=True), ConnectivityErrorMetric),
    ]
    for handler, metric_type in pairs:
        assert isinstance(handler.metric_fn, metric_type)
    assert pairs[0][0].metric_fn.dims == 1 and pairs[0][0].metric_fn.connectivity == 4
    assert pairs[3][0].metric_fn.ignore_empty and pairs[4][0].metric_fn.instance_labels
    assert pairs[2][0].metric_fn.dims == (0, 2) and pairs[2][0].metric_fn.connectivity == 6
    assert pairs[2][0].metric_fn.ignore_empty


def test_no_monai_name_clash():
    import monai.handlers
    import monai.metrics

    for name in ("BettiError", "BettiMatchingError", "EulerCharacteristicError", "CenterlineDice", "ConnectivityError"):
        assert not hasattr(monai.handlers, name)
    for name in (
        "BettiErrorMetric",
        "BettiMatchingErrorMetric",
        "EulerCharacteristicErrorMetric",
        "CenterlineDiceMetric",
        "ConnectivityErrorMetric",
    ):
        assert not hasattr(monai.metrics, name)


def test_metrics_saver_writes_per_case_csv(tmp_path):
    saver = MetricsSaver(
        save_dir=str(tmp_path),
        metrics="*",
        metric_details="*",
        batch_transform=lambda batch: [{"filename_or_obj": n} for n in batch["name"]],
        summary_ops=["mean", "max"],
    )
    engine = Engine(lambda e, batch: (batch["pred"], batch["label"]))
    BettiError().attach(engine, "betti_error")
    ConnectivityError(kind="splits").attach(engine, "splits")
    saver.attach(engine)
    engine.run(BATCHES, max_epochs=1)

    metrics = (tmp_path / "metrics.csv").read_text()
    assert "betti_error" in metrics and "splits" in metrics
    with open(tmp_path / "betti_error_raw.csv") as f:
        rows = list(csv.reader(f, delimiter=","))
    assert rows[0][:2] == ["filename", "class0"]
    per_case = {row[0]: float(row[1]) for row in rows[1:]}
    assert per_case == {"case0": 1.0, "case1": 1.0, "case2": 0.0}
    with open(tmp_path / "splits_raw.csv") as f:
        rows = list(csv.reader(f, delimiter=","))
    assert {row[0]: float(row[1]) for row in rows[1:]} == {"case0": 0.0, "case1": 1.0, "case2": 0.0}
    summary = (tmp_path / "betti_error_summary.csv").read_text()
    assert "mean" in summary and "class0" in summary


def test_betti_matching_error_sees_a_moved_square_the_betti_error_does_not(tmp_path):
    """One square here against the same square there: Betti error 0, two unmatched components; written per case by
    MetricsSaver."""
    here, there = np.zeros((9, 9), bool), np.zeros((9, 9), bool)
    here[1:3, 1:3] = True
    there[6:8, 6:8] = True
    batches = [{"pred": batch(here, here), "label": batch(there, here), "name": ["moved", "same"]}]
    saver = MetricsSaver(
        save_dir=str(tmp_path),
        metrics="*",
        metric_details="*",
        batch_transform=lambda batch: [{"filename_or_obj": n} for n in batch["name"]],
    )
    engine = Engine(lambda e, batch: (batch["pred"], batch["label"]))
    BettiError().attach(engine, "betti_error")
    BettiMatchingError().attach(engine, "betti_matching_error")
    saver.attach(engine)
    engine.run(batches, max_epochs=1)
    assert engine.state.metrics["betti_error"] == 0.0
    assert engine.state.metrics["betti_matching_error"] == pytest.approx(1.0)
    with open(tmp_path / "betti_matching_error_raw.csv") as f:
        rows = list(csv.reader(f, delimiter=","))
    assert {row[0]: float(row[1]) for row in rows[1:]} == {"moved": 2.0, "same": 0.0}


def test_ill_opts():
    with pytest.raises(ValueError, match="dims must be"):
        BettiError(dims=5)
    with pytest.raises(ValueError, match="dims must be"):
        BettiMatchingError(dims=(0, 3))
    with pytest.raises(ValueError, match="connectivity must be None"):
        BettiMatchingError(connectivity=18)
    with pytest.raises(ValueError, match="kind must be one of"):
        ConnectivityError(kind="everything")
    with pytest.raises(ValueError, match="connectivity must be None"):
        EulerCharacteristicError(connectivity=18)
    with pytest.raises(ValueError, match="'bogus' is not a valid"):
        CenterlineDice(reduction="bogus")


def test_ill_shape_in_engine():
    engine = Engine(lambda e, batch: (batch["pred"][:, 0], batch["label"][:, 0]))  # channel dim dropped
    BettiError().attach(engine, "betti")
    with pytest.raises(ValueError, match="B C H W"):
        engine.run(BATCHES, max_epochs=1)

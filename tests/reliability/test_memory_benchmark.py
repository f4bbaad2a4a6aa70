"""Smoke test of ``benchmarks.memory``: one small case in a fresh subprocess, and option checks."""

from __future__ import annotations

import pytest

from benchmarks.memory import CASES, benchmark_memory


def test_one_small_case():
    (row,) = benchmark_memory(32, cases=["betti_numbers"], timeout=300)
    assert row["case"] == "betti_numbers" and row["shape"] == "32^3"
    assert row["peak_mb"] >= row["baseline_mb"] > 0
    assert row["above_baseline_mb"] == pytest.approx(row["peak_mb"] - row["baseline_mb"])
    assert row["input_mb"] == pytest.approx(32**3 / 2**20)
    assert isinstance(row["output"], list) and len(row["output"]) == 3  # the Betti numbers were computed


def test_cases_and_ill_opts():
    assert {"betti_numbers", "BettiErrorMetric", "SupervoxelLoss", "PersistenceMatchingLoss-patches"} <= set(CASES)
    assert sum(name.endswith("-2x128") for name in CASES) == 5  # every loss on 2x1x128^3
    with pytest.raises(ValueError, match="unknown memory case"):
        benchmark_memory(32, cases=["nope"])

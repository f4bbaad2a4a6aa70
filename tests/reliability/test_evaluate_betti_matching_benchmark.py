"""Smoke test of ``benchmarks.evaluate_betti_matching`` on one small case: the table's fields and the case's errors
(no timing is asserted; the benchmark itself runs with ``python -m benchmarks``)."""

from __future__ import annotations

from benchmarks.evaluate_betti_matching import COLUMNS, benchmark_evaluate_betti_matching


def test_small_case():
    result = benchmark_evaluate_betti_matching(size=32, num_cases=1, repeats=1)
    (row,) = result["cases"]
    assert set(COLUMNS) <= set(row)
    assert row["betti_matching_error"] >= row["betti_error"]  # never below the Betti error
    assert (row["betti_matching_error"] - row["betti_error"]) % 2 == 0
    assert result["overhead"] == result["with_matching_s"] / result["evaluate_s"] - 1

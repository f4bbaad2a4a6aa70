"""Smoke test of ``benchmarks.postprocess`` on small cases: its fields, and what the bridging did to the pieces."""

from __future__ import annotations

from benchmarks.postprocess import COLUMNS, benchmark_postprocess


def test_postprocess_benchmark_small():
    rows = benchmark_postprocess(size=32, densities=(0.01,), repeats=1)
    assert [row["case"] for row in rows] == ["neuron", "scattered 0.01"]
    for row in rows:
        assert set(COLUMNS) <= set(row)
        assert row["remove_s"] > 0 and row["bridge_remove_s"] > 0
        assert row["ratio"] == row["bridge_remove_s"] / row["remove_s"]
        assert 0 <= row["bridged_pieces"] <= row["pieces"]
    assert rows[1]["pieces"] > rows[0]["pieces"]  # the scattered voxels are pieces of their own

"""Experiments: measure what a topological loss buys on a bundle, with seeds, a held-out test split and CIs.

``from monai_topo.experiments import run_comparison`` (the engine of ``monai-topo compare``).
"""

from __future__ import annotations

from monai_topo.experiments.compare import BUNDLES, METRICS, Comparison, find_bundle, run_comparison
from monai_topo.experiments.configurations import (
    PRESETS,
    Configuration,
    load_configurations,
    resolve_configurations,
)
from monai_topo.experiments.statistics import Interval, bootstrap_mean_ci
from monai_topo.experiments.timing import StepTimer, read_step_times

__all__ = [
    "BUNDLES",
    "METRICS",
    "PRESETS",
    "Comparison",
    "Configuration",
    "Interval",
    "StepTimer",
    "bootstrap_mean_ci",
    "find_bundle",
    "load_configurations",
    "read_step_times",
    "resolve_configurations",
    "run_comparison",
]

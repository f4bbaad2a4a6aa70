"""Experiments: measure what a topological loss buys on a bundle, with seeds, a held-out test split and CIs.

``from monai_topo.experiments import run_comparison`` (the engine of ``monai-topo compare``).
"""

from __future__ import annotations

from monai_topo.experiments.compare import CHECKPOINTS, find_bundle, run_comparison
from monai_topo.experiments.configurations import (
    POST_SUFFIX,
    PRESETS,
    Configuration,
    load_configurations,
    resolve_configurations,
)
from monai_topo.experiments.report import Comparison
from monai_topo.experiments.scoring import METRICS, MIN_SIZE_CANDIDATES, choose_min_size, score_case, score_predictions
from monai_topo.experiments.statistics import Interval, bootstrap_mean_ci
from monai_topo.experiments.timing import StepTimer, read_step_times

__all__ = [
    "CHECKPOINTS",
    "METRICS",
    "MIN_SIZE_CANDIDATES",
    "POST_SUFFIX",
    "PRESETS",
    "Comparison",
    "Configuration",
    "Interval",
    "StepTimer",
    "bootstrap_mean_ci",
    "choose_min_size",
    "find_bundle",
    "load_configurations",
    "read_step_times",
    "resolve_configurations",
    "run_comparison",
    "score_case",
    "score_predictions",
]

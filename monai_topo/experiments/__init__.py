"""Experiments: measure what a topological loss buys on a bundle, with seeds, a held-out test split and CIs.

``from monai_topo.experiments import run_comparison`` (the engine of ``monai-topo compare``).
"""

from __future__ import annotations

from monai_topo.experiments.compare import configuration_postprocess, run_comparison
from monai_topo.experiments.configurations import PRESETS, Configuration, load_configurations
from monai_topo.experiments.report import Comparison
from monai_topo.experiments.scoring import METRICS, choose_min_size, score_case, score_predictions
from monai_topo.experiments.statistics import Interval, bootstrap_mean_ci
from monai_topo.experiments.timing import StepTimer

__all__ = [
    "METRICS",
    "PRESETS",
    "Comparison",
    "Configuration",
    "Interval",
    "StepTimer",
    "bootstrap_mean_ci",
    "choose_min_size",
    "configuration_postprocess",
    "load_configurations",
    "run_comparison",
    "score_case",
    "score_predictions",
]

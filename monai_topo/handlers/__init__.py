"""Ignite handlers for the monai_topo metrics, thin :class:`monai.handlers.IgniteMetricHandler` subclasses.

They go into a bundle's ``key_metric`` / ``additional_metrics`` (``"_target_": "monai_topo.handlers.BettiError"``)
and their per-image values are written by :class:`monai.handlers.MetricsSaver`.
"""

from __future__ import annotations

from monai_topo.handlers.betti_error import BettiError
from monai_topo.handlers.betti_matching_error import BettiMatchingError
from monai_topo.handlers.centerline_dice import CenterlineDice
from monai_topo.handlers.connectivity_error import ConnectivityError
from monai_topo.handlers.euler_characteristic_error import EulerCharacteristicError
from monai_topo.handlers.topology_overlay import TopologyErrorOverlay, TopologyErrorOverlaySaver

__all__ = [
    "BettiError",
    "BettiMatchingError",
    "CenterlineDice",
    "ConnectivityError",
    "EulerCharacteristicError",
    "TopologyErrorOverlay",
    "TopologyErrorOverlaySaver",
]

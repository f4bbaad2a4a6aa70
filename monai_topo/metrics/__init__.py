"""Topological segmentation metrics, each a MONAI ``CumulativeIterationMetric`` with a functional form.

All take binarised one-hot ``B C H W [D]`` inputs and return ``(B, C)`` (NaN where undefined), like
:class:`monai.metrics.HausdorffDistanceMetric`.
"""

from __future__ import annotations

from monai_topo.metrics.betti_error import BettiErrorMetric, compute_betti_error, compute_betti_error_per_dim
from monai_topo.metrics.betti_matching_error import (
    BettiMatchingErrorMetric,
    compute_betti_matching_error,
    compute_betti_matching_error_per_dim,
)
from monai_topo.metrics.centerline_dice import CenterlineDiceMetric, centerline_dice, compute_centerline_dice
from monai_topo.metrics.connectivity_error import (
    ConnectivityErrorMetric,
    compute_connectivity_error,
    split_merge_counts,
)
from monai_topo.metrics.euler_characteristic_error import (
    EulerCharacteristicErrorMetric,
    compute_euler_characteristic_error,
)

__all__ = [
    "BettiErrorMetric",
    "BettiMatchingErrorMetric",
    "CenterlineDiceMetric",
    "ConnectivityErrorMetric",
    "EulerCharacteristicErrorMetric",
    "centerline_dice",
    "compute_betti_error",
    "compute_betti_error_per_dim",
    "compute_betti_matching_error",
    "compute_betti_matching_error_per_dim",
    "compute_centerline_dice",
    "compute_connectivity_error",
    "compute_euler_characteristic_error",
    "split_merge_counts",
]

"""MONAI transforms of monai_topo: ``from monai_topo.transforms import SkeletonTubed, TopologyPostprocessd``."""

from __future__ import annotations

from monai_topo.transforms.postprocess import (
    POSTPROCESS_OPTIONS,
    TopologyPostprocess,
    TopologyPostprocessd,
    check_postprocess_options,
)
from monai_topo.transforms.skeleton import SkeletonTube, SkeletonTubed

__all__ = [
    "POSTPROCESS_OPTIONS",
    "SkeletonTube",
    "SkeletonTubed",
    "TopologyPostprocess",
    "TopologyPostprocessd",
    "check_postprocess_options",
]

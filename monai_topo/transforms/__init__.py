"""MONAI transforms of monai_topo: ``from monai_topo.transforms import SkeletonTubed, TopologyPostprocessd``."""

from __future__ import annotations

from monai_topo.transforms.postprocess import TopologyPostprocess, TopologyPostprocessd
from monai_topo.transforms.skeleton import SkeletonTube, SkeletonTubed

__all__ = [
    "SkeletonTube",
    "SkeletonTubed",
    "TopologyPostprocess",
    "TopologyPostprocessd",
]

"""Topology-aware losses for MONAI: ``from monai_topo.losses import SupervoxelLoss, TopologyAwareLoss``."""

from __future__ import annotations

from monai_topo.losses.supervoxel import SupervoxelLoss
from monai_topo.losses.topology_aware import TopologyAwareLoss

__all__ = [
    "SupervoxelLoss",
    "TopologyAwareLoss",
]

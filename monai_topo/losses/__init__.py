"""Topology-aware losses for MONAI: ``from monai_topo.losses import SupervoxelLoss, TopologyAwareLoss``."""

from __future__ import annotations

from monai_topo.losses.betti_prior import BettiPriorLoss, refine_with_betti_prior
from monai_topo.losses.persistence_matching import PersistenceMatchingLoss
from monai_topo.losses.skeleton_recall import SkeletonRecallLoss
from monai_topo.losses.spatial_aware import SpatialAwareMatchingLoss
from monai_topo.losses.supervoxel import SupervoxelLoss
from monai_topo.losses.topology_aware import TopologyAwareLoss

__all__ = [
    "BettiPriorLoss",
    "PersistenceMatchingLoss",
    "SkeletonRecallLoss",
    "SpatialAwareMatchingLoss",
    "SupervoxelLoss",
    "TopologyAwareLoss",
    "refine_with_betti_prior",
]

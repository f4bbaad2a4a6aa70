"""The math of monai_topo: persistence, Betti numbers, connected components. numpy in, numpy out; no torch."""

from __future__ import annotations

from monai_topo.topology.components import label_components
from monai_topo.topology.betti import betti_numbers, betti_numbers_patches, euler_characteristic, patch_slices
from monai_topo.topology.critical import critical_components, target_objects
from monai_topo.topology.connectivity import (
    Connectivity,
    background_connectivity,
    foreground_connectivity,
    resolve_connectivity,
)
from monai_topo.topology.matching import (
    BettiPriorSelection,
    SpatialMatching,
    betti_prior_selection,
    hu_matching,
    spatial_aware_matching,
)
from monai_topo.topology.persistence import (
    PersistenceDiagram,
    betti_numbers_from_diagram,
    compute_persistence,
    compute_persistence_batch,
)
from monai_topo.topology.skeleton import skeleton, tube_footprint, tubed_skeleton, tubed_skeletons
from monai_topo.topology.validation import check_binary_mask, check_image

__all__ = [
    "spatial_aware_matching",
    "hu_matching",
    "betti_prior_selection",
    "SpatialMatching",
    "BettiPriorSelection",
    "Connectivity",
    "PersistenceDiagram",
    "background_connectivity",
    "betti_numbers",
    "betti_numbers_from_diagram",
    "betti_numbers_patches",
    "check_binary_mask",
    "check_image",
    "compute_persistence",
    "compute_persistence_batch",
    "critical_components",
    "euler_characteristic",
    "foreground_connectivity",
    "label_components",
    "patch_slices",
    "resolve_connectivity",
    "skeleton",
    "target_objects",
    "tube_footprint",
    "tubed_skeleton",
    "tubed_skeletons",
]

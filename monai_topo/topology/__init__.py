"""The math of monai_topo: persistence, Betti numbers, connected components. numpy in, numpy out; no torch."""

from __future__ import annotations

from monai_topo.topology.components import label_components, label_sparse_components
from monai_topo.topology.betti import betti_numbers, betti_numbers_patches, euler_characteristic, patch_slices
from monai_topo.topology.chunked import (
    ChunkedPairTopology,
    ChunkedTopology,
    chunked_betti_numbers,
    chunked_component_count,
    chunked_euler_characteristic,
    chunked_pair_topology,
    chunked_split_merge_counts,
    chunked_topology,
    is_dask_array,
)
from monai_topo.topology.critical import (
    CriticalSupervoxels,
    critical_components,
    critical_supervoxels,
    target_objects,
)
from monai_topo.topology.labelling import MaskLabelling, border_labels, label_mask
from monai_topo.topology.errors import TOPOLOGICAL_ERROR_CODES, error_component_counts, topological_errors
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
from monai_topo.topology.validation import (
    check_binary_mask,
    check_connectivity,
    check_image,
    check_num_workers,
    check_spatial_ndim,
)

__all__ = [
    "spatial_aware_matching",
    "hu_matching",
    "is_dask_array",
    "betti_prior_selection",
    "SpatialMatching",
    "BettiPriorSelection",
    "MaskLabelling",
    "ChunkedPairTopology",
    "ChunkedTopology",
    "Connectivity",
    "PersistenceDiagram",
    "background_connectivity",
    "betti_numbers",
    "betti_numbers_from_diagram",
    "betti_numbers_patches",
    "border_labels",
    "check_binary_mask",
    "check_connectivity",
    "check_image",
    "check_num_workers",
    "check_spatial_ndim",
    "chunked_betti_numbers",
    "chunked_component_count",
    "chunked_euler_characteristic",
    "chunked_pair_topology",
    "chunked_split_merge_counts",
    "chunked_topology",
    "compute_persistence",
    "compute_persistence_batch",
    "critical_components",
    "critical_supervoxels",
    "CriticalSupervoxels",
    "error_component_counts",
    "euler_characteristic",
    "foreground_connectivity",
    "label_components",
    "label_sparse_components",
    "label_mask",
    "patch_slices",
    "resolve_connectivity",
    "skeleton",
    "target_objects",
    "topological_errors",
    "TOPOLOGICAL_ERROR_CODES",
    "tube_footprint",
    "tubed_skeleton",
    "tubed_skeletons",
]

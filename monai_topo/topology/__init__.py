"""The math of monai_topo: persistence, Betti numbers, connected components. numpy in, numpy out; no torch.

- persistence: :func:`compute_persistence` (cubical persistence with critical voxels), its batch and Betti form;
- Betti numbers and Euler characteristic of binary masks, exact and O(n) (:func:`betti_numbers`), and
  :func:`label_mask`, one labelling of a mask that every measure of it shares;
- where a prediction's topology goes wrong: :func:`critical_components` (the supervoxels ``SupervoxelLoss``
  weights) and :func:`topological_errors` (an error label map with one code per class);
- skeletons (clDice, Skeleton Recall) and chunked topology of volumes larger than memory (``dask.array``);
- repair: :func:`bridge_gaps` joins the pieces of a broken structure across short gaps.
"""

from __future__ import annotations

from monai_topo.topology.betti import betti_numbers, betti_numbers_patches, euler_characteristic
from monai_topo.topology.betti_matching import BettiMatching, betti_matching, betti_matching_error
from monai_topo.topology.bridging import bridge_gaps
from monai_topo.topology.chunked import ChunkedPairTopology, ChunkedTopology, chunked_pair_topology, chunked_topology
from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity
from monai_topo.topology.critical import CriticalSupervoxels, critical_components, critical_supervoxels
from monai_topo.topology.errors import TOPOLOGICAL_ERROR_CODES, error_component_counts, topological_errors
from monai_topo.topology.labelling import MaskLabelling, label_mask
from monai_topo.topology.persistence import (
    PersistenceDiagram,
    betti_numbers_from_diagram,
    compute_persistence,
    compute_persistence_batch,
)
from monai_topo.topology.skeleton import skeleton, tubed_skeleton

__all__ = [
    "TOPOLOGICAL_ERROR_CODES",
    "BettiMatching",
    "ChunkedPairTopology",
    "ChunkedTopology",
    "Connectivity",
    "CriticalSupervoxels",
    "MaskLabelling",
    "PersistenceDiagram",
    "betti_matching",
    "betti_matching_error",
    "betti_numbers",
    "betti_numbers_from_diagram",
    "betti_numbers_patches",
    "bridge_gaps",
    "chunked_pair_topology",
    "chunked_topology",
    "compute_persistence",
    "compute_persistence_batch",
    "critical_components",
    "critical_supervoxels",
    "error_component_counts",
    "euler_characteristic",
    "label_components",
    "label_mask",
    "skeleton",
    "topological_errors",
    "tubed_skeleton",
]

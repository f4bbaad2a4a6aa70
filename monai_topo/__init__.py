"""monai_topo: topology-preserving segmentation for MONAI.

Subpackages: :mod:`monai_topo.topology` (the math, numpy only), :mod:`monai_topo.losses`,
:mod:`monai_topo.metrics`, :mod:`monai_topo.handlers`, :mod:`monai_topo.transforms`, :mod:`monai_topo.data`.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""monai_topo: topology-preserving segmentation for MONAI.

Subpackages: :mod:`monai_topo.topology` (the math, numpy only), :mod:`monai_topo.io` (reading volumes, case names),
:mod:`monai_topo.losses`, :mod:`monai_topo.metrics`, :mod:`monai_topo.transforms`, :mod:`monai_topo.visualize`,
:mod:`monai_topo.data` (built-in datasets), :mod:`monai_topo.evaluation`, :mod:`monai_topo.handlers`,
:mod:`monai_topo.experiments` (``monai-topo compare``), :mod:`monai_topo.bundles` (the MONAI bundles) and
:mod:`monai_topo.cli` (``monai-topo``).
"""

from __future__ import annotations

#: the package version: the one place it is written (``pyproject.toml`` reads it from here)
__version__ = "0.1.0"

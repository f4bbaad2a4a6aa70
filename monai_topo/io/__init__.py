"""Reading volumes: NIfTI label and probability maps in memory, Zarr / OME-Zarr / NIfTI lazily (dask), case names.

- :func:`read_label_volume` / :func:`read_probability_map`: a NIfTI file in memory; :class:`VolumeError` names a
  file that cannot be read.
- :func:`open_volume`: a volume larger than memory as a chunked ``dask.array.Array`` (nothing read until computed).
- :func:`case_name`, :func:`list_cases`, :func:`pair_cases`: the volumes of two folders paired by case name.
- :func:`output_problem`: the one check of an output path before any work (not an input, writable).
"""

from __future__ import annotations

from monai_topo.io.cases import CasePairing, case_name, list_cases, pair_cases
from monai_topo.io.nifti import VolumeError, read_label_volume, read_probability_map
from monai_topo.io.outputs import output_problem
from monai_topo.io.volumes import open_volume

__all__ = [
    "CasePairing",
    "VolumeError",
    "case_name",
    "list_cases",
    "open_volume",
    "output_problem",
    "pair_cases",
    "read_label_volume",
    "read_probability_map",
]

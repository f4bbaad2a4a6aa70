"""Reading volumes larger than memory: Zarr, OME-Zarr and NIfTI as lazy, chunked dask arrays."""

from __future__ import annotations

from monai_topo.io.volumes import LARGE_VOLUME_VOXELS, is_zarr_path, open_volume, volume_shape, wants_chunked

__all__ = ["LARGE_VOLUME_VOXELS", "is_zarr_path", "open_volume", "volume_shape", "wants_chunked"]

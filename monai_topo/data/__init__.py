"""Built-in synthetic datasets, so that bundles train out of the box: neurons (microscopy) and placentas (ultrasound).

- :func:`make_neuron_volume` / :func:`make_placenta_volume`: one volume in memory (numpy, deterministic).
- :func:`make_neuron_dataset` / :func:`make_placenta_dataset`: NIfTI files and a MONAI ``dataset.json``.
- :func:`ensure_dataset`: what bundles call: use the user's folder, or generate the built-in data there.
"""

from __future__ import annotations

from monai_topo.data.ensure import create_datalist, ensure_dataset
from monai_topo.data.neuron import NeuronVolume, make_neuron_volume
from monai_topo.data.placenta import PLACENTA_TOPOLOGY, PlacentaVolume, make_placenta_volume
from monai_topo.data.synthesis import case_seed, resolve_shape, smooth_random_field
from monai_topo.data.writers import (
    DATALIST_NAME,
    DATASET_KINDS,
    make_dataset,
    make_neuron_dataset,
    make_placenta_dataset,
    save_nifti,
    split_counts,
    write_json_atomic,
)

__all__ = [
    "DATALIST_NAME",
    "DATASET_KINDS",
    "NeuronVolume",
    "PLACENTA_TOPOLOGY",
    "PlacentaVolume",
    "case_seed",
    "create_datalist",
    "ensure_dataset",
    "make_dataset",
    "make_neuron_dataset",
    "make_neuron_volume",
    "make_placenta_dataset",
    "make_placenta_volume",
    "resolve_shape",
    "save_nifti",
    "smooth_random_field",
    "split_counts",
    "write_json_atomic",
]

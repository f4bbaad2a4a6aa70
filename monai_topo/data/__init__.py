"""Built-in synthetic datasets, so that bundles train out of the box: neurons (microscopy) and placentas (ultrasound).

- :func:`make_neuron_volume` / :func:`make_placenta_volume`: one volume in memory (numpy, deterministic).
- :func:`make_neuron_dataset` / :func:`make_placenta_dataset`: NIfTI files and a MONAI ``dataset.json``.
- :func:`ensure_dataset`: what bundles call: use the user's folder, or generate the built-in data there.
"""

from __future__ import annotations

from monai_topo.data.ensure import create_datalist, ensure_dataset
from monai_topo.data.neuron import NeuronVolume, make_neuron_volume
from monai_topo.data.placenta import PlacentaVolume, make_placenta_volume
from monai_topo.data.writers import make_dataset, make_neuron_dataset, make_placenta_dataset

__all__ = [
    "NeuronVolume",
    "PlacentaVolume",
    "create_datalist",
    "ensure_dataset",
    "make_dataset",
    "make_neuron_dataset",
    "make_neuron_volume",
    "make_placenta_dataset",
    "make_placenta_volume",
]

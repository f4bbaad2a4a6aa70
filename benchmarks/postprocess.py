"""Cost of the neuron bundle's post-processing: gap bridging before removing small pieces, against the removal alone.

``TopologyPostprocess(max_gap=6, min_size=128)`` (the neuron bundle's default) against
``TopologyPostprocess(min_size=128)`` (MONAI's ``RemoveSmallObjects`` alone) on the same label maps, timed in the
same run, best of interleaved rounds (:func:`benchmarks.utils.best_times_interleaved`):

- ``neuron``: a synthetic neuron label (:func:`monai_topo.data.neuron.make_neuron_volume`) predicted well but with
  gaps, spurious blobs and boundary noise (the ``"trained"`` scenario of the SupervoxelLoss benchmark): tens to
  hundreds of pieces, what a trained network gives;
- ``scattered``: the same with single voxels scattered at random (``density`` of the volume): thousands of pieces, the
  hard case of bridging (every stray voxel is a piece whose boundary is searched for another piece within the gap,
  shell by shell).
"""

from __future__ import annotations

import numpy as np

from benchmarks.supervoxel import trained_logits
from benchmarks.utils import best_times_interleaved

__all__ = ["COLUMNS", "benchmark_postprocess"]

COLUMNS = ["case", "size", "pieces", "remove_s", "bridge_remove_s", "ratio", "bridged_pieces"]


def benchmark_postprocess(
    size: int = 128, densities: tuple[float, ...] = (0.001, 0.01), repeats: int = 3, seed: int = 0
) -> list[dict[str, object]]:
    """Time the removal of small pieces with and without gap bridging first.

    Args:
        size: edge of the cubic label maps.
        densities: fractions of the volume scattered as single voxels for the ``scattered`` cases.
        repeats: interleaved rounds; each timing is the best.
        seed: seed of the synthetic data.

    Returns:
        one row per case: the number of 26-connected pieces of the input and after the bundle's post-processing,
        the seconds of each way and their ratio.
    """
    from monai_topo.data.neuron import make_neuron_volume
    from monai_topo.topology import label_components
    from monai_topo.transforms import TopologyPostprocess

    target = make_neuron_volume(size, seed=seed).label > 0
    neuron = (trained_logits(target, seed) > 0).astype(np.uint8)
    rng = np.random.default_rng(seed)
    cases = [("neuron", neuron)]
    for density in densities:
        cases.append((f"scattered {density:g}", np.maximum(neuron, rng.random(neuron.shape) < density).astype(np.uint8)))
    remove, bridge_remove = TopologyPostprocess(min_size=128), TopologyPostprocess(max_gap=6, min_size=128)
    rows = []
    for name, pred in cases:
        image = pred[None]
        times = best_times_interleaved(
            {"remove": lambda: remove(image), "bridge_remove": lambda: bridge_remove(image)}, repeats=repeats
        )
        rows.append(
            {
                "case": name,
                "size": size,
                "pieces": label_components(pred, 26)[1],
                "remove_s": times["remove"],
                "bridge_remove_s": times["bridge_remove"],
                "ratio": times["bridge_remove"] / times["remove"],
                "bridged_pieces": label_components(np.asarray(bridge_remove(image))[0], 26)[1],
            }
        )
    return rows

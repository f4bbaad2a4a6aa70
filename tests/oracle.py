"""Independent oracle for the topology tests: gudhi's cubical complexes (a test-only dependency)."""

from __future__ import annotations

import gudhi
import numpy as np

from monai_topo.topology import resolve_connectivity


def gudhi_pairs(values: np.ndarray, connectivity: int | None, filtration: str = "sublevel") -> list[tuple]:
    """Sorted ``(dim, birth, death)`` of gudhi's diagram (death ``inf`` for essential classes).

    Singleton axes are squeezed (the cubical complex is the same); gudhi's ``vertices`` complex is the
    V-construction, ``top_dimensional_cells`` the T-construction.
    """
    sign = -1.0 if filtration == "superlevel" else 1.0
    arr = np.asarray(values, dtype=np.float64) * sign
    kept = [s for s in arr.shape if s > 1]
    arr = arr.reshape(kept) if kept else arr.reshape(1)
    key = "top_dimensional_cells" if resolve_connectivity(connectivity, values.ndim) == "T" else "vertices"
    complex_ = gudhi.CubicalComplex(**{key: arr})
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=-1)
    pairs = []
    for dim, (birth, death) in complex_.persistence():
        if birth == death:
            continue
        pairs.append((int(dim), sign * float(birth), sign * float(death) if np.isfinite(death) else float("inf")))
    return sorted(pairs)


def gudhi_betti(mask: np.ndarray, connectivity: int | None) -> np.ndarray:
    """Betti numbers of a binary mask from gudhi's persistence of the image ``1 - mask`` at level 0.5."""
    pairs = gudhi_pairs((~mask.astype(bool)).astype(np.float64), connectivity, "sublevel")
    betti = np.zeros(mask.ndim, np.int64)
    for dim, birth, death in pairs:
        if birth <= 0.5 < death:
            betti[dim] += 1
    return betti

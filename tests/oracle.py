"""Independent oracle for the topology tests: gudhi's cubical complexes (a test-only dependency)."""

from __future__ import annotations

import gudhi
import numpy as np

# written out here on purpose: the oracle must not share the library's connectivity resolver
_T_CONSTRUCTION = {2: 8, 3: 26}  # foreground connectivity of gudhi's top_dimensional_cells complex
_V_CONSTRUCTION = {2: 4, 3: 6}  # ... of its vertices complex


def _gudhi_key(connectivity: int | None, ndim: int) -> str:
    if connectivity is None or connectivity == _T_CONSTRUCTION[ndim]:
        return "top_dimensional_cells"
    if connectivity == _V_CONSTRUCTION[ndim]:
        return "vertices"
    raise ValueError(f"the oracle knows connectivity None, 4 / 8 (2D), 6 / 26 (3D), got {connectivity!r} in {ndim}D.")


def gudhi_pairs(values: np.ndarray, connectivity: int | None, filtration: str = "sublevel") -> list[tuple]:
    """Sorted ``(dim, birth, death)`` of gudhi's diagram (death ``inf`` for essential classes).

    The array is given to gudhi as it is, singleton axes included (the library squeezes them before cripser, the
    oracle does not, so a squeezing bug would show); gudhi's ``vertices`` complex is the V-construction,
    ``top_dimensional_cells`` the T-construction.
    """
    sign = -1.0 if filtration == "superlevel" else 1.0
    arr = np.asarray(values, dtype=np.float64) * sign
    complex_ = gudhi.CubicalComplex(**{_gudhi_key(connectivity, arr.ndim): arr})
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

"""The cc3d pin (3.24-3.26, pyproject) rests on a cross-check against ``scipy.ndimage.label``: 88,000 masks.

README / ``monai_topo.topology.components`` claim the pinned cc3d labels 88,000 random and exhaustive masks exactly
like scipy (newer releases mislabel about 1 in 200 random 2D 8-connected masks). This slow test reproduces that
count: every 4 x 4 and every 3 x 3 binary image (65,536 + 512) and 21,952 seeded random 2D and 3D masks, each with
both connectivities, labelled by raw cc3d (not through ``label_components``'s workarounds) and compared as
partitions with scipy. Run with ``python -m pytest tests/topology/test_cc3d_pin.py --runslow``.
"""

from __future__ import annotations

import itertools

import cc3d
import numpy as np
import pytest
from scipy import ndimage

N_EXHAUSTIVE = 2**16 + 2**9
N_RANDOM = 21_952
STRUCTURES = {
    8: np.ones((3, 3), bool),
    4: ndimage.generate_binary_structure(2, 1),
    26: np.ones((3, 3, 3), bool),
    6: ndimage.generate_binary_structure(3, 1),
}


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two label maps (0 = background) describe the same components, up to renumbering."""
    if not np.array_equal(a > 0, b > 0):
        return False
    fg = a > 0
    pairs = np.unique(a[fg].astype(np.int64) * (int(b.max()) + 1) + b[fg])
    return pairs.size == np.unique(a[fg]).size == np.unique(b[fg]).size


def _masks():
    for side in (4, 3):  # exhaustive: every binary image of side x side
        for bits in range(2 ** (side * side)):
            yield np.array([(bits >> i) & 1 for i in range(side * side)], bool).reshape(side, side)
    rng = np.random.default_rng(88_000)
    for i in range(N_RANDOM):
        ndim = 2 if i % 2 == 0 else 3
        shape = tuple(int(s) for s in rng.integers(2, 13 if ndim == 2 else 9, ndim))
        yield rng.random(shape) < rng.uniform(0.2, 0.8)


@pytest.mark.slow
def test_pinned_cc3d_agrees_with_scipy_on_88000_masks():
    checked, wrong = 0, []
    for mask in _masks():
        for conn in (8, 4) if mask.ndim == 2 else (26, 6):
            labels, n = cc3d.connected_components(mask, connectivity=conn, return_N=True)
            ref, n_ref = ndimage.label(mask, structure=STRUCTURES[conn])
            if n != n_ref or int(labels.max()) != n or not _same_partition(labels, ref):
                wrong.append((mask.shape, conn, np.argwhere(mask).tolist()))
        checked += 1
    assert checked == N_EXHAUSTIVE + N_RANDOM == 88_000
    assert wrong == [], f"cc3d {cc3d.__version__ if hasattr(cc3d, '__version__') else ''} mislabels {len(wrong)} masks"


def test_same_partition_helper():
    a = np.array([[1, 0, 2]])
    assert _same_partition(a, np.array([[5, 0, 3]]))
    assert not _same_partition(a, np.array([[1, 0, 1]]))
    assert not _same_partition(a, np.array([[1, 1, 2]]))
    assert list(itertools.islice(_masks(), 2))[1].sum() == 1

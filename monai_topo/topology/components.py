"""Connected-component labelling on top of cc3d that is safe on thin volumes.

cc3d 4.1 raises ``RuntimeError: maximum length exception`` for 26-connectivity on 3D arrays that are lines
(e.g. shape ``(1, 1, 12)``). Singleton axes do not change connectivity, so they are removed first and the
neighbourhood is mapped to the lower dimension (26/18 -> 8, 6 -> 4 in a plane).
"""

from __future__ import annotations

import cc3d
import numpy as np

__all__ = ["label_components"]

_TO_2D = {26: 8, 18: 8, 6: 4, 8: 8, 4: 4}


def label_components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """Label the connected components of a 2D/3D boolean (or label) array.

    Args:
        mask: boolean mask, or an integer label map (cc3d then labels each value's regions separately).
        connectivity: 4 or 8 in 2D; 6, 18 or 26 in 3D.

    Returns:
        ``(labels, n)``: a label array of ``mask.shape`` (0 = background, 1..n components) and ``n``.

    Example:
        >>> labels, n = label_components(np.array([[[1, 0, 1, 1]]], bool), 26)
        >>> n, labels.ravel().tolist()
        (2, [1, 0, 2, 2])
    """
    shape = mask.shape
    keep = [size for size in shape if size > 1]
    if len(keep) == mask.ndim:
        labels, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
        return labels, int(n)
    if mask.ndim == 3 and len(keep) == 2:
        reduced, conn = mask.reshape(keep), _TO_2D[connectivity]
    else:  # a line or a single voxel: label it as a 1 x n image
        reduced, conn = mask.reshape(1, -1), 4
    labels, n = cc3d.connected_components(np.ascontiguousarray(reduced), connectivity=conn, return_N=True)
    return labels.reshape(shape), int(n)

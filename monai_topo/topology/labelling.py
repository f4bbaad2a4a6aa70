"""One labelling of a binary mask (foreground and background components) shared by every measure of it.

An evaluation asks several questions of the same prediction and label: Betti numbers (foreground components and
enclosed background components), split / merge counts (foreground components), where the topological errors are
(foreground components of both, background components of the prediction). :func:`label_mask` labels a mask once
and :class:`MaskLabelling` answers from the labels, so ``monai-topo evaluate --overlays`` labels each mask once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity, background_connectivity, foreground_connectivity
from monai_topo.topology.euler import mask_euler_characteristic
from monai_topo.topology.validation import check_binary_mask

__all__ = ["MaskLabelling", "border_labels", "label_mask"]


def border_labels(labels: np.ndarray) -> np.ndarray:
    """The distinct non-zero labels on the border of a 2D/3D label array (sorted).

    Example:
        >>> border_labels(np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3]])).tolist()
        [1, 3]
    """
    faces = [np.take(labels, index, axis=axis).ravel() for axis in range(labels.ndim) for index in (0, -1)]
    found = np.unique(np.concatenate(faces))
    return found[found != 0]


@dataclass(frozen=True)
class MaskLabelling:
    """A binary mask with its foreground and background components (see :func:`label_mask`).

    Attributes:
        mask: the C-contiguous boolean mask.
        connectivity: the connectivity it was labelled with (``None``: 8 / 26).
        components: foreground components (foreground connectivity), 0 = background.
        n_components: their number (``b0``).
        background: components of ``~mask`` (background connectivity), 0 = foreground; ``None`` for a mask
            without background.
        n_background: their number.
    """

    mask: np.ndarray
    connectivity: Connectivity
    components: np.ndarray
    n_components: int
    background: np.ndarray | None
    n_background: int

    def enclosed_background(self) -> int:
        """Background components that do not touch the image border (holes in 2D, cavities in 3D)."""
        if self.background is None:
            return 0
        return self.n_background - len(border_labels(self.background))

    def betti(self) -> np.ndarray:
        """Betti numbers, as :func:`monai_topo.topology.betti_numbers` of the mask (``int64``, length ``ndim``)."""
        if self.n_components == 0:
            return np.zeros(self.mask.ndim, np.int64)
        b0, enclosed = self.n_components, self.enclosed_background()
        if self.mask.ndim == 2:
            return np.array([b0, enclosed], np.int64)
        chi = mask_euler_characteristic(self.mask, self.connectivity)
        return np.array([b0, b0 + enclosed - chi, enclosed], np.int64)


def label_mask(mask: np.ndarray, connectivity: Connectivity = None) -> MaskLabelling:
    """Label the foreground and background components of a binary 2D/3D mask, once.

    Args:
        mask: binary 2D or 3D array (bool or 0/1 values).
        connectivity: foreground connectivity: ``None``/8/26 (T-construction, default) or 4/6; the background
            gets the complementary one.

    Returns:
        a :class:`MaskLabelling`.

    Raises:
        TypeError / ValueError: for a non-binary mask, wrong dimensions or a bad connectivity.

    Example:
        >>> ring = np.ones((3, 3), bool); ring[1, 1] = False
        >>> labelling = label_mask(ring)
        >>> labelling.n_components, labelling.betti().tolist()
        (1, [1, 1])
    """
    m = check_binary_mask(mask)
    components, n_components = label_components(m, foreground_connectivity(connectivity, m.ndim))
    background, n_background = None, 0
    if not m.all():
        background, n_background = label_components(~m, background_connectivity(connectivity, m.ndim))
    return MaskLabelling(m, connectivity, components, n_components, background, n_background)

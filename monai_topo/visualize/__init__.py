"""Pictures of topology: where the errors are (projections with coloured error classes), persistence diagrams.

matplotlib only (Agg canvas, no pyplot); numpy in, :class:`matplotlib.figure.Figure` out.
"""

from __future__ import annotations

from monai_topo.visualize.diagram import plot_persistence_diagram
from monai_topo.visualize.overlay import ERROR_COLORS, error_projection, plot_error_overlay, save_error_overlay

__all__ = ["ERROR_COLORS", "error_projection", "plot_error_overlay", "plot_persistence_diagram", "save_error_overlay"]

"""Pictures of topology: where the errors are (projections with coloured error classes), persistence diagrams.

numpy in; error overlays as RGB arrays / PNG files (Pillow), diagrams as matplotlib figures (Agg canvas).
"""

from __future__ import annotations

from monai_topo.visualize.diagram import plot_persistence_diagram
from monai_topo.visualize.overlay import render_error_overlay, save_error_overlay, split_merge_notes

__all__ = [
    "plot_persistence_diagram",
    "render_error_overlay",
    "save_error_overlay",
    "split_merge_notes",
]

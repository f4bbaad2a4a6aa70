"""Pictures of where the topological errors are: maximum-intensity projections with the error classes coloured.

The label map comes from :func:`monai_topo.topology.topological_errors`. Figures are built with matplotlib's
object API on the Agg canvas (no pyplot, no display needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy import ndimage

from monai_topo.topology.errors import TOPOLOGICAL_ERROR_CODES

__all__ = ["ERROR_COLORS", "error_projection", "plot_error_overlay", "save_error_overlay"]

#: RGB colour (0-1) of each error class; the object-level and loop errors are saturated, the ordinary ones dim
ERROR_COLORS: dict[int, tuple[float, float, float]] = {
    1: (0.95, 0.10, 0.10),  # split: red
    2: (1.00, 0.55, 0.00),  # missed object: orange
    3: (1.00, 0.00, 1.00),  # merge: magenta
    4: (1.00, 0.90, 0.00),  # spurious object: yellow
    5: (0.20, 0.35, 0.75),  # other false negative: dim blue
    6: (0.15, 0.55, 0.25),  # other false positive: dim green
    7: (0.00, 0.90, 1.00),  # missing loop: cyan
    8: (0.60, 0.35, 1.00),  # extra loop: violet
    9: (0.65, 0.40, 0.15),  # missing cavity: brown
    10: (1.00, 0.60, 0.80),  # extra cavity: pink
}
_TARGET_GREY, _PRED_GREY = 0.30, 0.62
# drawing order: ordinary errors first, the object-level ones last (on top where projections overlap)
_DRAW_ORDER = (5, 6, 10, 9, 8, 7, 4, 2, 3, 1)
_ORDINARY = (5, 6)


def _check_maps(errors: np.ndarray, target: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    errors, target, pred = np.asarray(errors), np.asarray(target) != 0, np.asarray(pred) != 0
    if not (errors.shape == target.shape == pred.shape):
        raise ValueError(
            f"errors {errors.shape}, target {target.shape} and prediction {pred.shape} must have the same shape."
        )
    if errors.ndim not in (2, 3):
        raise ValueError(f"expected 2D or 3D maps, got shape {errors.shape}.")
    return errors, target, pred


def error_projection(
    errors: np.ndarray, target: np.ndarray, pred: np.ndarray, axis: int = 0, widen: int = 1
) -> np.ndarray:
    """RGB picture (float, 0-1) of the maximum-intensity projection of a 3D case along ``axis`` (2D: as is).

    Background black, target dark grey, prediction light grey; every error class in its colour
    (:data:`ERROR_COLORS`) wherever one of its voxels projects. The non-ordinary classes are widened by
    ``widen`` pixels so that a one-voxel cut stays visible; where projections overlap, splits and merges are on
    top and the ordinary false negatives / positives at the bottom.

    Args:
        errors: label map of :func:`monai_topo.topology.topological_errors`.
        target: target mask (non-zero = foreground) of the same shape.
        pred: predicted mask of the same shape.
        axis: projection axis of a 3D case (ignored in 2D).
        widen: pixels by which the non-ordinary classes are dilated in the picture (0: exact projections).

    Returns:
        an ``(H, W, 3)`` float array.

    Raises:
        ValueError: for maps of different shapes or not 2D / 3D.

    Example:
        >>> err = np.zeros((2, 3), np.uint8); err[0, 1] = 1
        >>> error_projection(err, err > 0, err > 5, widen=0)[0, 1].tolist()
        [0.95, 0.1, 0.1]
    """
    errors, target, pred = _check_maps(errors, target, pred)
    project = (lambda a: a) if errors.ndim == 2 else (lambda a: a.any(axis=axis))
    rgb = np.zeros(project(target).shape + (3,))
    rgb[project(target)] = _TARGET_GREY
    rgb[project(pred)] = _PRED_GREY
    present = set(np.unique(errors).tolist())
    for code in _DRAW_ORDER:
        if code not in present:
            continue
        mask = project(errors == code)
        if widen and code not in _ORDINARY:
            mask = ndimage.binary_dilation(mask, iterations=widen)
        rgb[mask] = ERROR_COLORS[code]
    return rgb


def plot_error_overlay(
    errors: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    counts: Mapping[int, int] | None = None,
    title: str | None = None,
    widen: int = 1,
):
    """Figure of the error classes on the projections of target and prediction, with a legend of counts.

    A 3D case gets three panels (projections along axes 0, 1, 2), a 2D one a single panel. The legend lists
    every class (the cavity classes only in 3D) with its number of components (``counts``, e.g. from
    :func:`monai_topo.topology.error_component_counts`; omitted when ``None``).

    Args:
        errors, target, pred: as :func:`error_projection`.
        counts: components per class code.
        title: figure title (e.g. the case name).
        widen: as :func:`error_projection`.

    Returns:
        a :class:`matplotlib.figure.Figure` (Agg canvas); ``fig.axes[i].transData`` maps (column, row) of
        panel ``i`` to figure pixels.

    Example:
        >>> err = np.zeros((4, 4, 4), np.uint8); err[1, 1, 1] = 1
        >>> len(plot_error_overlay(err, err > 0, err > 5).axes)
        3
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    errors, target, pred = _check_maps(errors, target, pred)
    axes_ = (0,) if errors.ndim == 2 else (0, 1, 2)
    pictures = [error_projection(errors, target, pred, axis, widen) for axis in axes_]
    widths = [p.shape[1] for p in pictures]
    height = max(p.shape[0] for p in pictures)
    panel_w = 4.2 * len(pictures)
    fig = Figure(figsize=(panel_w + 3.2, max(3.2, 4.2 * height / max(max(widths), 1))), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, len(pictures) + 1, width_ratios=[*widths, 0.9 * max(widths)], wspace=0.08)
    for i, (axis, picture) in enumerate(zip(axes_, pictures)):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(picture, interpolation="nearest", origin="upper")
        ax.set_xticks([])
        ax.set_yticks([])
        if errors.ndim == 3:
            rest = [a for a in range(3) if a != axis]
            ax.set_title(f"max over axis {axis} (rows {rest[0]}, cols {rest[1]})", fontsize=9)
    legend_ax = fig.add_subplot(grid[0, -1])
    legend_ax.axis("off")
    handles = [
        Patch(color=(_TARGET_GREY,) * 3, label="target only"),
        Patch(color=(_PRED_GREY,) * 3, label="prediction"),
    ]
    for code, name in TOPOLOGICAL_ERROR_CODES.items():
        if errors.ndim == 2 and code >= 9:
            continue
        label = name if counts is None else f"{name}: {int(counts.get(code, 0))}"
        handles.append(Patch(color=ERROR_COLORS[code], label=label))
    legend_ax.legend(handles=handles, loc="center left", fontsize=9, frameon=False, title="components per class")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.set_facecolor("white")
    return fig


def save_error_overlay(path: str | Path, *args, **kwargs) -> Path:
    """Render :func:`plot_error_overlay` (same arguments) to a PNG file; returns the path.

    Raises:
        OSError: when the file cannot be written (the message names it).
    """
    path = Path(path)
    fig = plot_error_overlay(*args, **kwargs)
    try:
        fig.savefig(path, format="png", facecolor="white")
    except OSError as e:
        raise OSError(f"cannot write {path} ({type(e).__name__}: {e})") from e
    return path

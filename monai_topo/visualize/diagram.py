"""Persistence diagrams of a probability map, with a target's points and the matchings of the persistence losses."""

from __future__ import annotations

import warnings

import numpy as np

from monai_topo.topology.betti import betti_numbers
from monai_topo.topology.connectivity import Connectivity
from monai_topo.topology.matching import hu_matching, normalize_locations, spatial_aware_matching
from monai_topo.topology.persistence import compute_persistence

__all__ = ["plot_persistence_diagram"]

_MATCHINGS = ("hu", "spatial")
_DIM_NAMES = ("components", "loops", "cavities")
_TOLERANCE = 1e-6  # rounding of stored probabilities (e.g. a NIfTI scale factor) outside [0, 1]
_HOW_TO_GET_ONE = (
    "give the foreground probability map: a sigmoid / softmax of the network's output, e.g. <case>_prob.nii.gz "
    "written by the bundles' evaluate / inference run with --save_probabilities True"
)


def _check_probabilities(values: np.ndarray, target: np.ndarray | None) -> np.ndarray:
    """``values`` in [0, 1] (a ``ValueError`` otherwise; rounding within 1e-6 is clipped); a ``UserWarning`` for a
    map of 0 and 1 only (a label map: every point of its diagram is (1, 0)). The same range check for ``target``."""
    low, high = float(values.min()), float(values.max())
    if low < -_TOLERANCE or high > 1.0 + _TOLERANCE:
        integers = bool(np.array_equal(values, np.round(values)))
        what = "a label map (integer values)" if integers else "logits or an unscaled image"
        raise ValueError(
            f"values must be probabilities in [0, 1], found values in [{low:.4g}, {high:.4g}] ({what}?): "
            f"{_HOW_TO_GET_ONE}."
        )
    values = np.clip(values, 0.0, 1.0)
    if np.isin(values, (0.0, 1.0)).all():
        warnings.warn(
            "values hold only 0 and 1, a label map: every point of its diagram is born at 1 and dies at 0, so it "
            f"shows the Betti numbers only, and no matching can be read off it; {_HOW_TO_GET_ONE}.",
            UserWarning,
            stacklevel=3,
        )
    if target is not None:
        t_low, t_high = float(np.min(target)), float(np.max(target))
        if t_low < -_TOLERANCE or t_high > 1.0 + _TOLERANCE:
            raise ValueError(
                f"target must be binary or soft in [0, 1], found values in [{t_low:.4g}, {t_high:.4g}]: select a "
                "label (target == k) or binarise it (target > 0)."
            )
    return values


def _segments_hu(births: np.ndarray, deaths: np.ndarray, num_target: int) -> tuple[np.ndarray, np.ndarray]:
    """PersistenceMatchingLoss (Hu et al., default matching): matched points go to (1, 0), the rest to the diagonal."""
    matched, unmatched = hu_matching(births, deaths, num_target)
    mid = (births[unmatched] + deaths[unmatched]) / 2
    to_target = np.stack([births[matched], deaths[matched], np.ones(len(matched)), np.zeros(len(matched))], 1)
    to_diagonal = np.stack([births[unmatched], deaths[unmatched], mid, mid], 1)
    return to_target, to_diagonal


def _segments_spatial(pred, target, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SpatialAwareMatchingLoss: the optimal transport plan with spatial factors (pairs and diagonal)."""
    points = np.stack([pred.births[rows], pred.deaths[rows]], 1)
    target_points = np.stack([target.births[cols], target.deaths[cols]], 1)
    res = spatial_aware_matching(
        points,
        normalize_locations(pred.birth_coords[rows], pred.shape),
        target_points,
        normalize_locations(target.birth_coords[cols], target.shape),
    )
    to_target = np.concatenate([points[res.pair_pred], target_points[res.pair_target]], 1)
    gone = points[res.pred_diagonal]
    mid = gone.mean(axis=1)
    return to_target, np.stack([gone[:, 0], gone[:, 1], mid, mid], 1)


def plot_persistence_diagram(
    values: np.ndarray,
    target: np.ndarray | None = None,
    connectivity: Connectivity = None,
    matchings: tuple[str, ...] = _MATCHINGS,
    max_diagonal_segments: int = 200,
    title: str | None = None,
):
    """Figure of the superlevel persistence diagram of ``values``, one panel per homology dimension.

    Points are ``(birth, death)`` (a superlevel filtration: births above deaths; essential classes die at the
    image minimum). With a ``target``, its diagram is drawn as crosses and one row of panels per matching shows
    where the losses push each point: ``"hu"`` is :class:`monai_topo.losses.PersistenceMatchingLoss`'s default
    (the ``b_k(target > 0.5)`` most persistent points go to ``(1, 0)``, the others to the diagonal), ``"spatial"``
    is :class:`monai_topo.losses.SpatialAwareMatchingLoss`'s optimal transport plan (matched pairs, the rest to
    the diagonal). The legend of each panel names the segments and counts them: red, the matched points going to
    ``(1, 0)`` (hu) or to their target point (spatial); grey, the unmatched ones going to the diagonal, of which only
    the ``max_diagonal_segments`` longest are drawn.

    ``values`` must be probabilities: outside [0, 1] (a label map with several labels, logits) is an error, and a
    map of 0 and 1 only (a binary label map: every point is ``(1, 0)``, the diagram shows its Betti numbers and
    nothing else) gets a ``UserWarning``. The bundles write the probability map a network gives with
    ``--save_probabilities True`` (``<case>_prob.nii.gz``, see their ``evaluate.json`` / ``inference.json``).

    Args:
        values: 2D or 3D probability map in [0, 1] (higher = foreground).
        target: target of the same shape (binary or soft); ``None`` for the diagram alone.
        connectivity: foreground connectivity (8/26 default, 4/6).
        matchings: which matchings to draw (rows of panels), from ``("hu", "spatial")``.
        max_diagonal_segments: cap on the drawn segments to the diagonal per panel.
        title: figure title.

    Returns:
        a :class:`matplotlib.figure.Figure` (Agg canvas).

    Raises:
        ValueError: for shapes that differ, a bad image (as :func:`compute_persistence`), values or a target
            outside [0, 1], or an unknown matching.

    Example:
        >>> ring = np.zeros((7, 7)); ring[1:6, 1:6] = 0.9; ring[3, 3] = 0.2
        >>> fig = plot_persistence_diagram(ring, ring > 0.5)
        >>> len(fig.axes)  # 2 matchings x 2 dimensions
        4
        >>> [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
        ['unmatched -> diagonal: 0', 'matched -> (1, 0): 1', 'prediction (1)', 'target (1)']
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    unknown = [m for m in matchings if m not in _MATCHINGS]
    if unknown:
        raise ValueError(f"matchings must be taken from {_MATCHINGS}, got {unknown}.")
    values = np.asarray(values, dtype=np.float64)
    if target is not None and np.shape(target) != values.shape:
        raise ValueError(f"values {values.shape} and target {np.shape(target)} must have the same shape.")
    values = _check_probabilities(values, target)
    dgm = compute_persistence(values, "superlevel", connectivity)
    dims = range(values.ndim)
    rows = list(matchings) if target is not None and matchings else [None]
    if target is not None:
        target = np.asarray(target, dtype=np.float64)
        target_dgm = compute_persistence(target, "superlevel", connectivity)
        target_betti = betti_numbers(target > 0.5, connectivity)
    fig = Figure(figsize=(3.6 * len(dims), 3.5 * len(rows) + 0.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(len(rows), len(dims), squeeze=False))
    lo, hi = float(min(values.min(), 0.0)), float(max(values.max(), 1.0))
    for r, matching in enumerate(rows):
        for k in dims:
            ax = axes[r, k]
            sel = np.flatnonzero(dgm.dims == k)
            births, deaths = dgm.births[sel], dgm.deaths[sel]
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
            if matching is not None:
                if matching == "hu":
                    to_target, to_diagonal = _segments_hu(births, deaths, int(target_betti[k]))
                else:
                    to_target, to_diagonal = _segments_spatial(
                        dgm, target_dgm, sel, np.flatnonzero(target_dgm.dims == k)
                    )
                length = np.abs(to_diagonal[:, 0] - to_diagonal[:, 2])
                n_diagonal = len(to_diagonal)
                to_diagonal = to_diagonal[np.argsort(-length, kind="stable")[:max_diagonal_segments]]
                shown = "" if len(to_diagonal) == n_diagonal else f" ({len(to_diagonal)} longest drawn)"
                goal = "(1, 0)" if matching == "hu" else "target point"
                for segs, style, label in (
                    (to_diagonal, {"color": "0.55", "lw": 0.6}, f"unmatched -> diagonal: {n_diagonal}{shown}"),
                    (to_target, {"color": "C3", "lw": 1.2}, f"matched -> {goal}: {len(to_target)}"),
                ):
                    ax.add_collection(LineCollection(segs.reshape(-1, 2, 2), label=label, **style))
            ax.scatter(births, deaths, s=8, color="C0", label=f"prediction ({len(sel)})", zorder=3)
            if target is not None:
                t = target_dgm.dims == k
                ax.scatter(
                    target_dgm.births[t],
                    target_dgm.deaths[t],
                    s=50,
                    marker="x",
                    color="C3",
                    label=f"target ({int(t.sum())})",
                    zorder=4,
                )
            ax.set(xlim=(lo - 0.02, hi + 0.02), ylim=(lo - 0.02, hi + 0.02), xlabel="birth", ylabel="death")
            name = f"H{k}: {_DIM_NAMES[k]}"
            ax.set_title(name if matching is None else f"{name}, {matching} matching", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
